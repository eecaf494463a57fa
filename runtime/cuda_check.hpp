// Checking CUDA runtime calls: every call's status is checked, and a failure
// throws ember::Error naming the call, the op that made it, the CUDA error and
// where (file:line). Compiled only in a CUDA build (host and nvcc code).
//
//   EMBER_CUDA_CHECK(cudaMemcpyAsync(...), "copy");
//   my_fwd_kernel<<<grid, block, 0, stream>>>(...);
//   EMBER_CUDA_LAUNCH_CHECK("gelu");  // after every kernel launch
#pragma once

#include <cuda_runtime_api.h>

namespace ember::cuda::detail {

[[noreturn]] void cuda_fail(cudaError_t status, const char* call, const char* op, const char* file, int line);

}  // namespace ember::cuda::detail

#define EMBER_CUDA_CHECK(call, op)                                                       \
  do {                                                                                   \
    const cudaError_t ember_cuda_status_ = (call);                                       \
    if (ember_cuda_status_ != cudaSuccess) [[unlikely]]                                  \
      ::ember::cuda::detail::cuda_fail(ember_cuda_status_, #call, (op), __FILE__, __LINE__); \
  } while (0)

// After a <<<...>>> launch: reports bad launch configurations at once (asynchronous
// faults surface at the next synchronising call, which is checked too).
#define EMBER_CUDA_LAUNCH_CHECK(op) EMBER_CUDA_CHECK(cudaGetLastError(), (op))
