// View ops: new sizes/strides/offset over the same storage, no data moved.
//
// Views share the base's storage, and so its version counter (Note [version
// counter]). reshape() is a view whenever the strides allow, else a copy.
#include <algorithm>
#include <numeric>

#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

Tensor make_view(const Tensor& x, Dims sizes, Dims strides, int64_t offset) {
  return detail::make_tensor(x.storage(), std::move(sizes), std::move(strides), offset, x.dtype());
}

// Strides for viewing x (sizes/strides) as `shape`, or false when the memory
// layout cannot express it without a copy. Walks groups of old dims that are
// contiguous with each other and matches them to groups of new dims.
bool view_strides(IntList old_sizes, IntList old_strides, IntList shape, Dims& out) {
  out = Dims(shape.size(), 0);
  if (product(old_sizes) == 0 || old_sizes.empty()) {
    out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides[old_sizes.size() - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_sizes.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_sizes[static_cast<size_t>(d)];
    bool chunk_end = d == 0 || (old_sizes[static_cast<size_t>(d - 1)] != 1 &&
                                old_strides[static_cast<size_t>(d - 1)] != tensor_numel * chunk_base_stride);
    if (chunk_end) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[static_cast<size_t>(view_d)] == 1)) {
        out[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= shape[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[static_cast<size_t>(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace

Dims infer_shape(IntList shape, int64_t numel, const char* op) {
  Dims out(shape);
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      EMBER_CHECK(infer < 0, op, ": only one dimension can be inferred, got shape ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      EMBER_CHECK(out[i] >= 0, op, ": invalid shape dimension ", out[i], " in ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape, " is invalid for input of size ", numel);
    out[static_cast<size_t>(infer)] = numel / known;
  } else {
    EMBER_CHECK(known == numel, op, ": shape ", shape, " is invalid for input of size ", numel);
  }
  return out;
}

Tensor view(const Tensor& x, IntList shape) {
  Dims sizes = infer_shape(shape, x.numel(), "view");
  Dims strides;
  EMBER_CHECK(view_strides(x.shape(), x.strides(), sizes, strides), "view: shape ", sizes,
              " is not compatible with the input's size ", x.shape(), " and stride ", x.strides(),
              " (at least one dimension spans two contiguous subspaces); use reshape instead");
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor reshape(const Tensor& x, IntList shape) {
  Dims sizes = infer_shape(shape, x.numel(), "reshape");
  Dims strides;
  if (view_strides(x.shape(), x.strides(), sizes, strides)) {
    return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
  }
  return view(contiguous(x), sizes);
}

Tensor permute(const Tensor& x, IntList dims) {
  const int64_t nd = x.dim();
  EMBER_CHECK(static_cast<int64_t>(dims.size()) == nd, "permute: expected ", nd, " dims for a tensor of shape ",
              x.shape(), ", got ", dims);
  Dims sizes(static_cast<size_t>(nd)), strides(static_cast<size_t>(nd));
  std::vector<bool> seen(static_cast<size_t>(nd), false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[static_cast<size_t>(i)], nd, "permute");
    EMBER_CHECK(!seen[static_cast<size_t>(d)], "permute: dim ", d, " repeats in ", dims);
    seen[static_cast<size_t>(d)] = true;
    sizes[static_cast<size_t>(i)] = x.shape()[static_cast<size_t>(d)];
    strides[static_cast<size_t>(i)] = x.strides()[static_cast<size_t>(d)];
  }
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  const int64_t nd = x.dim();
  if (nd == 0) {
    wrap_dim(d0, nd, "transpose");
    wrap_dim(d1, nd, "transpose");
    return make_view(x, x.shape(), x.strides(), x.storage_offset());
  }
  size_t a = static_cast<size_t>(wrap_dim(d0, nd, "transpose"));
  size_t b = static_cast<size_t>(wrap_dim(d1, nd, "transpose"));
  Dims sizes = x.shape(), strides = x.strides();
  std::swap(sizes[a], sizes[b]);
  std::swap(strides[a], strides[b]);
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor t(const Tensor& x) {
  EMBER_CHECK(x.dim() <= 2, "t: expected a tensor with at most 2 dims, got ", x.describe());
  return x.dim() < 2 ? transpose(x, 0, 0) : transpose(x, 0, 1);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  EMBER_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "narrow"));
  int64_t size = x.shape()[d];
  if (start < 0) start += size;
  EMBER_CHECK(start >= 0 && length >= 0 && start + length <= size, "narrow: start ", start, " and length ", length,
              " are out of range for dim ", dim, " of size ", size, " (tensor ", x.describe(), ")");
  Dims sizes = x.shape();
  sizes[d] = length;
  return make_view(x, std::move(sizes), x.strides(), x.storage_offset() + start * x.strides()[d]);
}

Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start_opt, std::optional<int64_t> end_opt, int64_t step) {
  EMBER_CHECK(x.dim() > 0, "slice: cannot slice a 0-dim tensor");
  EMBER_CHECK(step > 0, "slice: step must be positive, got ", step);
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "slice"));
  int64_t size = x.shape()[d];
  auto clamp_index = [size](int64_t i) {
    if (i < 0) i += size;
    return std::clamp<int64_t>(i, 0, size);
  };
  int64_t start = start_opt ? clamp_index(*start_opt) : 0;
  int64_t end = end_opt ? clamp_index(*end_opt) : size;
  int64_t len = end > start ? (end - start + step - 1) / step : 0;
  Dims sizes = x.shape(), strides = x.strides();
  sizes[d] = len;
  strides[d] *= step;
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset() + start * x.strides()[d]);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  EMBER_CHECK(x.dim() > 0, "select: cannot select from a 0-dim tensor");
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "select"));
  int64_t size = x.shape()[d];
  EMBER_CHECK(index >= -size && index < size, "select: index ", index, " is out of range for dim ", dim,
              " of size ", size, " (tensor ", x.describe(), ")");
  if (index < 0) index += size;
  Dims sizes = x.shape(), strides = x.strides();
  int64_t offset = x.storage_offset() + index * strides[d];
  sizes.erase(d);
  strides.erase(d);
  return make_view(x, std::move(sizes), std::move(strides), offset);
}

Tensor expand(const Tensor& x, IntList shape) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  EMBER_CHECK(nd >= x.dim(), "expand: the number of sizes (", nd, ") must be at least the tensor's dims (", x.dim(),
              "); tensor ", x.describe(), ", sizes ", shape);
  Dims sizes(static_cast<size_t>(nd)), strides(static_cast<size_t>(nd));
  for (int64_t i = nd - 1; i >= 0; --i) {
    int64_t xi = i - (nd - x.dim());
    int64_t want = shape[static_cast<size_t>(i)];
    if (xi < 0) {
      EMBER_CHECK(want >= 0, "expand: -1 is not allowed in a new leading dim, sizes ", shape);
      sizes[static_cast<size_t>(i)] = want;
      strides[static_cast<size_t>(i)] = 0;
      continue;
    }
    int64_t have = x.shape()[static_cast<size_t>(xi)];
    if (want == -1) want = have;
    EMBER_CHECK(have == want || have == 1, "expand: the expanded size ", want, " must match the existing size ", have,
                " at non-singleton dim ", i, "; tensor ", x.describe(), ", sizes ", shape);
    sizes[static_cast<size_t>(i)] = want;
    strides[static_cast<size_t>(i)] = have == want ? x.strides()[static_cast<size_t>(xi)] : 0;
  }
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor squeeze(const Tensor& x) {
  Dims sizes, strides;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (x.shape()[static_cast<size_t>(i)] == 1) continue;
    sizes.push_back(x.shape()[static_cast<size_t>(i)]);
    strides.push_back(x.strides()[static_cast<size_t>(i)]);
  }
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) {
    wrap_dim(dim, 0, "squeeze");
    return make_view(x, x.shape(), x.strides(), x.storage_offset());
  }
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "squeeze"));
  Dims sizes = x.shape(), strides = x.strides();
  if (sizes[d] == 1) {
    sizes.erase(d);
    strides.erase(d);
  }
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim() + 1, "unsqueeze"));
  Dims sizes = x.shape(), strides = x.strides();
  int64_t stride = d < sizes.size() ? sizes[d] * strides[d] : 1;
  sizes.insert(d, 1);
  strides.insert(d, stride);
  return make_view(x, std::move(sizes), std::move(strides), x.storage_offset());
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  EMBER_CHECK(s <= e, "flatten: start_dim (", start_dim, ") must not come after end_dim (", end_dim, ")");
  Dims shape;
  for (int64_t i = 0; i < s; ++i) shape.push_back(x.shape()[static_cast<size_t>(i)]);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= x.shape()[static_cast<size_t>(i)];
  shape.push_back(merged);
  for (int64_t i = e + 1; i < x.dim(); ++i) shape.push_back(x.shape()[static_cast<size_t>(i)]);
  return reshape(x, shape);
}

Tensor as_strided(const Tensor& x, IntList sizes, IntList strides, std::optional<int64_t> offset_opt) {
  EMBER_CHECK(sizes.size() == strides.size(), "as_strided: sizes ", sizes, " and strides ", strides,
              " have different lengths");
  int64_t offset = offset_opt.value_or(x.storage_offset());
  EMBER_CHECK(offset >= 0, "as_strided: negative storage offset ", offset);
  int64_t max_index = offset;
  for (size_t i = 0; i < sizes.size(); ++i) {
    EMBER_CHECK(sizes[i] >= 0 && strides[i] >= 0, "as_strided: negative size or stride in sizes ", sizes,
                ", strides ", strides);
    if (sizes[i] == 0) max_index = -1;
    if (max_index >= 0) max_index += (sizes[i] - 1) * strides[i];
  }
  const int64_t capacity = static_cast<int64_t>(x.storage()->nbytes / x.itemsize());
  EMBER_CHECK(max_index < capacity, "as_strided: sizes ", sizes, ", strides ", strides, " and offset ", offset,
              " reach element ", max_index, " but the storage holds ", capacity, " elements");
  return make_view(x, Dims(sizes), Dims(strides), offset);
}

std::vector<Tensor> split_with_sizes(const Tensor& x, IntList sizes, int64_t dim) {
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "split_with_sizes"));
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  EMBER_CHECK(total == x.shape()[d], "split_with_sizes: sizes ", sizes, " add up to ", total, " but dim ", dim,
              " has size ", x.shape()[d]);
  std::vector<Tensor> parts;
  int64_t start = 0;
  for (int64_t s : sizes) {
    parts.push_back(narrow(x, dim, start, s));
    start += s;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "split"));
  EMBER_CHECK(split_size > 0 || x.shape()[d] == 0, "split: split_size must be positive, got ", split_size);
  Dims sizes;
  for (int64_t start = 0; start < x.shape()[d]; start += split_size) sizes.push_back(std::min(split_size, x.shape()[d] - start));
  if (sizes.empty()) sizes.push_back(0);
  return split_with_sizes(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  EMBER_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  size_t d = static_cast<size_t>(wrap_dim(dim, x.dim(), "chunk"));
  int64_t size = (x.shape()[d] + chunks - 1) / chunks;
  return split(x, std::max<int64_t>(size, 1), dim);
}

}  // namespace ember::ops
