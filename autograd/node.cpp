// Graph nodes, saved tensors and recording helpers (see autograd/node.hpp).
#include <ember/autograd/node.hpp>

#include <ember/autograd/functions.hpp>

namespace ember::autograd {

AutogradMeta& ensure_meta(const Tensor& t) {
  EMBER_CHECK(t.defined(), "autograd: use of an undefined Tensor");
  TensorImpl* impl = t.impl();
  if (!impl->autograd) impl->autograd = std::make_shared<AutogradMeta>();
  return *static_cast<AutogradMeta*>(impl->autograd.get());
}

// ---- saved tensors -------------------------------------------------------------

namespace {
Tensor alias_without_history(const Tensor& t) {
  return ember::detail::make_tensor(t.storage(), t.shape(), t.strides(), t.storage_offset(), t.dtype());
}
}  // namespace

SavedTensor::SavedTensor(const Tensor& t, bool is_output) : is_output_(is_output) {
  if (!t.defined()) return;
  // Note [no reference cycles]: an output is kept without its grad_fn.
  data_ = is_output ? alias_without_history(t) : t;
  version_ = t.version();
}

Tensor SavedTensor::unpack(Node& owner) const {
  if (!data_.defined()) return data_;
  EMBER_CHECK(data_.version() == version_,
              "one of the variables needed for gradient computation has been modified by an inplace operation: [",
              data_.describe(), "]", is_output_ ? ", which is the output of " : ", saved by ", owner.name(),
              ", is at version ", data_.version(), "; expected version ", version_,
              " instead. Use clone() before the in-place op, or an out-of-place op.");
  if (is_output_ && GradMode::is_enabled()) {
    // create_graph: the output must carry its history so second derivatives flow through owner.
    Tensor t = alias_without_history(data_);
    ensure_meta(t).grad_fn = owner.shared_from_this();
    return t;
  }
  return data_;
}

Tensor Node::saved(size_t i) {
  EMBER_CHECK(!released, "Trying to backward through the graph a second time (or to use saved tensors after they ",
              "have been freed): the saved tensors of ", name(),
              " were freed by a previous backward. Pass retain_graph=true to the first backward() or grad() ",
              "to backward through the graph again.");
  return saved_.at(i).unpack(*this);
}

void Node::release_saved() {
  saved_.clear();
  saved_.shrink_to_fit();
  released = true;
}

Tensor Node::call_hooks(Tensor grad) {
  for (const Hook& h : pre_hooks) {
    Tensor r = h(grad);
    if (r.defined()) grad = std::move(r);
  }
  if (auto m = retained.lock()) {
    auto* meta = static_cast<AutogradMeta*>(m.get());
    if (!meta->grad.defined()) meta->grad = GradMode::is_enabled() ? grad : ops::clone(grad);
    else meta->grad = GradMode::is_enabled() ? ember::add(meta->grad, grad) : ops::add(meta->grad, grad);
  }
  return grad;
}

// Note [no reference cycles]: frees the chain behind this node with explicit
// stacks. A node about to die (we hold its last reference) first hands its
// successors and its saved tensors to the stacks; a tensor about to die (last
// handle) hands over its grad_fn. So each destructor only ever destroys
// objects whose own children were already taken away.
Node::~Node() {
  std::vector<NodePtr> nodes;
  std::vector<Tensor> tensors;
  auto drain = [&](Node& n) {
    for (NodePtr& e : n.next)
      if (e) nodes.push_back(std::move(e));
    n.next.clear();
    for (SavedTensor& s : n.saved_)
      if (s.raw().defined()) tensors.push_back(s.raw());
    n.saved_.clear();
  };
  drain(*this);
  while (!nodes.empty() || !tensors.empty()) {
    if (!tensors.empty()) {
      Tensor t = std::move(tensors.back());
      tensors.pop_back();
      if (t.impl_ptr().use_count() == 1) {
        AutogradMeta* m = meta_of(t);
        if (m != nullptr && m->grad_fn) nodes.push_back(std::move(m->grad_fn));
      }
      continue;  // t released here: it no longer owns a grad_fn if it was the last handle
    }
    NodePtr n = std::move(nodes.back());
    nodes.pop_back();
    if (n.use_count() == 1) drain(*n);
  }
}

// ---- AccumulateGrad ------------------------------------------------------------

AccumulateGrad::AccumulateGrad(Tensor v) : variable(std::move(v)) {
  shape = variable.shape();
  dtype = variable.dtype();
  device = variable.device();
}

Tensor AccumulateGrad::call_hooks(Tensor grad) {
  AutogradMeta* m = meta_of(variable);
  if (m == nullptr) return grad;
  for (const Hook& h : m->hooks) {
    Tensor r = h(grad);
    if (r.defined()) grad = std::move(r);
  }
  return grad;
}

tensor_list AccumulateGrad::apply(const Tensor& grad) {
  AutogradMeta& m = ensure_meta(variable);
  if (!m.grad.defined()) {
    if (GradMode::is_enabled()) {
      m.grad = grad;  // create_graph: keep the history of the gradient
    } else {
      // Steal a gradient nobody else holds; copy one that may be aliased (a user's grad_output, an expand).
      bool owned = grad.impl_ptr().use_count() == 1 && grad.storage().use_count() == 1 && grad.is_contiguous() &&
                   requires_grad(grad) == false;
      m.grad = owned ? grad : ops::clone(grad);
    }
  } else if (GradMode::is_enabled()) {
    m.grad = ember::add(m.grad, grad);
  } else {
    ops::binary_(Op::add, m.grad, grad);
  }
  if (!m.post_accumulate_hooks.empty()) {
    const auto hooks = m.post_accumulate_hooks;  // a hook may remove hooks
    for (const auto& [id, hook] : hooks) hook(variable);
  }
  return {};
}

NodePtr gradient_edge(const Tensor& t) {
  AutogradMeta* m = meta_of(t);
  if (m == nullptr) return nullptr;
  if (m->grad_fn) return m->grad_fn;
  if (!m->requires_grad) return nullptr;
  NodePtr acc = m->grad_accumulator.lock();
  if (!acc) {
    // The accumulator holds the leaf through an alias of the same impl.
    acc = std::make_shared<AccumulateGrad>(t);
    m->grad_accumulator = acc;
  }
  return acc;
}

// ---- recording -------------------------------------------------------------------

Tensor set_history(const Tensor& out, const NodePtr& node) {
  if (!out.dtype().is_floating()) return out;
  node->shape = out.shape();
  node->dtype = out.dtype();
  node->device = out.device();
  ensure_meta(out).grad_fn = node;
  return out;
}

Tensor set_view_history(const Tensor& out, const Tensor& base, const NodePtr& node) {
  set_history(out, node);
  ensure_meta(out).is_view = true;
  AutogradMeta& bm = ensure_meta(base);
  auto& views = bm.grad_views;
  views.erase(std::remove_if(views.begin(), views.end(), [](const auto& w) { return w.expired(); }), views.end());
  views.push_back(out.impl_ptr());
  return out;
}

Tensor sum_to(const Tensor& grad, IntList shape) {
  if (!grad.defined() || grad.shape() == Dims(shape)) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  EMBER_CHECK(lead >= 0, "autograd: cannot sum a gradient of shape ", grad.shape(), " to shape ", shape);
  Dims dims;
  for (int64_t i = 0; i < grad.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
      continue;
    }
    int64_t want = shape[static_cast<size_t>(i - lead)];
    int64_t have = grad.shape()[static_cast<size_t>(i)];
    if (want == 1 && have != 1) dims.push_back(i);
    else EMBER_CHECK(want == have, "autograd: cannot sum a gradient of shape ", grad.shape(), " to shape ", shape);
  }
  Tensor r = dims.empty() ? grad : ember::sum(grad, dims, true);
  return r.shape() == Dims(shape) ? r : ember::reshape(r, shape);
}

}  // namespace ember::autograd
