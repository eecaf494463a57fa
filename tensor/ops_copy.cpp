// Meta functions for copies, fills and conversions.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor& copy_(Tensor& dst, const Tensor& src, bool non_blocking) {
  EMBER_CHECK(dst.defined() && src.defined(), "copy_: undefined tensor");
  Dims shape = broadcast_shapes(dst.shape(), src.shape(), "copy_");
  EMBER_CHECK(shape == dst.shape(), "copy_: source ", src.describe(), " cannot be broadcast to destination ",
              dst.describe());
  Tensor from = src.shape() == dst.shape() ? src : expand(src, dst.shape());
  // Overlapping storage (x.copy_(x.t())): read from a private copy first.
  if (from.is_alias_of(dst) && !(from.strides() == dst.strides() && from.storage_offset() == dst.storage_offset())) {
    from = clone(from);
  }
  if (dst.numel() > 0) {
    Device dev = dst.device().is_cuda() ? dst.device() : from.device();
    EMBER_KERNEL(copy, dev)(dst, from, non_blocking);
  }
  dst.bump_version();
  return dst;
}

Tensor& fill_(Tensor& dst, const Scalar& value) {
  if (dst.numel() > 0) EMBER_KERNEL(fill, dst.device())(dst, value);
  dst.bump_version();
  return dst;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), x.options());
  if (x.numel() > 0) EMBER_KERNEL(copy, x.device())(out, x, false);
  return out;
}

Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), TensorOptions(dtype, x.device()));
  if (x.numel() > 0) EMBER_KERNEL(copy, x.device())(out, x, false);
  return out;
}

Tensor to(const Tensor& x, Device device, bool non_blocking) {
  if (x.device() == device) return x;
  // A non-blocking copy to the host lands in pinned memory, where it can be asynchronous (as PyTorch).
  const bool pinned_out = non_blocking && device.is_cpu() && !x.is_cpu() && pinned_memory() != nullptr;
  Tensor out = pinned_out ? empty_pinned(x.shape(), x.dtype()) : empty(x.shape(), TensorOptions(x.dtype(), device));
  Tensor src = contiguous(x);
  // The device side owns cross-device copies (Note [stream ownership] in the CUDA backend).
  if (x.numel() > 0) EMBER_KERNEL(copy, device.is_cuda() ? device : x.device())(out, src, non_blocking);
  return out;
}

bool is_pinned(const Tensor& x) {
  EMBER_CHECK(x.defined(), "is_pinned: undefined tensor");
  PinnedMemory* pinned = pinned_memory();
  return x.is_cpu() && pinned != nullptr && pinned->is_pinned(x.storage()->data);
}

Tensor pin_memory(const Tensor& x) {
  EMBER_CHECK(x.defined(), "pin_memory: undefined tensor");
  EMBER_CHECK(x.is_cpu(), "pin_memory: only CPU tensors can be pinned, got ", x.describe());
  if (is_pinned(x)) return x;
  Tensor out = empty_pinned(x.shape(), x.dtype());
  if (x.numel() > 0) EMBER_KERNEL(copy, kCPU)(out, x, false);
  return out;
}

}  // namespace ember::ops
