// The packed GEMM (gemm_kernel.hpp) compiled for AVX-512: 12 x 32 float tiles.
#include <ember/kernels/cpu/gemm_kernel.hpp>
