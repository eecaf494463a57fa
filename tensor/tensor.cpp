// Tensor metadata: sizes, strides, contiguity, item(), descriptions for errors.
#include <ember/tensor/tensor.hpp>

#include <sstream>

#include <ember/tensor/ops.hpp>

namespace ember {

Dims contiguous_strides(IntList sizes) {
  Dims strides(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    strides[i] = s;
    s *= sizes[i] > 0 ? sizes[i] : 1;
  }
  return strides;
}

namespace detail {
Tensor make_tensor(Storage storage, Dims sizes, Dims strides, int64_t offset, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}
}  // namespace detail

int64_t Tensor::size(int64_t d) const { return shape()[static_cast<size_t>(wrap_dim(d, dim(), "size"))]; }
int64_t Tensor::stride(int64_t d) const { return strides()[static_cast<size_t>(wrap_dim(d, dim(), "stride"))]; }

int64_t Tensor::numel() const { return product(shape()); }

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked();
  int64_t expected = 1;
  for (size_t i = t.sizes.size(); i-- > 0;) {
    if (t.sizes[i] == 1) continue;
    if (t.sizes[i] == 0) return true;
    if (t.strides[i] != expected) return false;
    expected *= t.sizes[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  std::ostringstream os;
  os << shape() << ' ' << dtype() << ' ' << device();
  return os.str();
}

template <class T>
T Tensor::item() const {
  EMBER_CHECK(numel() == 1, "item: expected a tensor with one element, got ", describe());
  Tensor host = is_cpu() ? *this : ops::to(*this, kCPU);
  return visit_dtype(dtype(), [&]<class S>() -> T {
    S v = *static_cast<const S*>(host.data_ptr());
    if constexpr (std::is_same_v<T, bool>) return static_cast<double>(static_cast<OpMath<S>>(v)) != 0.0;
    else return static_cast<T>(static_cast<OpMath<S>>(v));
  });
}

Scalar Tensor::item() const {
  if (dtype().is_floating()) return Scalar(item<double>());
  if (dtype().is_bool()) return Scalar(item<bool>());
  return Scalar(item<int64_t>());
}

template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;
template int32_t Tensor::item<int32_t>() const;
template uint8_t Tensor::item<uint8_t>() const;
template bool Tensor::item<bool>() const;
template Half Tensor::item<Half>() const;
template BFloat16 Tensor::item<BFloat16>() const;

}  // namespace ember
