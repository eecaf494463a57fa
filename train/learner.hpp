// Learner: a model, its data, a loss and an optimizer, trained by fit(), with
// the loop's steps and every callback as nodes of task graphs (Note [loop graph]).
//
// The loop (regions in order; core steps in brackets, events in between):
//   fit:          before_fit
//   epoch start:  [start_epoch] before_epoch
//   train batch:  [fetch] before_batch [forward] after_pred [loss] after_loss
//                 [backward] after_backward [step] after_step [zero_grad] after_batch
//   validation:   [start_validate] before_validate, then per batch
//                 [fetch] before_batch [forward] after_pred [loss] after_loss after_batch
//   validate end: [summarize] after_validate
//   epoch end:    [close_epoch] after_epoch
//   fit end:      after_fit
// Core slots: fetch writes input, target; forward reads input, params and writes
// pred; loss reads pred, target and writes loss; backward reads loss, writes
// grads; step reads grads, lr and writes params, opt_state; zero_grad writes
// grads; summarize and close_epoch read and write metrics.
//
// Execution: each region's graph runs on a SerialExecutor (default: the
// nodes one by one in topological order, deterministic) or on the runtime's
// work-stealing executor (independent nodes at once, e.g. metrics beside the
// backward pass). Either way the kernels inside use the process pool.
//
// Exact resume: save_checkpoint() from a node (or between fits) records the
// model, the optimizer, the loop position, the running epoch sums, the global
// generator and the callbacks' state; a new Learner built the same way that
// load_checkpoint()s it and calls fit(n) continues with the same batches,
// dropout masks and updates (the DataLoader's batches depend only on
// (seed, epoch, batch): Note [loader determinism]).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <ember/data/dataloader.hpp>
#include <ember/nn/module.hpp>
#include <ember/nn/optim/grad_scaler.hpp>
#include <ember/nn/optim/optimizer.hpp>
#include <ember/train/callback.hpp>
#include <ember/train/distributed.hpp>
#include <ember/train/loop_graph.hpp>

namespace ember::train {

using LossFn = std::function<Tensor(const Tensor& pred, const Tensor& target)>;

enum class LoopExecutor { serial, work_stealing };

struct LearnerOptions {
  LoopExecutor executor = LoopExecutor::serial;
  runtime::Executor* pool = nullptr;  // for work_stealing; null: runtime::default_executor()
  // Mixed precision: the forward and loss nodes run under AutocastGuard(*autocast)
  // (kBFloat16 or kFloat16). With a grad_scaler (float16), backward scales the
  // loss and unscales the gradients before after_backward, and step skips the
  // optimizer step when a gradient is not finite (then adjusts the scale).
  std::optional<DType> autocast;
  std::shared_ptr<optim::GradScaler> grad_scaler;
  // Data-parallel runs: the epoch's loss sums and the metric callbacks' counts
  // are summed over this group's ranks before they become metrics, so each
  // rank can validate its DistributedSampler share and all see the global numbers.
  std::shared_ptr<ProcessGroup> process_group;
};

class Learner {
 public:
  // valid may be null (no validation). The model should already be on the
  // device the loaders deliver to.
  Learner(std::shared_ptr<nn::Module> model, std::shared_ptr<data::DataLoader> train,
          std::shared_ptr<data::DataLoader> valid, LossFn loss_fn, std::shared_ptr<optim::Optimizer> opt,
          LearnerOptions options = {});
  ~Learner();

  Learner& add_callback(std::shared_ptr<Callback> callback);
  void remove_callback(const std::shared_ptr<Callback>& callback);
  template <class T>
  std::shared_ptr<T> find_callback() const {
    for (const auto& c : callbacks_)
      if (auto t = std::dynamic_pointer_cast<T>(c)) return t;
    return nullptr;
  }

  // Trains until `epochs` epochs are done (counting those before a
  // checkpoint), or a node calls request_stop().
  void fit(int64_t epochs);

  // fastai's fit_one_cycle: fit(epochs) with the learning rate (and Adam's
  // beta1 or SGD's momentum) on a one-cycle schedule over the run's
  // epochs * batches optimizer steps, placed by iteration(): a run resumed from
  // a checkpoint with the same arguments continues the same schedule.
  void fit_one_cycle(int64_t epochs, double max_lr, double pct_start = 0.25);

  // fastai's learning-rate finder: trains up to num_it batches with the lr
  // growing exponentially from start_lr to end_lr, stops early when the
  // smoothed loss passes 4x its minimum, then restores the model, the
  // optimizer, the generator and the loop's counters as they were.
  struct LRFindResult {
    std::vector<double> lrs, losses;  // losses smoothed (exponential average, debiased)
    double steepest = 0;              // the lr where the smoothed loss falls fastest
    double minimum_tenth = 0;         // a tenth of the lr at the lowest smoothed loss
  };
  LRFindResult lr_find(double start_lr = 1e-7, double end_lr = 10.0, int64_t num_it = 100);

  // The validation phase alone (valid_begin, its batches, summarize and
  // after_validate): the metrics of the current weights. History is untouched.
  std::map<std::string, double> validate();
  // The model's outputs over a loader (default: the validation loader; epoch
  // 0's order) in eval mode without gradients, concatenated, and the targets.
  std::pair<Tensor, Tensor> get_preds(data::DataLoader* loader = nullptr);

  // From an after_backward node (declare "skip" among its writes): this
  // batch's step and zero_grad do nothing, so its gradients add to the next
  // batch's (gradient accumulation). Reset at every batch's fetch.
  void skip_step() noexcept { skip_step_.store(true, std::memory_order_release); }
  // From an after_loss node (declare "sync" among its writes): this batch's
  // gradients are not to be reduced over ranks, because they only accumulate
  // into the batch that steps, which reduces the sum (DataParallel reads it).
  // Reset at every batch's fetch.
  void skip_gradient_sync() noexcept { sync_gradients_.store(false, std::memory_order_release); }
  bool gradient_sync() const noexcept { return sync_gradients_.load(std::memory_order_acquire); }

  // Asks the loop to stop: after the current batch during training (the
  // epoch's validation is then skipped), else at the end of the epoch.
  void request_stop(std::string reason);
  bool stop_requested() const noexcept { return stop_requested_.load(std::memory_order_acquire); }
  std::string stop_reason() const;

  // ---- the loop's state, for callbacks -----------------------------------
  nn::Module& model() { return *model_; }
  optim::Optimizer& optimizer() { return *opt_; }
  data::DataLoader& train_loader() { return *train_dl_; }
  data::DataLoader* valid_loader() { return valid_dl_.get(); }
  ProcessGroup* process_group() { return options_.process_group.get(); }
  const LearnerOptions& options() const noexcept { return options_; }
  // Sums values over the process group's ranks (unchanged without a group): for
  // metric callbacks' counts. Every rank must call it at the same point, so a
  // node that calls it declares the slot "collective" among its writes: two
  // such nodes on one event must then be ordered (else "conflicting writers"),
  // and every rank issues its collectives in the same order, on any executor.
  std::vector<double> sum_over_ranks(std::vector<double> values);

  Tensor input, target;  // the current batch
  Tensor pred, loss;     // forward's output and the batch's loss

  bool training() const noexcept { return phase_ == kTrainPhase; }
  Phase phase() const noexcept { return phase_; }
  int64_t epoch() const noexcept { return epoch_; }          // 0-based
  int64_t batch() const noexcept { return batch_; }          // within the current phase's epoch
  int64_t num_batches() const noexcept { return num_batches_; }  // of the current phase
  // Training batches done over all epochs (each one optimizer step, unless it
  // was skipped by skip_step() or a GradScaler).
  int64_t iteration() const noexcept { return iteration_; }
  int64_t epochs() const noexcept { return epochs_; }        // fit()'s target
  // Seconds spent in fit() by this training run, earlier fits and those
  // before a checkpoint included (the time-to-train clock).
  double training_seconds() const;

  // Epoch metrics ("train_loss", "valid_loss", "epoch_time", "lr", and what
  // callbacks add). Thread-safe; a row per finished epoch goes to history().
  void set_metric(const std::string& name, double value);
  std::optional<double> metric(const std::string& name) const;
  std::map<std::string, double> metrics() const;
  const std::vector<std::map<std::string, double>>& history() const noexcept { return history_; }

  // ---- checkpoints ----------------------------------------------------------
  // A safetensors file; written to a temporary file and renamed.
  void save_checkpoint(const std::string& path) const;
  void load_checkpoint(const std::string& path);

  // The loop's regions with each node's dependencies (after fit() built them,
  // or built now).
  std::string describe_loop();

 private:
  struct Regions;
  void build_loop();
  void run(LoopRegion& region);
  void run_validation();
  // A device-side loss sum read on the host (0 when nothing was summed).
  static double read_sum(const Tensor& sum);
  void add_core_nodes();

  std::shared_ptr<nn::Module> model_;
  std::shared_ptr<data::DataLoader> train_dl_, valid_dl_;
  LossFn loss_fn_;
  std::shared_ptr<optim::Optimizer> opt_;
  LearnerOptions options_;
  std::vector<std::shared_ptr<Callback>> callbacks_;
  std::unique_ptr<Regions> regions_;

  Phase phase_ = kTrainPhase;
  int64_t epoch_ = 0, batch_ = 0, num_batches_ = 0, iteration_ = 0, epochs_ = 0;
  // Where the loop is, which decides where a checkpoint taken now resumes.
  enum class Where { idle, train_batch, validation, epoch_end } where_ = Where::idle;
  std::atomic<bool> stop_requested_{false};  // set by nodes, possibly on executor workers
  std::atomic<bool> skip_step_{false};
  std::atomic<bool> sync_gradients_{true};
  std::string stop_reason_;
  std::optional<data::DataLoader::Iterator> batches_;
  Tensor loss_sum_;            // this phase's sum of loss * batch size, on the device (no sync per batch)
  double train_loss_sum_ = 0;  // the training phase's, once read
  std::optional<double> restored_loss_sum_;  // a checkpoint's partial sum, seeding loss_sum_ (learner_checkpoint.cpp)
  int64_t loss_count_ = 0, train_loss_count_ = 0;
  std::chrono::steady_clock::time_point fit_start_, epoch_start_;
  double seconds_before_ = 0;  // epoch time before a checkpoint, for a resumed epoch
  double trained_seconds_ = 0;  // training_seconds() of finished fits (or from a checkpoint)
  bool fitting_ = false;

  // Callback state from a checkpoint whose callback was not added yet (add_callback takes it).
  std::map<std::string, std::map<std::string, double>> pending_state_;

  mutable std::mutex metrics_mutex_;
  std::map<std::string, double> metrics_;
  std::vector<std::map<std::string, double>> history_;
};

}  // namespace ember::train
