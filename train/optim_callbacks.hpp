// Callbacks around the optimizer step: gradient clipping, a learning-rate
// schedule stepped per optimizer step, and periodic checkpoints.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <ember/nn/optim/schedule.hpp>
#include <ember/train/callback.hpp>

namespace ember::train {

// Scales the gradients to a global norm of at most max_norm between backward
// and step (after_backward); publishes the last norm before clipping as "grad_norm".
class GradientClipping : public Callback {
 public:
  explicit GradientClipping(double max_norm, double norm_type = 2.0);
  std::string name() const override { return "grad_clip"; }
  std::vector<CallbackNode> nodes() override;

 private:
  double max_norm_, norm_type_;
  double last_norm_ = 0;
};

// Steps an LRScheduler after every optimizer step. The scheduler is made from
// the learner's optimizer when the fit starts (make(optimizer)), and its step
// count travels with checkpoints.
class LRSchedule : public Callback {
 public:
  using Make = std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>;
  explicit LRSchedule(Make make);
  std::string name() const override { return "lr_schedule"; }
  std::vector<CallbackNode> nodes() override;
  std::map<std::string, double> state() const override;
  void load_state(const std::map<std::string, double>& state) override;

 private:
  Make make_;
  std::unique_ptr<optim::LRScheduler> scheduler_;
  std::vector<double> base_lrs_;  // the groups' lrs when the schedule began
  int64_t restored_steps_ = 0;
};

// Saves Learner::save_checkpoint(path) at the end of every `every_epochs`
// epochs, and also every `every_iterations` optimizer steps when that is > 0.
class Checkpointer : public Callback {
 public:
  explicit Checkpointer(std::string path, int64_t every_epochs = 1, int64_t every_iterations = 0);
  std::string name() const override { return "checkpointer"; }
  std::vector<CallbackNode> nodes() override;
  int64_t saves() const noexcept { return saves_; }

 private:
  std::string path_;
  int64_t every_epochs_, every_iterations_;
  int64_t saves_ = 0;
};

}  // namespace ember::train
