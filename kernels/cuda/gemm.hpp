// A plain strided batched GEMM kernel for the dtypes cuBLASLt does not take
// (int32, int64, uint8): out[b] = a[b] @ w[b] with any strides. Reference
// speed only (one thread per output, no tiling); floating GEMMs go through
// cuBLASLt (kernels/cuda/linalg.cpp).
#pragma once

#include <ember/tensor/tensor.hpp>

namespace ember::cuda {

// out: (B, M, N) contiguous; a: (B, M, K); b: (B, K, N), any strides; one dtype.
void gemm_naive(const char* op, const Tensor& out, const Tensor& a, const Tensor& b);

}  // namespace ember::cuda
