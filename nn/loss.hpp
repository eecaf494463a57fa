// Loss functions with gradients, as torch.nn.functional: each composes the
// public differentiable functions (cross_entropy and nll_loss use the fused ops).
#pragma once

#include <ember/autograd/functions.hpp>

namespace ember::nn {

struct CrossEntropyOptions {
  Tensor weight;               // (C) per-class weight, or undefined
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
};

// input: (N, C) or (N, C, d1, ...) logits; target: (N) or (N, d1, ...) int64 class indices.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opts = {});
// input: log-probabilities.
Tensor nll_loss(const Tensor& input, const Tensor& target, const CrossEntropyOptions& opts = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean, double beta = 1.0);
// Numerically stable sigmoid + binary cross entropy. weight and pos_weight may be undefined.
Tensor bce_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = {}, const Tensor& pos_weight = {},
                       Reduction reduction = Reduction::Mean);

}  // namespace ember::nn
