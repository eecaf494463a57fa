// Public view and copy functions and their gradient rules.
//
// A view's gradient maps the view's gradient back onto the input's shape:
// the inverse permutation, a reshape, a sum over expanded dims, or (narrow,
// slice, select) zeros with the gradient written into the viewed region,
// itself a differentiable op whose own gradient is the view again.
#include <ember/autograd/record.hpp>

namespace ember {
using namespace autograd;

namespace {

// Records `out` as a view of x with rule fn(g) -> grad of x.
template <class F>
Tensor view_rule(const char* name, const Tensor& x, const Tensor& out, F fn) {
  if (!any_requires_grad(x)) return out;
  auto node = make_node(name, [fn](Node&, const Tensor& g) -> tensor_list { return {fn(g)}; }, x);
  return set_view_history(out, x, node);
}

// Zeros of `shape` with g written into view(zeros). Linear in g; its gradient is view(gg).
template <class V>
Tensor embed_in_zeros(const Tensor& g, const Dims& shape, V view) {
  Tensor z = zeros(shape, g.options());
  {
    NoGradGuard no_grad;
    Tensor region = view(z);
    ops::copy_(region, g);
  }
  if (!any_requires_grad(g)) return z;
  auto node = make_node("view_backward", [view](Node&, const Tensor& gg) -> tensor_list { return {view(gg)}; }, g);
  return set_history(z, node);
}

}  // namespace

Tensor view(const Tensor& x, IntList s) {
  return view_rule("view", x, ops::view(x, s), [shape = Dims(x.shape())](const Tensor& g) { return reshape(g, shape); });
}
Tensor reshape(const Tensor& x, IntList s) {
  Tensor out = ops::reshape(x, s);
  auto fn = [shape = Dims(x.shape())](const Tensor& g) { return reshape(g, shape); };
  if (out.is_alias_of(x)) return view_rule("reshape", x, out, fn);
  if (!any_requires_grad(x)) return out;
  return set_history(out, make_node("reshape", [fn](Node&, const Tensor& g) -> tensor_list { return {fn(g)}; }, x));
}
Tensor permute(const Tensor& x, IntList d) {
  Dims inv(d.size());
  for (size_t i = 0; i < d.size(); ++i) inv[static_cast<size_t>(wrap_dim(d[i], x.dim(), "permute"))] = static_cast<int64_t>(i);
  return view_rule("permute", x, ops::permute(x, d), [inv](const Tensor& g) { return permute(g, inv); });
}
Tensor transpose(const Tensor& x, int64_t a, int64_t b) {
  return view_rule("transpose", x, ops::transpose(x, a, b), [a, b](const Tensor& g) { return transpose(g, a, b); });
}
Tensor t(const Tensor& x) {
  return view_rule("t", x, ops::t(x), [](const Tensor& g) { return t(g); });
}
Tensor narrow(const Tensor& x, int64_t d, int64_t s, int64_t l) {
  return view_rule("narrow", x, ops::narrow(x, d, s, l), [shape = Dims(x.shape()), d, s, l](const Tensor& g) {
    return embed_in_zeros(g, shape, [d, s, l](const Tensor& z) { return narrow(z, d, s, l); });
  });
}
Tensor slice(const Tensor& x, int64_t d, std::optional<int64_t> s, std::optional<int64_t> e, int64_t st) {
  return view_rule("slice", x, ops::slice(x, d, s, e, st), [shape = Dims(x.shape()), d, s, e, st](const Tensor& g) {
    return embed_in_zeros(g, shape, [d, s, e, st](const Tensor& z) { return slice(z, d, s, e, st); });
  });
}
Tensor select(const Tensor& x, int64_t d, int64_t i) {
  return view_rule("select", x, ops::select(x, d, i), [shape = Dims(x.shape()), d, i](const Tensor& g) {
    return embed_in_zeros(g, shape, [d, i](const Tensor& z) { return select(z, d, i); });
  });
}
Tensor expand(const Tensor& x, IntList s) {
  return view_rule("expand", x, ops::expand(x, s), [shape = Dims(x.shape())](const Tensor& g) { return sum_to(g, shape); });
}
Tensor squeeze(const Tensor& x) {
  return view_rule("squeeze", x, ops::squeeze(x), [shape = Dims(x.shape())](const Tensor& g) { return reshape(g, shape); });
}
Tensor squeeze(const Tensor& x, int64_t d) {
  return view_rule("squeeze", x, ops::squeeze(x, d), [shape = Dims(x.shape())](const Tensor& g) { return reshape(g, shape); });
}
Tensor unsqueeze(const Tensor& x, int64_t d) {
  return view_rule("unsqueeze", x, ops::unsqueeze(x, d), [shape = Dims(x.shape())](const Tensor& g) { return reshape(g, shape); });
}
Tensor flatten(const Tensor& x, int64_t s, int64_t e) {
  if (!any_requires_grad(x)) return ops::flatten(x, s, e);
  if (x.dim() == 0) return reshape(x, {1});
  int64_t a = wrap_dim(s, x.dim(), "flatten"), b = wrap_dim(e, x.dim(), "flatten");
  EMBER_CHECK(a <= b, "flatten: start_dim (", s, ") must not come after end_dim (", e, ")");
  Dims shape;
  for (int64_t i = 0; i < a; ++i) shape.push_back(x.shape()[static_cast<size_t>(i)]);
  shape.push_back(-1);
  for (int64_t i = b + 1; i < x.dim(); ++i) shape.push_back(x.shape()[static_cast<size_t>(i)]);
  if (x.numel() == 0) {
    int64_t m = 1;
    for (int64_t i = a; i <= b; ++i) m *= x.shape()[static_cast<size_t>(i)];
    shape[static_cast<size_t>(a)] = m;
  }
  return reshape(x, shape);
}

namespace {
// Storage positions (int64, of shape `sizes`) of a strided layout.
Tensor positions(IntList sizes, IntList strides, int64_t offset) {
  Tensor pos = ember::full({}, offset, TensorOptions(kInt64));
  const size_t nd = sizes.size();
  for (size_t k = 0; k < nd; ++k) {
    Dims shape(nd, 1);
    shape[k] = sizes[k];
    Tensor r = ops::reshape(ops::mul(arange(sizes[k]), ember::full({}, strides[k], TensorOptions(kInt64))), shape);
    pos = ops::add(pos, r);
  }
  return pos;
}
}  // namespace

// as_strided: the gradient of each output element goes to the input element at the
// same storage position (summed where the output overlaps itself).
Tensor as_strided(const Tensor& x, IntList s, IntList st, std::optional<int64_t> o) {
  Tensor out = ops::as_strided(x, s, st, o);
  if (!any_requires_grad(x)) return out;
  Tensor px = positions(x.shape(), x.strides(), x.storage_offset());
  Tensor po = positions(out.shape(), out.strides(), out.storage_offset());
  auto node = make_node(
      "as_strided",
      [shape = Dims(x.shape())](Node& n, const Tensor& g) -> tensor_list {
        Tensor px = n.saved(0), po = n.saved(1);
        int64_t size = 1;
        if (px.numel() > 0) size = std::max(size, ops::max(px).item<int64_t>() + 1);
        if (po.numel() > 0) size = std::max(size, ops::max(po).item<int64_t>() + 1);
        Tensor buf = zeros({size}, g.options());
        buf = index_add(buf, 0, ops::reshape(po, {-1}), reshape(g, {-1}));
        return {reshape(index_select(buf, 0, ops::reshape(px, {-1})), shape)};
      },
      x);
  node->save(px);
  node->save(po);
  return set_view_history(out, x, node);
}

std::vector<Tensor> split_with_sizes(const Tensor& x, IntList s, int64_t d) {
  if (!any_requires_grad(x)) return ops::split_with_sizes(x, s, d);
  std::vector<Tensor> raw = ops::split_with_sizes(x, s, d);  // for the checks
  std::vector<Tensor> out;
  int64_t start = 0;
  for (const Tensor& piece : raw) {
    int64_t len = piece.size(d);
    out.push_back(narrow(x, d, start, len));
    start += len;
  }
  return out;
}
std::vector<Tensor> split(const Tensor& x, int64_t s, int64_t d) {
  if (!any_requires_grad(x)) return ops::split(x, s, d);
  Dims sizes;
  for (const Tensor& p : ops::split(x, s, d)) sizes.push_back(p.size(d));
  return split_with_sizes(x, sizes, d);
}
std::vector<Tensor> chunk(const Tensor& x, int64_t c, int64_t d) {
  if (!any_requires_grad(x)) return ops::chunk(x, c, d);
  Dims sizes;
  for (const Tensor& p : ops::chunk(x, c, d)) sizes.push_back(p.size(d));
  return split_with_sizes(x, sizes, d);
}

// ---- copies ------------------------------------------------------------------------------
Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  return clone(x);
}
Tensor clone(const Tensor& x) {
  return record_unary("clone", x, ops::clone(x), false, false, [](const Tensor& g, const Tensor&, const Tensor&) { return g; });
}
Tensor to(const Tensor& x, DType d) {
  if (x.dtype() == d) return x;
  return record_unary("to", x, ops::to(x, d), false, false,
                      [src = x.dtype()](const Tensor& g, const Tensor&, const Tensor&) { return to(g, src); });
}
Tensor to(const Tensor& x, Device d, bool non_blocking) {
  if (x.device() == d) return x;
  return record_unary("to", x, ops::to(x, d, non_blocking), false, false,
                      [src = x.device()](const Tensor& g, const Tensor&, const Tensor&) { return to(g, src); });
}
Tensor pin_memory(const Tensor& x) {
  Tensor out = ops::pin_memory(x);
  if (out.is_same(x)) return x;
  return record_unary("pin_memory", x, out, false, false, [](const Tensor& g, const Tensor&, const Tensor&) { return g; });
}

}  // namespace ember
