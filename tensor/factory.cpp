// Factories: allocation plus an optional fill kernel.
#include <ember/tensor/factory.hpp>

#include <cmath>

#include <ember/tensor/ops.hpp>

namespace ember {

namespace {

// A contiguous tensor of `shape` over storage from allocate(nbytes) (op names the caller in errors).
template <class Allocate>
Tensor contiguous_empty(const char* op, IntList shape, DType dtype, Allocate allocate) {
  for (int64_t s : shape) EMBER_CHECK(s >= 0, op, ": negative dimension ", s, " in shape ", shape);
  Dims sizes(shape);
  const size_t nbytes = static_cast<size_t>(product(shape)) * dtype.itemsize();
  return detail::make_tensor(allocate(nbytes), sizes, contiguous_strides(sizes), 0, dtype);
}

}  // namespace

Tensor empty(IntList shape, TensorOptions opts) {
  return contiguous_empty("empty", shape, opts.dtype, [&](size_t n) { return make_storage(n, opts.device); });
}

Tensor empty_pinned(IntList shape, DType dtype) {
  return contiguous_empty("empty_pinned", shape, dtype, [](size_t n) {
    PinnedMemory* pinned = pinned_memory();
    EMBER_CHECK(pinned != nullptr, "pin_memory: pinned (page-locked) host memory needs a GPU backend, and this "
                "build of ember has none (configure with -DEMBER_CUDA=ON)");
    return std::make_shared<StorageImpl>(pinned->allocate(n), n);
  });
}

Tensor empty_strided(IntList shape, IntList strides, TensorOptions opts) {
  EMBER_CHECK(shape.size() == strides.size(), "empty_strided: shape ", shape, " and strides ", strides,
              " differ in length");
  int64_t extent = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    EMBER_CHECK(shape[i] >= 0 && strides[i] >= 0, "empty_strided: negative size or stride");
    if (shape[i] == 0) extent = 0;
    else if (extent > 0) extent += (shape[i] - 1) * strides[i];
  }
  return detail::make_tensor(make_storage(static_cast<size_t>(extent) * opts.dtype.itemsize(), opts.device),
                             Dims(shape), Dims(strides), 0, opts.dtype);
}

Tensor full(IntList shape, const Scalar& value, TensorOptions opts) {
  Tensor t = empty(shape, opts);
  return ops::fill_(t, value);
}
Tensor zeros(IntList shape, TensorOptions opts) { return full(shape, 0, opts); }
Tensor ones(IntList shape, TensorOptions opts) { return full(shape, 1, opts); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor empty_like(const Tensor& t, TensorOptions opts) { return empty(t.shape(), opts); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor full_like(const Tensor& t, const Scalar& value) { return full(t.shape(), value, t.options()); }

Tensor scalar_tensor(const Scalar& value, TensorOptions opts) { return full({}, value, opts); }

Tensor arange(const Scalar& end) { return arange(0, end, 1); }
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step) {
  bool integral = !start.is_floating() && !end.is_floating() && !step.is_floating();
  return arange(start, end, step, TensorOptions(integral ? kInt64 : kDefaultFloat));
}
Tensor arange(const Scalar& start, const Scalar& end, TensorOptions opts) { return arange(start, end, 1, opts); }
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions opts) {
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  EMBER_CHECK(st != 0.0, "arange: step must be nonzero");
  EMBER_CHECK(std::isfinite(s) && std::isfinite(e), "arange: start and end must be finite, got ", s, " and ", e);
  EMBER_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), "arange: upper bound and lower bound are inconsistent with the sign of step (start ",
              s, ", end ", e, ", step ", st, ")");
  int64_t n = static_cast<int64_t>(std::ceil((e - s) / st));
  Tensor out = empty({n}, opts);
  if (n > 0) EMBER_KERNEL(arange, opts.device)(out, s, st);
  return out;
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions opts) {
  EMBER_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  Tensor out = empty({steps}, opts);
  if (steps > 0) EMBER_KERNEL(linspace, opts.device)(out, start, end);
  return out;
}

Tensor eye(int64_t n, int64_t m, TensorOptions opts) {
  if (m < 0) m = n;
  EMBER_CHECK(n >= 0, "eye: n must be non-negative, got ", n);
  Tensor out = empty({n, m}, opts);
  if (n > 0 && m > 0) EMBER_KERNEL(eye, opts.device)(out);
  return out;
}

Tensor from_blob(void* data, IntList shape, TensorOptions opts) {
  return from_blob(data, shape, contiguous_strides(shape), opts);
}

Tensor from_blob(void* data, IntList shape, IntList strides, TensorOptions opts) {
  EMBER_CHECK(data != nullptr || product(shape) == 0, "from_blob: null data pointer for shape ", shape);
  EMBER_CHECK(shape.size() == strides.size(), "from_blob: shape ", shape, " and strides ", strides, " differ in length");
  int64_t extent = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) extent = 0;
    else if (extent > 0) extent += (shape[i] - 1) * strides[i];
  }
  // Non-owning: the deleter does nothing.
  DataPtr ptr(data, nullptr, [](void*, void*) {}, opts.device);
  auto storage = std::make_shared<StorageImpl>(std::move(ptr), static_cast<size_t>(extent) * opts.dtype.itemsize());
  return detail::make_tensor(std::move(storage), Dims(shape), Dims(strides), 0, opts.dtype);
}

namespace detail {
Tensor tensor_from_values(const void* data, DType src, IntList shape, TensorOptions opts) {
  Tensor host = from_blob(const_cast<void*>(data), shape, TensorOptions(src));
  Tensor out = empty(shape, opts);
  return ops::copy_(out, host);
}
}  // namespace detail

}  // namespace ember
