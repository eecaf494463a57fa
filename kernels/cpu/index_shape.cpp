// CPU kernels for the shape ops that move data: cat, pad (constant), flip.
//
// All three are pure data movement, written once per element size
// (visit_itemsize) except pad's fill value, which is converted per dtype.
// Ceilings: zero FLOPs; each reads its input once and writes its output once
// (pad also writes the border), so all are memory-bound.
#include <algorithm>
#include <cstring>

#include <ember/kernels/cpu/elementwise.hpp>
#include <ember/kernels/cpu/index_common.hpp>
#include <ember/kernels/cpu/register.hpp>

namespace ember::cpu {
namespace {

// out: contiguous; inputs: contiguous, out's dtype, non-empty, equal to out except in dim.
// Viewed as rows: out (outer, total * inner), input k (outer, size_k * inner).
void cat_kernel(const Tensor& out, const std::vector<Tensor>& inputs, int64_t dim) {
  int64_t outer = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= out.size(i);
  const size_t item = out.itemsize();
  const size_t out_row = out.numel() / std::max<int64_t>(outer, 1) * item;
  std::vector<size_t> in_row(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) in_row[k] = static_cast<size_t>(inputs[k].numel() / outer) * item;
  char* dst = static_cast<char*>(out.data_ptr());
  const int64_t grain = std::max<int64_t>(1, kGrain * static_cast<int64_t>(item) / std::max<int64_t>(static_cast<int64_t>(out_row), 1));
  parallel_range(0, outer, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      char* d = dst + static_cast<size_t>(o) * out_row;
      for (size_t k = 0; k < inputs.size(); ++k) {
        std::memcpy(d, static_cast<const char*>(inputs[k].data_ptr()) + static_cast<size_t>(o) * in_row[k], in_row[k]);
        d += in_row[k];
      }
    }
  });
}

// Copies src into dst element by element (same shape, any strides), by element size.
void copy_bytes(const Tensor& dst, const Tensor& src) {
  visit_itemsize(dst.itemsize(), [&]<class U>() { elementwise<U, U>(dst, [](U v) { return v; }, src); });
}

// out = x padded with `value`; pads are (left, right) pairs from the last dim backwards,
// negative entries crop. Fills out, then copies the overlap of x and out.
void pad_kernel(const Tensor& out, const Tensor& x, const Dims& pads, const Scalar& value) {
  visit_dtype(out.dtype(), [&]<class T>() {
    const T v = static_cast<T>(value.to<OpMath<T>>());
    T* o = static_cast<T*>(out.data_ptr());
    const int64_t n = out.numel();
    parallel_range(0, n, kGrain, [&](int64_t lo, int64_t hi) { std::fill(o + lo, o + hi, v); });
  });
  const int64_t nd = x.dim();
  Dims sizes = x.shape();
  int64_t out_offset = out.storage_offset(), x_offset = x.storage_offset();
  for (size_t k = 0; 2 * k < pads.size(); ++k) {
    const size_t d = static_cast<size_t>(nd - 1 - static_cast<int64_t>(k));
    const int64_t left = pads[2 * k], right = pads[2 * k + 1];
    const int64_t len = x.shape()[d] - std::max<int64_t>(-left, 0) - std::max<int64_t>(-right, 0);
    if (len <= 0) return;  // nothing of x survives the crop
    sizes[d] = len;
    out_offset += std::max<int64_t>(left, 0) * out.strides()[d];
    x_offset += std::max<int64_t>(-left, 0) * x.strides()[d];
  }
  if (product(sizes) == 0) return;
  copy_bytes(restride(out, sizes, out.strides(), out_offset), restride(x, sizes, x.strides(), x_offset));
}

// out (contiguous) = x with the listed dims reversed: x read through negative strides.
void flip_kernel(const Tensor& out, const Tensor& x, const Dims& dims) {
  Dims strides = x.strides();
  int64_t offset = x.storage_offset();
  for (int64_t d : dims) {
    offset += (x.size(d) - 1) * strides[static_cast<size_t>(d)];
    strides[static_cast<size_t>(d)] = -strides[static_cast<size_t>(d)];
  }
  copy_bytes(out, restride(x, x.shape(), std::move(strides), offset));
}

}  // namespace

void register_index_shape_kernels(KernelTable& t) {
  t.cat = cat_kernel;
  t.pad = pad_kernel;
  t.flip = flip_kernel;
}

}  // namespace ember::cpu
