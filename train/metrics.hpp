// Metric callbacks: classification accuracy, and stopping at a quality target
// (what a time-to-train recipe measures).
//
// Accuracy counts on the device (no host sync per batch) and publishes
// "accuracy" (validation) and, optionally, "train_accuracy" on after_validate.
// StopAtTarget reads a metric there and ends the fit once it reaches the
// target, recording the time and epoch it took.
#pragma once

#include <optional>
#include <string>

#include <ember/train/callback.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::train {

// pred: (N, C) scores, target: (N) class indices.
class Accuracy : public Callback {
 public:
  explicit Accuracy(bool on_train = false) : on_train_(on_train) {}
  std::string name() const override { return "accuracy"; }
  std::vector<CallbackNode> nodes() override;

 private:
  struct Count {
    Tensor correct;  // int64 on the device
    int64_t total = 0;
  };
  bool on_train_;
  Count train_, valid_;
};

class StopAtTarget : public Callback {
 public:
  // higher_is_better: stop when metric >= target (else metric <= target).
  StopAtTarget(std::string metric, double target, bool higher_is_better = true);
  std::string name() const override { return "stop_at_target"; }
  std::vector<CallbackNode> nodes() override;
  std::map<std::string, double> state() const override;
  void load_state(const std::map<std::string, double>& state) override;

  bool reached() const noexcept { return seconds_.has_value(); }
  // Learner::training_seconds() when the target was reached (resumed fits included).
  std::optional<double> seconds_to_target() const noexcept { return seconds_; }
  std::optional<int64_t> epochs_to_target() const noexcept { return epochs_; }
  const std::string& metric() const noexcept { return metric_; }
  double target() const noexcept { return target_; }

 private:
  std::string metric_;
  double target_;
  bool higher_;
  std::optional<double> seconds_;
  std::optional<int64_t> epochs_;
};

}  // namespace ember::train
