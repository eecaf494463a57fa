// Adam and AdamW, each step one fused multi-tensor pass per parameter group (ops::adam_step_ over lists).
// Adam's default learning rate is 3e-4.
#pragma once

#include <ember/nn/optim/optimizer.hpp>

namespace ember::optim {

struct AdamOptions {
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts = {}) : Adam(std::move(groups), opts, false, "Adam") {}
  Adam(const std::vector<Tensor>& params, AdamOptions opts = {}) : Adam(single_group(params), opts) {}
  void step() override;

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled, const char* name);

 private:
  bool decoupled_;
};

// Adam with decoupled weight decay (default weight_decay 1e-2, as PyTorch).
class AdamW : public Adam {
 public:
  static AdamOptions defaults() {
    AdamOptions o;
    o.weight_decay = 1e-2;
    return o;
  }
  AdamW(std::vector<ParamGroup> groups, AdamOptions opts = defaults()) : Adam(std::move(groups), opts, true, "AdamW") {}
  AdamW(const std::vector<Tensor>& params, AdamOptions opts = defaults()) : AdamW(single_group(params), opts) {}
};

}  // namespace ember::optim
