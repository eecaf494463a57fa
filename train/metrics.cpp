// Accuracy and StopAtTarget (metrics.hpp).
#include <ember/train/metrics.hpp>

#include <cmath>

#include <ember/autograd/grad_mode.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/train/learner.hpp>

namespace ember::train {

std::vector<CallbackNode> Accuracy::nodes() {
  auto reset = [](Count& c) { c = Count{}; };
  auto count = [](Count& c, Learner& l) {
    EMBER_CHECK(l.pred.dim() == 2 && l.target.dim() == 1 && l.target.size(0) == l.pred.size(0),
                "Accuracy: expected pred (N, C) and target (N), got ", l.pred.describe(), " and ", l.target.describe());
    NoGradGuard no_grad;
    Tensor hits = ops::sum(ops::eq(ops::argmax(l.pred.detach(), 1), l.target));
    c.correct = c.correct.defined() ? ops::add(c.correct, hits) : hits;
    c.total += l.target.size(0);
  };
  // Summed over the learner's process group (Learner::sum_over_ranks): the global accuracy on every rank.
  auto value = [](const Count& c, Learner& l) {
    const double correct = c.correct.defined() ? static_cast<double>(ops::to(c.correct, kCPU).item<int64_t>()) : 0.0;
    const std::vector<double> sums = l.sum_over_ranks({correct, static_cast<double>(c.total)});
    return sums[1] == 0 ? std::nan("") : sums[0] / sums[1];
  };
  std::vector<CallbackNode> nodes = {
      {.event = Event::before_validate, .name = "accuracy.reset", .writes = {"accuracy.valid"},
       .run = [this, reset](Learner&) { reset(valid_); }},
      {.event = Event::after_pred, .name = "accuracy.count", .reads = {"pred", "target"}, .writes = {"accuracy.valid"},
       .phases = kValidPhase, .run = [this, count](Learner& l) { count(valid_, l); }},
      {.event = Event::after_validate, .name = "accuracy.publish", .reads = {"accuracy"},
       .writes = {"metrics.accuracy", "metrics.train_accuracy", "collective"}, .run = [this, value](Learner& l) {
         // Every rank calls value() the same number of times (collectives), whatever its own counts.
         if (l.valid_loader()) {
           const double v = value(valid_, l);
           if (!std::isnan(v)) l.set_metric("accuracy", v);
         }
         if (on_train_) {
           const double v = value(train_, l);
           if (!std::isnan(v)) l.set_metric("train_accuracy", v);
         }
       }}};
  if (on_train_) {
    nodes.push_back({.event = Event::before_epoch, .name = "accuracy.reset_train", .writes = {"accuracy.train"},
                     .run = [this, reset](Learner&) { reset(train_); }});
    nodes.push_back({.event = Event::after_pred, .name = "accuracy.count_train", .reads = {"pred", "target"},
                     .writes = {"accuracy.train"}, .phases = kTrainPhase,
                     .run = [this, count](Learner& l) { count(train_, l); }});
  }
  return nodes;
}

StopAtTarget::StopAtTarget(std::string metric, double target, bool higher_is_better)
    : metric_(std::move(metric)), target_(target), higher_(higher_is_better) {
  EMBER_CHECK(!metric_.empty(), "StopAtTarget: no metric name");
}

std::vector<CallbackNode> StopAtTarget::nodes() {
  return {{.event = Event::after_validate, .name = "stop_at_target.check", .reads = {"metrics." + metric_},
           .writes = {"stop", "stop_at_target"}, .run = [this](Learner& l) {
             std::optional<double> v = l.metric(metric_);
             if (!v || reached()) return;
             if (higher_ ? *v >= target_ : *v <= target_) {
               seconds_ = l.training_seconds();
               epochs_ = l.epoch() + 1;
               l.request_stop(metric_ + " reached its target");
             }
           }}};
}

std::map<std::string, double> StopAtTarget::state() const {
  std::map<std::string, double> s;
  if (seconds_) s["seconds"] = *seconds_;
  if (epochs_) s["epochs"] = static_cast<double>(*epochs_);
  return s;
}

void StopAtTarget::load_state(const std::map<std::string, double>& s) {
  seconds_.reset(), epochs_.reset();
  if (auto it = s.find("seconds"); it != s.end()) seconds_ = it->second;
  if (auto it = s.find("epochs"); it != s.end()) epochs_ = static_cast<int64_t>(it->second);
}

}  // namespace ember::train
