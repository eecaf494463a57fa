// The float32 fused Adam step (optim_kernel.hpp) compiled for AVX-512.
#include <ember/kernels/cpu/optim_kernel.hpp>
