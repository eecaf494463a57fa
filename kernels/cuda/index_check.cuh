// Index bounds checks for the CUDA kernels that take indices from a tensor:
// loss targets, index_select/index_add, gather/scatter_add, one_hot,
// max_pool2d_backward.
//
// Note [index checks on CUDA]
// ---------------------------
// An out-of-range index is a user mistake, so it must throw the same
// ember::Error as on the CPU (Note [index bounds] in kernels/cpu/index_common.hpp),
// not trap the device. The kernels check every index they read: a bad one is
// skipped and its flat position recorded with atomicMin in a one-word flag
// (IndexFlag, from the caching allocator on the op's stream). After its
// launches the host reads the flag back, one 8-byte device-to-host copy that
// waits for the stream, and, if set, reads the offending index (one more
// small copy) and throws the CPU's message naming the first bad index. That
// read-back is the price of CPU-identical errors and the only host
// synchronisation these ops make; everything else stays on the device.
#pragma once

#include <climits>

#include <ember/kernels/cuda/common.cuh>

namespace ember::cuda {

// Records flat position pos as out of range (the smallest position wins).
__device__ __forceinline__ void flag_bad_index(unsigned long long* flag, int64_t pos) {
  atomicMin(flag, static_cast<unsigned long long>(pos));
}

class IndexFlag {
 public:
  // A cleared flag on like's device, ordered on its current stream.
  explicit IndexFlag(const Tensor& like) : buf_(empty({1}, TensorOptions(kInt64, like.device()))) {
    DeviceGuard guard(like.device().index);
    EMBER_CUDA_CHECK(cudaMemsetAsync(buf_.data_ptr(), 0xff, sizeof(unsigned long long), stream_of(buf_)),
                     "index check");
  }
  unsigned long long* device() const { return static_cast<unsigned long long*>(buf_.data_ptr()); }

  // The smallest recorded position, or -1 when every index was in range (waits for the stream).
  int64_t first_bad(const char* op) const {
    DeviceGuard guard(buf_.device().index);
    unsigned long long host = 0;
    cudaStream_t stream = stream_of(buf_);
    EMBER_CUDA_CHECK(cudaMemcpyAsync(&host, device(), sizeof(host), cudaMemcpyDeviceToHost, stream), op);
    EMBER_CUDA_CHECK(cudaStreamSynchronize(stream), op);
    return host == ULLONG_MAX ? -1 : static_cast<int64_t>(host);
  }

 private:
  Tensor buf_;
};

// Element `flat` (row-major over t's shape, any strides) of an int64 or int32 CUDA
// tensor, read to the host; used only to name a bad index in an error message.
inline int64_t read_index_value(const Tensor& t, int64_t flat) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    const int64_t size = t.size(d);
    offset += (flat % size) * t.stride(d);
    flat /= size;
  }
  DeviceGuard guard(t.device().index);
  cudaStream_t stream = stream_of(t);
  const char* src = static_cast<const char*>(t.data_ptr()) + offset * static_cast<int64_t>(t.itemsize());
  int64_t value = 0;
  if (t.dtype() == kInt32) {
    int32_t v32 = 0;
    EMBER_CUDA_CHECK(cudaMemcpyAsync(&v32, src, sizeof(v32), cudaMemcpyDeviceToHost, stream), "index check");
    value = v32;
  } else {
    EMBER_CUDA_CHECK(cudaMemcpyAsync(&value, src, sizeof(value), cudaMemcpyDeviceToHost, stream), "index check");
  }
  EMBER_CUDA_CHECK(cudaStreamSynchronize(stream), "index check");
  return value;
}

}  // namespace ember::cuda
