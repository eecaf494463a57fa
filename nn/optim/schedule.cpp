// Schedules and clipping.
#include <ember/nn/optim/schedule.hpp>

#include <cmath>

namespace ember::optim {
namespace {
constexpr double kPi = 3.14159265358979323846;
double cosine(double from, double to, double frac) { return to + (from - to) * 0.5 * (1.0 + std::cos(kPi * frac)); }
}  // namespace

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) {
  for (auto& g : opt.param_groups()) base_lrs_.push_back(g.options.at("lr"));
}

void LRScheduler::apply() {
  auto& groups = opt_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options["lr"] = lr_at(base_lrs_[i], t_);
  extra(t_);
}

void LRScheduler::step() {
  ++t_;
  apply();
}

std::vector<double> LRScheduler::get_last_lr() const {
  std::vector<double> out;
  for (auto& g : opt_.param_groups()) out.push_back(g.options.at("lr"));
  return out;
}

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma) : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  EMBER_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
}
double StepLR::lr_at(double base, int64_t t) const { return base * std::pow(gamma_, static_cast<double>(t / step_size_)); }

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) {}
double ExponentialLR::lr_at(double base, int64_t t) const { return base * std::pow(gamma_, static_cast<double>(t)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min)
    : LRScheduler(opt), t_max_(t_max), eta_min_(eta_min) {
  EMBER_CHECK(t_max > 0, "CosineAnnealingLR: t_max must be positive, got ", t_max);
}
double CosineAnnealingLR::lr_at(double base, int64_t t) const {
  return cosine(base, eta_min_, std::min(1.0, static_cast<double>(t) / static_cast<double>(t_max_)));
}

WarmupCosineLR::WarmupCosineLR(Optimizer& opt, int64_t warmup, int64_t total, double eta_min)
    : LRScheduler(opt), warmup_(warmup), total_(total), eta_min_(eta_min) {
  EMBER_CHECK(warmup >= 0 && total > warmup, "WarmupCosineLR: need 0 <= warmup_steps < total_steps, got ", warmup, " and ", total);
  for (auto& g : opt_.param_groups()) g.options["lr"] = warmup_ > 0 ? 0.0 : g.options["lr"];
}
double WarmupCosineLR::lr_at(double base, int64_t t) const {
  if (t < warmup_) return base * static_cast<double>(t) / static_cast<double>(warmup_);
  double frac = static_cast<double>(t - warmup_) / static_cast<double>(total_ - warmup_);
  return cosine(base, eta_min_, std::min(1.0, frac));
}

OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, int64_t total, double pct_start, double div, double final_div,
                       double base_mom, double max_mom)
    : LRScheduler(opt), max_lr_(max_lr), total_(total), pct_start_(pct_start), div_(div), final_div_(final_div),
      base_mom_(base_mom), max_mom_(max_mom) {
  EMBER_CHECK(total > 1, "OneCycleLR: total_steps must be at least 2, got ", total);
  EMBER_CHECK(pct_start > 0 && pct_start < 1, "OneCycleLR: pct_start must be in (0, 1), got ", pct_start);
  for (auto& g : opt_.param_groups()) g.options["lr"] = max_lr_ / div_;
  extra(0);
}
double OneCycleLR::phase(int64_t t, double start_value, double peak_value, double end_value) const {
  double up_end = pct_start_ * static_cast<double>(total_) - 1.0;
  double tt = static_cast<double>(t);
  if (tt <= up_end) return cosine(start_value, peak_value, up_end > 0 ? tt / up_end : 1.0);
  double down = static_cast<double>(total_ - 1) - up_end;
  return cosine(peak_value, end_value, std::min(1.0, (tt - up_end) / down));
}
double OneCycleLR::lr_at(double, int64_t t) const {
  double initial = max_lr_ / div_;
  return phase(t, initial, max_lr_, initial / final_div_);
}
void OneCycleLR::extra(int64_t t) {
  double mom = phase(t, max_mom_, base_mom_, max_mom_);
  for (auto& g : opt_.param_groups()) {
    if (g.options.count("beta1")) g.options["beta1"] = mom;
    else if (g.options.count("momentum") && g.options["momentum"] > 0) g.options["momentum"] = mom;
  }
}

LambdaLR::LambdaLR(Optimizer& opt, std::function<double(int64_t)> fn) : LRScheduler(opt), fn_(std::move(fn)) {}
double LambdaLR::lr_at(double base, int64_t t) const { return base * fn_(t); }

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard guard;
  double total = 0.0;
  std::vector<Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return 0.0;
  if (std::isinf(norm_type)) {
    for (auto& g : grads) total = std::max(total, ops::amax(ops::abs(g)).item<double>());
  } else {
    for (auto& g : grads) total += std::pow(ops::norm(g, norm_type).item<double>(), norm_type);
    total = std::pow(total, 1.0 / norm_type);
  }
  double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for (auto& g : grads) g.mul_(coef);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard guard;
  for (const auto& p : params)
    if (p.grad().defined()) {
      Tensor g = p.grad();
      g.clamp_(-clip_value, clip_value);
    }
}

}  // namespace ember::optim
