// Autocast: mixed precision in the forward pass, as torch.autocast.
//
// Inside an AutocastGuard on this thread, the matrix ops (mm, bmm, matmul,
// linear, conv2d) run in the guard's 16-bit dtype (bfloat16 or float16): their
// float32 inputs are cast, differentiably, so float32 parameters receive
// float32 gradients. The numerically sensitive ops (softmax, log_softmax,
// cross_entropy, nll_loss, batch_norm, layer_norm, group_norm) run in float32:
// their 16-bit inputs are cast up. Every other op runs in the dtype of its
// inputs (mixing 16-bit and float32 promotes to float32). float64 and integer
// tensors are never cast.
//
// The state is per thread, like grad mode: a training loop enables it in the
// nodes that run the forward pass and the loss (Learner: LearnerOptions::autocast).
// Run backward() outside the guard; its rules follow the forward's dtypes.
//
// Use: { AutocastGuard amp(kBFloat16); Tensor loss = nn::cross_entropy(model.forward(x), y); }
//      loss.backward();
// float16 gradients can underflow: scale the loss with optim::GradScaler.
#pragma once

#include <ember/tensor/tensor.hpp>

namespace ember {

class AutocastGuard {
 public:
  // dtype: kBFloat16 or kFloat16. enabled = false turns autocast off in a region.
  explicit AutocastGuard(DType dtype = kBFloat16, bool enabled = true);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool prev_enabled_;
  DType prev_dtype_;
};

bool autocast_enabled();
DType autocast_dtype();

namespace autocast {
// For the hooked functions: x cast to the autocast dtype (float32 only), or to
// float32 (16-bit floats only); anything else unchanged.
Tensor to_low(const Tensor& x);
Tensor to_full(const Tensor& x);
// Turns autocast off for the hooked function's own body (its casts are done).
class Suspend {
 public:
  Suspend();
  ~Suspend();
  Suspend(const Suspend&) = delete;
  Suspend& operator=(const Suspend&) = delete;

 private:
  bool prev_;
};
}  // namespace autocast

}  // namespace ember
