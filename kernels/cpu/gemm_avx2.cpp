// The packed GEMM (gemm_kernel.hpp) compiled for AVX2 + FMA: 6 x 16 float tiles.
#include <ember/kernels/cpu/gemm_kernel.hpp>
