// Helpers shared by the CPU indexing and shape kernels (index.cpp,
// index_shape.cpp, sort.cpp): element-size dispatch for pure data movement,
// kernel-internal views, and the index bounds check.
//
// Note [index bounds]
// Out-of-range indices are a user mistake, so they throw ember::Error naming
// the op, the bad index, the dim and its size. The kernels check every index
// in a serial pass before their parallel loop starts, so no exception is ever
// thrown from inside a parallel chunk.
#pragma once

#include <cstdint>
#include <vector>

#include <ember/kernels/cpu/loops.hpp>
#include <ember/kernels/cpu/parallel.hpp>

namespace ember::cpu {

// A kernel-internal view of t's storage with other sizes, strides (elements) and offset.
inline Tensor restride(const Tensor& t, Dims sizes, Dims strides, int64_t offset) {
  return detail::make_tensor(t.storage(), std::move(sizes), std::move(strides), offset, t.dtype());
}

// t's sizes and strides with dim d removed, as a view at the same offset.
inline Tensor drop_dim(const Tensor& t, int64_t d) {
  Dims sizes = t.shape(), strides = t.strides();
  sizes.erase(static_cast<size_t>(d));
  strides.erase(static_cast<size_t>(d));
  return restride(t, std::move(sizes), std::move(strides), t.storage_offset());
}

[[noreturn]] inline void index_out_of_range(const char* op, int64_t index, int64_t dim, int64_t size) {
  EMBER_FAIL(op, ": index ", index, " is out of range for dim ", dim, " of size ", size,
             " (expected an index in [0, ", size, "))");
}

// The values of a 1-D (or 0-dim) contiguous int64/int32 index, checked to lie in [0, size).
inline std::vector<int64_t> load_index(const Tensor& index, int64_t size, int64_t dim, const char* op) {
  const int64_t n = index.numel();
  std::vector<int64_t> out(static_cast<size_t>(n));
  if (index.dtype() == kInt32) {
    const int32_t* p = index.data_ptr<int32_t>();
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = p[i];
  } else {
    const int64_t* p = index.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = p[i];
  }
  for (int64_t v : out)
    if (v < 0 || v >= size) index_out_of_range(op, v, dim, size);
  return out;
}

// Checks every element of an int64 index (any strides) lies in [0, size).
inline void check_index_range(const Tensor& index, int64_t size, int64_t dim, const char* op) {
  if (index.numel() == 0) return;
  auto loop = make_loop<1>({&index}, index.shape());
  for_each(loop, [&](char** p, const int64_t* s, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = *reinterpret_cast<const int64_t*>(p[0] + i * s[0]);
      if (v < 0 || v >= size) index_out_of_range(op, v, dim, size);
    }
  });
}

}  // namespace ember::cpu
