// Tensor's autograd methods (declared in tensor/tensor.hpp): requires_grad,
// grad, backward, detach, hooks.
#include <ember/autograd/functions.hpp>

namespace ember {
using namespace autograd;

bool Tensor::requires_grad() const { return autograd::requires_grad(*this); }

const Tensor& Tensor::requires_grad_(bool on) const {
  AutogradMeta* m = meta_of(*this);
  if (m != nullptr && m->grad_fn) {
    EMBER_CHECK(on, "requires_grad_: you can only change requires_grad flags of leaf tensors; ", describe(),
                " is the output of ", m->grad_fn->name(), ". Use detach() to get a tensor without history");
    return *this;
  }
  if (on) {
    EMBER_CHECK(dtype().is_floating(), "requires_grad_: only tensors of floating point dtype can require gradients, got ",
                describe());
    ensure_meta(*this).requires_grad = true;
  } else if (m != nullptr) {
    m->requires_grad = false;
  }
  return *this;
}
Tensor& Tensor::requires_grad_(bool on) {
  static_cast<const Tensor&>(*this).requires_grad_(on);
  return *this;
}

Tensor Tensor::grad() const {
  AutogradMeta* m = meta_of(*this);
  return m != nullptr ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined()) {
    EMBER_CHECK(g.shape() == shape(), "set_grad: assigned grad has shape ", g.shape(), " but the tensor is ", describe());
    EMBER_CHECK(g.dtype() == dtype() && g.device() == device(), "set_grad: assigned grad ", g.describe(),
                " has a different dtype or device than the tensor ", describe());
  } else if (meta_of(*this) == nullptr) {
    return;
  }
  ensure_meta(*this).grad = g;
}

bool Tensor::is_leaf() const {
  AutogradMeta* m = meta_of(*this);
  return m == nullptr || !m->grad_fn;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
  // Same storage (and so the same version counter), no history.
  return ember::detail::make_tensor(storage(), shape(), strides(), storage_offset(), dtype());
}

void Tensor::retain_grad() const {
  EMBER_CHECK(requires_grad(), "retain_grad: can't retain the gradient of a tensor that doesn't require grad (",
              describe(), ")");
  AutogradMeta* m = meta_of(*this);
  if (!m->grad_fn) return;  // leaves keep their grad anyway
  m->grad_fn->retained = impl()->autograd;
}

void Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  EMBER_CHECK(requires_grad(), "register_hook: cannot register a hook on a tensor that doesn't require gradient (",
              describe(), ")");
  AutogradMeta* m = meta_of(*this);
  if (m->grad_fn) m->grad_fn->pre_hooks.push_back(std::move(hook));
  else m->hooks.push_back(std::move(hook));
}

}  // namespace ember
