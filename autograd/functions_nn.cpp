// Public linear algebra, convolution, pooling, normalisation and dropout
// functions and their gradient rules. Heavy gradients use the backward ops
// (conv2d_backward_input, batch_norm_backward, ...), which have rules too:
// conv and pooling backward ops are linear, so their adjoints are the forward
// ops; the norm backward ops are once-differentiable (a clear error).
#include <ember/autograd/autocast.hpp>
#include <ember/autograd/record.hpp>

namespace ember {
using namespace autograd;

namespace autograd {
Tensor record_once_differentiable(const char* name, const Tensor& out, const std::vector<Tensor>& inputs) {
  if (!out.defined() || !any_requires_grad(inputs)) return out;
  auto node = make_node_list(name, [name](Node&, const Tensor&) -> tensor_list {
    EMBER_FAIL(name, ": double backward is not implemented (this backward op is once-differentiable)");
  }, inputs);
  return set_history(out, node);
}
}  // namespace autograd

// ---- linear algebra ------------------------------------------------------------------------
Tensor mm(const Tensor& a, const Tensor& b) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return mm(autocast::to_low(a), autocast::to_low(b));
  }
  return record_binary("mm", a, b, ops::mm(a, b), true, false,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                         return std::pair{na ? mm(g, t(b)) : Tensor(), nb ? mm(t(a), g) : Tensor()};
                       });
}
Tensor bmm(const Tensor& a, const Tensor& b) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return bmm(autocast::to_low(a), autocast::to_low(b));
  }
  return record_binary("bmm", a, b, ops::bmm(a, b), true, false,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                         return std::pair{na ? bmm(g, transpose(b, 1, 2)) : Tensor(), nb ? bmm(transpose(a, 1, 2), g) : Tensor()};
                       });
}

// matmul with gradients: composed of mm/bmm and views (numpy semantics, batch broadcasting).
Tensor matmul(const Tensor& a, const Tensor& b) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return matmul(autocast::to_low(a), autocast::to_low(b));
  }
  if (!any_requires_grad(a, b)) return ops::matmul(a, b);
  EMBER_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dim, got ", a.describe(), " and ",
              b.describe());
  if (a.dim() == 1 && b.dim() == 1) {
    EMBER_CHECK(a.size(0) == b.size(0), "matmul: inner dimensions differ: a is ", a.describe(), ", b is ", b.describe());
    return sum(mul(a, b));
  }
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, -1)), -1);
  EMBER_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ: a is ", a.describe(), ", b is ", b.describe());
  const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
  if (a.dim() == 2 && b.dim() == 2) return mm(a, b);
  if (b.dim() == 2) {
    Dims shape(a.shape());
    shape.back() = m;
    return reshape(mm(reshape(a, {-1, k}), b), shape);
  }
  Dims ba(a.shape()), bb(b.shape());
  ba.resize(ba.size() - 2);
  bb.resize(bb.size() - 2);
  Dims batch = ops::broadcast_shapes(ba, bb, "matmul");
  int64_t B = product(batch);
  Dims ea = batch, eb = batch, out = batch;
  ea.push_back(n), ea.push_back(k);
  eb.push_back(k), eb.push_back(m);
  out.push_back(n), out.push_back(m);
  Tensor a3 = reshape(expand(a, ea), {B, n, k});
  Tensor b3 = reshape(expand(b, eb), {B, k, m});
  return reshape(bmm(a3, b3), out);
}

// x (*, in), w (out, in), bias (out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) { return linear(x, w, bias, Activation::none); }

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return linear(autocast::to_low(x), autocast::to_low(w), autocast::to_low(bias), act);
  }
  const bool record = any_requires_grad(x, w, bias);
  if (record && act == Activation::gelu_tanh) return gelu(linear(x, w, bias), "tanh");
  Tensor out = ops::linear(x, w, bias, act);
  if (!record) return out;
  const bool relu = act == Activation::relu;
  auto node = make_node(
      relu ? "linear_relu" : "linear",
      [bshape = bias.defined() ? Dims(bias.shape()) : Dims(), relu](Node& n, const Tensor& grad) -> tensor_list {
        Tensor x = n.saved(0), w = n.saved(1);
        const Tensor g = relu ? relu_backward(grad, n.saved(2)) : grad;  // through relu, from its output
        Tensor gx, gw, gb;
        if (n.needs(0)) gx = matmul(g, w);
        if (n.needs(1)) gw = mm(t(reshape(g, {-1, w.size(0)})), reshape(x, {-1, w.size(1)}));
        if (n.needs(2)) gb = sum_to(g, bshape);
        return {gx, gw, gb};
      },
      x, w, bias);
  node->save(x);
  node->save(w);
  if (relu) node->save_output(out);
  return set_history(out, node);
}

// ---- convolution ----------------------------------------------------------------------------
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a) {
  if (autocast_enabled()) {
    autocast::Suspend off;
    return conv2d(autocast::to_low(x), autocast::to_low(w), autocast::to_low(b), a);
  }
  Tensor out = ops::conv2d(x, w, b, a);
  if (!any_requires_grad(x, w, b)) return out;
  auto node = make_node(
      "conv2d",
      [a](Node& n, const Tensor& g) -> tensor_list {
        Tensor x = n.saved(0), w = n.saved(1);
        return {n.needs(0) ? conv2d_backward_input(g, w, x.shape(), a) : Tensor(),
                n.needs(1) ? conv2d_backward_weight(g, x, w.shape(), a) : Tensor(),
                // Rows first (contiguous H*W runs), then the small (N, O) over N: no
                // transposing copy of g, which sum over {0, 2, 3} at once would make.
                n.needs(2) ? sum(sum(g.flatten(2), {2}), {0}) : Tensor()};
      },
      x, w, b);
  node->save(x);
  node->save(w);
  return set_history(out, node);
}
// Bilinear in (g, w): <conv2d(x, w), g> = <x, bwd_input(g, w)> = <w, bwd_weight(g, x)>.
Tensor conv2d_backward_input(const Tensor& g, const Tensor& w, IntList input_shape, const Conv2dArgs& a) {
  Tensor out = ops::conv2d_backward_input(g, w, input_shape, a);
  if (!any_requires_grad(g, w)) return out;
  auto node = make_node(
      "conv2d_backward_input",
      [a](Node& n, const Tensor& gg) -> tensor_list {
        Tensor g = n.saved(0), w = n.saved(1);
        return {n.needs(0) ? conv2d(gg, w, {}, a) : Tensor(), n.needs(1) ? conv2d_backward_weight(g, gg, w.shape(), a) : Tensor()};
      },
      g, w);
  node->save(g);
  node->save(w);
  return set_history(out, node);
}
Tensor conv2d_backward_weight(const Tensor& g, const Tensor& x, IntList weight_shape, const Conv2dArgs& a) {
  Tensor out = ops::conv2d_backward_weight(g, x, weight_shape, a);
  if (!any_requires_grad(g, x)) return out;
  auto node = make_node(
      "conv2d_backward_weight",
      [a](Node& n, const Tensor& gw) -> tensor_list {
        Tensor g = n.saved(0), x = n.saved(1);
        return {n.needs(0) ? conv2d(x, gw, {}, a) : Tensor(), n.needs(1) ? conv2d_backward_input(g, gw, x.shape(), a) : Tensor()};
      },
      g, x);
  node->save(g);
  node->save(x);
  return set_history(out, node);
}

// ---- pooling ------------------------------------------------------------------------------------
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dArgs& a) {
  auto r = ops::max_pool2d_with_indices(x, a);
  if (!any_requires_grad(x)) return r;
  auto node = make_node("max_pool2d", [shape = Dims(x.shape())](Node& n, const Tensor& g) -> tensor_list {
    return {max_pool2d_backward(g, n.saved(0), shape)};
  }, x);
  node->save(r.second);
  set_history(r.first, node);
  return r;
}
Tensor max_pool2d(const Tensor& x, const Pool2dArgs& a) { return max_pool2d_with_indices(x, a).first; }
// Linear in g; its adjoint picks gg at each window's argmax: a gather over the flattened plane.
Tensor max_pool2d_backward(const Tensor& g, const Tensor& idx, IntList input_shape) {
  Tensor out = ops::max_pool2d_backward(g, idx, input_shape);
  if (!any_requires_grad(g)) return out;
  auto node = make_node("max_pool2d_backward", [gshape = Dims(g.shape())](Node& n, const Tensor& gg) -> tensor_list {
    Tensor idx = n.saved(0);
    Tensor flat = flatten(gg, -2, -1);
    Tensor picked = gather(flat, -1, ops::flatten(idx, -2, -1));
    return {reshape(picked, gshape)};
  }, g);
  node->save(idx);
  return set_history(out, node);
}
Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& a) {
  return record_unary("avg_pool2d", x, ops::avg_pool2d(x, a), false, false, [a, shape = Dims(x.shape())](const Tensor& g, const Tensor&, const Tensor&) {
    return avg_pool2d_backward(g, shape, a);
  });
}
Tensor avg_pool2d_backward(const Tensor& g, IntList input_shape, const Pool2dArgs& a) {
  return record_unary("avg_pool2d_backward", g, ops::avg_pool2d_backward(g, input_shape, a), false, false,
                      [a](const Tensor& gg, const Tensor&, const Tensor&) { return avg_pool2d(gg, a); });
}
Tensor adaptive_avg_pool2d(const Tensor& x, IntList s) {
  return record_unary("adaptive_avg_pool2d", x, ops::adaptive_avg_pool2d(x, s), false, false,
                      [shape = Dims(x.shape())](const Tensor& g, const Tensor&, const Tensor&) {
                        return adaptive_avg_pool2d_backward(g, shape);
                      });
}
Tensor adaptive_avg_pool2d_backward(const Tensor& g, IntList input_shape) {
  EMBER_CHECK(g.dim() >= 2, "adaptive_avg_pool2d_backward: expected a gradient with at least 2 dims, got ", g.describe());
  return record_unary("adaptive_avg_pool2d_backward", g, ops::adaptive_avg_pool2d_backward(g, input_shape), false, false,
                      [oh = g.size(-2), ow = g.size(-1)](const Tensor& gg, const Tensor&, const Tensor&) {
                        return adaptive_avg_pool2d(gg, {oh, ow});
                      });
}

}  // namespace ember
