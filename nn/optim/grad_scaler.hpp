// GradScaler: loss scaling for float16 mixed precision, as torch.amp.GradScaler.
//
// float16 gradients below ~6e-8 flush to zero. Backpropagating loss * scale
// keeps them representable; unscale_() divides the gradients back before
// anything reads them (clipping, an all-reduce, the step). step() takes the
// optimizer step only when every gradient is finite, else skips it; update()
// halves the scale after a skipped step and doubles it after growth_interval
// steps in a row without one. bfloat16 has float32's range and needs none of this.
//
// Use: scaler.scale(loss).backward(); scaler.unscale_(opt); clip...; scaler.step(opt); scaler.update();
// The finiteness check is one reduction per gradient and a single host read.
#pragma once

#include <map>
#include <string>

#include <ember/nn/optim/optimizer.hpp>

namespace ember::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});
  // loss * scale (differentiable).
  Tensor scale(const Tensor& loss) const;
  // Divides the optimizer's gradients by the scale, in place (once per step).
  void unscale_(Optimizer& opt);
  // Steps when every gradient is finite (unscaling first if unscale_ was not
  // called); returns whether it stepped.
  bool step(Optimizer& opt);
  // The next scale, from whether the last step() skipped.
  void update();
  double get_scale() const noexcept { return scale_; }
  bool last_step_skipped() const noexcept { return skipped_; }  // of the last step()
  std::map<std::string, double> state_dict() const;
  void load_state_dict(const std::map<std::string, double>& state);

 private:
  GradScalerOptions options_;
  double scale_;
  int64_t growth_tracker_ = 0;  // steps since the last skip
  bool unscaled_ = false, skipped_ = false;
};

// Whether every gradient of the optimizer's parameters is finite (one host read).
bool grads_are_finite(const Optimizer& opt);

}  // namespace ember::optim
