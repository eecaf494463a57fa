// Factories: tensors from shapes, values, ranges and existing memory.
//
// Like torch::zeros/ones/full/arange/linspace/eye/from_blob/tensor. Random
// factories (rand, randn, randint) live in tensor/random.hpp.
#pragma once

#include <initializer_list>
#include <type_traits>
#include <vector>

#include <ember/tensor/tensor.hpp>

namespace ember {

Tensor empty(IntList shape, TensorOptions opts = {});
Tensor zeros(IntList shape, TensorOptions opts = {});
Tensor ones(IntList shape, TensorOptions opts = {});
Tensor full(IntList shape, const Scalar& value, TensorOptions opts = {});
Tensor empty_like(const Tensor& t);
Tensor empty_like(const Tensor& t, TensorOptions opts);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, const Scalar& value);
// A contiguous CPU tensor in pinned (page-locked) host memory, from which and into which host<->device
// copies can be asynchronous (runtime/allocator.hpp: PinnedMemory). Throws ember::Error without a GPU.
Tensor empty_pinned(IntList shape, DType dtype = kFloat32);
// An empty tensor with given sizes and strides (for outputs that keep an input's layout).
Tensor empty_strided(IntList shape, IntList strides, TensorOptions opts = {});

// [start, end) with step; dtype int64 when all of start, end, step are integers
// and no dtype is given, float32 otherwise.
Tensor arange(const Scalar& end);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step = 1);
Tensor arange(const Scalar& start, const Scalar& end, TensorOptions opts);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions opts);
Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
Tensor eye(int64_t n, int64_t m = -1, TensorOptions opts = {});

// Wraps memory the caller owns (CPU); the tensor does not free it.
Tensor from_blob(void* data, IntList shape, TensorOptions opts = {});
Tensor from_blob(void* data, IntList shape, IntList strides, TensorOptions opts = {});

// A 0-dim tensor.
Tensor scalar_tensor(const Scalar& value, TensorOptions opts = {});

namespace detail {
Tensor tensor_from_values(const void* data, DType src, IntList shape, TensorOptions opts);
template <class T> constexpr DType literal_dtype() {
  if constexpr (std::is_same_v<T, bool>) return kBool;
  else if constexpr (std::is_floating_point_v<T>) return kFloat32;  // default dtype, as torch::tensor
  else return kInt64;
}
template <class T> using literal_storage_t =
    std::conditional_t<std::is_same_v<T, bool>, bool, std::conditional_t<std::is_floating_point_v<T>, double, int64_t>>;
// The buffer element for S: std::vector<bool> has no data(), so bools are staged as 0/1 bytes.
template <class S> using literal_buffer_t = std::conditional_t<std::is_same_v<S, bool>, uint8_t, S>;
}  // namespace detail

// ember::tensor({1.f, 2.f}), ember::tensor({{1, 2}, {3, 4}}), ember::tensor(vec, kFloat64).
template <class T>
Tensor tensor(const std::vector<T>& values, TensorOptions opts) {
  using S = detail::literal_storage_t<T>;
  std::vector<detail::literal_buffer_t<S>> v(values.begin(), values.end());
  int64_t n = static_cast<int64_t>(v.size());
  return detail::tensor_from_values(v.data(), dtype_of_v<S>, {n}, opts);
}
template <class T>
Tensor tensor(const std::vector<T>& values) { return tensor(values, TensorOptions(detail::literal_dtype<T>())); }
template <class T>
Tensor tensor(std::initializer_list<T> values, TensorOptions opts) { return tensor(std::vector<T>(values), opts); }
template <class T>
Tensor tensor(std::initializer_list<T> values) { return tensor(std::vector<T>(values)); }

template <class T>
Tensor tensor(std::initializer_list<std::initializer_list<T>> rows, TensorOptions opts) {
  using S = detail::literal_storage_t<T>;
  std::vector<detail::literal_buffer_t<S>> v;
  int64_t cols = rows.size() ? static_cast<int64_t>(rows.begin()->size()) : 0;
  for (const auto& r : rows) {
    EMBER_CHECK(static_cast<int64_t>(r.size()) == cols, "tensor: nested list rows have different lengths (",
                cols, " and ", r.size(), ")");
    v.insert(v.end(), r.begin(), r.end());
  }
  return detail::tensor_from_values(v.data(), dtype_of_v<S>, {static_cast<int64_t>(rows.size()), cols}, opts);
}
template <class T>
Tensor tensor(std::initializer_list<std::initializer_list<T>> rows) {
  return tensor(rows, TensorOptions(detail::literal_dtype<T>()));
}

template <class T>
Tensor tensor(std::initializer_list<std::initializer_list<std::initializer_list<T>>> blocks, TensorOptions opts) {
  using S = detail::literal_storage_t<T>;
  std::vector<detail::literal_buffer_t<S>> v;
  int64_t d1 = blocks.size() ? static_cast<int64_t>(blocks.begin()->size()) : 0;
  int64_t d2 = d1 ? static_cast<int64_t>(blocks.begin()->begin()->size()) : 0;
  for (const auto& b : blocks) {
    EMBER_CHECK(static_cast<int64_t>(b.size()) == d1, "tensor: nested list blocks have different lengths");
    for (const auto& r : b) {
      EMBER_CHECK(static_cast<int64_t>(r.size()) == d2, "tensor: nested list rows have different lengths");
      v.insert(v.end(), r.begin(), r.end());
    }
  }
  return detail::tensor_from_values(v.data(), dtype_of_v<S>, {static_cast<int64_t>(blocks.size()), d1, d2}, opts);
}
template <class T>
Tensor tensor(std::initializer_list<std::initializer_list<std::initializer_list<T>>> blocks) {
  return tensor(blocks, TensorOptions(detail::literal_dtype<T>()));
}

}  // namespace ember
