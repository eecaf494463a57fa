// The float32 layer/batch norm kernels (norm_kernel.hpp) compiled for AVX2 + FMA.
#include <ember/kernels/cpu/norm_kernel.hpp>
