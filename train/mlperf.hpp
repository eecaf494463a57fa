// MLPerfLogger: MLPerf-style log lines (":::MLLOG {json}") for a
// time-to-train run, so the usual MLPerf log checkers and parsers read ember's
// recipes: run_start/run_stop (with status success when the quality target was
// reached), epoch_start/epoch_stop, eval_start/eval_stop and eval_accuracy with
// epoch_num, plus the run's constants (global_batch_size, seed, ...) at the start.
#pragma once

#include <iosfwd>
#include <map>
#include <string>

#include <ember/train/callback.hpp>

namespace ember::train {

struct MLPerfOptions {
  std::string benchmark = "ember";  // submission_benchmark
  std::string quality_metric = "accuracy";  // logged as eval_accuracy
  double target = 0.0;                      // run_stop's status: success once quality_metric >= target
  std::map<std::string, std::string> constants;  // extra POINT_IN_TIME keys logged at run_start (values as text)
  std::map<std::string, double> numbers;         // extra numeric keys (global_batch_size, opt_base_learning_rate, seed, ...)
  std::ostream* out = nullptr;  // std::cout when null
};

class MLPerfLogger : public Callback {
 public:
  explicit MLPerfLogger(MLPerfOptions options) : options_(std::move(options)) {}
  std::string name() const override { return "mlperf"; }
  std::vector<CallbackNode> nodes() override;
  std::map<std::string, double> state() const override { return {{"success", success_ ? 1.0 : 0.0}}; }
  void load_state(const std::map<std::string, double>& s) override {
    auto it = s.find("success");
    success_ = it != s.end() && it->second != 0.0;
  }
  bool success() const noexcept { return success_; }

 private:
  MLPerfOptions options_;
  bool success_ = false;
};

}  // namespace ember::train
