// The shared cuDNN helpers of kernels/cuda/cudnn.hpp.
#include <ember/kernels/cuda/register.hpp>

namespace ember::cuda {
#if defined(EMBER_WITH_CUDNN)
bool built_with_cudnn() { return true; }
#else
bool built_with_cudnn() { return false; }
#endif
}  // namespace ember::cuda

#if defined(EMBER_WITH_CUDNN)
#include <ember/kernels/cuda/cudnn.hpp>

#include <array>

namespace ember::cuda {

cudnnHandle_t cudnn_handle(int device, cudaStream_t stream, const char* op) {
  constexpr int kMaxDevices = 64;
  EMBER_CHECK(device >= 0 && device < kMaxDevices, op, ": device index ", device, " out of range");
  thread_local std::array<cudnnHandle_t, kMaxDevices> handles{};
  if (handles[static_cast<size_t>(device)] == nullptr) {
    DeviceGuard guard(device);
    EMBER_CUDNN_CHECK(cudnnCreate(&handles[static_cast<size_t>(device)]), op);
  }
  cudnnHandle_t h = handles[static_cast<size_t>(device)];
  EMBER_CUDNN_CHECK(cudnnSetStream(h, stream), op);
  return h;
}

bool cudnn_data_type_of(DType dt, cudnnDataType_t& type) {
  switch (dt.kind) {
    case DType::Float32: type = CUDNN_DATA_FLOAT; return true;
    case DType::Float64: type = CUDNN_DATA_DOUBLE; return true;
    case DType::Float16: type = CUDNN_DATA_HALF; return true;
    case DType::BFloat16: type = CUDNN_DATA_BFLOAT16; return true;
    default: return false;
  }
}

cudnnDataType_t cudnn_data_type(DType dt, const char* op) {
  cudnnDataType_t type;
  if (!cudnn_data_type_of(dt, type)) EMBER_FAIL(op, ": cuDNN has no kernel for ", dt);
  return type;
}

}  // namespace ember::cuda
#endif
