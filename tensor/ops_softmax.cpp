// Meta functions of softmax, log_softmax, their backward passes, and the
// classification losses nll_loss and cross_entropy (with their backward).
//
// Loss shapes follow PyTorch: input (N, C) or (N, C, d1, ...) with target
// (N) or (N, d1, ...), or input (C) with a 0-dim target. The kernels see the
// batched form only: a 1-D input is viewed as (1, C). Reduction None gives the
// target's shape, Mean and Sum a 0-dim tensor. The kernels check target values
// against the class count (they need to read the targets anyway).
#include <cmath>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

void check_floating(const Tensor& x, const char* op, const char* what) {
  EMBER_CHECK(x.defined(), op, ": undefined ", what, " tensor");
  EMBER_CHECK(x.dtype().is_floating(), op, ": expected a floating ", what, ", got ", x.describe());
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ", a.describe(), " and ",
              b.describe());
}

Tensor softmax_forward(Op op, const Tensor& x, int64_t dim) {
  const char* name = op_info(op).name;
  check_floating(x, name, "input");
  int64_t d = wrap_dim(dim, x.dim(), name);
  Tensor out = empty(x.shape(), x.options());
  if (out.numel() == 0) return out;
  DimKernel* fn = op == Op::softmax ? EMBER_KERNEL(softmax, x.device()) : EMBER_KERNEL(log_softmax, x.device());
  if (x.dim() == 0) fn(view(out, {1}), view(x, {1}), 0);
  else fn(out, x, d);
  return out;
}

Tensor softmax_backward_common(Op op, const Tensor& grad, const Tensor& y, int64_t dim) {
  const char* name = op_info(op).name;
  check_floating(y, name, "output y");
  EMBER_CHECK(grad.defined(), name, ": undefined grad tensor");
  check_same_device(name, grad, y);
  EMBER_CHECK(grad.shape() == y.shape(), name, ": grad and y must have the same shape, got grad ", grad.describe(),
              " and y ", y.describe());
  int64_t d = wrap_dim(dim, y.dim(), name);
  Tensor g = to(grad, y.dtype());
  Tensor out = empty(y.shape(), y.options());
  if (out.numel() == 0) return out;
  DimBackwardKernel* fn = op == Op::softmax_backward ? EMBER_KERNEL(softmax_backward, y.device())
                                                     : EMBER_KERNEL(log_softmax_backward, y.device());
  if (y.dim() == 0) fn(view(out, {1}), view(g, {1}), view(y, {1}), 0);
  else fn(out, g, y, d);
  return out;
}

// The validated, batched operands of a loss.
struct LossOperands {
  Tensor input;    // (N, C, ...) contiguous
  Tensor target;   // (N, ...) int64 contiguous
  Tensor weight;   // (C) in input's dtype, or undefined
  Dims none_shape; // the shape of a Reduction::None result (the target's)
};

LossOperands loss_operands(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight,
                           const CrossEntropyArgs& args, bool allow_smoothing) {
  check_floating(input, op, "input");
  EMBER_CHECK(target.defined(), op, ": undefined target tensor");
  check_same_device(op, input, target);
  EMBER_CHECK(target.dtype().is_integral(), op, ": expected target to hold integer class indices (int64), got ",
              target.describe(), target.dtype().is_floating() ? " (class-probability targets are not supported)" : "");
  EMBER_CHECK(input.dim() >= 1, op, ": expected input of shape (C), (N, C) or (N, C, d1, ...), got ",
              input.describe());
  EMBER_CHECK(args.reduction == Reduction::None || args.reduction == Reduction::Mean ||
                  args.reduction == Reduction::Sum,
              op, ": unknown reduction ", static_cast<int>(args.reduction));
  EMBER_CHECK(args.label_smoothing >= 0.0 && args.label_smoothing <= 1.0, op,
              ": label_smoothing must be between 0.0 and 1.0, got ", args.label_smoothing);
  EMBER_CHECK(allow_smoothing || args.label_smoothing == 0.0, op,
              ": label_smoothing is only supported by cross_entropy, got ", args.label_smoothing);
  LossOperands r;
  if (input.dim() == 1) {
    EMBER_CHECK(target.dim() == 0, op, ": expected a 0-dim target for a 1-D input ", input.describe(), ", got ",
                target.describe());
    r.input = view(contiguous(input), {1, input.size(0)});
    r.target = view(contiguous(to(target, kInt64)), {1});
  } else {
    Dims expected = input.shape();
    expected.erase(1);
    EMBER_CHECK(target.shape() == expected, op, ": expected target of shape ", expected, " for input ",
                input.describe(), ", got target ", target.describe());
    r.input = contiguous(input);
    r.target = contiguous(to(target, kInt64));
  }
  r.none_shape = target.shape();
  const int64_t C = r.input.size(1);
  if (weight.defined()) {
    check_same_device(op, input, weight);
    EMBER_CHECK(weight.dim() == 1 && weight.size(0) == C, op, ": weight should be defined for all ", C,
                " classes (shape [", C, "]) or none, got weight ", weight.describe(), " for input ", input.describe());
    EMBER_CHECK(weight.dtype().is_floating(), op, ": expected a floating weight, got ", weight.describe());
    r.weight = contiguous(to(weight, input.dtype()));
  }
  return r;
}

Tensor loss_forward(Op op, const Tensor& input, const Tensor& target, const Tensor& weight,
                    const CrossEntropyArgs& args) {
  const char* name = op_info(op).name;
  LossOperands o = loss_operands(name, input, target, weight, args, op == Op::cross_entropy);
  const bool none = args.reduction == Reduction::None;
  Tensor out = empty(none ? o.none_shape : Dims{}, input.options());
  if (out.numel() == 0) return out;
  Tensor kout = none ? view(out, o.target.shape()) : out;
  if (op == Op::cross_entropy) EMBER_KERNEL(cross_entropy, input.device())(kout, o.input, o.target, o.weight, args);
  else EMBER_KERNEL(nll_loss, input.device())(kout, o.input, o.target, o.weight, args);
  return out;
}

Tensor loss_backward(Op op, const Tensor& grad, const Tensor& input, const Tensor& target, const Tensor& weight,
                     const CrossEntropyArgs& args) {
  const char* name = op_info(op).name;
  LossOperands o = loss_operands(name, input, target, weight, args, op == Op::cross_entropy_backward);
  EMBER_CHECK(grad.defined(), name, ": undefined grad tensor");
  check_same_device(name, grad, input);
  const bool none = args.reduction == Reduction::None;
  if (none) {
    EMBER_CHECK(grad.shape() == o.none_shape, name, ": expected grad of shape ", o.none_shape,
                " (reduction none), got ", grad.describe());
  } else {
    EMBER_CHECK(grad.numel() == 1, name, ": expected a one-element grad for a reduced loss, got ", grad.describe());
  }
  Tensor g = contiguous(to(grad, input.dtype()));
  g = none ? view(g, o.target.shape()) : reshape(g, {});
  Tensor grad_input = empty(input.shape(), input.options());
  if (grad_input.numel() == 0) return grad_input;
  Tensor kgrad = view(grad_input, o.input.shape());
  if (op == Op::cross_entropy_backward)
    EMBER_KERNEL(cross_entropy_backward, input.device())(kgrad, g, o.input, o.target, o.weight, args);
  else EMBER_KERNEL(nll_loss_backward, input.device())(kgrad, g, o.input, o.target, o.weight, args);
  return grad_input;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_forward(Op::softmax, x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_forward(Op::log_softmax, x, dim); }

Tensor softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim) {
  return softmax_backward_common(Op::softmax_backward, grad, y, dim);
}
Tensor log_softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim) {
  return softmax_backward_common(Op::log_softmax_backward, grad, y, dim);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) {
  return loss_forward(Op::nll_loss, log_probs, target, weight, args);
}
Tensor nll_loss_backward(const Tensor& grad, const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                         const CrossEntropyArgs& args) {
  return loss_backward(Op::nll_loss_backward, grad, log_probs, target, weight, args);
}
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) {
  return loss_forward(Op::cross_entropy, logits, target, weight, args);
}
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target, const Tensor& weight,
                              const CrossEntropyArgs& args) {
  return loss_backward(Op::cross_entropy_backward, grad, logits, target, weight, args);
}

}  // namespace ember::ops
