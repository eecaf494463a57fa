// PLACEHOLDER (being written): meta functions of this family.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor softmax(const Tensor& x, int64_t dim) { EMBER_FAIL("softmax: not implemented yet"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { EMBER_FAIL("log_softmax: not implemented yet"); }
Tensor softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim) { EMBER_FAIL("softmax_backward: not implemented yet"); }
Tensor log_softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim) { EMBER_FAIL("log_softmax_backward: not implemented yet"); }
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) { EMBER_FAIL("nll_loss: not implemented yet"); }
Tensor nll_loss_backward(const Tensor& grad, const Tensor& log_probs, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) { EMBER_FAIL("nll_loss_backward: not implemented yet"); }
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) { EMBER_FAIL("cross_entropy: not implemented yet"); }
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) { EMBER_FAIL("cross_entropy_backward: not implemented yet"); }

}  // namespace ember::ops
