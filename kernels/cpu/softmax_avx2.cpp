// The float32 softmax/log_softmax/cross-entropy row kernels (softmax_kernel.hpp) compiled for AVX2 + FMA.
#include <ember/kernels/cpu/softmax_kernel.hpp>
