// The failure path of EMBER_CUDA_CHECK (runtime/cuda_check.hpp).
#include <ember/runtime/cuda_check.hpp>

#include <ember/runtime/error.hpp>

namespace ember::cuda::detail {

void cuda_fail(cudaError_t status, const char* call, const char* op, const char* file, int line) {
  // Clear the error so it does not resurface in the next unrelated check
  // (sticky errors, such as an illegal address, stay: the context is lost).
  (void)cudaGetLastError();
  EMBER_FAIL(op, ": CUDA call ", call, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
             ") at ", file, ":", line);
}

}  // namespace ember::cuda::detail
