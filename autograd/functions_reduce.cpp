// Public reductions, softmax and losses, and their gradient rules.
//
// A reduction's gradient is the output gradient in keepdim form, expanded
// back over the reduced dims and weighted per element (1 for sum, 1/N for
// mean, the selection mask for amax, ...).
#include <algorithm>
#include <cmath>

#include <ember/autograd/autocast.hpp>
#include <ember/autograd/record.hpp>

namespace ember {
using namespace autograd;

namespace autograd {
Dims reduce_dims(IntList dims, int64_t ndim, const char* op) {
  Dims out;
  if (dims.empty()) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : dims) out.push_back(ndim == 0 ? wrap_dim(d, 1, op) * 0 : wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  out.resize(static_cast<size_t>(std::unique(out.begin(), out.end()) - out.begin()));
  if (ndim == 0) out = Dims();
  return out;
}

Tensor expand_reduced(const Tensor& g, IntList in_shape, IntList dims, bool keepdim) {
  Tensor gk = g;
  if (!keepdim) {
    Dims shape(in_shape);
    for (int64_t d : dims) shape[static_cast<size_t>(d)] = 1;
    gk = reshape(g, shape);
  }
  return expand(gk, in_shape);
}
}  // namespace autograd

namespace {
// The keepdim form of a reduction output y.
Tensor keep(const Tensor& y, IntList in_shape, IntList dims, bool keepdim) {
  if (keepdim) return y;
  Dims shape(in_shape);
  for (int64_t d : dims) shape[static_cast<size_t>(d)] = 1;
  return reshape(y, shape);
}
int64_t reduced_count(IntList shape, IntList dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= shape[static_cast<size_t>(d)];
  return n;
}

// Records a reduction of x with rule fn(g expanded to x's shape, x, y in keepdim form).
template <class F>
Tensor reduction(const char* name, const Tensor& x, const Tensor& out, IntList dims_in, bool keepdim, bool keep_x,
                 bool keep_y, F fn) {
  if (!any_requires_grad(x)) return out;
  Dims dims = reduce_dims(dims_in, x.dim(), name);
  auto node = make_node(
      name,
      [fn, keep_x, keep_y, keepdim, dims, shape = Dims(x.shape())](Node& n, const Tensor& g) -> tensor_list {
        Tensor xs = keep_x ? n.saved(0) : Tensor();
        Tensor ys = keep_y ? keep(n.saved(keep_x ? 1 : 0), shape, dims, keepdim) : Tensor();
        return {fn(expand_reduced(g, shape, dims, keepdim), xs, ys, dims)};
      },
      x);
  if (keep_x) node->save(x);
  if (keep_y) node->save_output(out);
  return set_history(out, node);
}

// amax/amin/max/min over everything: the gradient is split evenly among the selected elements.
Tensor select_reduction(const char* name, const Tensor& x, const Tensor& out, IntList dims, bool keepdim) {
  return reduction(name, x, out, dims, keepdim, true, true, [](const Tensor& g, const Tensor& x, const Tensor& y, const Dims& d) {
    Tensor mask = ops::to(ops::eq(x, y), g.dtype());
    Tensor count = ops::sum(mask, d, true);
    return div(mul(g, mask), count);
  });
}
}  // namespace

Tensor sum(const Tensor& x, IntList d, bool k, std::optional<DType> dt) {
  return reduction("sum", x, ops::sum(x, d, k, dt), d, k, false, false,
                   [](const Tensor& g, const Tensor&, const Tensor&, const Dims&) { return g; });
}
Tensor mean(const Tensor& x, IntList d, bool k) {
  return reduction("mean", x, ops::mean(x, d, k), d, k, false, false,
                   [shape = Dims(x.shape())](const Tensor& g, const Tensor&, const Tensor&, const Dims& dims) {
                     return div(g, static_cast<double>(reduced_count(shape, dims)));
                   });
}
Tensor prod(const Tensor& x, IntList d, bool k) {
  // d prod / d x_i = prod / x_i (inputs with zeros are not special-cased).
  return reduction("prod", x, ops::prod(x, d, k), d, k, true, true,
                   [](const Tensor& g, const Tensor& x, const Tensor& y, const Dims&) { return div(mul(g, y), x); });
}
Tensor amax(const Tensor& x, IntList d, bool k) { return select_reduction("amax", x, ops::amax(x, d, k), d, k); }
Tensor amin(const Tensor& x, IntList d, bool k) { return select_reduction("amin", x, ops::amin(x, d, k), d, k); }
Tensor max(const Tensor& x) { return select_reduction("max", x, ops::max(x), {}, false); }
Tensor min(const Tensor& x) { return select_reduction("min", x, ops::min(x), {}, false); }

Tensor var(const Tensor& x, IntList d, double c, bool k) {
  return reduction("var", x, ops::var(x, d, c, k), d, k, true, false,
                   [c, shape = Dims(x.shape())](const Tensor& g, const Tensor& x, const Tensor&, const Dims& dims) {
                     double n = static_cast<double>(reduced_count(shape, dims));
                     return mul(mul(g, sub(x, mean(x, dims, true))), 2.0 / (n - c));
                   });
}
Tensor std(const Tensor& x, IntList d, double c, bool k) {
  return reduction("std", x, ops::std(x, d, c, k), d, k, true, true,
                   [c, shape = Dims(x.shape())](const Tensor& g, const Tensor& x, const Tensor& y, const Dims& dims) {
                     double n = static_cast<double>(reduced_count(shape, dims));
                     return div(mul(g, sub(x, mean(x, dims, true))), mul(y, n - c));
                   });
}
Tensor logsumexp(const Tensor& x, IntList d, bool k) {
  return reduction("logsumexp", x, ops::logsumexp(x, d, k), d, k, true, true,
                   [](const Tensor& g, const Tensor& x, const Tensor& y, const Dims&) { return mul(g, exp(sub(x, y))); });
}
Tensor norm(const Tensor& x, double p, IntList d, bool k) {
  return reduction("norm", x, ops::norm(x, p, d, k), d, k, true, true,
                   [p](const Tensor& g, const Tensor& x, const Tensor& y, const Dims& dims) -> Tensor {
                     if (p == 0.0) return zeros_like(g);
                     if (p == 1.0) return mul(g, sign(x));
                     Tensor zero = ops::eq(y, ops::scalar_tensor(0, y));
                     if (std::isinf(p)) {
                       Tensor mask = ops::to(ops::eq(ops::abs(x), y), g.dtype());
                       return div(mul(mul(g, sign(x)), mask), ops::sum(mask, dims, true));
                     }
                     Tensor r = p == 2.0 ? div(mul(g, x), y)
                                         : div(mul(mul(g, sign(x)), pow(abs(x), p - 1.0)), pow(y, p - 1.0));
                     return masked_fill(r, zero, 0.0);  // the norm is not differentiable at 0; PyTorch uses 0
                   });
}

namespace {
// max/min/topk/sort values: the gradient goes to the element each value came from.
Tensor scatter_grad(const Tensor& g, const Tensor& idx, IntList shape, int64_t dim) {
  return scatter_add(zeros(shape, g.options()), dim, idx, g);
}
std::pair<Tensor, Tensor> indexed_values(const char* name, const Tensor& x, std::pair<Tensor, Tensor> r, int64_t dim,
                                         bool keepdim) {
  if (!any_requires_grad(x)) return r;
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), name);
  auto node = make_node(
      name,
      [d, keepdim, shape = Dims(x.shape())](Node& n, const Tensor& g) -> tensor_list {
        Tensor idx = n.saved(0);
        if (shape.empty()) return {g};
        Tensor gk = keepdim ? g : unsqueeze(g, d);
        Tensor ik = keepdim ? idx : ops::unsqueeze(idx, d);
        return {scatter_grad(gk, ik, shape, d)};
      },
      x);
  node->save(r.second);
  set_history(r.first, node);
  return r;
}
}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t d, bool k) { return indexed_values("max_dim", x, ops::max(x, d, k), d, k); }
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t d, bool k) { return indexed_values("min_dim", x, ops::min(x, d, k), d, k); }
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t kk, int64_t d, bool l, bool s) {
  return indexed_values("topk", x, ops::topk(x, kk, d, l, s), d, true);
}
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t d, bool desc, bool stable) {
  return indexed_values("sort", x, ops::sort(x, d, desc, stable), d, true);
}
Tensor argmax(const Tensor& x, std::optional<int64_t> d, bool k) { return ops::argmax(x, d, k); }
Tensor argmin(const Tensor& x, std::optional<int64_t> d, bool k) { return ops::argmin(x, d, k); }

Tensor cumsum(const Tensor& x, int64_t d) {
  return record_unary("cumsum", x, ops::cumsum(x, d), false, false, [d](const Tensor& g, const Tensor&, const Tensor&) {
    return flip(cumsum(flip(g, {d}), d), {d});
  });
}

// ---- softmax ------------------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t d) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return softmax(autocast::to_full(x), d);
  }
  return record_unary("softmax", x, ops::softmax(x, d), false, true,
                      [d](const Tensor& g, const Tensor&, const Tensor& y) { return softmax_backward(g, y, d); });
}
Tensor log_softmax(const Tensor& x, int64_t d) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return log_softmax(autocast::to_full(x), d);
  }
  return record_unary("log_softmax", x, ops::log_softmax(x, d), false, true,
                      [d](const Tensor& g, const Tensor&, const Tensor& y) { return log_softmax_backward(g, y, d); });
}

// softmax_backward(g, y) = y (g - sum(g y)). Adjoint in g: itself; in y: gg (g - sum(g y)) - g sum(gg y).
Tensor softmax_backward(const Tensor& g0, const Tensor& y, int64_t d) {
  return record_binary("softmax_backward", g0, y, ops::softmax_backward(g0, y, d), true, false,
                       [d](const Tensor& gg, const Tensor& g0, const Tensor& y, const Tensor&, bool ng, bool ny) {
                         Tensor gg0, gy;
                         if (ng) gg0 = softmax_backward(gg, y, d);
                         if (ny) {
                           Tensor s = sum(mul(g0, y), {d}, true);
                           gy = sub(mul(gg, sub(g0, s)), mul(g0, sum(mul(gg, y), {d}, true)));
                         }
                         return std::pair{gg0, gy};
                       });
}
// log_softmax_backward(g, y) = g - exp(y) sum(g). Adjoint in g: gg - sum(gg exp(y)); in y: -gg exp(y) sum(g).
Tensor log_softmax_backward(const Tensor& g0, const Tensor& y, int64_t d) {
  return record_binary("log_softmax_backward", g0, y, ops::log_softmax_backward(g0, y, d), true, false,
                       [d](const Tensor& gg, const Tensor& g0, const Tensor& y, const Tensor&, bool ng, bool ny) {
                         Tensor gg0, gy;
                         Tensor e = exp(y);
                         if (ng) gg0 = sub(gg, sum(mul(gg, e), {d}, true));
                         if (ny) gy = neg(mul(mul(gg, e), sum(g0, {d}, true)));
                         return std::pair{gg0, gy};
                       });
}

// ---- losses ----------------------------------------------------------------------------------
namespace {
void check_constant_weight(const char* op, const Tensor& w) {
  EMBER_CHECK(!any_requires_grad(w), op, ": the gradient with respect to the class weights is not implemented; ",
              "pass a weight that does not require grad (", w.describe(), ")");
}
}  // namespace

Tensor nll_loss(const Tensor& lp, const Tensor& t, const Tensor& w, const CrossEntropyArgs& a) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return nll_loss(autocast::to_full(lp), t, autocast::to_full(w), a);
  }
  Tensor out = ops::nll_loss(lp, t, w, a);
  if (!any_requires_grad(lp, w)) return out;
  check_constant_weight("nll_loss", w);
  auto node = make_node("nll_loss", [a](Node& n, const Tensor& g) -> tensor_list {
    return {nll_loss_backward(g, n.saved(0), n.saved(1), n.saved(2), a)};
  }, lp);
  node->save(lp);
  node->save(t);
  node->save(w);
  return set_history(out, node);
}
// Linear in g and independent of the log-probabilities: its adjoint is nll_loss itself.
Tensor nll_loss_backward(const Tensor& g, const Tensor& lp, const Tensor& t, const Tensor& w, const CrossEntropyArgs& a) {
  Tensor out = ops::nll_loss_backward(g, lp, t, w, a);
  if (!any_requires_grad(g, lp, w)) return out;
  check_constant_weight("nll_loss_backward", w);
  auto node = make_node("nll_loss_backward", [a](Node& n, const Tensor& gg) -> tensor_list {
    return {n.needs(0) ? nll_loss(gg, n.saved(0), n.saved(1), a) : Tensor(), Tensor()};
  }, g, lp);
  node->save(t);
  node->save(w);
  return set_history(out, node);
}
Tensor cross_entropy(const Tensor& x, const Tensor& t, const Tensor& w, const CrossEntropyArgs& a) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return cross_entropy(autocast::to_full(x), t, autocast::to_full(w), a);
  }
  Tensor out = ops::cross_entropy(x, t, w, a);
  if (!any_requires_grad(x, w)) return out;
  check_constant_weight("cross_entropy", w);
  auto node = make_node("cross_entropy", [a](Node& n, const Tensor& g) -> tensor_list {
    return {cross_entropy_backward(g, n.saved(0), n.saved(1), n.saved(2), a)};
  }, x);
  node->save(x);
  node->save(t);
  node->save(w);
  return set_history(out, node);
}
// Linear in g: d/dg <gg, J^T g> = J gg = sum(ceb(1) * gg) over classes (per sample for reduction none).
// The second derivative in the logits is not implemented (once-differentiable there).
Tensor cross_entropy_backward(const Tensor& g, const Tensor& x, const Tensor& t, const Tensor& w, const CrossEntropyArgs& a) {
  Tensor out = ops::cross_entropy_backward(g, x, t, w, a);
  if (!any_requires_grad(g, x, w)) return out;
  check_constant_weight("cross_entropy_backward", w);
  auto node = make_node("cross_entropy_backward", [a, gshape = Dims(g.shape())](Node& n, const Tensor& gg) -> tensor_list {
    EMBER_CHECK(!n.needs(1), "cross_entropy_backward: the second derivative with respect to the logits is not ",
                "implemented (once-differentiable); compose log_softmax and nll_loss for higher derivatives");
    Tensor x = n.saved(0), t = n.saved(1), w = n.saved(2);
    Tensor unit = ops::cross_entropy_backward(ones(gshape, x.options()), x, t, w, a);
    Tensor prod = mul(unit, gg);
    Tensor r = gshape.empty() ? sum(prod) : sum(prod, {1});
    return {r, Tensor()};
  }, g, x);
  node->save(x);
  node->save(t);
  node->save(w);
  return set_history(out, node);
}

}  // namespace ember
