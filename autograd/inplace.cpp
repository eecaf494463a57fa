// Tensor's in-place methods (add_, mul_, copy_, ...) and how they meet autograd.
//
// Note [in-place and views]
// With grad mode off, or when neither self nor the other operands require
// grad, an in-place method is the raw op (it bumps the version counter).
// Otherwise:
// - self a leaf that requires grad: an error (as PyTorch), except under
//   NoGradGuard, where optimizers update parameters in place.
// - self a view made from a tensor with history, or a tensor with live views
//   that have history: an error (PyTorch would rebase the base's history;
//   ember refuses rather than give a wrong gradient). clone() first.
// - self shares its storage with other tensors and has no history yet: an
//   error, for the same reason (those aliases would not see the new history).
// - otherwise the history is rebased: r = op(clone(self), others) is recorded
//   out of place, r's values are copied into self, and self's grad_fn becomes
//   r's. Saved tensors that alias self now fail their version check if a
//   backward needs them (Note [saved tensor versions] in autograd/node.hpp).
#include <ember/autograd/functions.hpp>

namespace ember {
using namespace autograd;

namespace {

void check_rebase(const Tensor& self, const char* op) {
  AutogradMeta* m = meta_of(self);
  if (m != nullptr) {
    EMBER_CHECK(!(m->requires_grad && !m->grad_fn), "a leaf tensor that requires grad is being used in an in-place ",
                "operation (", op, " on ", self.describe(), "); use NoGradGuard for updates such as optimizer steps, ",
                "or an out-of-place op");
    EMBER_CHECK(!m->is_view, op, ": in-place operation on a view of a tensor that requires grad (", self.describe(),
                ") is not supported by ember's autograd; clone() the view first or use an out-of-place op");
    for (const auto& w : m->grad_views)
      EMBER_CHECK(w.expired(), op, ": in-place operation on a tensor (", self.describe(),
                  ") that has live views with autograd history is not supported; clone() it first or use an ",
                  "out-of-place op");
  }
  EMBER_CHECK(self.dtype().is_floating(), op, ": in-place operation with gradients needs a floating tensor, got ",
              self.describe());
  if (m == nullptr || !m->grad_fn) {
    EMBER_CHECK(self.storage().use_count() == 1, op, ": in-place operation that makes ", self.describe(),
                " require grad while it shares memory with other tensors (a view or a view's base) is not supported; ",
                "clone() it first");
  }
}

// Gives self the history of r (computed out of place from a clone of self) after copying r into it.
void rebase(Tensor& self, const Tensor& r, const char* op) {
  EMBER_CHECK(r.shape() == self.shape(), op, ": output with shape ", self.shape(),
              " doesn't match the broadcast shape ", r.shape());
  Tensor v = ember::to(r, self.dtype());
  ops::copy_(self, v);
  AutogradMeta& m = ensure_meta(self);
  AutogradMeta* rm = meta_of(v);
  if (rm != nullptr && rm->grad_fn) {
    m.grad_fn = rm->grad_fn;
  } else {
    // The new value is a constant: self keeps requiring grad, with no inputs behind it.
    auto node = make_node(op, [](Node&, const Tensor&) -> tensor_list { return {}; });
    set_history(self, node);
  }
}

template <class Raw, class Out>
Tensor& inplace(Tensor& self, const char* op, bool others_require_grad, Raw raw, Out out_of_place) {
  if (!GradMode::is_enabled() || (!requires_grad(self) && !others_require_grad)) {
    raw();
    return self;
  }
  check_rebase(self, op);
  rebase(self, out_of_place(clone(self)), op);
  return self;
}

}  // namespace

Tensor& Tensor::zero_() { return fill_(0); }
Tensor& Tensor::fill_(const Scalar& v) {
  return inplace(*this, "fill_", false, [&] { ops::fill_(*this, v); },
                 [&](const Tensor& c) { return full_like(c, v); });
}
Tensor& Tensor::copy_(const Tensor& src) {
  return inplace(*this, "copy_", autograd::requires_grad(src), [&] { ops::copy_(*this, src); },
                 [&](const Tensor&) { return ember::clone(ember::expand(src, shape())); });
}
Tensor& Tensor::add_(const Tensor& o, const Scalar& alpha) {
  return inplace(*this, "add_", autograd::requires_grad(o), [&] { ops::binary_(Op::add, *this, o, alpha); },
                 [&](const Tensor& c) { return ember::add(c, o, alpha); });
}
Tensor& Tensor::add_(const Scalar& o) { return add_(ops::scalar_tensor(o, *this)); }
Tensor& Tensor::sub_(const Tensor& o, const Scalar& alpha) {
  return inplace(*this, "sub_", autograd::requires_grad(o), [&] { ops::binary_(Op::sub, *this, o, alpha); },
                 [&](const Tensor& c) { return ember::sub(c, o, alpha); });
}
Tensor& Tensor::sub_(const Scalar& o) { return sub_(ops::scalar_tensor(o, *this)); }
Tensor& Tensor::mul_(const Tensor& o) {
  return inplace(*this, "mul_", autograd::requires_grad(o), [&] { ops::binary_(Op::mul, *this, o); },
                 [&](const Tensor& c) { return ember::mul(c, o); });
}
Tensor& Tensor::mul_(const Scalar& o) { return mul_(ops::scalar_tensor(o, *this)); }
Tensor& Tensor::div_(const Tensor& o) {
  return inplace(*this, "div_", autograd::requires_grad(o), [&] { ops::binary_(Op::div, *this, o); },
                 [&](const Tensor& c) { return ember::div(c, o); });
}
Tensor& Tensor::div_(const Scalar& o) { return div_(ops::scalar_tensor(o, *this)); }
Tensor& Tensor::addcmul_(const Tensor& a, const Tensor& b, const Scalar& v) {
  return inplace(*this, "addcmul_", autograd::requires_grad(a) || autograd::requires_grad(b), [&] { ops::addcmul_(*this, a, b, v); },
                 [&](const Tensor& c) { return ember::addcmul(c, a, b, v); });
}
Tensor& Tensor::addcdiv_(const Tensor& a, const Tensor& b, const Scalar& v) {
  return inplace(*this, "addcdiv_", autograd::requires_grad(a) || autograd::requires_grad(b), [&] { ops::addcdiv_(*this, a, b, v); },
                 [&](const Tensor& c) { return ember::addcdiv(c, a, b, v); });
}
Tensor& Tensor::clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi) {
  EMBER_CHECK(lo || hi, "clamp_: at least one of min and max must be given");
  UnaryArgs args;
  args.has_a = lo.has_value();
  args.has_b = hi.has_value();
  args.a = lo ? lo->to_double() : 0.0;
  args.b = hi ? hi->to_double() : 0.0;
  return inplace(*this, "clamp_", false, [&] { ops::unary_(Op::clamp, *this, args); },
                 [&](const Tensor& c) { return ember::clamp(c, lo, hi); });
}
Tensor& Tensor::relu_() {
  return inplace(*this, "relu_", false, [&] { ops::unary_(Op::relu, *this, UnaryArgs{}); },
                 [&](const Tensor& c) { return ember::relu(c); });
}

}  // namespace ember
