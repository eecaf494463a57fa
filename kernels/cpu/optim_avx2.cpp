// The float32 fused Adam step (optim_kernel.hpp) compiled for AVX2 + FMA.
#include <ember/kernels/cpu/optim_kernel.hpp>
