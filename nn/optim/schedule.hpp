// Learning-rate schedules, stepped once per optimizer step (or per epoch, as the
// caller chooses), and gradient clipping.
//
// Each schedule computes lr(t) from the groups' initial lrs; step() advances t
// and writes the new lr (and for OneCycle the momentum / beta1) into every group.
#pragma once

#include <functional>

#include <ember/nn/optim/optimizer.hpp>

namespace ember::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt);
  virtual ~LRScheduler() = default;
  void step();
  int64_t last_step() const { return t_; }
  std::vector<double> get_last_lr() const;

 protected:
  // lr for a group with initial lr base at step t (t = 0 before the first step()).
  virtual double lr_at(double base, int64_t t) const = 0;
  virtual void extra(int64_t) {}
  Optimizer& opt_;
  std::vector<double> base_lrs_;

 private:
  void apply();
  int64_t t_ = 0;
};

// lr = base * gamma^(t / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
 protected:
  double lr_at(double base, int64_t t) const override;
 private:
  int64_t step_size_;
  double gamma_;
};

// lr = base * gamma^t
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
 protected:
  double lr_at(double base, int64_t t) const override;
 private:
  double gamma_;
};

// Cosine from base to eta_min over t_max steps (then stays at eta_min).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t t_max, double eta_min = 0.0);
 protected:
  double lr_at(double base, int64_t t) const override;
 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up from 0 to base over warmup steps, then cosine to eta_min at total steps.
class WarmupCosineLR : public LRScheduler {
 public:
  WarmupCosineLR(Optimizer& opt, int64_t warmup_steps, int64_t total_steps, double eta_min = 0.0);
 protected:
  double lr_at(double base, int64_t t) const override;
 private:
  int64_t warmup_, total_;
  double eta_min_;
};

// fastai's fit_one_cycle / PyTorch's OneCycleLR (cosine): lr rises from max_lr/div_factor to max_lr over
// pct_start of the steps, then falls to max_lr/(div_factor*final_div_factor); momentum (SGD "momentum" or
// Adam "beta1") moves the opposite way between max_momentum and base_momentum.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps, double pct_start = 0.25, double div_factor = 25.0,
             double final_div_factor = 1e4, double base_momentum = 0.85, double max_momentum = 0.95);
 protected:
  double lr_at(double base, int64_t t) const override;
  void extra(int64_t t) override;
 private:
  double phase(int64_t t, double start_value, double peak_value, double end_value) const;
  double max_lr_;
  int64_t total_;
  double pct_start_, div_, final_div_, base_mom_, max_mom_;
};

// lr = base * fn(t): any per-step function.
class LambdaLR : public LRScheduler {
 public:
  LambdaLR(Optimizer& opt, std::function<double(int64_t)> fn);
 protected:
  double lr_at(double base, int64_t t) const override;
 private:
  std::function<double(int64_t)> fn_;
};

// Scales all gradients so their global p-norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ember::optim
