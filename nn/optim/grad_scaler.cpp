// GradScaler (grad_scaler.hpp).
#include <ember/nn/optim/grad_scaler.hpp>

#include <cmath>

#include <ember/tensor/ops.hpp>

namespace ember::optim {

bool grads_are_finite(const Optimizer& opt) {
  NoGradGuard no_grad;
  // sum(g * 0) is 0 for finite g and NaN once any element is inf or NaN: one reduction per gradient
  // on its device, the results added, and one read.
  Tensor total;
  for (const auto& group : opt.param_groups())
    for (const Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      Tensor probe = ops::to(ops::sum(ops::mul(g, ops::scalar_tensor(0.0, g))), kFloat32);
      if (total.defined() && total.device() != probe.device()) probe = ops::to(probe, total.device());
      total = total.defined() ? ops::add(total, probe) : probe;
    }
  return !total.defined() || std::isfinite(ops::to(total, kCPU).item<double>());
}

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  EMBER_CHECK(options.init_scale > 0 && options.growth_factor > 1 && options.backoff_factor > 0 &&
                  options.backoff_factor < 1 && options.growth_interval >= 1,
              "GradScaler: expected init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1, growth_interval >= 1; "
              "got ", options.init_scale, ", ", options.growth_factor, ", ", options.backoff_factor, ", ",
              options.growth_interval);
}

Tensor GradScaler::scale(const Tensor& loss) const { return mul(loss, ops::scalar_tensor(scale_, loss)); }

void GradScaler::unscale_(Optimizer& opt) {
  EMBER_CHECK(!unscaled_, "GradScaler::unscale_: already called since the last update()");
  NoGradGuard no_grad;
  for (auto& group : opt.param_groups())
    for (Tensor& p : group.params) {
      Tensor g = p.grad();
      if (g.defined()) ops::binary_(Op::mul, g, ops::scalar_tensor(1.0 / scale_, g));
    }
  unscaled_ = true;
}

bool GradScaler::step(Optimizer& opt) {
  if (!unscaled_) unscale_(opt);
  skipped_ = !grads_are_finite(opt);
  if (!skipped_) opt.step();
  return !skipped_;
}

void GradScaler::update() {
  if (skipped_) {
    scale_ *= options_.backoff_factor;
    growth_tracker_ = 0;
  } else if (++growth_tracker_ >= options_.growth_interval) {
    scale_ *= options_.growth_factor;
    growth_tracker_ = 0;
  }
  unscaled_ = false;
}

std::map<std::string, double> GradScaler::state_dict() const {
  return {{"scale", scale_}, {"growth_tracker", static_cast<double>(growth_tracker_)}};
}

void GradScaler::load_state_dict(const std::map<std::string, double>& state) {
  auto scale = state.find("scale"), tracker = state.find("growth_tracker");
  EMBER_CHECK(scale != state.end() && tracker != state.end() && scale->second > 0,
              "GradScaler::load_state_dict: expected a positive 'scale' and a 'growth_tracker'");
  scale_ = scale->second;
  growth_tracker_ = static_cast<int64_t>(tracker->second);
  unscaled_ = skipped_ = false;
}

}  // namespace ember::optim
