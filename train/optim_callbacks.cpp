// GradientClipping, LRSchedule and Checkpointer (optim_callbacks.hpp).
#include <ember/train/optim_callbacks.hpp>

#include <ember/train/learner.hpp>

namespace ember::train {

GradientClipping::GradientClipping(double max_norm, double norm_type) : max_norm_(max_norm), norm_type_(norm_type) {
  EMBER_CHECK(max_norm > 0, "GradientClipping: max_norm must be > 0, got ", max_norm);
}

std::vector<CallbackNode> GradientClipping::nodes() {
  // After the other after_backward writers of the gradients: clip the averaged, accumulated gradient.
  return {{.event = Event::after_backward, .name = "grad_clip.clip", .reads = {"grads", "params"}, .writes = {"grads"},
           .after = {"grad_accumulation.gate", "data_parallel.all_reduce"}, .phases = kTrainPhase,
           .run = [this](Learner& l) { last_norm_ = optim::clip_grad_norm_(l.model().parameters(), max_norm_, norm_type_); }},
          {.event = Event::after_validate, .name = "grad_clip.publish", .writes = {"metrics.grad_norm"},
           .run = [this](Learner& l) { l.set_metric("grad_norm", last_norm_); }}};
}

LRSchedule::LRSchedule(Make make) : make_(std::move(make)) {
  EMBER_CHECK(static_cast<bool>(make_), "LRSchedule: no scheduler factory");
}

std::vector<CallbackNode> LRSchedule::nodes() {
  return {{.event = Event::before_fit, .name = "lr_schedule.start", .writes = {"lr", "lr_schedule"},
           .run = [this](Learner& l) {
             if (scheduler_) return;  // a later fit() continues the schedule
             auto& groups = l.optimizer().param_groups();
             if (base_lrs_.size() == groups.size()) {
               // From a checkpoint: start from the original lrs and replay the steps taken.
               for (size_t g = 0; g < groups.size(); ++g) groups[g].lr() = base_lrs_[g];
             } else {
               base_lrs_.clear();
               for (auto& g : groups) base_lrs_.push_back(g.lr());
             }
             scheduler_ = make_(l.optimizer());
             EMBER_CHECK(scheduler_ != nullptr, "LRSchedule: the factory returned no scheduler");
             for (int64_t i = 0; i < restored_steps_; ++i) scheduler_->step();
           }},
          {.event = Event::after_step, .name = "lr_schedule.step", .reads = {"lr_schedule"},
           .writes = {"lr", "lr_schedule"}, .phases = kTrainPhase, .run = [this](Learner&) { scheduler_->step(); }}};
}

std::map<std::string, double> LRSchedule::state() const {
  std::map<std::string, double> s{{"steps", static_cast<double>(scheduler_ ? scheduler_->last_step() : restored_steps_)}};
  for (size_t g = 0; g < base_lrs_.size(); ++g) s["base_lr." + std::to_string(g)] = base_lrs_[g];
  return s;
}

void LRSchedule::load_state(const std::map<std::string, double>& state) {
  auto it = state.find("steps");
  restored_steps_ = it == state.end() ? 0 : static_cast<int64_t>(it->second);
  base_lrs_.clear();
  for (size_t g = 0;; ++g) {
    auto lr = state.find("base_lr." + std::to_string(g));
    if (lr == state.end()) break;
    base_lrs_.push_back(lr->second);
  }
  scheduler_.reset();
}

Checkpointer::Checkpointer(std::string path, int64_t every_epochs, int64_t every_iterations)
    : path_(std::move(path)), every_epochs_(every_epochs), every_iterations_(every_iterations) {
  EMBER_CHECK(!path_.empty(), "Checkpointer: no path");
  EMBER_CHECK(every_epochs >= 0 && every_iterations >= 0, "Checkpointer: every_epochs (", every_epochs,
              ") and every_iterations (", every_iterations, ") must be >= 0");
}

std::vector<CallbackNode> Checkpointer::nodes() {
  // Reads everything a checkpoint holds; after the other nodes of its event, so their state is in it.
  const std::vector<std::string> reads = {"params", "opt_state", "history", "metrics", "lr_schedule", "stop_at_target",
                                          "mlperf", "accuracy"};
  std::vector<CallbackNode> nodes;
  if (every_epochs_ > 0)
    nodes.push_back({.event = Event::after_epoch, .name = "checkpointer.epoch", .reads = reads, .writes = {"checkpoint"},
                     .run = [this](Learner& l) {
                       if ((l.epoch() + 1) % every_epochs_ != 0) return;
                       l.save_checkpoint(path_);
                       ++saves_;
                     }});
  if (every_iterations_ > 0)
    nodes.push_back({.event = Event::after_batch, .name = "checkpointer.iteration", .reads = reads,
                     .writes = {"checkpoint"}, .phases = kTrainPhase, .run = [this](Learner& l) {
                       if (l.iteration() % every_iterations_ != 0) return;
                       l.save_checkpoint(path_);
                       ++saves_;
                     }});
  return nodes;
}

}  // namespace ember::train
