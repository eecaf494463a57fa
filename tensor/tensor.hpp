// Tensor: ember's one user-facing array type (a handle, like libtorch's).
//
// A Tensor points at a TensorImpl: a Storage shared by every view, sizes,
// strides (in elements) and an offset, a dtype, and an opaque autograd slot.
// This layer knows nothing of gradients: the slot is filled by autograd/, and
// the methods below that compute (sum, reshape, pow, ...) are declared here
// but defined in autograd/tensor_methods.cpp, on top of the public
// differentiable functions. Copying a Tensor copies the handle, not the data.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ember/runtime/device.hpp>
#include <ember/runtime/error.hpp>
#include <ember/tensor/dims.hpp>
#include <ember/tensor/dtype.hpp>
#include <ember/tensor/scalar.hpp>
#include <ember/tensor/storage.hpp>

namespace ember {

class Tensor;

// Base of the per-tensor autograd state; autograd/ derives from it.
class AutogradMetaBase {
 public:
  virtual ~AutogradMetaBase() = default;
};

struct TensorImpl {
  Storage storage;
  Dims sizes;
  Dims strides;
  int64_t offset = 0;  // in elements
  DType dtype;
  std::shared_ptr<AutogradMetaBase> autograd;

  void* data() const {
    return static_cast<char*>(storage->data.get()) + offset * static_cast<int64_t>(dtype.itemsize());
  }
};

// Options for factories: dtype and device. Converts from either alone.
struct TensorOptions {
  DType dtype = kFloat32;
  Device device = kCPU;
  TensorOptions() = default;
  TensorOptions(DType d) : dtype(d) {}  // NOLINT
  TensorOptions(Device dev) : device(dev) {}  // NOLINT
  TensorOptions(DType d, Device dev) : dtype(d), device(dev) {}
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata (tensor/tensor.cpp) ----------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Dims& shape() const { return checked().sizes; }
  const Dims& sizes() const { return checked().sizes; }
  const Dims& strides() const { return checked().strides; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(checked().sizes.size()); }
  int64_t numel() const;
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  TensorOptions options() const { return {dtype(), device()}; }
  int64_t storage_offset() const { return checked().offset; }
  size_t itemsize() const { return dtype().itemsize(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * itemsize(); }
  bool is_contiguous() const;
  bool is_cpu() const { return device().is_cpu(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  bool is_alias_of(const Tensor& o) const { return defined() && o.defined() && impl_->storage == o.impl_->storage; }
  const Storage& storage() const { return checked().storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  std::string describe() const;  // "[2, 3] float32 cpu", used in error messages

  void* data_ptr() const { return checked().data(); }
  template <class T> T* data_ptr() const {
    EMBER_CHECK(dtype_of_v<T> == dtype(), "data_ptr: tensor is ", dtype(), ", asked for ", dtype_of_v<T>);
    return static_cast<T*>(data_ptr());
  }
  // The single value of a one-element tensor, converted to T (copies from the device if needed).
  template <class T> T item() const;
  Scalar item() const;

  // Note [version counter] (tensor/storage.hpp)
  uint32_t version() const { return checked().storage->version.load(std::memory_order_relaxed); }
  void bump_version() const { checked().storage->version.fetch_add(1, std::memory_order_relaxed); }

  // ---- autograd (autograd/tensor_methods.cpp) -------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  const Tensor& requires_grad_(bool on = true) const;
  Tensor grad() const;                 // undefined if none accumulated yet
  void set_grad(const Tensor& g) const;
  bool is_leaf() const;
  void backward(const Tensor& gradient = {}, bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;
  void retain_grad() const;
  // hook(grad) may return an undefined Tensor (keep grad) or a replacement.
  void register_hook(std::function<Tensor(const Tensor&)> hook) const;

  // ---- views (share storage) -----------------------------------------------
  Tensor view(IntList shape) const;
  Tensor reshape(IntList shape) const;
  Tensor permute(IntList dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, std::optional<int64_t> start = {}, std::optional<int64_t> end = {}, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor expand(IntList shape) const;
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor as_strided(IntList sizes, IntList strides, std::optional<int64_t> offset = {}) const;
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;

  // ---- copies and conversions -----------------------------------------------
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  // non_blocking: an asynchronous host<->device copy where the host side is pinned (ops::copy_).
  Tensor to(Device device, bool non_blocking = false) const;
  Tensor to(Device device, DType dtype) const;
  Tensor cpu() const { return to(kCPU); }
  Tensor cuda() const { return to(kCUDA); }
  Tensor float_() const { return to(kFloat32); }
  // A copy in pinned (page-locked) host memory, for asynchronous copies to a GPU (ops::pin_memory).
  Tensor pin_memory() const;
  bool is_pinned() const;

  // ---- math (each forwards to the public function of the same name) ----------
  Tensor sum() const;
  Tensor sum(IntList dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(IntList dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor pow(const Scalar& exponent) const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor neg() const;
  Tensor matmul(const Tensor& other) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;

  // ---- in place (bump the version counter) ----------------------------------
  Tensor& zero_();
  Tensor& fill_(const Scalar& value);
  Tensor& copy_(const Tensor& src);
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& add_(const Scalar& other);
  Tensor& sub_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& sub_(const Scalar& other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(const Scalar& other);
  Tensor& div_(const Tensor& other);
  Tensor& div_(const Scalar& other);
  Tensor& addcmul_(const Tensor& t1, const Tensor& t2, const Scalar& value = 1);
  Tensor& addcdiv_(const Tensor& t1, const Tensor& t2, const Scalar& value = 1);
  Tensor& clamp_(std::optional<Scalar> min, std::optional<Scalar> max = {});
  Tensor& relu_();

 private:
  const TensorImpl& checked() const {
    EMBER_CHECK(impl_ != nullptr, "use of an undefined Tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Contiguous strides for a shape (row-major).
Dims contiguous_strides(IntList sizes);

namespace detail {
// Makes a tensor over existing storage.
Tensor make_tensor(Storage storage, Dims sizes, Dims strides, int64_t offset, DType dtype);
}  // namespace detail

}  // namespace ember
