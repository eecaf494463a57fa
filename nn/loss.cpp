// Losses composed from differentiable primitives; shapes are checked up front so
// errors name the loss rather than an inner op.
#include <ember/nn/loss.hpp>

namespace ember::nn {
namespace {

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  return loss;
}

void check_same_shape(const char* op, const Tensor& input, const Tensor& target) {
  EMBER_CHECK(input.shape() == target.shape(), op, ": input and target must have the same shape, got input ",
              input.describe(), " and target ", target.describe());
}

CrossEntropyArgs to_args(const CrossEntropyOptions& o) {
  CrossEntropyArgs a;
  a.reduction = o.reduction;
  a.ignore_index = o.ignore_index;
  a.label_smoothing = o.label_smoothing;
  return a;
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opts) {
  return ember::cross_entropy(input, target, opts.weight, to_args(opts));
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opts) {
  EMBER_CHECK(opts.label_smoothing == 0.0, "nll_loss: label_smoothing applies to cross_entropy only");
  return ember::nll_loss(input, target, opts.weight, to_args(opts));
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape("mse_loss", input, target);
  Tensor d = input - target;
  return reduce(d * d, r);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction r) {
  check_same_shape("l1_loss", input, target);
  return reduce(abs(input - target), r);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction r, double beta) {
  check_same_shape("smooth_l1_loss", input, target);
  EMBER_CHECK(beta >= 0.0, "smooth_l1_loss: beta must be non-negative, got ", beta);
  Tensor d = abs(input - target);
  if (beta == 0.0) return reduce(d, r);
  Tensor quadratic = d * d * (0.5 / beta);
  Tensor linear_part = d - 0.5 * beta;
  return reduce(where(lt(d, beta), quadratic, linear_part), r);
}

Tensor bce_with_logits(const Tensor& x, const Tensor& y, const Tensor& weight, const Tensor& pos_weight, Reduction r) {
  check_same_shape("bce_with_logits", x, y);
  // log(1 + exp(-|x|)) + max(-x, 0) = -log(sigmoid(x)), computed without overflow.
  Tensor neg_log_sigmoid = log1p(exp(-abs(x))) + relu(-x);
  Tensor loss;
  if (pos_weight.defined()) {
    Tensor log_weight = (pos_weight - 1.0) * y + 1.0;
    loss = (1.0 - y) * x + log_weight * neg_log_sigmoid;
  } else {
    loss = (1.0 - y) * x + neg_log_sigmoid;
  }
  if (weight.defined()) loss = loss * weight;
  return reduce(loss, r);
}

}  // namespace ember::nn
