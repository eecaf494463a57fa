// Optimizer base: parameter groups with their own hyper-parameters, per-parameter
// state, zero_grad, and a state dict of tensors (so checkpoints store it as-is).
//
// State dict keys: "param_groups.<g>.<option>" (0-dim float64 tensors) and
// "state.<i>.<buffer>" for parameter i in group order (buffers as tensors,
// the step count as a 0-dim int64 tensor).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ember/autograd/functions.hpp>
#include <ember/autograd/grad_mode.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::optim {

struct ParamGroup {
  std::vector<Tensor> params;
  // Hyper-parameters by name ("lr", "weight_decay", "momentum", "beta1", ...).
  std::map<std::string, double> options;
  double& lr() { return options.at("lr"); }
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  // set_to_none (default, as PyTorch 2): drop the gradients; else fill them with zeros.
  void zero_grad(bool set_to_none = true);
  // Adds a group; options it lacks take the optimizer's defaults.
  void add_param_group(ParamGroup group);
  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults, const char* name);
  // Per-parameter state buffers by name; created by the subclass on first use.
  std::map<std::string, Tensor>& state_of(const Tensor& param);
  int64_t& step_of(const Tensor& param);
  const char* name_;

 private:
  std::vector<ParamGroup> groups_;
  std::map<std::string, double> defaults_;
  std::map<const TensorImpl*, std::map<std::string, Tensor>> state_;
  std::map<const TensorImpl*, int64_t> steps_;
};

// Groups from a flat parameter list.
std::vector<ParamGroup> single_group(const std::vector<Tensor>& params);

}  // namespace ember::optim
