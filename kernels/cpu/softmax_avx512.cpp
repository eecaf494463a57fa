// The float32 softmax/log_softmax/cross-entropy row kernels (softmax_kernel.hpp) compiled for AVX-512.
#include <ember/kernels/cpu/softmax_kernel.hpp>
