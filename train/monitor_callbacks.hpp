// Callbacks that watch a metric or reshape the optimizer's steps, as fastai's:
// EarlyStopping, SaveBestModel and GradientAccumulation.
#pragma once

#include <optional>
#include <string>

#include <ember/train/callback.hpp>

namespace ember::train {

// Whether `value` improves on `best` by more than min_delta in the given direction.
bool improves(double value, std::optional<double> best, bool higher_is_better, double min_delta);

// Stops the fit when `metric` has not improved by more than min_delta for
// `patience` epochs in a row (checked on after_validate).
class EarlyStopping : public Callback {
 public:
  EarlyStopping(std::string metric, int64_t patience = 3, bool higher_is_better = true, double min_delta = 0.0);
  std::string name() const override { return "early_stopping"; }
  std::vector<CallbackNode> nodes() override;
  std::map<std::string, double> state() const override;
  void load_state(const std::map<std::string, double>& state) override;
  std::optional<double> best() const noexcept { return best_; }

 private:
  std::string metric_;
  int64_t patience_;
  bool higher_;
  double min_delta_;
  std::optional<double> best_;
  int64_t waited_ = 0;
};

// Writes the model's state dict (safetensors, atomically) to `path` whenever
// `metric` improves (after_epoch); with load_at_end, the best weights are
// loaded back into the model when the fit ends.
class SaveBestModel : public Callback {
 public:
  SaveBestModel(std::string path, std::string metric, bool higher_is_better = true, bool load_at_end = false);
  std::string name() const override { return "save_best"; }
  std::vector<CallbackNode> nodes() override;
  std::map<std::string, double> state() const override;
  void load_state(const std::map<std::string, double>& state) override;
  std::optional<double> best() const noexcept { return best_; }
  std::optional<int64_t> best_epoch() const noexcept { return best_epoch_; }

 private:
  std::string path_, metric_;
  bool higher_, load_at_end_;
  std::optional<double> best_;
  std::optional<int64_t> best_epoch_;
};

// Takes an optimizer step every `steps` batches (and at each epoch's last
// batch) with the mean of their gradients: with a mean-reduced loss, batches
// of B accumulated `steps` at a time train as batches of steps * B. The
// batches that only accumulate skip the gradient sync (DataParallel reduces
// once per step). Not with a GradScaler (it unscales every batch).
class GradientAccumulation : public Callback {
 public:
  explicit GradientAccumulation(int64_t steps);
  std::string name() const override { return "grad_accumulation"; }
  std::vector<CallbackNode> nodes() override;

 private:
  // Whether the current batch ends a group (the step comes after it).
  bool steps_after(const Learner& l) const;
  int64_t steps_;
};

}  // namespace ember::train
