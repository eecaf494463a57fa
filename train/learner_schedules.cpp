// Learner::fit_one_cycle and Learner::lr_find (learner.hpp): fastai's two
// learning-rate tools, as temporary callbacks around fit().
#include <ember/train/learner.hpp>

#include <cmath>
#include <limits>

#include <ember/nn/optim/schedule.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/tensor/random.hpp>

namespace ember::train {

namespace {

// A one-cycle schedule over optimizer steps [origin, end), placed by the
// learner's iteration: at the fit's start it is replayed to iteration() -
// origin, then stepped after every optimizer step. Its origin travels with
// checkpoints, so a resumed run continues the same cycle.
class OneCycle : public Callback {
 public:
  OneCycle(double max_lr, double pct_start) : max_lr_(max_lr), pct_start_(pct_start) {}
  std::string name() const override { return "one_cycle"; }
  std::vector<CallbackNode> nodes() override {
    return {{.event = Event::before_fit, .name = "one_cycle.start", .writes = {"lr"},
             .run = [this](Learner& l) {
               scheduler_ = std::make_unique<optim::OneCycleLR>(l.optimizer(), max_lr_, end_ - origin_, pct_start_);
               for (int64_t i = 0; i < std::min(l.iteration() - origin_, end_ - origin_ - 1); ++i) scheduler_->step();
             }},
            {.event = Event::after_step, .name = "one_cycle.step", .writes = {"lr"}, .phases = kTrainPhase,
             .run = [this](Learner&) {
               if (scheduler_->last_step() < end_ - origin_ - 1) scheduler_->step();
             }}};
  }
  std::map<std::string, double> state() const override { return {{"origin", static_cast<double>(origin_)}}; }
  void load_state(const std::map<std::string, double>& state) override {
    if (auto it = state.find("origin"); it != state.end()) origin_ = static_cast<int64_t>(it->second), restored_ = true;
  }
  bool restored() const noexcept { return restored_; }
  void place(int64_t origin, int64_t end) {
    if (!restored_) origin_ = origin;
    end_ = end;
  }

 private:
  double max_lr_, pct_start_;
  int64_t origin_ = 0, end_ = 0;
  bool restored_ = false;
  std::unique_ptr<optim::OneCycleLR> scheduler_;
};

// Sets lr = start * (end / start)^(i / (n - 1)) before batch i and records the
// smoothed loss after it; stops after n batches or when the loss diverges.
class LRFinder : public Callback {
 public:
  LRFinder(double start, double end, int64_t n) : start_(start), end_(end), n_(n) {}
  std::string name() const override { return "lr_finder"; }
  std::vector<CallbackNode> nodes() override {
    return {{.event = Event::before_batch, .name = "lr_finder.set", .writes = {"lr"}, .phases = kTrainPhase,
             .run = [this](Learner& l) {
               const double t = n_ > 1 ? static_cast<double>(i_) / static_cast<double>(n_ - 1) : 0.0;
               lr_ = start_ * std::pow(end_ / start_, t);
               for (auto& g : l.optimizer().param_groups()) g.lr() = lr_;
             }},
            {.event = Event::after_batch, .name = "lr_finder.record", .reads = {"loss"}, .writes = {"stop"},
             .phases = kTrainPhase, .run = [this](Learner& l) {
               const double loss = ops::to(l.loss.detach(), kCPU).item<double>();
               avg_ = 0.98 * avg_ + 0.02 * loss;
               const double smoothed = avg_ / (1.0 - std::pow(0.98, static_cast<double>(i_ + 1)));
               result.lrs.push_back(lr_);
               result.losses.push_back(smoothed);
               best_ = std::min(best_, smoothed);
               ++i_;
               if (i_ >= n_ || !std::isfinite(smoothed) || smoothed > 4.0 * best_) l.request_stop("lr_find done");
             }}};
  }
  Learner::LRFindResult result;

 private:
  double start_, end_;
  int64_t n_, i_ = 0;
  double lr_ = 0, avg_ = 0, best_ = std::numeric_limits<double>::infinity();
};

}  // namespace

void Learner::fit_one_cycle(int64_t epochs, double max_lr, double pct_start) {
  EMBER_CHECK(max_lr > 0, "Learner::fit_one_cycle: max_lr must be > 0, got ", max_lr);
  auto cycle = std::make_shared<OneCycle>(max_lr, pct_start);
  add_callback(cycle);  // takes the origin of a cycle a loaded checkpoint was in
  const int64_t end = epochs * train_dl_->size() - (epoch_ * train_dl_->size() + batch_ - iteration_);
  cycle->place(iteration_, end);
  EMBER_CHECK(end - iteration_ >= 2 || cycle->restored(), "Learner::fit_one_cycle: up to epoch ", epochs, " there are ",
              end - iteration_, " optimizer steps left, too few for a cycle");
  try {
    fit(epochs);
  } catch (...) {
    remove_callback(cycle);
    throw;
  }
  remove_callback(cycle);
}

Learner::LRFindResult Learner::lr_find(double start_lr, double end_lr, int64_t num_it) {
  EMBER_CHECK(start_lr > 0 && end_lr > start_lr, "Learner::lr_find: expected 0 < start_lr < end_lr, got ", start_lr,
              " and ", end_lr);
  EMBER_CHECK(num_it >= 2, "Learner::lr_find: num_it must be >= 2, got ", num_it);
  EMBER_CHECK(train_dl_->size() > 0, "Learner::lr_find: the training loader has no batches");
  // Everything the trial changes, to put back afterwards.
  std::map<std::string, Tensor> model_state, opt_state;
  for (const auto& [k, v] : model_->state_dict()) model_state[k] = ops::clone(v);
  for (const auto& [k, v] : opt_->state_dict()) opt_state[k] = ops::clone(v);
  const int64_t epoch = epoch_, batch = batch_, iteration = iteration_;
  const auto history = history_;
  const auto metrics = this->metrics();
  const double trained = trained_seconds_, train_sum = train_loss_sum_;
  const int64_t train_count = train_loss_count_;
  const std::optional<double> restored = restored_loss_sum_;
  const uint64_t seed = default_generator().seed(), offset = default_generator().offset();
  std::shared_ptr<data::DataLoader> valid = std::move(valid_dl_);  // no validation during the trial

  auto finder = std::make_shared<LRFinder>(start_lr, end_lr, num_it);
  auto restore = [&] {
    valid_dl_ = std::move(valid);
    remove_callback(finder);
    model_->load_state_dict(model_state);
    opt_->load_state_dict(opt_state);
    epoch_ = epoch, batch_ = batch, iteration_ = iteration;
    history_ = history;
    {
      std::lock_guard<std::mutex> lock(metrics_mutex_);
      metrics_ = metrics;
    }
    trained_seconds_ = trained, train_loss_sum_ = train_sum, train_loss_count_ = train_count;
    restored_loss_sum_ = restored;
    loss_sum_ = {};
    loss_count_ = 0;
    default_generator().manual_seed(seed);
    default_generator().set_offset(offset);
    stop_requested_.store(false);
  };
  add_callback(finder);
  try {
    batch_ = 0;
    fit(epoch_ + (num_it + train_dl_->size() - 1) / train_dl_->size());
  } catch (...) {
    restore();
    throw;
  }
  restore();

  LRFindResult r = std::move(finder->result);
  if (!r.losses.empty()) {
    size_t lowest = 0, steepest = 0;
    double most_negative = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < r.losses.size(); ++i) {
      if (r.losses[i] < r.losses[lowest]) lowest = i;
      if (i > 0) {
        const double slope = (r.losses[i] - r.losses[i - 1]) / (std::log(r.lrs[i]) - std::log(r.lrs[i - 1]));
        if (slope < most_negative) most_negative = slope, steepest = i;
      }
    }
    r.steepest = r.lrs[steepest];
    r.minimum_tenth = r.lrs[lowest] / 10.0;
  }
  return r;
}

}  // namespace ember::train
