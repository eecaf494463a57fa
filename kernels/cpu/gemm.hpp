// gemm: the cache-blocked matrix multiply under mm, bmm, linear and conv2d.
//
// C (M, N) = A (M, K) @ B (K, N), or C += A @ B, on strided matrices: any
// row/column strides (transposed views, stride-0 broadcasts) are handled by
// packing A and B into contiguous panels, so callers never copy to make an
// operand contiguous. C must not overlap A or B. Integer matmul wraps on
// overflow (computed in the unsigned type), as PyTorch's does in practice.
// float16/bfloat16 are computed in float32 and rounded once at the end.
//
// This is the reference-speed core (plain C++ the compiler vectorises);
// the packed Goto/BLIS micro-kernel with run-time ISA choice replaces its
// inner kernel later without changing this interface.
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

}  // namespace ember::cpu
