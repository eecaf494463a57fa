// Meta functions for copies, fills and conversions.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor& copy_(Tensor& dst, const Tensor& src) {
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
    EMBER_KERNEL(copy, dev)(dst, from);
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
  if (x.numel() > 0) EMBER_KERNEL(copy, x.device())(out, x);
  return out;
}

Tensor to(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = empty(x.shape(), TensorOptions(dtype, x.device()));
  if (x.numel() > 0) EMBER_KERNEL(copy, x.device())(out, x);
  return out;
}

Tensor to(const Tensor& x, Device device) {
  if (x.device() == device) return x;
  Tensor out = empty(x.shape(), TensorOptions(x.dtype(), device));
  Tensor src = contiguous(x);
  // The device side owns cross-device copies (Note [stream ownership] in the CUDA backend).
  if (x.numel() > 0) EMBER_KERNEL(copy, device.is_cuda() ? device : x.device())(out, src);
  return out;
}

}  // namespace ember::ops
