// EarlyStopping, SaveBestModel and GradientAccumulation (monitor_callbacks.hpp).
#include <ember/train/monitor_callbacks.hpp>

#include <ember/autograd/grad_mode.hpp>
#include <ember/nn/safetensors.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/train/learner.hpp>

namespace ember::train {

bool improves(double value, std::optional<double> best, bool higher_is_better, double min_delta) {
  if (std::isnan(value)) return false;
  if (!best) return true;
  return higher_is_better ? value > *best + min_delta : value < *best - min_delta;
}

namespace {

// state() / load_state() of an optional best value and its companion counter.
void save_best(std::map<std::string, double>& out, const std::optional<double>& best) {
  if (best) out["best"] = *best;
}
std::optional<double> load_best(const std::map<std::string, double>& in) {
  auto it = in.find("best");
  return it == in.end() ? std::nullopt : std::optional<double>(it->second);
}

}  // namespace

// ---- EarlyStopping -------------------------------------------------------------

EarlyStopping::EarlyStopping(std::string metric, int64_t patience, bool higher_is_better, double min_delta)
    : metric_(std::move(metric)), patience_(patience), higher_(higher_is_better), min_delta_(min_delta) {
  EMBER_CHECK(!metric_.empty(), "EarlyStopping: no metric name");
  EMBER_CHECK(patience >= 1, "EarlyStopping: patience must be >= 1, got ", patience);
  EMBER_CHECK(min_delta >= 0, "EarlyStopping: min_delta must be >= 0, got ", min_delta);
}

std::vector<CallbackNode> EarlyStopping::nodes() {
  return {{.event = Event::after_validate, .name = "early_stopping.check", .reads = {"metrics." + metric_},
           .writes = {"stop", "early_stopping"}, .run = [this](Learner& l) {
             std::optional<double> v = l.metric(metric_);
             EMBER_CHECK(v.has_value(), "EarlyStopping: no metric '", metric_,
                         "' this epoch (is the callback that publishes it added, and is there validation data?)");
             if (improves(*v, best_, higher_, min_delta_)) {
               best_ = *v;
               waited_ = 0;
             } else if (++waited_ >= patience_) {
               l.request_stop(metric_ + " did not improve for " + std::to_string(patience_) + " epochs");
             }
           }}};
}

std::map<std::string, double> EarlyStopping::state() const {
  std::map<std::string, double> s{{"waited", static_cast<double>(waited_)}};
  save_best(s, best_);
  return s;
}

void EarlyStopping::load_state(const std::map<std::string, double>& state) {
  best_ = load_best(state);
  auto it = state.find("waited");
  waited_ = it == state.end() ? 0 : static_cast<int64_t>(it->second);
}

// ---- SaveBestModel ---------------------------------------------------------------

SaveBestModel::SaveBestModel(std::string path, std::string metric, bool higher_is_better, bool load_at_end)
    : path_(std::move(path)), metric_(std::move(metric)), higher_(higher_is_better), load_at_end_(load_at_end) {
  EMBER_CHECK(!path_.empty() && !metric_.empty(), "SaveBestModel: needs a path and a metric name");
}

std::vector<CallbackNode> SaveBestModel::nodes() {
  return {{.event = Event::after_epoch, .name = "save_best.save", .reads = {"metrics." + metric_, "params"},
           .writes = {"save_best"}, .run = [this](Learner& l) {
             std::optional<double> v = l.metric(metric_);
             if (!v || !improves(*v, best_, higher_, 0.0)) return;
             best_ = *v;
             best_epoch_ = l.epoch() + 1;
             nn::save_safetensors(path_, l.model().state_dict(), {{"metric", metric_}, {"epoch", std::to_string(*best_epoch_)}});
           }},
          {.event = Event::after_fit, .name = "save_best.load", .reads = {"save_best"}, .writes = {"params"},
           .run = [this](Learner& l) {
             if (load_at_end_ && best_) l.model().load_state_dict(nn::load_safetensors(path_));
           }}};
}

std::map<std::string, double> SaveBestModel::state() const {
  std::map<std::string, double> s;
  save_best(s, best_);
  if (best_epoch_) s["epoch"] = static_cast<double>(*best_epoch_);
  return s;
}

void SaveBestModel::load_state(const std::map<std::string, double>& state) {
  best_ = load_best(state);
  auto it = state.find("epoch");
  best_epoch_ = it == state.end() ? std::nullopt : std::optional<int64_t>(static_cast<int64_t>(it->second));
}

// ---- GradientAccumulation ---------------------------------------------------------

GradientAccumulation::GradientAccumulation(int64_t steps) : steps_(steps) {
  EMBER_CHECK(steps >= 1, "GradientAccumulation: steps must be >= 1, got ", steps);
}

bool GradientAccumulation::steps_after(const Learner& l) const {
  const int64_t k = l.batch() + 1;
  return k % steps_ == 0 || k == l.num_batches();
}

std::vector<CallbackNode> GradientAccumulation::nodes() {
  return {{.event = Event::before_fit, .name = "grad_accumulation.check", .run = [](Learner& l) {
             EMBER_CHECK(!l.options().grad_scaler, "GradientAccumulation: not with a GradScaler, which unscales the "
                                                   "gradients after every backward pass");
           }},
          {.event = Event::after_loss, .name = "grad_accumulation.no_sync", .writes = {"sync"},
           .phases = kTrainPhase,
           .run = [this](Learner& l) {
             if (!steps_after(l)) l.skip_gradient_sync();
           }},
          {.event = Event::after_backward, .name = "grad_accumulation.gate", .reads = {"grads"},
           .writes = {"grads", "skip"}, .phases = kTrainPhase,
           .run = [this](Learner& l) {
             const int64_t k = l.batch() + 1;
             const int64_t group_start = (k - 1) / steps_ * steps_;  // batches group_start+1 .. k so far
             if (!steps_after(l)) return l.skip_step();
             // The step: the accumulated sum becomes the mean over the group's batches.
             const double scale = 1.0 / static_cast<double>(k - group_start);
             if (scale == 1.0) return;
             NoGradGuard no_grad;
             for (Tensor& p : l.model().parameters()) {
               Tensor g = p.grad();
               if (g.defined()) ops::binary_(Op::mul, g, ops::scalar_tensor(scale, g));
             }
           }}};
}

}  // namespace ember::train
