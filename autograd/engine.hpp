// The backward engine and the functional gradient API.
//
// backward() accumulates into leaves' .grad; grad() returns gradients of
// outputs with respect to chosen inputs without touching .grad. Both walk the
// graph iteratively by dependency counts: a node runs once every node that
// feeds it a gradient has run, so each gradient is summed before use.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <ember/autograd/node.hpp>

namespace ember::autograd {

// Accumulates d(outputs)/d(leaf) * grad_outputs into every leaf's .grad.
// An undefined grad_output is allowed only for a one-element output (implicit 1).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// Gradients of outputs w.r.t. inputs (as torch.autograd.grad). retain_graph
// defaults to create_graph. With allow_unused, an input the outputs do not
// depend on gets an undefined Tensor; otherwise that is an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, std::optional<bool> retain_graph = {},
                         bool create_graph = false, bool allow_unused = false);

// Calls hook(leaf) each time backward() has accumulated a gradient into
// leaf.grad() (grad() leaves .grad alone and calls none): the moment, for
// example, that a data-parallel reducer may send that gradient. `leaf` must be
// a leaf that requires grad. Returns an id for remove_post_accumulate_grad_hook.
uint64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateHook hook);
// Takes a hook off; an id that is not (or no longer) registered is ignored.
void remove_post_accumulate_grad_hook(const Tensor& leaf, uint64_t id);

// From inside a backward pass (a hook or a gradient rule, on the thread that
// runs it): runs fn on that thread once every node of the pass has run, before
// backward() or grad() returns, in the order queued and with grad mode off. A
// pass that throws drops its queued callbacks.
void queue_callback(std::function<void()> fn);

}  // namespace ember::autograd
