// gemm: the cache-blocked matrix multiply under mm, bmm, linear and conv2d.
//
// C (M, N) = A (M, K) @ B (K, N), or C += A @ B, on strided matrices: any
// row/column strides (transposed views, stride-0 broadcasts) are handled by
// packing A and B into contiguous panels, so callers never copy to make an
// operand contiguous. C must not overlap A or B. Integer matmul wraps on
// overflow (computed in the unsigned type), as PyTorch's does in practice.
// float16/bfloat16 are computed in float32 and rounded once at the end.
//
// float32 and float64 run the packed Goto/BLIS GEMM of the active CPU ISA
// (gemm_kernel.hpp, compiled per ISA; see isa.hpp); bfloat16 on the AVX-512
// path of a CPU with AVX-512 BF16 runs its dot-product GEMM
// (gemm_avx512bf16.cpp); other float16/bfloat16 run the float32 one on widened
// copies of A and B (gemm.cpp: gemm_16bit_packed); the portable blocked GEMM
// in gemm.cpp is the scalar path and serves the other types.
#pragma once

#include <cstdint>

#include <ember/tensor/dtype.hpp>

namespace ember::cpu {

// Element (i, j) of a matrix view is data[i * rs + j * cs].
template <class T>
struct ConstMatrix {
  const T* data;
  int64_t rs;
  int64_t cs;
};
template <class T>
struct Matrix {
  T* data;
  int64_t rs;
  int64_t cs;
};

// C = A @ B (accumulate = false) or C += A @ B (accumulate = true).
// Runs its blocks with cpu::parallel_range (a nested call inside another
// parallel loop is fine). Instantiated for float, double, Half, BFloat16,
// int32_t and int64_t.
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, ConstMatrix<T> A, ConstMatrix<T> B, Matrix<T> C, bool accumulate);

// The portable blocked GEMM alone (the scalar path), for any of those types.
template <class T>
void gemm_reference(int64_t M, int64_t N, int64_t K, ConstMatrix<T> A, ConstMatrix<T> B, Matrix<T> C, bool accumulate);

// The packed GEMM per ISA (gemm_avx2.cpp, gemm_avx512.cpp). Call only when
// isa_supported() says the CPU has that ISA; gemm() does the choosing.
#define EMBER_DECLARE_PACKED_GEMM(isa)                                                                              \
  namespace isa {                                                                                                   \
  void sgemm(int64_t M, int64_t N, int64_t K, ConstMatrix<float> A, ConstMatrix<float> B, Matrix<float> C, bool acc); \
  void dgemm(int64_t M, int64_t N, int64_t K, ConstMatrix<double> A, ConstMatrix<double> B, Matrix<double> C,       \
             bool acc);                                                                                             \
  }
EMBER_DECLARE_PACKED_GEMM(avx2)
EMBER_DECLARE_PACKED_GEMM(avx512)
#undef EMBER_DECLARE_PACKED_GEMM

// bfloat16 operands on the AVX-512 BF16 dot products (gemm_avx512bf16.cpp):
// C (row-major float32, cs = 1) = or += A @ B. Call only when
// cpu_has_avx512_bf16(); gemm<BFloat16>() does the choosing.
namespace avx512bf16 {
void bf16gemm(int64_t M, int64_t N, int64_t K, ConstMatrix<BFloat16> A, ConstMatrix<BFloat16> B, Matrix<float> C,
              bool accumulate);
}

}  // namespace ember::cpu
