// SGD with momentum, dampening, Nesterov and weight decay (PyTorch's rule).
#pragma once

#include <ember/nn/optim/optimizer.hpp>

namespace ember::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opts = {});
  SGD(const std::vector<Tensor>& params, SGDOptions opts = {}) : SGD(single_group(params), opts) {}
  void step() override;
};

}  // namespace ember::optim
