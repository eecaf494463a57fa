// The shared cuDNN helpers of kernels/cuda/cudnn.hpp.
#include <ember/kernels/cuda/register.hpp>

#include <atomic>

namespace ember::cuda {
#if defined(EMBER_WITH_CUDNN)
bool built_with_cudnn() { return true; }
#else
bool built_with_cudnn() { return false; }
#endif
namespace {
std::atomic<int64_t> g_handles_created{0};
}
int64_t cudnn_handles_created() { return g_handles_created.load(); }  // for cudnn_counts() (conv.cpp)
}  // namespace ember::cuda

#if defined(EMBER_WITH_CUDNN)
#include <ember/kernels/cuda/cudnn.hpp>

#include <string>

#include <ember/runtime/handle_pool.hpp>

namespace ember::cuda {

cudnnHandle_t cudnn_handle(int device, cudaStream_t stream, const char* op) {
  // One handle per host thread and device, lent by a pool that takes it back when the thread exits
  // (runtime/handle_pool.hpp); the pool lives as long as the process.
  static auto* pool = new HandlePool<cudnnHandle_t>([](int d) {
    DeviceGuard guard(d);
    cudnnHandle_t h = nullptr;
    EMBER_CUDNN_CHECK(cudnnCreate(&h), "creating a cuDNN handle for cuda:" + std::to_string(d));
    g_handles_created.fetch_add(1);
    return h;
  });
  EMBER_CHECK(device >= 0, op, ": device index ", device, " out of range");
  cudnnHandle_t h = nullptr;
  try {
    h = pool->acquire(device);
  } catch (const Error& e) {
    EMBER_FAIL(op, ": ", e.what());
  }
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
