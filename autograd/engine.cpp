// The backward engine (see autograd/engine.hpp).
//
// 1. Find the root nodes (grad_fn of each output, or a leaf's accumulator).
// 2. Walk the graph once, iteratively, counting for each node how many edges
//    point at it; for grad(), also mark which nodes lead to a requested input.
// 3. Run ready nodes (count 0) from a stack: hooks, capture, apply the rule,
//    check and sum each input gradient into the next node's buffer.
// Saved tensors are freed as each node finishes unless retain_graph.
#include <ember/autograd/engine.hpp>

#include <atomic>
#include <unordered_map>

#include <ember/autograd/functions.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::autograd {
namespace {

// The callbacks queued by the backward pass running on this thread (null outside one).
thread_local std::vector<std::function<void()>>* t_queued_callbacks = nullptr;

struct CallbackQueueScope {
  std::vector<std::function<void()>> queued;
  std::vector<std::function<void()>>* outer = t_queued_callbacks;
  CallbackQueueScope() { t_queued_callbacks = &queued; }
  ~CallbackQueueScope() { t_queued_callbacks = outer; }
  CallbackQueueScope(const CallbackQueueScope&) = delete;
  CallbackQueueScope& operator=(const CallbackQueueScope&) = delete;
};

struct NodeState {
  int deps = 0;
  bool needed = true;
  bool visited = false;
  Tensor buffer;
  std::vector<size_t> capture;  // indices into grad()'s inputs
};

// Checks (and, for broadcasting or a dtype change, converts) a gradient flowing into `to`.
Tensor check_grad(Tensor g, const Node& to, const Node& from, size_t input) {
  if (!g.defined()) return g;
  if (!(g.shape() == to.shape)) {
    bool reducible = g.dim() >= static_cast<int64_t>(to.shape.size());
    if (reducible) {
      try {
        Dims b = ops::broadcast_shapes(g.shape(), to.shape, "autograd");
        reducible = b == g.shape();
      } catch (const Error&) {
        reducible = false;
      }
    }
    EMBER_CHECK(reducible, "autograd: the gradient rule of ", from.name(), " returned a gradient of shape ", g.shape(),
                " for input ", input, ", which has shape ", to.shape);
    g = sum_to(g, to.shape);
  }
  if (!(g.dtype() == to.dtype)) g = ember::to(g, to.dtype);
  return g;
}

void accumulate(Tensor& buffer, Tensor g) {
  if (!g.defined()) return;
  if (!buffer.defined()) buffer = std::move(g);
  else buffer = ember::add(buffer, g);  // records under create_graph (grad mode is create_graph here)
}

std::vector<Tensor> run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                        bool keep_graph, bool create_graph, const std::vector<Tensor>* inputs, bool allow_unused) {
  EMBER_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward: got ", outputs.size(),
              " outputs but ", grad_outputs.size(), " gradients");
  CallbackQueueScope callbacks;
  AutoGradMode mode(create_graph);
  std::unordered_map<Node*, NodeState> state;
  std::vector<std::pair<NodePtr, Tensor>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& y = outputs[i];
    EMBER_CHECK(y.defined(), "backward: output ", i, " is an undefined Tensor");
    NodePtr root = requires_grad(y) ? gradient_edge(y) : nullptr;
    EMBER_CHECK(root != nullptr, "backward: element ", i, " of tensors does not require grad and does not have a ",
                "grad_fn (", y.describe(), "); call requires_grad_() on a leaf it depends on");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      EMBER_CHECK(y.numel() == 1, "backward: grad can be implicitly created only for scalar outputs, but output ", i,
                  " is ", y.describe(), "; pass an explicit gradient of that shape");
      g = ones_like(y);
    } else {
      EMBER_CHECK(g.shape() == y.shape(), "backward: gradient ", g.describe(), " does not match the shape of output ",
                  i, " (", y.describe(), ")");
      if (!(g.dtype() == y.dtype())) g = ops::to(g, y.dtype());
    }
    roots.emplace_back(std::move(root), std::move(g));
  }
  std::vector<Tensor> result;
  if (inputs) {
    result.resize(inputs->size());
    for (size_t i = 0; i < inputs->size(); ++i) {
      const Tensor& x = (*inputs)[i];
      NodePtr n = requires_grad(x) ? gradient_edge(x) : nullptr;
      EMBER_CHECK(n != nullptr, "grad: input ", i, " (", x.describe(), ") does not require grad");
      state[n.get()].capture.push_back(i);
      // Keep it alive for the duration (an accumulator may exist only through this reference).
      roots.emplace_back(std::move(n), Tensor());
    }
  }

  // Walk: dependency counts, and (grad()) which nodes lead to a captured input. Post-order, iterative.
  std::vector<std::pair<Node*, size_t>> stack;
  for (auto& [root, g] : roots) {
    NodeState& rs = state[root.get()];
    if (rs.visited) continue;
    rs.visited = true;
    stack.emplace_back(root.get(), 0);
    while (!stack.empty()) {
      auto& [n, child] = stack.back();
      if (child < n->next.size()) {
        Node* c = n->next[child++].get();
        if (c == nullptr) continue;
        NodeState& cs = state[c];
        ++cs.deps;
        if (!cs.visited) {
          cs.visited = true;
          stack.emplace_back(c, 0);
        }
        continue;
      }
      if (inputs) {
        NodeState& ns = state[n];
        bool needed = !ns.capture.empty();
        for (const NodePtr& c : n->next)
          if (c && state[c.get()].needed) needed = true;
        ns.needed = needed;
      }
      stack.pop_back();
    }
  }

  std::vector<Node*> ready;
  for (auto& [root, g] : roots) {
    if (!g.defined()) continue;
    NodeState& s = state[root.get()];
    accumulate(s.buffer, g);
  }
  for (auto& [root, g] : roots) {
    NodeState& s = state[root.get()];
    if (s.deps == 0 && s.visited) {
      s.visited = false;  // queued
      ready.push_back(root.get());
    }
  }
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    NodeState& s = state[n];
    Tensor g = std::move(s.buffer);
    tensor_list grads;
    if (s.needed && g.defined()) {
      g = n->call_hooks(std::move(g));
      for (size_t idx : s.capture) result[idx] = g;
      if (!(inputs && n->is_accumulator())) grads = n->apply(g);
      if (!keep_graph) n->release_saved();
    }
    g = Tensor();
    for (size_t i = 0; i < n->next.size(); ++i) {
      Node* c = n->next[i].get();
      if (c == nullptr) continue;
      NodeState& cs = state[c];
      if (i < grads.size() && cs.needed) accumulate(cs.buffer, check_grad(std::move(grads[i]), *c, *n, i));
      if (--cs.deps == 0) ready.push_back(c);
    }
  }
  if (inputs) {
    for (size_t i = 0; i < result.size(); ++i) {
      EMBER_CHECK(result[i].defined() || allow_unused, "grad: input ", i, " (", (*inputs)[i].describe(),
                  ") was not used in the graph of the outputs; pass allow_unused=true to get an undefined gradient");
    }
  }
  AutoGradMode off(false);
  for (size_t i = 0; i < callbacks.queued.size(); ++i) {  // a callback may queue another
    auto fn = std::move(callbacks.queued[i]);
    fn();
  }
  return result;
}

}  // namespace

void queue_callback(std::function<void()> fn) {
  EMBER_CHECK(t_queued_callbacks != nullptr, "queue_callback: called outside a backward pass (only a hook or a ",
              "gradient rule running inside backward() or grad() may queue a callback)");
  EMBER_CHECK(static_cast<bool>(fn), "queue_callback: empty function");
  t_queued_callbacks->push_back(std::move(fn));
}

uint64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateHook hook) {
  EMBER_CHECK(leaf.defined(), "register_post_accumulate_grad_hook: undefined tensor");
  const AutogradMeta* m = meta_of(leaf);
  EMBER_CHECK(m != nullptr && m->requires_grad && m->grad_fn == nullptr, "register_post_accumulate_grad_hook: ",
              leaf.describe(), " is not a leaf that requires grad (call requires_grad_() on it first)");
  EMBER_CHECK(static_cast<bool>(hook), "register_post_accumulate_grad_hook: empty function");
  static std::atomic<uint64_t> next_id{1};
  const uint64_t id = next_id.fetch_add(1, std::memory_order_relaxed);
  ensure_meta(leaf).post_accumulate_hooks.emplace_back(id, std::move(hook));
  return id;
}

void remove_post_accumulate_grad_hook(const Tensor& leaf, uint64_t id) {
  AutogradMeta* m = meta_of(leaf);
  if (m == nullptr) return;
  std::erase_if(m->post_accumulate_hooks, [id](const auto& h) { return h.first == id; });
}

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  run(outputs, grad_outputs, retain_graph || create_graph, create_graph, nullptr, false);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, std::optional<bool> retain_graph, bool create_graph,
                         bool allow_unused) {
  return run(outputs, grad_outputs, retain_graph.value_or(create_graph), create_graph, &inputs, allow_unused);
}

}  // namespace ember::autograd
