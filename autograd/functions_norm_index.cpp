// Public normalisation, dropout and indexing functions and their gradient rules.
#include <ember/autograd/autocast.hpp>
#include <ember/autograd/record.hpp>

namespace ember {
using namespace autograd;

namespace {
using Triple = std::tuple<Tensor, Tensor, Tensor>;

// The three gradients of a norm op from its backward op; the backward op's outputs are once-differentiable.
Triple once_triple(const char* name, Triple r, const std::vector<Tensor>& inputs) {
  auto& [a, b, c] = r;
  a = record_once_differentiable(name, a, inputs);
  b = record_once_differentiable(name, b, inputs);
  c = record_once_differentiable(name, c, inputs);
  return r;
}
}  // namespace

Triple batch_norm_backward(const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& invstd,
                           const NormArgs& args) {
  return once_triple("batch_norm_backward", ops::batch_norm_backward(g, x, w, mean, invstd, args), {g, x, w});
}
Triple layer_norm_backward(const Tensor& g, const Tensor& x, IntList shape, const Tensor& w, const Tensor& mean,
                           const Tensor& rstd) {
  return once_triple("layer_norm_backward", ops::layer_norm_backward(g, x, shape, w, mean, rstd), {g, x, w});
}
Triple group_norm_backward(const Tensor& g, const Tensor& x, int64_t groups, const Tensor& w, const Tensor& mean,
                           const Tensor& rstd) {
  return once_triple("group_norm_backward", ops::group_norm_backward(g, x, groups, w, mean, rstd), {g, x, w});
}

namespace {
// Records a norm op's output with rule bwd(g, saved...) -> (gx, gw, gb).
template <class F>
Tensor record_norm(const char* name, const Triple& r, const Tensor& x, const Tensor& w, const Tensor& b, F bwd) {
  const Tensor& out = std::get<0>(r);
  if (!any_requires_grad(x, w, b)) return out;
  auto node = make_node(
      name,
      [bwd](Node& n, const Tensor& g) -> tensor_list {
        auto [gx, gw, gb] = bwd(g, n.saved(0), n.saved(1), n.saved(2), n.saved(3));
        return {n.needs(0) ? gx : Tensor(), n.needs(1) ? gw : Tensor(), n.needs(2) ? gb : Tensor()};
      },
      x, w, b);
  node->save(x);
  node->save(w);
  node->save(std::get<1>(r));
  node->save(std::get<2>(r));
  return set_history(out, node);
}
}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv, bool training,
                  double momentum, double eps) {
  if (autocast_enabled()) {  // the running statistics are updated in place: never cast
    autocast::Suspend off;
    return batch_norm(autocast::to_full(x), autocast::to_full(w), autocast::to_full(b), rm, rv, training, momentum, eps);
  }
  NormArgs args;
  args.training = training;
  args.momentum = momentum;
  args.eps = eps;
  if (!training && any_requires_grad(x, w, b)) {
    // Evaluation with gradients: a composition over the running statistics (constants).
    EMBER_CHECK(rm.defined() && rv.defined(), "batch_norm: running_mean and running_var are needed in evaluation mode");
    Dims shape(static_cast<size_t>(x.dim()), 1);
    shape[1] = x.size(1);
    Tensor invstd = ops::reshape(ops::rsqrt(ops::add(rv, ops::scalar_tensor(eps, rv))), shape);
    Tensor y = mul(sub(x, ops::reshape(rm, shape)), invstd);
    if (w.defined()) y = mul(y, reshape(w, shape));
    if (b.defined()) y = add(y, reshape(b, shape));
    return y;
  }
  return record_norm("batch_norm", ops::batch_norm(x, w, b, rm, rv, args), x, w, b,
                     [args](const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& m, const Tensor& s) {
                       return batch_norm_backward(g, x, w, m, s, args);
                     });
}
Tensor layer_norm(const Tensor& x, IntList s, const Tensor& w, const Tensor& b, double eps) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return layer_norm(autocast::to_full(x), s, autocast::to_full(w), autocast::to_full(b), eps);
  }
  return record_norm("layer_norm", ops::layer_norm(x, s, w, b, eps), x, w, b,
                     [shape = Dims(s)](const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& m, const Tensor& r) {
                       return layer_norm_backward(g, x, shape, w, m, r);
                     });
}
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& w, const Tensor& b, double eps) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return group_norm(autocast::to_full(x), groups, autocast::to_full(w), autocast::to_full(b), eps);
  }
  return record_norm("group_norm", ops::group_norm(x, groups, w, b, eps), x, w, b,
                     [groups](const Tensor& g, const Tensor& x, const Tensor& w, const Tensor& m, const Tensor& r) {
                       return group_norm_backward(g, x, groups, w, m, r);
                     });
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  auto [out, mask] = ops::dropout(x, p, training, gen);
  if (!any_requires_grad(x)) return out;
  if (out.is_same(x) || !mask.defined()) return x;  // identity
  auto node = make_node("dropout", [](Node& n, const Tensor& g) -> tensor_list { return {mul(g, n.saved(0))}; }, x);
  node->save(mask);
  return set_history(out, node);
}

// ---- indexing -----------------------------------------------------------------------------------
Tensor embedding(const Tensor& w, const Tensor& i) {
  if (!any_requires_grad(w)) return ops::embedding(w, i);
  Dims shape(i.shape());
  shape.push_back(w.size(-1));
  return reshape(index_select(w, 0, ops::reshape(i, {-1})), shape);
}
Tensor index_select(const Tensor& x, int64_t d, const Tensor& i) {
  Tensor out = ops::index_select(x, d, i);
  if (!any_requires_grad(x)) return out;
  auto node = make_node("index_select", [d, shape = Dims(x.shape())](Node& n, const Tensor& g) -> tensor_list {
    return {index_add(zeros(shape, g.options()), d, n.saved(0), g)};
  }, x);
  node->save(i);
  return set_history(out, node);
}
Tensor index_add(const Tensor& s, int64_t d, const Tensor& i, const Tensor& src) {
  Tensor out = ops::index_add(s, d, i, src);
  if (!any_requires_grad(s, src)) return out;
  auto node = make_node("index_add", [d](Node& n, const Tensor& g) -> tensor_list {
    return {n.needs(0) ? g : Tensor(), n.needs(1) ? index_select(g, d, n.saved(0)) : Tensor()};
  }, s, src);
  node->save(i);
  return set_history(out, node);
}
Tensor gather(const Tensor& x, int64_t d, const Tensor& i) {
  Tensor out = ops::gather(x, d, i);
  if (!any_requires_grad(x)) return out;
  auto node = make_node("gather", [d, shape = Dims(x.shape())](Node& n, const Tensor& g) -> tensor_list {
    return {scatter_add(zeros(shape, g.options()), d, n.saved(0), g)};
  }, x);
  node->save(i);
  return set_history(out, node);
}
Tensor scatter_add(const Tensor& s, int64_t d, const Tensor& i, const Tensor& src) {
  Tensor out = ops::scatter_add(s, d, i, src);
  if (!any_requires_grad(s, src)) return out;
  auto node = make_node("scatter_add", [d, sshape = Dims(src.shape())](Node& n, const Tensor& g) -> tensor_list {
    Tensor gsrc;
    if (n.needs(1)) {
      Tensor idx = n.saved(0);
      gsrc = gather(g, d, idx);
      if (!(idx.shape() == sshape)) {
        // Only the leading index.shape() block of src is read: pad the rest with zeros.
        Dims pads;
        for (size_t k = sshape.size(); k-- > 0;) {
          pads.push_back(0);
          pads.push_back(sshape[k] - idx.shape()[k]);
        }
        gsrc = pad(gsrc, pads, 0.0);
      }
    }
    return {n.needs(0) ? g : Tensor(), gsrc};
  }, s, src);
  node->save(i);
  return set_history(out, node);
}
Tensor one_hot(const Tensor& i, int64_t n) { return ops::one_hot(i, n); }

Tensor cat(const std::vector<Tensor>& ts, int64_t d) {
  Tensor out = ops::cat(ts, d);
  if (!any_requires_grad(ts)) return out;
  int64_t dim = wrap_dim(d, out.dim(), "cat");
  std::vector<int64_t> sizes;
  for (const Tensor& x : ts) sizes.push_back(x.dim() == out.dim() ? x.size(dim) : 0);
  auto node = make_node_list("cat", [dim, sizes](Node& n, const Tensor& g) -> tensor_list {
    tensor_list grads(sizes.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (n.needs(i)) grads[i] = narrow(g, dim, start, sizes[i]);
      start += sizes[i];
    }
    return grads;
  }, ts);
  return set_history(out, node);
}
Tensor stack(const std::vector<Tensor>& ts, int64_t d) {
  if (!any_requires_grad(ts)) return ops::stack(ts, d);
  EMBER_CHECK(!ts.empty(), "stack: expected a non-empty list of tensors");
  int64_t dim = wrap_dim(d, ts[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (const Tensor& x : ts) {
    EMBER_CHECK(x.shape() == ts[0].shape(), "stack: expected all tensors to have the same shape, got ", ts[0].describe(),
                " and ", x.describe());
    parts.push_back(unsqueeze(x, dim));
  }
  return cat(parts, dim);
}
Tensor pad(const Tensor& x, IntList pads, const Scalar& v) {
  Tensor out = ops::pad(x, pads, v);
  if (!any_requires_grad(x)) return out;
  auto node = make_node("pad", [p = Dims(pads), shape = Dims(x.shape())](Node&, const Tensor& g) -> tensor_list {
    bool all_nonneg = std::all_of(p.begin(), p.end(), [](int64_t v) { return v >= 0; });
    if (!all_nonneg) {
      Dims neg(p);
      for (auto& v : neg) v = -v;
      return {pad(g, neg, 0.0)};
    }
    Tensor r = g;
    const int64_t nd = static_cast<int64_t>(shape.size());
    for (size_t k = 0; 2 * k + 1 < p.size(); ++k) {
      int64_t dim = nd - 1 - static_cast<int64_t>(k);
      r = narrow(r, dim, p[2 * k], shape[static_cast<size_t>(dim)]);
    }
    return {r};
  }, x);
  return set_history(out, node);
}
Tensor flip(const Tensor& x, IntList dims) {
  return record_unary("flip", x, ops::flip(x, dims), false, false,
                      [d = Dims(dims)](const Tensor& g, const Tensor&, const Tensor&) { return flip(g, d); });
}

}  // namespace ember
