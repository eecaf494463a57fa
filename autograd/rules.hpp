// Which ops of tensor/ops.def have a gradient rule. The op-list test walks
// ops.def and fails for a differentiable op missing here or missing a
// gradcheck case (tests/autograd/test_gradcheck_ops.cpp).
#pragma once

#include <ember/tensor/dispatch.hpp>

namespace ember::autograd {

// True when the public function(s) running `op` record a node with its gradient rule.
bool has_gradient_rule(Op op);
// The public function(s) whose rule covers `op` ("" when none), for messages and docs.
const char* gradient_rule_site(Op op);

}  // namespace ember::autograd
