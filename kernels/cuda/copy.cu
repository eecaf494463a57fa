// CUDA kernels for copies (dtype conversion, any strides, any device pair
// involving a GPU), fills and ranges.
//
// copy is registered for DeviceType::CUDA and handles cuda<-cuda (same or
// another GPU), cuda<-cpu and cpu<-cuda (ops::to / ops::copy_ dispatch every
// cross-device copy to the CUDA side). Synchronisation follows
// Note [stream ownership] (runtime/cuda_stream.hpp): host<->device copies are
// synchronous unless the caller asks for non_blocking and the host side is its
// own pinned tensor; then they are asynchronous on the current stream. Dtype conversion and
// strided layouts are done on the side that has them (a CPU copy kernel for
// host tensors, the elementwise engine on the GPU) around one contiguous
// memcpy.
//
// Ceilings: 1 read + 1 write per element on the GPU (memory-bound); host
// transfers are bound by PCIe/NVLink-C2C bandwidth.
#include <ember/kernels/cuda/elementwise.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/runtime/cuda_allocator.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::cuda {
namespace {

template <class D, class S>
struct ConvertFn {
  __device__ __forceinline__ D operator()(S v) const { return convert<D>(v); }
};

// out <- src, both on the same GPU, same shape, any strides and dtypes.
void copy_on_device(const Tensor& out, const Tensor& src) {
  if (out.dtype() == src.dtype() && out.is_contiguous() && src.is_contiguous()) {
    DeviceGuard guard(out.device().index);
    EMBER_CUDA_CHECK(cudaMemcpyAsync(out.data_ptr(), src.data_ptr(), out.nbytes(), cudaMemcpyDeviceToDevice,
                                     stream_of(out)),
                     "copy");
    return;
  }
  visit_dtype(out.dtype(), [&]<class D>() {
    visit_dtype(src.dtype(), [&]<class S>() {
      launch_elementwise<CudaType<D>, CudaType<S>>("copy", out, ConvertFn<CudaType<D>, CudaType<S>>{}, src);
    });
  });
}

// After a host<->device memcpy on `stream` between `host` and the device: leaves it queued when the
// caller asked (non_blocking) and `host` is the caller's own tensor (`callers`, not a temporary) in
// pinned memory, marking ember's pinned block with the stream; otherwise waits for it. Returns whether
// the copy was left queued.
bool finish_host_copy(bool non_blocking, const Tensor& host, const Tensor& callers, Stream stream) {
  if (non_blocking && host.is_same(callers) && ops::is_pinned(host)) {
    record_pinned_use(host.storage()->data, stream);
    return true;
  }
  EMBER_CUDA_CHECK(cudaStreamSynchronize(stream.handle()), "copy");
  return false;
}

// src converted to `dtype` and laid out contiguously, on its own device (src itself when it already is).
Tensor contiguous_as(const Tensor& src, DType dtype) {
  if (src.dtype() == dtype && src.is_contiguous()) return src;
  Tensor tmp = empty(src.shape(), TensorOptions(dtype, src.device()));
  if (src.is_cuda()) copy_on_device(tmp, src);
  else EMBER_KERNEL(copy, kCPU)(tmp, src, false);
  return tmp;
}

// cuda <- cpu. Asynchronous only when asked (non_blocking) and the caller's own tensor is the
// pinned source; ember's pinned block is then kept from reuse until the stream has read it.
void copy_from_host(const Tensor& out, const Tensor& src, bool non_blocking) {
  Tensor host = contiguous_as(src, out.dtype());
  Tensor dev = out.is_contiguous() ? out : empty(out.shape(), out.options());
  DeviceGuard guard(out.device().index);
  const Stream stream = current_stream(out.device().index);
  EMBER_CUDA_CHECK(cudaMemcpyAsync(dev.data_ptr(), host.data_ptr(), dev.nbytes(), cudaMemcpyHostToDevice,
                                   stream.handle()),
                   "copy");
  finish_host_copy(non_blocking, host, src, stream);
  if (!dev.is_same(out)) copy_on_device(out, dev);
}

// cpu <- cuda. Asynchronous only when asked (non_blocking) and the destination itself is pinned and
// contiguous: the caller synchronises (the stream, an event, cuda::synchronize) before reading it.
void copy_to_host(const Tensor& out, const Tensor& src, bool non_blocking) {
  Tensor dev = contiguous_as(src, out.dtype());
  Tensor host = out.is_contiguous() ? out : empty(out.shape(), TensorOptions(out.dtype(), kCPU));
  DeviceGuard guard(src.device().index);
  const Stream stream = current_stream(src.device().index);
  EMBER_CUDA_CHECK(cudaMemcpyAsync(host.data_ptr(), dev.data_ptr(), host.nbytes(), cudaMemcpyDeviceToHost,
                                   stream.handle()),
                   "copy");
  if (!finish_host_copy(non_blocking, host, out, stream) && !host.is_same(out))
    EMBER_KERNEL(copy, kCPU)(out, host, false);
}

// cuda:j <- cuda:i, ordered after both devices' current streams, and each waits for the other.
void copy_between_devices(const Tensor& out, const Tensor& src) {
  Tensor from = contiguous_as(src, out.dtype());
  Tensor to = out.is_contiguous() ? out : empty(out.shape(), out.options());
  Stream src_stream = current_stream(src.device().index), dst_stream = current_stream(out.device().index);
  Event ready;
  ready.record(src_stream);
  ready.block(dst_stream);
  {
    DeviceGuard guard(out.device().index);
    EMBER_CUDA_CHECK(cudaMemcpyPeerAsync(to.data_ptr(), out.device().index, from.data_ptr(), src.device().index,
                                         to.nbytes(), dst_stream.handle()),
                     "copy");
  }
  Event done;
  done.record(dst_stream);
  done.block(src_stream);  // src's memory is not reused on its stream before the copy has read it
  if (!to.is_same(out)) copy_on_device(out, to);
}

void copy_kernel(const Tensor& out, const Tensor& src, bool non_blocking) {
  EMBER_CHECK(out.shape() == src.shape(), "copy: CUDA kernel expects equal shapes, got ", out.describe(), " and ",
              src.describe());
  if (out.numel() == 0) return;
  if (out.is_cuda() && src.is_cuda()) {
    if (out.device() == src.device()) copy_on_device(out, src);
    else copy_between_devices(out, src);
  } else if (out.is_cuda()) {
    copy_from_host(out, src, non_blocking);
  } else if (src.is_cuda()) {
    copy_to_host(out, src, non_blocking);
  } else {
    EMBER_FAIL("copy: the CUDA copy kernel got two host tensors: ", out.describe(), " and ", src.describe());
  }
}

template <class T>
struct FillFn {
  T value;
  __device__ __forceinline__ T operator()() const { return value; }
};

void fill_kernel(const Tensor& out, const Scalar& value) {
  visit_dtype(out.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C>("fill", out, FillFn<C>{device_value<T>(value)});
  });
}

// out[i] = start + i * step, rounded as the CPU does (no FMA contraction: same values bit for bit).
template <class T>
__global__ void arange_fwd_kernel(T* out, int64_t n, double start, double step) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = from_acc<T>(static_cast<Acc<T>>(__dadd_rn(start, __dmul_rn(static_cast<double>(i), step))));
}

// Symmetric form: the first half steps up from start, the second down from end (as the CPU kernel).
template <class T>
__global__ void linspace_fwd_kernel(T* out, int64_t n, double start, double end, double step) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t half = n / 2;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const double v = i < half ? __dadd_rn(start, __dmul_rn(step, static_cast<double>(i)))
                              : __dsub_rn(end, __dmul_rn(step, static_cast<double>(n - 1 - i)));
    out[i] = from_acc<T>(static_cast<Acc<T>>(v));
  }
}

template <class T>
__global__ void eye_fwd_kernel(T* out, int64_t diag, int64_t cols) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < diag; i += stride)
    out[i * cols + i] = from_acc<T>(1);
}

void check_contiguous_out(const char* op, const Tensor& out) {
  EMBER_CHECK(out.is_cuda() && out.is_contiguous(), op, ": CUDA kernel expects a contiguous CUDA output, got ",
              out.describe());
}

void arange_kernel(const Tensor& out, double start, double step) {
  check_contiguous_out("arange", out);
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(out.device().index);
  visit_numeric(out.dtype(), "arange", [&]<class T>() {
    using C = CudaType<T>;
    arange_fwd_kernel<C><<<blocks_for(n), kThreads, 0, stream_of(out)>>>(device_ptr<C>(out), n, start, step);
    EMBER_CUDA_LAUNCH_CHECK("arange");
  });
}

void linspace_kernel(const Tensor& out, double start, double end) {
  check_contiguous_out("linspace", out);
  const int64_t n = out.numel();
  if (n == 0) return;
  if (n == 1) end = start;  // the one value is start (the kernel's upper half counts down from end)
  const double step = n == 1 ? 0.0 : (end - start) / static_cast<double>(n - 1);
  DeviceGuard guard(out.device().index);
  visit_numeric(out.dtype(), "linspace", [&]<class T>() {
    using C = CudaType<T>;
    linspace_fwd_kernel<C><<<blocks_for(n), kThreads, 0, stream_of(out)>>>(device_ptr<C>(out), n, start, end, step);
    EMBER_CUDA_LAUNCH_CHECK("linspace");
  });
}

// out: (n, m), contiguous.
void eye_kernel(const Tensor& out) {
  check_contiguous_out("eye", out);
  EMBER_CHECK(out.dim() == 2, "eye: CUDA kernel expects a 2-D output, got ", out.describe());
  fill_kernel(out, Scalar(0));
  const int64_t diag = std::min(out.size(0), out.size(1));
  if (diag == 0) return;
  DeviceGuard guard(out.device().index);
  visit_dtype(out.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    eye_fwd_kernel<C><<<blocks_for(diag), kThreads, 0, stream_of(out)>>>(device_ptr<C>(out), diag, out.size(1));
    EMBER_CUDA_LAUNCH_CHECK("eye");
  });
}

}  // namespace

void register_copy_kernels(KernelTable& t) {
  t.copy = copy_kernel;
  t.fill = fill_kernel;
  t.arange = arange_kernel;
  t.linspace = linspace_kernel;
  t.eye = eye_kernel;
}

}  // namespace ember::cuda
