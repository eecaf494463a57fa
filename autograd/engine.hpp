// The backward engine and the functional gradient API.
//
// backward() accumulates into leaves' .grad; grad() returns gradients of
// outputs with respect to chosen inputs without touching .grad. Both walk the
// graph iteratively by dependency counts: a node runs once every node that
// feeds it a gradient has run, so each gradient is summed before use.
#pragma once

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

}  // namespace ember::autograd
