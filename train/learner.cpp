// Learner (learner.hpp): the loop's regions, their core steps, and the driver
// that runs them. Checkpoints are in learner_checkpoint.cpp.
#include <ember/train/learner.hpp>

#include <algorithm>
#include <array>
#include <utility>

#include <ember/autograd/autocast.hpp>
#include <ember/autograd/grad_mode.hpp>
#include <ember/runtime/serial_executor.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::train {

struct Learner::Regions {
  LoopRegion fit_begin{"fit_begin"}, epoch_begin{"epoch_begin"}, train_batch{"train_batch"};
  LoopRegion valid_begin{"valid_begin"}, valid_batch{"valid_batch"}, validate_end{"validate_end"};
  LoopRegion epoch_end{"epoch_end"}, fit_end{"fit_end"};
  std::map<const LoopRegion*, std::unique_ptr<runtime::TaskGraph>> graphs;
  // Every region, in loop order.
  std::array<LoopRegion*, 8> all() {
    return {&fit_begin, &epoch_begin, &train_batch, &valid_begin, &valid_batch, &validate_end, &epoch_end, &fit_end};
  }
};

namespace {

bool is_batch_event(Event e) {
  return e == Event::before_batch || e == Event::after_pred || e == Event::after_loss || e == Event::after_batch;
}

}  // namespace

Learner::Learner(std::shared_ptr<nn::Module> model, std::shared_ptr<data::DataLoader> train,
                 std::shared_ptr<data::DataLoader> valid, LossFn loss_fn, std::shared_ptr<optim::Optimizer> opt,
                 LearnerOptions options)
    : model_(std::move(model)),
      train_dl_(std::move(train)),
      valid_dl_(std::move(valid)),
      loss_fn_(std::move(loss_fn)),
      opt_(std::move(opt)),
      options_(options) {
  EMBER_CHECK(model_ != nullptr, "Learner: no model");
  EMBER_CHECK(train_dl_ != nullptr, "Learner: no training DataLoader");
  EMBER_CHECK(static_cast<bool>(loss_fn_), "Learner: no loss function");
  EMBER_CHECK(opt_ != nullptr, "Learner: no optimizer");
}

Learner::~Learner() = default;

Learner& Learner::add_callback(std::shared_ptr<Callback> callback) {
  EMBER_CHECK(callback != nullptr, "Learner::add_callback: null callback");
  EMBER_CHECK(!fitting_, "Learner::add_callback: not while fit() runs");
  if (auto it = pending_state_.find(callback->name()); it != pending_state_.end()) {
    callback->load_state(it->second);
    pending_state_.erase(it);
  }
  callbacks_.push_back(std::move(callback));
  regions_.reset();  // rebuilt by the next fit()
  return *this;
}

void Learner::request_stop(std::string reason) {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  if (!stop_requested_.load(std::memory_order_relaxed)) stop_reason_ = std::move(reason);
  stop_requested_.store(true, std::memory_order_release);
}

std::string Learner::stop_reason() const {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  return stop_reason_;
}

std::vector<double> Learner::sum_over_ranks(std::vector<double> values) {
  ProcessGroup* group = options_.process_group.get();
  if (!group || group->size() == 1 || values.empty()) return values;
  Tensor t = tensor(values, TensorOptions(kFloat64));
  if (group->device() != kCPU) t = t.to(group->device());
  group->all_reduce({t}, ReduceOp::sum);
  Tensor host = ops::to(t, kCPU);
  const double* p = host.data_ptr<double>();
  return std::vector<double>(p, p + values.size());
}

double Learner::read_sum(const Tensor& sum) { return sum.defined() ? ops::to(sum, kCPU).item<double>() : 0.0; }

void Learner::remove_callback(const std::shared_ptr<Callback>& callback) {
  EMBER_CHECK(!fitting_, "Learner::remove_callback: not while fit() runs");
  auto it = std::find(callbacks_.begin(), callbacks_.end(), callback);
  EMBER_CHECK(it != callbacks_.end(), "Learner::remove_callback: callback '", callback ? callback->name() : "null",
              "' was not added");
  callbacks_.erase(it);
  regions_.reset();
}

double Learner::training_seconds() const {
  if (!fitting_) return trained_seconds_;
  return trained_seconds_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - fit_start_).count();
}

void Learner::set_metric(const std::string& name, double value) {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  metrics_[name] = value;
}

std::optional<double> Learner::metric(const std::string& name) const {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  auto it = metrics_.find(name);
  return it == metrics_.end() ? std::nullopt : std::optional<double>(it->second);
}

std::map<std::string, double> Learner::metrics() const {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  return metrics_;
}

// ---- the loop ------------------------------------------------------------------

namespace {

// loss * batch size added to a float64 running sum on the loss's device. A
// sum restored from a checkpoint seeds it, so a resumed epoch adds in the same
// order as an uninterrupted one.
void accumulate(Tensor& sum, int64_t& count, std::optional<double>& restored, const Tensor& loss, int64_t batch_size) {
  NoGradGuard no_grad;
  Tensor value = ops::to(loss.detach(), kFloat64);
  Tensor term = ops::mul(value, ops::scalar_tensor(static_cast<double>(batch_size), value));
  if (!sum.defined() && restored) sum = ops::scalar_tensor(*std::exchange(restored, std::nullopt), value);
  sum = sum.defined() ? ops::add(sum, term) : term;
  count += batch_size;
}


// An AutocastGuard when the learner has an autocast dtype, else nothing.
struct Autocast {
  explicit Autocast(const std::optional<DType>& dtype) {
    if (dtype) guard.emplace(*dtype);
  }
  std::optional<AutocastGuard> guard;
};

}  // namespace

void Learner::add_core_nodes() {
  Regions& r = *regions_;
  auto core = [](LoopRegion& region, std::string name, std::vector<std::string> reads, std::vector<std::string> writes,
                 std::function<void()> fn) {
    region.add_core({std::move(name), std::move(reads), std::move(writes), {}, std::move(fn)});
  };
  auto fetch = [this] {
    skip_step_.store(false, std::memory_order_relaxed);
    sync_gradients_.store(true, std::memory_order_relaxed);
    data::Batch& b = **batches_;
    input = std::move(b.input);
    target = std::move(b.target);
  };
  // Every callback's nodes, asked for once, in callback order; each event takes its own.
  std::vector<CallbackNode> callback_nodes;
  for (const auto& cb : callbacks_)
    for (CallbackNode& n : cb->nodes()) {
      EMBER_CHECK(static_cast<bool>(n.run), "Learner: callback '", cb->name(), "' node '", n.name, "' has no function");
      callback_nodes.push_back(std::move(n));
    }
  auto events = [&](LoopRegion& region, Event e, unsigned phase) {
    std::vector<LoopNode> nodes;
    for (const CallbackNode& n : callback_nodes) {
      if (n.event != e || (is_batch_event(e) && !(n.phases & phase))) continue;
      nodes.push_back({n.name, n.reads, n.writes, n.after, [this, fn = n.run] { fn(*this); }});
    }
    region.add_event(e, std::move(nodes));
  };

  events(r.fit_begin, Event::before_fit, kAllPhases);

  core(r.epoch_begin, "start_epoch", {}, {"metrics", "loss_sum"}, [this] {
    model_->train();
    phase_ = kTrainPhase;
    loss_sum_ = {};
    loss_count_ = 0;
    train_loss_sum_ = 0;
    train_loss_count_ = 0;
    seconds_before_ = 0;
    epoch_start_ = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    metrics_.clear();
  });
  events(r.epoch_begin, Event::before_epoch, kAllPhases);

  LoopRegion& t = r.train_batch;
  core(t, "fetch", {}, {"input", "target"}, fetch);
  events(t, Event::before_batch, kTrainPhase);
  core(t, "forward", {"input", "params"}, {"pred"}, [this] {
    Autocast amp(options_.autocast);
    pred = model_->forward(input);
  });
  events(t, Event::after_pred, kTrainPhase);
  core(t, "loss", {"pred", "target"}, {"loss", "loss_sum"}, [this] {
    {
      Autocast amp(options_.autocast);
      loss = loss_fn_(pred, target);
    }
    accumulate(loss_sum_, loss_count_, restored_loss_sum_, loss, input.size(0));
  });
  events(t, Event::after_loss, kTrainPhase);
  core(t, "backward", {"loss"}, {"grads"}, [this] {
    if (!options_.grad_scaler) return loss.backward();
    options_.grad_scaler->scale(loss).backward();
    options_.grad_scaler->unscale_(*opt_);  // after_backward nodes see the true gradients
  });
  events(t, Event::after_backward, kTrainPhase);
  core(t, "step", {"grads", "lr", "skip"}, {"params", "opt_state"}, [this] {
    if (skip_step_.load(std::memory_order_acquire)) {  // the gradients keep accumulating
      ++iteration_;
      return;
    }
    if (options_.grad_scaler) {
      options_.grad_scaler->step(*opt_);  // skipped when a gradient is not finite
      options_.grad_scaler->update();
    } else {
      opt_->step();
    }
    ++iteration_;
  });
  events(t, Event::after_step, kTrainPhase);
  core(t, "zero_grad", {"skip"}, {"grads"}, [this] {
    if (!skip_step_.load(std::memory_order_acquire)) opt_->zero_grad();
  });
  events(t, Event::after_batch, kTrainPhase);

  core(r.valid_begin, "start_validate", {}, {"loss_sum"}, [this] {
    model_->eval();
    phase_ = kValidPhase;
    loss_sum_ = {};
    loss_count_ = 0;
  });
  events(r.valid_begin, Event::before_validate, kAllPhases);

  LoopRegion& v = r.valid_batch;
  core(v, "fetch", {}, {"input", "target"}, fetch);
  events(v, Event::before_batch, kValidPhase);
  core(v, "forward", {"input", "params"}, {"pred"}, [this] {
    NoGradGuard no_grad;
    Autocast amp(options_.autocast);
    pred = model_->forward(input);
  });
  events(v, Event::after_pred, kValidPhase);
  core(v, "loss", {"pred", "target"}, {"loss", "loss_sum"}, [this] {
    NoGradGuard no_grad;
    {
      Autocast amp(options_.autocast);
      loss = loss_fn_(pred, target);
    }
    std::optional<double> none;
    accumulate(loss_sum_, loss_count_, none, loss, input.size(0));
  });
  events(v, Event::after_loss, kValidPhase);
  events(v, Event::after_batch, kValidPhase);

  core(r.validate_end, "summarize", {"loss_sum", "lr"}, {"metrics", "collective"}, [this] {
    set_metric("epoch", static_cast<double>(epoch_ + 1));
    set_metric("iteration", static_cast<double>(iteration_));
    const std::vector<double> sums =
        sum_over_ranks({train_loss_sum_, static_cast<double>(train_loss_count_),
                        valid_dl_ ? read_sum(loss_sum_) : 0.0, valid_dl_ ? static_cast<double>(loss_count_) : 0.0});
    if (sums[1] > 0) set_metric("train_loss", sums[0] / sums[1]);
    if (sums[3] > 0) set_metric("valid_loss", sums[2] / sums[3]);
    set_metric("lr", opt_->param_groups().empty() ? 0.0 : opt_->param_groups()[0].lr());
    set_metric("epoch_time",
               seconds_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count());
  });
  events(r.validate_end, Event::after_validate, kAllPhases);
  core(r.epoch_end, "close_epoch", {"metrics"}, {"history"}, [this] { history_.push_back(metrics()); });
  events(r.epoch_end, Event::after_epoch, kAllPhases);

  events(r.fit_end, Event::after_fit, kAllPhases);
}

void Learner::build_loop() {
  if (regions_) return;
  regions_ = std::make_unique<Regions>();
  try {
    add_core_nodes();
    for (LoopRegion* region : regions_->all()) regions_->graphs[region] = region->build();
  } catch (...) {
    regions_.reset();
    throw;
  }
}

std::string Learner::describe_loop() {
  build_loop();
  std::string out;
  for (const LoopRegion* region : regions_->all()) out += "[" + region->name() + "]\n" + region->describe();
  return out;
}

void Learner::run(LoopRegion& region) {
  runtime::TaskGraph& graph = *regions_->graphs.at(&region);
  if (options_.executor == LoopExecutor::serial) {
    runtime::SerialExecutor().run(graph).wait();
  } else {
    runtime::Executor& pool = options_.pool ? *options_.pool : runtime::default_executor();
    pool.run(graph).wait();
  }
}

void Learner::run_validation() {
  run(regions_->valid_begin);
  num_batches_ = valid_dl_->size();
  batches_.emplace(valid_dl_->iterate(epoch_));
  for (batch_ = 0; batch_ < num_batches_; ++batch_) {
    run(regions_->valid_batch);
    ++*batches_;
  }
  batches_.reset();
}

std::map<std::string, double> Learner::validate() {
  EMBER_CHECK(valid_dl_ != nullptr, "Learner::validate: this learner has no validation loader");
  EMBER_CHECK(!fitting_, "Learner::validate: not while fit() runs");
  build_loop();
  struct Reset {  // the position and the training sums are the fit's, not this validation's
    Learner* l;
    int64_t batch, train_count;
    ~Reset() {
      l->batches_.reset();
      l->where_ = Where::idle;
      l->batch_ = batch;
      l->train_loss_count_ = train_count;
    }
  } reset{this, batch_, train_loss_count_};
  train_loss_count_ = 0;  // no train_loss in these metrics
  {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    metrics_.clear();
  }
  epoch_start_ = std::chrono::steady_clock::now();
  seconds_before_ = 0;
  where_ = Where::validation;
  run_validation();
  run(regions_->validate_end);
  return metrics();
}

std::pair<Tensor, Tensor> Learner::get_preds(data::DataLoader* loader) {
  if (!loader) loader = valid_dl_.get();
  EMBER_CHECK(loader != nullptr, "Learner::get_preds: no loader given and no validation loader");
  EMBER_CHECK(!fitting_, "Learner::get_preds: not while fit() runs");
  NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  std::vector<Tensor> preds, targets;
  try {
    for (auto it = loader->iterate(0); !(it == data::DataLoader::Sentinel{}); ++it) {
      Autocast amp(options_.autocast);
      preds.push_back(model_->forward(it->input));
      if (it->target.defined()) targets.push_back(it->target);
    }
  } catch (...) {
    model_->train(was_training);
    throw;
  }
  model_->train(was_training);
  EMBER_CHECK(!preds.empty(), "Learner::get_preds: the loader has no batches");
  return {ops::cat(preds, 0), targets.empty() ? Tensor() : ops::cat(targets, 0)};
}

void Learner::fit(int64_t epochs) {
  EMBER_CHECK(epochs >= 0, "Learner::fit: epochs must be >= 0, got ", epochs);
  EMBER_CHECK(!fitting_, "Learner::fit: already running");
  build_loop();
  epochs_ = epochs;
  stop_requested_.store(false);
  {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    stop_reason_.clear();
  }
  fit_start_ = std::chrono::steady_clock::now();
  fitting_ = true;
  struct Reset {  // also after an exception: the learner is left idle, at the batch it failed in
    Learner* l;
    ~Reset() {
      l->trained_seconds_ = l->training_seconds();
      l->fitting_ = false;
      l->batches_.reset();
      l->where_ = Where::idle;
    }
  } reset{this};
  Regions& r = *regions_;
  run(r.fit_begin);
  while (epoch_ < epochs_ && !stop_requested()) {
    if (batch_ == 0) {
      run(r.epoch_begin);
    } else {  // resumed inside the epoch: its sums came with the checkpoint (train_loss_sum_, restored_loss_sum_)
      model_->train();
      phase_ = kTrainPhase;
      epoch_start_ = std::chrono::steady_clock::now();
    }
    num_batches_ = train_dl_->size();
    where_ = Where::train_batch;
    batches_.emplace(train_dl_->iterate(epoch_, std::min(batch_, num_batches_)));
    for (; batch_ < num_batches_ && !stop_requested(); ++batch_) {
      run(r.train_batch);
      if (!stop_requested()) ++*batches_;
    }
    batches_.reset();
    if (restored_loss_sum_) train_loss_sum_ += *std::exchange(restored_loss_sum_, std::nullopt);  // no batch ran
    train_loss_sum_ += read_sum(loss_sum_);
    train_loss_count_ += loss_count_;
    loss_sum_ = {};
    loss_count_ = 0;
    if (stop_requested() && batch_ < num_batches_) break;  // stopped inside the epoch: resume from here
    where_ = Where::validation;  // a checkpoint taken from here on repeats the validation
    if (valid_dl_) run_validation();
    run(r.validate_end);
    where_ = Where::epoch_end;
    run(r.epoch_end);
    where_ = Where::idle;
    ++epoch_;
    batch_ = 0;
  }
  run(r.fit_end);
}

}  // namespace ember::train
