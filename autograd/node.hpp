// The autograd graph: per-tensor state (AutogradMeta), graph nodes, saved
// tensors, and the helpers the public functions use to record a node.
//
// Every recorded op makes one Node with exactly one differentiable output
// (ops with extra outputs, like max's indices, return them without history).
// A Node knows, for each input, the Node its gradient flows to (`next`; null
// when that input needs no gradient), the output's shape/dtype/device (to
// check incoming gradients), and its saved tensors.
//
// Note [no reference cycles]
// A tensor owns its grad_fn; a node owns its next nodes and its saved
// tensors. A node never owns its own output: a saved output is kept as an
// alias of the storage without autograd state and is given its grad_fn back
// (the owning node) only when unpacked, as PyTorch's SavedVariable does. A
// leaf owns its AccumulateGrad node only weakly. So dropping the last handle
// on the output of a graph frees the whole graph; teardown is iterative
// (Node::~Node) so a chain of 100,000 ops is freed without deep recursion.
//
// Note [saved tensor versions]
// A saved tensor remembers its storage's version counter (Note [version
// counter] in tensor/storage.hpp) when saved; unpacking one whose storage has
// been modified in place since is an error naming the op that saved it.
#pragma once

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <ember/autograd/grad_mode.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::autograd {

class Node;
using NodePtr = std::shared_ptr<Node>;
using tensor_list = std::vector<Tensor>;
using Hook = std::function<Tensor(const Tensor&)>;
using PostAccumulateHook = std::function<void(const Tensor& leaf)>;

// Per-tensor autograd state, created lazily (a tensor without it needs no grad).
struct AutogradMeta final : AutogradMetaBase {
  bool requires_grad = false;   // a leaf that accumulates into .grad
  bool is_view = false;         // made by a view op from a tensor with grad
  Tensor grad;
  NodePtr grad_fn;              // null for leaves
  std::weak_ptr<Node> grad_accumulator;
  std::vector<Hook> hooks;      // leaf hooks; a non-leaf's hooks live on its grad_fn
  std::vector<std::pair<uint64_t, PostAccumulateHook>> post_accumulate_hooks;  // by handle id
  std::vector<std::weak_ptr<TensorImpl>> grad_views;  // live views with history (in-place checks)
};

inline AutogradMeta* meta_of(const Tensor& t) {
  TensorImpl* impl = t.impl();
  return impl != nullptr && impl->autograd ? static_cast<AutogradMeta*>(impl->autograd.get()) : nullptr;
}
AutogradMeta& ensure_meta(const Tensor& t);

inline bool requires_grad(const Tensor& t) {
  const AutogradMeta* m = meta_of(t);
  return m != nullptr && (m->requires_grad || m->grad_fn != nullptr);
}

// True when grad mode is on and any input requires grad: the op must record.
template <class... Ts>
inline bool any_requires_grad(const Ts&... ts) {
  return GradMode::is_enabled() && (requires_grad(ts) || ...);
}
inline bool any_requires_grad(const std::vector<Tensor>& ts) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : ts)
    if (requires_grad(t)) return true;
  return false;
}

// Note [saved tensor versions]
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  // The saved tensor; for a saved output under create_graph, with `owner` as its grad_fn.
  Tensor unpack(Node& owner) const;
  const Tensor& raw() const { return data_; }

 private:
  Tensor data_;
  uint32_t version_ = 0;
  bool is_output_ = false;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  virtual ~Node();  // iterative: Note [no reference cycles]

  virtual const char* name() const = 0;
  // Gradients for each input (undefined: none) given the gradient of the output.
  virtual tensor_list apply(const Tensor& grad) = 0;
  // Runs the hooks registered on the output tensor; returns the (possibly replaced) gradient.
  virtual Tensor call_hooks(Tensor grad);
  virtual void release_saved();
  virtual bool is_accumulator() const { return false; }

  bool needs(size_t i) const { return i < next.size() && next[i] != nullptr; }
  Tensor saved(size_t i);
  void save(const Tensor& t) { saved_.emplace_back(t, false); }
  void save_output(const Tensor& t) { saved_.emplace_back(t, true); }

  std::vector<NodePtr> next;    // per input
  Dims shape;                   // the output's metadata, to check incoming gradients
  DType dtype;
  Device device;
  std::vector<SavedTensor> saved_;
  std::vector<Hook> pre_hooks;  // hooks of the output tensor
  std::weak_ptr<AutogradMetaBase> retained;  // output's meta when retain_grad() was called
  bool released = false;
};

// A node whose backward is a callable: fn(Node&, const Tensor& grad) -> tensor_list.
template <class F>
class FnNode final : public Node {
 public:
  FnNode(const char* name, F fn) : name_(name), fn_(std::move(fn)) {}
  const char* name() const override { return name_; }
  tensor_list apply(const Tensor& grad) override { return fn_(*this, grad); }

 private:
  const char* name_;
  F fn_;
};

// Accumulates into a leaf's .grad (or hands the gradient to autograd::grad).
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(Tensor variable);
  const char* name() const override { return "AccumulateGrad"; }
  tensor_list apply(const Tensor& grad) override;
  Tensor call_hooks(Tensor grad) override;
  bool is_accumulator() const override { return true; }
  Tensor variable;
};

// The node a gradient for `t` flows to: its grad_fn, its accumulator (leaf), or null.
NodePtr gradient_edge(const Tensor& t);

inline void add_edge(Node& n, const Tensor& t) {
  n.next.push_back(requires_grad(t) ? gradient_edge(t) : nullptr);
}

// Makes a node for `inputs` (Tensor or std::vector<Tensor>); rules read grad via fn.
template <class F, class... Ts>
std::shared_ptr<FnNode<F>> make_node(const char* name, F fn, const Ts&... inputs) {
  auto node = std::make_shared<FnNode<F>>(name, std::move(fn));
  node->next.reserve(sizeof...(Ts));
  (add_edge(*node, inputs), ...);
  return node;
}
template <class F>
std::shared_ptr<FnNode<F>> make_node_list(const char* name, F fn, const std::vector<Tensor>& inputs) {
  auto node = std::make_shared<FnNode<F>>(name, std::move(fn));
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) add_edge(*node, t);
  return node;
}

// Gives `out` its history; returns out. Non-floating outputs get none.
Tensor set_history(const Tensor& out, const NodePtr& node);
// Same, for a view of `base`: marks it as a view (Note [in-place and views] in autograd/inplace.cpp).
Tensor set_view_history(const Tensor& out, const Tensor& base, const NodePtr& node);

// Sums grad down to `shape` (undoing broadcasting). Differentiable.
Tensor sum_to(const Tensor& grad, IntList shape);

}  // namespace ember::autograd
