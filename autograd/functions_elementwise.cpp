// Public element-wise functions (unary, binary, ternary) and their gradient
// rules. Each rule is written with public differentiable functions, so that
// under create_graph it records its own graph (second derivatives).
#include <cmath>

#include <ember/autograd/record.hpp>

namespace ember {
using namespace autograd;

namespace {
Tensor wrap(const Scalar& s, const Tensor& like) { return ops::scalar_tensor(s, like); }
Tensor zeros_of(const Tensor& g) { return zeros_like(g); }
Tensor rsub(double a, const Tensor& x) { return add(neg(x), a); }
}  // namespace

// ---- unary ----------------------------------------------------------------------------
Tensor neg(const Tensor& x) {
  return record_unary("neg", x, ops::neg(x), false, false, [](const Tensor& g, const Tensor&, const Tensor&) { return neg(g); });
}
Tensor abs(const Tensor& x) {
  return record_unary("abs", x, ops::abs(x), true, false, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, sign(x)); });
}
Tensor sign(const Tensor& x) {
  return record_unary("sign", x, ops::sign(x), false, false, [](const Tensor& g, const Tensor&, const Tensor&) { return zeros_of(g); });
}
Tensor exp(const Tensor& x) {
  return record_unary("exp", x, ops::exp(x), false, true, [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, y); });
}
Tensor log(const Tensor& x) {
  return record_unary("log", x, ops::log(x), true, false, [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, x); });
}
Tensor log1p(const Tensor& x) {
  return record_unary("log1p", x, ops::log1p(x), true, false, [](const Tensor& g, const Tensor& x, const Tensor&) { return div(g, add(x, 1.0)); });
}
Tensor sqrt(const Tensor& x) {
  return record_unary("sqrt", x, ops::sqrt(x), false, true, [](const Tensor& g, const Tensor&, const Tensor& y) { return div(g, mul(y, 2.0)); });
}
Tensor rsqrt(const Tensor& x) {
  return record_unary("rsqrt", x, ops::rsqrt(x), false, true,
                      [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, mul(pow(y, 3.0), -0.5)); });
}
Tensor sin(const Tensor& x) {
  return record_unary("sin", x, ops::sin(x), true, false, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, cos(x)); });
}
Tensor cos(const Tensor& x) {
  return record_unary("cos", x, ops::cos(x), true, false, [](const Tensor& g, const Tensor& x, const Tensor&) { return mul(g, neg(sin(x))); });
}
Tensor tanh(const Tensor& x) {
  return record_unary("tanh", x, ops::tanh(x), false, true,
                      [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, rsub(1.0, mul(y, y))); });
}
Tensor sigmoid(const Tensor& x) {
  return record_unary("sigmoid", x, ops::sigmoid(x), false, true,
                      [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, mul(y, rsub(1.0, y))); });
}
Tensor relu(const Tensor& x) {
  return record_unary("relu", x, ops::relu(x), false, true, [](const Tensor& g, const Tensor&, const Tensor& y) {
    return relu_backward(g, y);
  });
}
Tensor leaky_relu(const Tensor& x, double s) {
  return record_unary("leaky_relu", x, ops::leaky_relu(x, s), true, false, [s](const Tensor& g, const Tensor& x, const Tensor&) {
    return where(ops::gt(x, wrap(0, x)), g, mul(g, s));
  });
}
Tensor gelu(const Tensor& x, const std::string& a) {
  return record_unary("gelu", x, ops::gelu(x, a), true, false,
                      [a](const Tensor& g, const Tensor& x, const Tensor&) { return gelu_backward(g, x, a); });
}
Tensor silu(const Tensor& x) {
  return record_unary("silu", x, ops::silu(x), true, false, [](const Tensor& g, const Tensor& x, const Tensor&) {
    Tensor s = sigmoid(x);
    return mul(g, mul(s, add(mul(x, rsub(1.0, s)), 1.0)));
  });
}
Tensor softplus(const Tensor& x, double beta, double threshold) {
  return record_unary("softplus", x, ops::softplus(x, beta, threshold), true, false,
                      [beta, threshold](const Tensor& g, const Tensor& x, const Tensor&) {
                        Tensor z = mul(x, beta);
                        return where(ops::gt(z, wrap(threshold, z)), g, mul(g, sigmoid(z)));
                      });
}
Tensor pow(const Tensor& x, const Scalar& e) {
  return record_unary("pow_scalar", x, ops::pow(x, e), true, false, [e](const Tensor& g, const Tensor& x, const Tensor&) {
    double p = e.to_double();
    if (p == 0.0) return zeros_of(g);
    return mul(g, mul(pow(x, Scalar(p - 1.0)), p));
  });
}
Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  return record_unary("clamp", x, ops::clamp(x, lo, hi), true, false, [lo, hi](const Tensor& g, const Tensor& x, const Tensor&) {
    Tensor keep = full(x.shape(), true, TensorOptions(kBool, x.device()));
    if (lo) keep = ops::logical_and(keep, ops::ge(x, wrap(*lo, x)));
    if (hi) keep = ops::logical_and(keep, ops::le(x, wrap(*hi, x)));
    return mul(g, mask_as(keep, g.dtype()));
  });
}
Tensor reciprocal(const Tensor& x) {
  return record_unary("reciprocal", x, ops::reciprocal(x), false, true,
                      [](const Tensor& g, const Tensor&, const Tensor& y) { return mul(g, neg(mul(y, y))); });
}
Tensor logical_not(const Tensor& x) { return ops::logical_not(x); }
Tensor square(const Tensor& x) { return mul(x, x); }

// ---- binary ---------------------------------------------------------------------------
using Pair = std::pair<Tensor, Tensor>;

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  double al = alpha.to_double();
  return record_binary("add", a, b, ops::add(a, b, alpha), false, false,
                       [al](const Tensor& g, const Tensor&, const Tensor&, const Tensor&, bool, bool nb) {
                         return Pair{g, nb ? (al == 1.0 ? g : mul(g, al)) : Tensor()};
                       });
}
Tensor add(const Tensor& a, const Scalar& b) { return add(a, wrap(b, a)); }
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  double al = alpha.to_double();
  return record_binary("sub", a, b, ops::sub(a, b, alpha), false, false,
                       [al](const Tensor& g, const Tensor&, const Tensor&, const Tensor&, bool, bool nb) {
                         return Pair{g, nb ? (al == 1.0 ? neg(g) : mul(g, -al)) : Tensor()};
                       });
}
Tensor sub(const Tensor& a, const Scalar& b) { return sub(a, wrap(b, a)); }
Tensor mul(const Tensor& a, const Tensor& b) {
  return record_binary("mul", a, b, ops::mul(a, b), true, false,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                         return Pair{na ? mul(g, b) : Tensor(), nb ? mul(g, a) : Tensor()};
                       });
}
Tensor mul(const Tensor& a, const Scalar& b) { return mul(a, wrap(b, a)); }
Tensor div(const Tensor& a, const Tensor& b) {
  return record_binary("div", a, b, ops::div(a, b), true, false,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&, bool na, bool nb) {
                         return Pair{na ? div(g, b) : Tensor(), nb ? neg(div(mul(g, a), mul(b, b))) : Tensor()};
                       });
}
Tensor div(const Tensor& a, const Scalar& b) { return div(a, wrap(b, a)); }
Tensor pow(const Tensor& a, const Tensor& b) {
  return record_binary("pow", a, b, ops::pow(a, b), true, true,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor& y, bool na, bool nb) {
                         Tensor ga, gb;
                         if (na) ga = mul(g, mul(b, pow(a, sub(b, 1.0))));
                         // d/db a^b = a^b log a, taken as 0 where a == 0 (as PyTorch).
                         if (nb) gb = masked_fill(mul(g, mul(y, log(a))), ops::eq(a, wrap(0, a)), 0.0);
                         return Pair{ga, gb};
                       });
}
Tensor pow(const Scalar& a, const Tensor& b) { return pow(wrap(a, b), b); }

namespace {
// maximum/minimum: the gradient goes to the selected input, split evenly on ties.
Pair select_grad(const Tensor& g, const Tensor& a, const Tensor& b, bool max) {
  DType dt = g.dtype();
  Tensor half = mul(mask_as(ops::eq(a, b), dt), 0.5);
  Tensor wa = add(mask_as(max ? ops::gt(a, b) : ops::lt(a, b), dt), half);
  Tensor wb = add(mask_as(max ? ops::lt(a, b) : ops::gt(a, b), dt), half);
  return {mul(g, wa), mul(g, wb)};
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return record_binary("maximum", a, b, ops::maximum(a, b), true, false,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&, bool, bool) { return select_grad(g, a, b, true); });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return record_binary("minimum", a, b, ops::minimum(a, b), true, false,
                       [](const Tensor& g, const Tensor& a, const Tensor& b, const Tensor&, bool, bool) { return select_grad(g, a, b, false); });
}
Tensor eq(const Tensor& a, const Tensor& b) { return ops::eq(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return ops::ne(a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return ops::lt(a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return ops::le(a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return ops::gt(a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return ops::ge(a, b); }
Tensor eq(const Tensor& a, const Scalar& b) { return ops::eq(a, wrap(b, a)); }
Tensor ne(const Tensor& a, const Scalar& b) { return ops::ne(a, wrap(b, a)); }
Tensor lt(const Tensor& a, const Scalar& b) { return ops::lt(a, wrap(b, a)); }
Tensor le(const Tensor& a, const Scalar& b) { return ops::le(a, wrap(b, a)); }
Tensor gt(const Tensor& a, const Scalar& b) { return ops::gt(a, wrap(b, a)); }
Tensor ge(const Tensor& a, const Scalar& b) { return ops::ge(a, wrap(b, a)); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return ops::logical_and(a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return ops::logical_or(a, b); }

namespace {
// gelu''(x), for the double-backward rule of gelu_backward. Differentiable.
Tensor gelu_second(const Tensor& x, bool tanh_form) {
  if (!tanh_form) {
    // gelu = x Phi(x); gelu'' = phi(x) (2 - x^2)
    Tensor phi = mul(exp(mul(mul(x, x), -0.5)), 1.0 / std::sqrt(2.0 * M_PI));
    return mul(phi, rsub(2.0, mul(x, x)));
  }
  // gelu = 0.5 x (1 + tanh u), u = k (x + c x^3)
  const double k = std::sqrt(2.0 / M_PI), c = 0.044715;
  Tensor x2 = mul(x, x);
  Tensor t = tanh(mul(add(x, mul(mul(x2, x), c)), k));
  Tensor du = mul(add(mul(x2, 3.0 * c), 1.0), k);
  Tensor ddu = mul(x, 6.0 * c * k);
  Tensor sech2 = rsub(1.0, mul(t, t));
  // gelu'' = sech2 * (u' - x t u'^2 + 0.5 x u'')
  return mul(sech2, add(sub(du, mul(mul(x, t), mul(du, du))), mul(mul(x, ddu), 0.5)));
}
}  // namespace

Tensor gelu_backward(const Tensor& g0, const Tensor& x, const std::string& a) {
  bool tanh_form = a == "tanh";
  return record_binary("gelu_backward", g0, x, ops::gelu_backward(g0, x, a), true, false,
                       [a, tanh_form](const Tensor& gg, const Tensor& g0, const Tensor& x, const Tensor&, bool ng, bool nx) {
                         return Pair{ng ? gelu_backward(gg, x, a) : Tensor(),
                                     nx ? mul(mul(gg, g0), gelu_second(x, tanh_form)) : Tensor()};
                       });
}

// Linear in g (its derivative in y is zero almost everywhere), so it is its own rule.
Tensor relu_backward(const Tensor& g, const Tensor& y) {
  return record_binary("relu_backward", g, y, ops::relu_backward(g, y), true, false,
                       [](const Tensor& gg, const Tensor&, const Tensor& y, const Tensor&, bool ng, bool ny) {
                         return Pair{ng ? relu_backward(gg, y) : Tensor(), ny ? zeros_like(y) : Tensor()};
                       });
}

// ---- ternary ---------------------------------------------------------------------------
Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) {
  Tensor out = ops::where(c, a, b);
  if (!any_requires_grad(a, b)) return out;
  auto node = make_node(
      "where",
      [sa = Dims(a.shape()), sb = Dims(b.shape())](Node& n, const Tensor& g) -> tensor_list {
        Tensor c = n.saved(0);
        return {Tensor(), n.needs(1) ? sum_to(masked_fill(g, ops::logical_not(c), 0.0), sa) : Tensor(),
                n.needs(2) ? sum_to(masked_fill(g, c, 0.0), sb) : Tensor()};
      },
      c, a, b);
  node->save(c);
  return set_history(out, node);
}
Tensor masked_fill(const Tensor& x, const Tensor& m, const Scalar& v) {
  Tensor out = ops::masked_fill(x, m, v);
  if (!any_requires_grad(x)) return out;
  auto node = make_node("masked_fill", [](Node& n, const Tensor& g) -> tensor_list { return {masked_fill(g, n.saved(0), 0.0)}; }, x);
  node->save(m);
  return set_history(out, node);
}

namespace {
Tensor addc(bool divide, const Tensor& s, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  Tensor out = divide ? ops::addcdiv(s, t1, t2, value) : ops::addcmul(s, t1, t2, value);
  if (!any_requires_grad(s, t1, t2)) return out;
  double v = value.to_double();
  auto node = make_node(
      divide ? "addcdiv" : "addcmul",
      [divide, v, ss = Dims(s.shape()), s1 = Dims(t1.shape()), s2 = Dims(t2.shape())](Node& n, const Tensor& g) -> tensor_list {
        Tensor a = n.saved(0), b = n.saved(1);
        Tensor g0 = n.needs(0) ? sum_to(g, ss) : Tensor(), g1, g2;
        if (divide) {
          if (n.needs(1)) g1 = sum_to(div(mul(g, v), b), s1);
          if (n.needs(2)) g2 = sum_to(neg(div(mul(mul(g, v), a), mul(b, b))), s2);
        } else {
          if (n.needs(1)) g1 = sum_to(mul(mul(g, v), b), s1);
          if (n.needs(2)) g2 = sum_to(mul(mul(g, v), a), s2);
        }
        return {g0, g1, g2};
      },
      s, t1, t2);
  node->save(t1);
  node->save(t2);
  return set_history(out, node);
}
}  // namespace

Tensor addcmul(const Tensor& s, const Tensor& a, const Tensor& b, const Scalar& v) { return addc(false, s, a, b, v); }
Tensor addcdiv(const Tensor& s, const Tensor& a, const Tensor& b, const Scalar& v) { return addc(true, s, a, b, v); }

// ---- operators ------------------------------------------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(wrap(a, b), b); }
Tensor operator-(const Scalar& a, const Tensor& b) { return sub(wrap(a, b), b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(wrap(a, b), b); }
Tensor operator/(const Scalar& a, const Tensor& b) { return div(wrap(a, b), b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, const Scalar& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Scalar& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Scalar& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Scalar& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Scalar& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Scalar& b) { return ge(a, b); }
Tensor operator&&(const Tensor& a, const Tensor& b) { return logical_and(a, b); }
Tensor operator||(const Tensor& a, const Tensor& b) { return logical_or(a, b); }
Tensor operator!(const Tensor& a) { return logical_not(a); }
Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, const Scalar& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Scalar& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Scalar& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Scalar& b) { return a.div_(b); }

}  // namespace ember
