// The float32 layer/batch norm kernels (norm_kernel.hpp) compiled for AVX-512.
#include <ember/kernels/cpu/norm_kernel.hpp>
