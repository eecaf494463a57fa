// The packed GEMM (gemm_kernel.hpp) and the implicit-GEMM convolution
// (conv_gemm_kernel.hpp) compiled for AVX-512: 12 x 32 float tiles.
#include <ember/kernels/cpu/gemm_kernel.hpp>
#include <ember/kernels/cpu/conv_gemm_kernel.hpp>
