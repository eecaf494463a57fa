// Meta functions of the indexing and shape ops: index_select, index_add,
// gather, scatter_add, one_hot, cat, pad, flip, topk, sort, and the composites
// embedding (index_select on rows) and stack (unsqueeze + cat).
//
// PyTorch semantics: index tensors are int64 (int32 also for index_select,
// index_add and embedding); out-of-range indices are an ember::Error naming the
// index and the size, raised by the kernels (Note [index bounds] in
// kernels/cpu/index_common.hpp). 0-dim inputs are handled here by viewing them
// as 1-element 1-D tensors, so kernels only see dims >= 1.
#include <algorithm>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

void check_defined(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts) EMBER_CHECK(t->defined(), op, ": undefined input tensor");
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ", a.describe(), " and ",
              b.describe());
}

void check_index_dtype(const char* op, const Tensor& index, bool allow_int32) {
  EMBER_CHECK(index.dtype() == kInt64 || (allow_int32 && index.dtype() == kInt32), op, ": expected an index of dtype int64",
              allow_int32 ? " or int32" : "", ", got ", index.describe());
}

// The values of an integer index tensor on the host (copied from the device when needed).
std::vector<int64_t> host_values(const Tensor& index) {
  Tensor h = contiguous(to(to(index, kCPU), kInt64));
  const int64_t* p = h.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + h.numel());
}

Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? reshape(t, {1}) : t; }

}  // namespace

// ---- index_select / embedding -------------------------------------------------------

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("index_select", {&x, &index});
  check_same_device("index_select", x, index);
  check_index_dtype("index_select", index, true);
  EMBER_CHECK(index.dim() <= 1, "index_select: expected a 1-D or 0-dim index, got ", index.describe());
  const int64_t d = wrap_dim(dim, x.dim(), "index_select");
  EMBER_CHECK(x.dim() > 0 || index.numel() == 1, "index_select: indexing a 0-dim tensor takes exactly one index, got ",
              index.describe());
  Tensor src = contiguous(as_1d(x));
  Dims shape = src.shape();
  shape[static_cast<size_t>(d)] = index.numel();
  Tensor out = empty(shape, x.options());
  if (index.numel() > 0) EMBER_KERNEL(index_select, x.device())(out, src, d, contiguous(index));
  return x.dim() == 0 ? reshape(out, {}) : out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  check_defined("embedding", {&weight, &indices});
  check_same_device("embedding", weight, indices);
  EMBER_CHECK(weight.dim() == 2, "embedding: expected a 2-D weight (num_embeddings, embedding_dim), got ",
              weight.describe());
  check_index_dtype("embedding", indices, true);
  const int64_t rows = weight.size(0);
  if (indices.is_cpu()) {
    for (int64_t v : host_values(indices))
      EMBER_CHECK(v >= 0 && v < rows, "embedding: index ", v, " is out of range for a table of ", rows,
                  " rows (weight ", weight.describe(), ", indices ", indices.describe(), ")");
  }
  Tensor flat;
  try {
    flat = index_select(weight, 0, reshape(indices, {-1}));
  } catch (const Error& e) {  // a device checks its indices in the kernel: name the embedding in its error
    throw Error(std::string("embedding: ") + e.what() + " (weight " + weight.describe() + ", indices " +
                indices.describe() + ")");
  }
  Dims shape = indices.shape();
  shape.push_back(weight.size(1));
  return reshape(flat, shape);
}

// ---- index_add -------------------------------------------------------------------------

Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined("index_add", {&self, &index, &src});
  check_same_device("index_add", self, index);
  check_same_device("index_add", self, src);
  check_index_dtype("index_add", index, true);
  EMBER_CHECK(index.dim() <= 1, "index_add: expected a 1-D or 0-dim index, got ", index.describe());
  EMBER_CHECK(self.dtype() == src.dtype(), "index_add: self and source must have the same dtype, got ", self.describe(),
              " and ", src.describe());
  EMBER_CHECK(self.dim() == src.dim() || (self.dim() <= 1 && src.dim() <= 1), "index_add: source ", src.describe(),
              " must have as many dims as self ", self.describe());
  const int64_t d = wrap_dim(dim, self.dim(), "index_add");
  Tensor s = as_1d(self), sr = as_1d(src);
  EMBER_CHECK(index.numel() == sr.size(d), "index_add: index ", index.describe(), " must have one entry per slice of source ",
              src.describe(), " along dim ", d);
  for (int64_t k = 0; k < s.dim(); ++k)
    EMBER_CHECK(k == d || sr.size(k) == s.size(k), "index_add: source ", src.describe(), " must match self ",
                self.describe(), " in every dim but ", d, " (dim ", k, " differs)");
  Tensor out = clone(s);
  if (index.numel() > 0) EMBER_KERNEL(index_add, self.device())(out, contiguous(sr), d, contiguous(index));
  return self.dim() == 0 ? reshape(out, {}) : out;
}

// ---- gather / scatter_add ------------------------------------------------------------------

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined("gather", {&x, &index});
  check_same_device("gather", x, index);
  check_index_dtype("gather", index, false);
  EMBER_CHECK(index.dim() == x.dim() || (x.dim() <= 1 && index.dim() <= 1), "gather: index ", index.describe(),
              " must have as many dims as the input ", x.describe());
  const int64_t d = wrap_dim(dim, x.dim(), "gather");
  Tensor xs = as_1d(x), is = as_1d(index);
  for (int64_t k = 0; k < xs.dim(); ++k)
    EMBER_CHECK(k == d || is.size(k) <= xs.size(k), "gather: index ", index.describe(), " is larger than the input ",
                x.describe(), " in dim ", k, " (", is.size(k), " > ", xs.size(k), ")");
  Tensor out = empty(is.shape(), x.options());
  if (out.numel() > 0) EMBER_KERNEL(gather, x.device())(out, xs, d, is);
  return index.dim() == 0 ? reshape(out, {}) : out;
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined("scatter_add", {&self, &index, &src});
  check_same_device("scatter_add", self, index);
  check_same_device("scatter_add", self, src);
  check_index_dtype("scatter_add", index, false);
  EMBER_CHECK(self.dtype() == src.dtype(), "scatter_add: self and src must have the same dtype, got ", self.describe(),
              " and ", src.describe());
  const bool low = self.dim() <= 1 && index.dim() <= 1 && src.dim() <= 1;
  EMBER_CHECK((index.dim() == self.dim() && src.dim() == self.dim()) || low, "scatter_add: self ", self.describe(),
              ", index ", index.describe(), " and src ", src.describe(), " must have the same number of dims");
  const int64_t d = wrap_dim(dim, self.dim(), "scatter_add");
  Tensor s = as_1d(self), is = as_1d(index), sr = as_1d(src);
  for (int64_t k = 0; k < s.dim(); ++k) {
    EMBER_CHECK(is.size(k) <= sr.size(k), "scatter_add: index ", index.describe(), " is larger than src ", src.describe(),
                " in dim ", k);
    EMBER_CHECK(k == d || is.size(k) <= s.size(k), "scatter_add: index ", index.describe(), " is larger than self ",
                self.describe(), " in dim ", k);
  }
  Tensor out = clone(s);
  if (is.numel() > 0) EMBER_KERNEL(scatter_add, self.device())(out, sr, d, is);
  return self.dim() == 0 ? reshape(out, {}) : out;
}

// ---- one_hot ------------------------------------------------------------------------------

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  check_defined("one_hot", {&indices});
  EMBER_CHECK(indices.dtype() == kInt64, "one_hot: expected an int64 index tensor, got ", indices.describe());
  EMBER_CHECK(num_classes >= -1, "one_hot: num_classes must be -1 (infer) or non-negative, got ", num_classes);
  if (num_classes == -1) {
    EMBER_CHECK(indices.numel() > 0, "one_hot: cannot infer num_classes from an empty tensor ", indices.describe());
    std::vector<int64_t> v = host_values(indices);
    num_classes = *std::max_element(v.begin(), v.end()) + 1;
  }
  Dims shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = empty(shape, TensorOptions(kInt64, indices.device()));
  UnaryArgs args;
  args.a = static_cast<double>(num_classes);
  if (indices.numel() > 0) EMBER_KERNEL(one_hot, indices.device())(out, contiguous(indices), args);
  return out;
}

// ---- cat / stack ------------------------------------------------------------------------------

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  // As PyTorch (legacy rule): 1-D tensors of size 0 are skipped whatever the other shapes.
  auto skipped = [](const Tensor& t) { return t.dim() == 1 && t.size(0) == 0; };
  DType dtype = tensors[0].dtype();
  int64_t ref = -1;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    EMBER_CHECK(t.defined(), "cat: tensor ", i, " is undefined");
    EMBER_CHECK(t.dim() > 0, "cat: zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    check_same_device("cat", tensors[0], t);
    dtype = promote_types(dtype, t.dtype());
    if (ref < 0 && !skipped(t)) ref = static_cast<int64_t>(i);
  }
  const Device device = tensors[0].device();
  if (ref < 0) return empty({0}, TensorOptions(dtype, device));
  const Tensor& r = tensors[static_cast<size_t>(ref)];
  const int64_t d = wrap_dim(dim, r.dim(), "cat");
  Dims shape = r.shape();
  shape[static_cast<size_t>(d)] = 0;
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t)) continue;
    EMBER_CHECK(t.dim() == r.dim(), "cat: tensors must have the same number of dims, got ", r.describe(), " (tensor ",
                ref, ") and ", t.describe(), " (tensor ", i, ")");
    for (int64_t k = 0; k < r.dim(); ++k)
      EMBER_CHECK(k == d || t.size(k) == r.size(k), "cat: sizes of tensors must match except in dim ", d, ": tensor ", ref,
                  " is ", r.describe(), " and tensor ", i, " is ", t.describe(), " (dim ", k, " differs)");
    shape[static_cast<size_t>(d)] += t.size(d);
    if (t.numel() > 0) inputs.push_back(contiguous(to(t, dtype)));
  }
  Tensor out = empty(shape, TensorOptions(dtype, device));
  if (out.numel() > 0) EMBER_KERNEL(cat, device)(out, inputs, d);
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    EMBER_CHECK(tensors[i].defined(), "stack: tensor ", i, " is undefined");
    EMBER_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: expects each tensor to be equal size, but got ",
                tensors[0].describe(), " at entry 0 and ", tensors[i].describe(), " at entry ", i);
  }
  const int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, d));
  return cat(parts, d);
}

// ---- pad / flip ---------------------------------------------------------------------------------

Tensor pad(const Tensor& x, IntList pads, const Scalar& value) {
  check_defined("pad", {&x});
  EMBER_CHECK(pads.size() % 2 == 0, "pad: expected (left, right) pairs, got an odd number of pads ", pads);
  const int64_t nd = x.dim();
  EMBER_CHECK(static_cast<int64_t>(pads.size() / 2) <= nd, "pad: ", pads.size(), " pads ", pads,
              " pad more dims than the input ", x.describe(), " has");
  Dims shape = x.shape();
  for (size_t k = 0; 2 * k < pads.size(); ++k) {
    const size_t d = static_cast<size_t>(nd - 1 - static_cast<int64_t>(k));
    const int64_t size = shape[d] + pads[2 * k] + pads[2 * k + 1];
    EMBER_CHECK(size >= 0, "pad: dim ", d, " of size ", shape[d], " with pads (", pads[2 * k], ", ", pads[2 * k + 1],
                ") gives a negative size ", size, " (input ", x.describe(), ")");
    shape[d] = size;
  }
  Tensor out = empty(shape, x.options());
  if (out.numel() > 0) EMBER_KERNEL(pad, x.device())(out, x, Dims(pads), value);
  return out;
}

Tensor flip(const Tensor& x, IntList dims) {
  check_defined("flip", {&x});
  Dims wrapped;
  for (int64_t dim : dims) {
    int64_t d = wrap_dim(dim, x.dim(), "flip");
    EMBER_CHECK(std::find(wrapped.begin(), wrapped.end(), d) == wrapped.end(), "flip: dim ", d,
                " appears multiple times in the list of dims ", dims);
    wrapped.push_back(d);
  }
  if (x.dim() == 0) wrapped.clear();  // flipping a 0-dim tensor is a copy
  Tensor out = empty(x.shape(), x.options());
  if (out.numel() > 0) EMBER_KERNEL(flip, x.device())(out, x, wrapped);
  return out;
}

// ---- topk / sort ------------------------------------------------------------------------------------

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  check_defined("topk", {&x});
  EMBER_CHECK(!x.dtype().is_bool(), "topk: not supported for bool tensors, got ", x.describe());
  const int64_t d = wrap_dim(dim, x.dim(), "topk");
  Tensor xs = contiguous(as_1d(x));
  const int64_t size = xs.size(d);
  EMBER_CHECK(k >= 0 && k <= size, "topk: k (", k, ") is out of range for dim ", d, " of size ", size, " (input ",
              x.describe(), ")");
  Dims shape = xs.shape();
  shape[static_cast<size_t>(d)] = k;
  Tensor values = empty(shape, x.options());
  Tensor indices = empty(shape, TensorOptions(kInt64, x.device()));
  TopkArgs args;
  args.k = k;
  args.dim = d;
  args.largest = largest;
  args.sorted = sorted;
  if (values.numel() > 0) EMBER_KERNEL(topk, x.device())(values, indices, xs, args);
  if (x.dim() == 0 && k == 1) return {reshape(values, {}), reshape(indices, {})};
  return {values, indices};
}

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  check_defined("sort", {&x});
  const int64_t d = wrap_dim(dim, x.dim(), "sort");
  Tensor xs = contiguous(as_1d(x));
  Tensor values = empty(xs.shape(), x.options());
  Tensor indices = empty(xs.shape(), TensorOptions(kInt64, x.device()));
  TopkArgs args;
  args.k = xs.size(d);
  args.dim = d;
  args.descending = descending;
  args.stable = stable;
  if (values.numel() > 0) EMBER_KERNEL(sort, x.device())(values, indices, xs, args);
  if (x.dim() == 0) return {reshape(values, {}), reshape(indices, {})};
  return {values, indices};
}

}  // namespace ember::ops
