// What the cuDNN users of the CUDA backend share (conv.cpp, norm_cudnn.cpp):
// the checked-call macro, one handle per device and host thread, dtype
// mapping and the alpha/beta scaling pair. Include only where
// EMBER_WITH_CUDNN is defined.
#pragma once

#include <cudnn.h>

#include <ember/runtime/cuda_stream.hpp>
#include <ember/runtime/error.hpp>
#include <ember/tensor/dtype.hpp>

#define EMBER_CUDNN_CHECK(call, op)                                                                      \
  do {                                                                                                   \
    const cudnnStatus_t ember_cudnn_status_ = (call);                                                    \
    if (ember_cudnn_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                        \
      EMBER_FAIL((op), ": cuDNN call ", #call, " failed: ", cudnnGetErrorString(ember_cudnn_status_)); \
  } while (0)

namespace ember::cuda {

// The calling thread's cuDNN handle for a device, bound to `stream`. A handle serves one thread at a
// time: each thread gets its own from a pool, which takes it back when the thread exits.
cudnnHandle_t cudnn_handle(int device, cudaStream_t stream, const char* op);

// cuDNN's type for a float dtype: false for other dtypes.
bool cudnn_data_type_of(DType dt, cudnnDataType_t& type);

// cuDNN's type for a float dtype; others are an error naming the op.
cudnnDataType_t cudnn_data_type(DType dt, const char* op);

// alpha = 1, beta = 0 in the scaling type cuDNN expects (double for float64 data, float otherwise).
struct CudnnScaling {
  explicit CudnnScaling(DType dt) : dbl(dt == kFloat64) {}
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  bool dbl;
  const void* one() const { return dbl ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return dbl ? static_cast<const void*>(&d0) : &f0; }
  // Their attribute type in the backend (graph) API.
  cudnnBackendAttributeType_t backend_type() const { return dbl ? CUDNN_TYPE_DOUBLE : CUDNN_TYPE_FLOAT; }
};

}  // namespace ember::cuda
