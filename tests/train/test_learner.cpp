// Learner: the loop against a hand-written one, the order of events, serial
// and work-stealing execution agreeing bit for bit, stopping, exact resume
// from mid-epoch and epoch-end checkpoints, and errors.
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "test_util.hpp"

using namespace ember;
using namespace ember::train;
using ember::testing::expect_error;
using ember::testing::to_vector;

namespace {

// 96 points in 4-D, labelled by which of 3 fixed directions they lean to most.
std::pair<Tensor, Tensor> toy_data(uint64_t seed) {
  Generator g(seed);
  Tensor x = randn({96, 4}, {}, &g);
  Tensor w = tensor({{1.f, -1.f, 0.5f}, {0.5f, 1.f, -1.f}, {-1.f, 0.5f, 1.f}, {0.2f, 0.2f, 0.2f}});
  return {x, ops::argmax(ops::mm(x, w), 1)};
}

struct Trainee {
  std::shared_ptr<nn::Module> model;
  std::shared_ptr<data::DataLoader> train, valid;
  std::shared_ptr<optim::Adam> opt;
  std::shared_ptr<Learner> learner;
};

Trainee make_setup(bool dropout = false, LearnerOptions options = {}, uint64_t init_seed = 1) {
  manual_seed(init_seed);
  Trainee s;
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 16), std::make_shared<nn::ReLU>());
  if (dropout) seq->push_back(std::make_shared<nn::Dropout>(0.25));
  seq->push_back(std::make_shared<nn::Linear>(16, 3));
  s.model = seq;
  auto [x, y] = toy_data(7);
  auto ds = std::make_shared<data::TensorDataset>(x, y);
  data::DataLoaderOptions o;
  o.batch_size = 10;
  o.shuffle = true;
  o.seed = 3;
  s.train = std::make_shared<data::DataLoader>(ds, o);
  data::DataLoaderOptions v;
  v.batch_size = 32;
  s.valid = std::make_shared<data::DataLoader>(std::make_shared<data::Subset>(ds, std::vector<int64_t>{0, 5, 10, 15, 20, 25, 30, 35, 40, 45}), v);
  optim::AdamOptions ao;
  ao.lr = 1e-2;
  s.opt = std::make_shared<optim::Adam>(s.model->parameters(), ao);
  s.learner = std::make_shared<Learner>(s.model, s.train, s.valid,
                                        [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); }, s.opt,
                                        options);
  return s;
}

std::vector<std::vector<double>> params_of(nn::Module& m) {
  std::vector<std::vector<double>> out;
  for (const Tensor& p : m.parameters()) out.push_back(to_vector(p));
  return out;
}

// Records every node it runs, in order (serial executor).
class EventLog : public Callback {
 public:
  std::string name() const override { return "log"; }
  std::vector<CallbackNode> nodes() override {
    std::vector<CallbackNode> out;
    for (Event e : {Event::before_fit, Event::before_epoch, Event::before_batch, Event::after_pred, Event::after_loss,
                    Event::after_backward, Event::after_step, Event::after_batch, Event::before_validate,
                    Event::after_validate, Event::after_epoch, Event::after_fit})
      out.push_back({.event = e, .name = std::string("log.") + event_name(e), .writes = {"log"},
                     .run = [this, e](Learner& l) {
                       seen.push_back(std::string(event_name(e)) + (l.training() ? "" : "/valid"));
                     }});
    return out;
  }
  std::vector<std::string> seen;
};

// Asks to stop at a given iteration (after that step).
class StopAt : public Callback {
 public:
  explicit StopAt(int64_t iteration) : iteration_(iteration) {}
  std::string name() const override { return "stop_at"; }
  std::vector<CallbackNode> nodes() override {
    return {{.event = Event::after_batch, .name = "stop_at.check", .reads = {"checkpoint"}, .writes = {"stop"},
             .phases = kTrainPhase, .run = [this](Learner& l) {
               if (l.iteration() == iteration_) l.request_stop("test");
             }}};
  }

 private:
  int64_t iteration_;
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ember_learner_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

// One epoch of fit() is exactly the loop one would write by hand.
TEST(Learner, FitIsTheHandWrittenLoop) {
  Trainee s = make_setup();
  s.learner->fit(1);
  Trainee h = make_setup();
  h.model->train();
  for (data::Batch& b : *h.train) {
    Tensor loss = nn::cross_entropy(h.model->forward(b.input), b.target);
    h.opt->zero_grad();
    loss.backward();
    h.opt->step();
  }
  EXPECT_EQ(params_of(*s.model), params_of(*h.model));
  EXPECT_EQ(s.learner->iteration(), 10);  // 96 examples in batches of 10
  ASSERT_EQ(s.learner->history().size(), 1u);
  const auto& row = s.learner->history()[0];
  EXPECT_EQ(row.at("epoch"), 1.0);
  EXPECT_TRUE(row.count("train_loss") && row.count("valid_loss") && row.count("epoch_time") && row.count("lr"));
}

TEST(Learner, EventsRunInLoopOrder) {
  Trainee s = make_setup();
  data::DataLoaderOptions o;
  o.batch_size = 48;
  auto [x, y] = toy_data(7);
  auto train = std::make_shared<data::DataLoader>(std::make_shared<data::TensorDataset>(x, y), o);  // 2 batches
  o.batch_size = 96;
  auto valid = std::make_shared<data::DataLoader>(std::make_shared<data::TensorDataset>(x, y), o);  // 1 batch
  Learner l(s.model, train, valid, [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); }, s.opt);
  auto log = std::make_shared<EventLog>();
  l.add_callback(log);
  l.fit(1);
  std::vector<std::string> batch = {"before_batch", "after_pred", "after_loss", "after_backward", "after_step", "after_batch"};
  std::vector<std::string> want = {"before_fit", "before_epoch"};
  for (int i = 0; i < 2; ++i) want.insert(want.end(), batch.begin(), batch.end());
  for (const char* e : {"before_validate/valid", "before_batch/valid", "after_pred/valid", "after_loss/valid",
                        "after_batch/valid", "after_validate/valid", "after_epoch/valid", "after_fit/valid"})
    want.push_back(e);
  EXPECT_EQ(log->seen, want);
  std::string loop = l.describe_loop();
  EXPECT_NE(loop.find("[train_batch]"), std::string::npos);
  EXPECT_NE(loop.find("log.after_pred <- log.before_batch forward\n"), std::string::npos) << loop;
}

// Metrics and the progress bar run beside the backward pass on the work-stealing executor; the
// result is bit-identical to the serial run.
TEST(Learner, SerialAndWorkStealingAgree) {
  runtime::Executor pool(3);
  std::vector<std::vector<double>> params[2];
  std::vector<double> accuracy[2];
  for (int mode = 0; mode < 2; ++mode) {
    LearnerOptions opts;
    opts.executor = mode == 0 ? LoopExecutor::serial : LoopExecutor::work_stealing;
    opts.pool = &pool;
    Trainee s = make_setup(/*dropout=*/true, opts);
    std::ostringstream progress;
    s.learner->add_callback(std::make_shared<Accuracy>(/*on_train=*/true));
    s.learner->add_callback(std::make_shared<ProgressBar>(3, &progress));
    s.learner->fit(3);
    params[mode] = params_of(*s.model);
    for (const auto& row : s.learner->history()) accuracy[mode].push_back(row.at("accuracy"));
    EXPECT_NE(progress.str().find("epoch 3 ["), std::string::npos);
    EXPECT_GT(s.learner->history().back().at("train_accuracy"), 0.5);
  }
  EXPECT_EQ(params[0], params[1]);
  EXPECT_EQ(accuracy[0], accuracy[1]);
  EXPECT_GT(accuracy[0].back(), accuracy[0].front() - 1e-9);
}

// A checkpoint taken inside an epoch (and one at an epoch's end) resumes to
// the same parameters, optimizer state, dropout masks and history.
TEST(Learner, ResumesExactlyFromACheckpoint) {
  auto with_schedule = [](Trainee& s) {
    s.learner->add_callback(std::make_shared<LRSchedule>(
        [](optim::Optimizer& o) { return std::make_unique<optim::StepLR>(o, 7, 0.5); }));
    s.learner->add_callback(std::make_shared<GradientClipping>(0.5));
  };
  Trainee full = make_setup(true);
  with_schedule(full);
  full.learner->fit(4);

  for (int64_t stop_at : {13, 20}) {  // inside epoch 2; the end of epoch 2 (10 batches an epoch)
    const std::string path = temp_path("resume_" + std::to_string(stop_at) + ".safetensors");
    Trainee first = make_setup(true);
    with_schedule(first);
    first.learner->add_callback(std::make_shared<Checkpointer>(path, stop_at % 10 == 0 ? 1 : 0, stop_at % 10 ? stop_at : 0));
    first.learner->add_callback(std::make_shared<StopAt>(stop_at));
    first.learner->fit(4);
    EXPECT_TRUE(first.learner->stop_requested());

    Trainee second = make_setup(true, {}, /*init_seed=*/99);  // other initial weights and generator state
    with_schedule(second);
    second.learner->load_checkpoint(path);
    EXPECT_EQ(second.learner->iteration(), stop_at);
    second.learner->fit(4);
    EXPECT_EQ(params_of(*second.model), params_of(*full.model)) << "resumed at iteration " << stop_at;
    ASSERT_EQ(second.learner->history().size(), full.learner->history().size());
    for (size_t e = 0; e < full.learner->history().size(); ++e)
      for (const char* k : {"train_loss", "valid_loss", "lr", "iteration"})
        EXPECT_EQ(second.learner->history()[e].at(k), full.learner->history()[e].at(k)) << k << " of epoch " << e + 1;
    std::filesystem::remove(path);
  }
}

// JSON has no NaN: a metric that is not finite is left out of the saved history, not a broken file.
TEST(Learner, CheckpointsWithNonFiniteMetricsLoad) {
  class NanMetric : public Callback {
   public:
    std::string name() const override { return "nan"; }
    std::vector<CallbackNode> nodes() override {
      return {{.event = Event::after_validate, .name = "nan.publish", .writes = {"metrics.nan"},
               .run = [](Learner& l) { l.set_metric("nan", std::nan("")); }}};
    }
    std::map<std::string, double> state() const override { return {{"x", std::nan("")}, {"y", 2.0}}; }
  };
  const std::string path = temp_path("nan.safetensors");
  Trainee a = make_setup();
  a.learner->add_callback(std::make_shared<NanMetric>());
  a.learner->fit(1);
  EXPECT_TRUE(std::isnan(a.learner->history()[0].at("nan")));
  a.learner->save_checkpoint(path);
  Trainee b = make_setup();
  b.learner->load_checkpoint(path);
  ASSERT_EQ(b.learner->history().size(), 1u);
  EXPECT_EQ(b.learner->history()[0].count("nan"), 0u);
  EXPECT_EQ(b.learner->history()[0].at("train_loss"), a.learner->history()[0].at("train_loss"));
  EXPECT_EQ(b.learner->epoch(), 1);
  std::filesystem::remove(path);
}

// Records the learning rate each optimizer step used.
class LrLog : public Callback {
 public:
  std::string name() const override { return "lr_log"; }
  std::vector<CallbackNode> nodes() override {
    return {{.event = Event::after_loss, .name = "lr_log.read", .reads = {"lr"}, .writes = {"lr_log"},
             .phases = kTrainPhase, .run = [this](Learner& l) { lrs.push_back(l.optimizer().param_groups()[0].lr()); }}};
  }
  std::vector<double> lrs;
};

TEST(Learner, FitOneCycleFollowsTheCycleAndResumes) {
  Trainee full = make_setup(true);
  auto log = std::make_shared<LrLog>();
  full.learner->add_callback(log);
  full.learner->fit_one_cycle(3, 0.05);
  ASSERT_EQ(log->lrs.size(), 30u);
  EXPECT_NEAR(log->lrs.front(), 0.05 / 25, 1e-12);
  const size_t peak = static_cast<size_t>(std::max_element(log->lrs.begin(), log->lrs.end()) - log->lrs.begin());
  EXPECT_NEAR(log->lrs[peak], 0.05, 0.05 * 0.02);
  EXPECT_GE(peak, 5u);
  EXPECT_LE(peak, 9u);  // pct_start 0.25 of 30 steps
  EXPECT_LT(log->lrs.back(), 0.05 / 100);
  // A second cycle starts again from the bottom.
  log->lrs.clear();
  full.learner->fit_one_cycle(4, 0.05);
  ASSERT_EQ(log->lrs.size(), 10u);
  EXPECT_NEAR(log->lrs.front(), 0.05 / 25, 1e-12);

  // Stopped inside the first cycle with a checkpoint, resumed by a new learner: the same weights.
  Trainee ref = make_setup(true);
  ref.learner->fit_one_cycle(3, 0.05);
  const std::string path = temp_path("cycle.safetensors");
  Trainee first = make_setup(true);
  first.learner->add_callback(std::make_shared<Checkpointer>(path, 0, 13));
  first.learner->add_callback(std::make_shared<StopAt>(13));
  first.learner->fit_one_cycle(3, 0.05);
  Trainee second = make_setup(true, {}, 42);
  second.learner->load_checkpoint(path);
  second.learner->fit_one_cycle(3, 0.05);
  EXPECT_EQ(params_of(*second.model), params_of(*ref.model));
  std::filesystem::remove(path);
  expect_error([&] { make_setup().learner->fit_one_cycle(0, 0.1); }, {"too few"});
}

TEST(Learner, LrFindRestoresEverything) {
  Trainee probed = make_setup(true);
  probed.learner->fit(1);
  const auto before = params_of(*probed.model);
  auto result = probed.learner->lr_find(1e-5, 10.0, 25);
  ASSERT_GE(result.lrs.size(), 2u);
  EXPECT_LE(result.lrs.size(), 25u);
  for (size_t i = 1; i < result.lrs.size(); ++i) EXPECT_GT(result.lrs[i], result.lrs[i - 1]);
  EXPECT_NEAR(result.lrs.front(), 1e-5, 1e-12);
  EXPECT_GE(result.steepest, 1e-5);
  EXPECT_LE(result.steepest, 10.0);
  EXPECT_GT(result.minimum_tenth, 0.0);
  EXPECT_EQ(params_of(*probed.model), before);
  EXPECT_EQ(probed.learner->iteration(), 10);
  EXPECT_EQ(probed.learner->history().size(), 1u);
  // Training on after the probe is training on as if it never happened (optimizer state, generator, position).
  probed.learner->fit(2);
  Trainee plain = make_setup(true);
  plain.learner->fit(2);
  EXPECT_EQ(params_of(*probed.model), params_of(*plain.model));
  // A huge final lr makes the loss blow up: the search stops early.
  Trainee wild = make_setup();
  auto diverged = wild.learner->lr_find(1e-3, 1e6, 200);
  EXPECT_LT(diverged.lrs.size(), 200u);
  expect_error([&] { wild.learner->lr_find(1.0, 0.1); }, {"start_lr < end_lr"});
}

// Mixed precision in the loop: bfloat16 autocast trains the float32 model about as well; float16 with a
// GradScaler too, and a non-finite gradient skips the step (weights unchanged) and halves the scale.
TEST(Learner, MixedPrecisionTrains) {
  Trainee full = make_setup();
  full.learner->add_callback(std::make_shared<Accuracy>());
  full.learner->fit(4);
  ASSERT_EQ(full.learner->history().size(), 4u);
  const double full_accuracy = full.learner->history().back().at("accuracy");
  for (DType low : {kBFloat16, kFloat16}) {
    LearnerOptions opts;
    opts.autocast = low;
    if (low == kFloat16) opts.grad_scaler = std::make_shared<optim::GradScaler>();
    Trainee amp = make_setup(false, opts);
    amp.learner->add_callback(std::make_shared<Accuracy>());
    amp.learner->fit(4);
    ASSERT_EQ(amp.learner->history().size(), 4u) << low;
    for (const Tensor& p : amp.model->parameters()) EXPECT_EQ(p.dtype(), kFloat32);
    EXPECT_GE(amp.learner->history().back().at("accuracy"), full_accuracy - 0.15) << low;
    EXPECT_LT(amp.learner->history().back().at("train_loss"), amp.learner->history().front().at("train_loss")) << low;
  }

  class PoisonOnce : public Callback {
   public:
    std::string name() const override { return "poison"; }
    std::vector<CallbackNode> nodes() override {
      return {{.event = Event::after_backward, .name = "poison.grad", .writes = {"grads"}, .phases = kTrainPhase,
               .run = [this](Learner& l) {
                 if (l.iteration() != 3) return;
                 before = params_of(l.model());
                 Tensor g = l.model().parameters()[0].grad();
                 g.fill_(std::numeric_limits<double>::infinity());
               }},
              {.event = Event::after_step, .name = "poison.check", .reads = {"params"}, .writes = {"poison"},
               .phases = kTrainPhase, .run = [this](Learner& l) {
                 if (l.iteration() == 4) after = params_of(l.model());  // iteration counts the skipped step too
               }}};
    }
    std::vector<std::vector<double>> before, after;
  };
  LearnerOptions opts;
  opts.autocast = kFloat16;
  optim::GradScalerOptions so;
  so.init_scale = 1024;
  opts.grad_scaler = std::make_shared<optim::GradScaler>(so);
  Trainee poisoned = make_setup(false, opts);
  auto poison = std::make_shared<PoisonOnce>();
  poisoned.learner->add_callback(poison);
  poisoned.learner->fit(1);
  ASSERT_FALSE(poison->before.empty());
  EXPECT_EQ(poison->after, poison->before);
  EXPECT_DOUBLE_EQ(opts.grad_scaler->get_scale(), 512.0);
  const auto final_params = params_of(*poisoned.model);
  for (double v : final_params[0]) EXPECT_TRUE(std::isfinite(v));
}

TEST(Learner, ValidateAndGetPredsAgreeWithTheFit) {
  Trainee s = make_setup();
  s.learner->add_callback(std::make_shared<Accuracy>());
  s.learner->fit(2);
  const auto last = s.learner->history().back();
  auto metrics = s.learner->validate();
  EXPECT_EQ(metrics.at("accuracy"), last.at("accuracy"));
  EXPECT_DOUBLE_EQ(metrics.at("valid_loss"), last.at("valid_loss"));
  EXPECT_EQ(metrics.count("train_loss"), 0u);
  EXPECT_EQ(s.learner->history().size(), 2u);
  s.model->train();
  auto [preds, targets] = s.learner->get_preds();
  EXPECT_TRUE(s.model->is_training());  // get_preds ran in eval mode and put the mode back
  ASSERT_EQ(preds.shape(), (Dims{10, 3}));
  EXPECT_EQ(to_vector(targets), to_vector(s.valid->iterate(0)->target));
  const double accuracy = ops::sum(ops::eq(ops::argmax(preds, 1), targets)).item<int64_t>() / 10.0;
  EXPECT_DOUBLE_EQ(accuracy, last.at("accuracy"));
  s.learner->fit(3);
  EXPECT_EQ(s.learner->history().size(), 3u);
  Learner no_valid(s.model, s.train, nullptr, [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); },
                   s.opt);
  expect_error([&] { no_valid.validate(); }, {"no validation loader"});
  EXPECT_EQ(no_valid.get_preds(s.train.get()).first.size(0), 96);
}

// Batches of 6 accumulated two at a time train as batches of 12 (the same examples in the same order).
TEST(Learner, GradientAccumulationTrainsAsTheBiggerBatch) {
  auto run = [](int64_t batch, int64_t accumulate) {
    Trainee s = make_setup();
    auto [x, y] = toy_data(7);
    data::DataLoaderOptions o;
    o.batch_size = batch;
    o.shuffle = true;
    o.seed = 5;
    optim::SGDOptions sgd;
    sgd.lr = 0.2;
    Learner l(s.model, std::make_shared<data::DataLoader>(std::make_shared<data::TensorDataset>(x, y), o), nullptr,
              [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); },
              std::make_shared<optim::SGD>(s.model->parameters(), sgd));
    if (accumulate > 1) l.add_callback(std::make_shared<GradientAccumulation>(accumulate));
    l.add_callback(std::make_shared<GradientClipping>(100.0));  // ordered after the accumulation: no conflict
    l.fit(2);
    return params_of(*s.model);
  };
  const auto big = run(12, 1), accumulated = run(6, 2), plain_small = run(6, 1);
  ASSERT_EQ(big.size(), accumulated.size());
  double gap = 0, small_gap = 0;
  for (size_t i = 0; i < big.size(); ++i)
    for (size_t k = 0; k < big[i].size(); ++k) {
      gap = std::max(gap, std::fabs(big[i][k] - accumulated[i][k]));
      small_gap = std::max(small_gap, std::fabs(big[i][k] - plain_small[i][k]));
    }
  EXPECT_LT(gap, 1e-5);
  EXPECT_GT(small_gap, 1e-3);  // without accumulation, batches of 6 end elsewhere
  LearnerOptions with_scaler;
  with_scaler.grad_scaler = std::make_shared<optim::GradScaler>();
  Trainee t = make_setup(false, with_scaler);
  t.learner->add_callback(std::make_shared<GradientAccumulation>(2));
  expect_error([&] { t.learner->fit(1); }, {"GradientAccumulation", "GradScaler"});
}

TEST(Learner, EarlyStoppingAndSaveBestModel) {
  Trainee frozen = make_setup();
  frozen.opt->param_groups()[0].lr() = 0.0;  // nothing changes: the valid loss never improves after epoch 1
  auto early = std::make_shared<EarlyStopping>("valid_loss", 2, /*higher_is_better=*/false);
  frozen.learner->add_callback(early);
  frozen.learner->fit(10);
  EXPECT_EQ(frozen.learner->history().size(), 3u);
  EXPECT_NE(frozen.learner->stop_reason().find("did not improve for 2 epochs"), std::string::npos);

  const std::string path = temp_path("best.safetensors");
  Trainee s = make_setup();
  auto best = std::make_shared<SaveBestModel>(path, "accuracy", true, /*load_at_end=*/true);
  s.learner->add_callback(std::make_shared<Accuracy>()).add_callback(best);
  s.learner->fit(4);
  ASSERT_TRUE(best->best().has_value());
  double top = 0;
  int64_t top_epoch = 0;
  for (size_t e = 0; e < s.learner->history().size(); ++e)
    if (s.learner->history()[e].at("accuracy") > top) top = s.learner->history()[e].at("accuracy"), top_epoch = e + 1;
  EXPECT_EQ(*best->best(), top);
  EXPECT_EQ(*best->best_epoch(), top_epoch);
  auto saved = nn::load_safetensors(path);
  for (const auto& [k, v] : s.model->state_dict()) EXPECT_EQ(to_vector(v), to_vector(saved.at(k))) << k;
  std::filesystem::remove(path);
  expect_error([] { EarlyStopping("x", 0); }, {"patience"});
  Trainee missing = make_setup();
  missing.learner->add_callback(std::make_shared<EarlyStopping>("nope"));
  expect_error([&] { missing.learner->fit(1); }, {"no metric 'nope'"});
}

TEST(Learner, StopsAtTargetAndOnRequest) {
  Trainee s = make_setup();
  auto stop = std::make_shared<StopAtTarget>("accuracy", 0.5);
  s.learner->add_callback(std::make_shared<Accuracy>());
  s.learner->add_callback(stop);
  s.learner->fit(50);
  ASSERT_TRUE(stop->reached());
  EXPECT_EQ(static_cast<int64_t>(s.learner->history().size()), *stop->epochs_to_target());
  EXPECT_GE(s.learner->history().back().at("accuracy"), 0.5);
  EXPECT_LT(s.learner->epoch(), 50);
  EXPECT_GE(*stop->seconds_to_target(), 0.0);

  Trainee never = make_setup();
  auto unreachable = std::make_shared<StopAtTarget>("accuracy", 1.5);
  never.learner->add_callback(std::make_shared<Accuracy>());
  never.learner->add_callback(unreachable);
  never.learner->fit(2);
  EXPECT_FALSE(unreachable->reached());
  EXPECT_EQ(never.learner->history().size(), 2u);

  Trainee mid = make_setup();
  mid.learner->add_callback(std::make_shared<StopAt>(14));
  mid.learner->fit(3);
  EXPECT_EQ(mid.learner->iteration(), 14);
  EXPECT_EQ(mid.learner->history().size(), 1u);  // epoch 2 stopped inside: no validation, no row
  EXPECT_EQ(mid.learner->batch(), 4);              // where a fit would go on
  mid.learner->fit(3);                             // goes on from there
  EXPECT_EQ(mid.learner->iteration(), 30);
  EXPECT_EQ(mid.learner->history().size(), 3u);
}

TEST(Learner, RecorderAndMLPerfLoggerOutput) {
  Trainee s = make_setup();
  RecorderOptions ro;
  std::ostringstream table, mllog;
  ro.out = &table;
  ro.csv_path = temp_path("log.csv");
  ro.jsonl_path = temp_path("log.jsonl");
  ro.plot_path = temp_path("curves.png");
  MLPerfOptions mo;
  mo.out = &mllog;
  mo.target = 0.3;
  mo.numbers = {{"global_batch_size", 10}};
  auto mlperf = std::make_shared<MLPerfLogger>(mo);
  s.learner->add_callback(std::make_shared<Accuracy>());
  s.learner->add_callback(std::make_shared<Recorder>(ro));
  s.learner->add_callback(mlperf);
  s.learner->fit(2);
  EXPECT_NE(table.str().find("train_loss"), std::string::npos) << table.str();
  std::ifstream csv(ro.csv_path);
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("epoch,train_loss,valid_loss,accuracy", 0), 0u) << header;
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 2);
  EXPECT_TRUE(std::filesystem::file_size(ro.jsonl_path) > 0);
  EXPECT_TRUE(std::filesystem::file_size(ro.plot_path) > 100);
  EXPECT_FALSE(std::filesystem::exists(ro.csv_path + ".tmp"));

  std::vector<std::string> keys;
  std::istringstream lines(mllog.str());
  while (std::getline(lines, line)) {
    ASSERT_EQ(line.rfind(":::MLLOG {", 0), 0u) << line;
    auto key = line.find("\"key\":\"");
    ASSERT_NE(key, std::string::npos) << line;
    keys.push_back(line.substr(key + 7, line.find('"', key + 7) - key - 7));
  }
  std::vector<std::string> want = {"submission_benchmark", "global_batch_size", "run_start"};
  for (int e = 0; e < 2; ++e)
    for (const char* k : {"epoch_start", "eval_start", "eval_stop", "eval_accuracy", "epoch_stop"}) want.push_back(k);
  want.push_back("run_stop");
  EXPECT_EQ(keys, want);
  EXPECT_TRUE(mlperf->success());
  EXPECT_NE(mllog.str().find("\"status\":\"success\""), std::string::npos);
  for (const auto& p : {ro.csv_path, ro.jsonl_path, ro.plot_path}) std::filesystem::remove(p);
}

TEST(Learner, ErrorsAreClear) {
  Trainee s = make_setup();
  class Writes : public Callback {
   public:
    explicit Writes(std::string n) : n_(std::move(n)) {}
    std::string name() const override { return n_; }
    std::vector<CallbackNode> nodes() override {
      return {{.event = Event::after_loss, .name = n_ + ".w", .writes = {"loss"}, .run = [](Learner&) {}}};
    }
    std::string n_;
  };
  s.learner->add_callback(std::make_shared<Writes>("a")).add_callback(std::make_shared<Writes>("b"));
  expect_error([&] { s.learner->fit(1); }, {"conflicting writers", "'a.w'", "'b.w'", "'loss'"});

  Trainee t = make_setup();
  class Throws : public Callback {
   public:
    std::string name() const override { return "throws"; }
    std::vector<CallbackNode> nodes() override {
      return {{.event = Event::after_step, .name = "throws.now", .phases = kTrainPhase, .run = [](Learner& l) {
                 if (l.iteration() == 3) EMBER_FAIL("boom at iteration ", l.iteration());
               }}};
    }
  };
  t.learner->add_callback(std::make_shared<Throws>());
  expect_error([&] { t.learner->fit(1); }, {"boom at iteration 3"});
  EXPECT_EQ(t.learner->batch(), 2);  // left at the failing batch; a new fit may go on

  Trainee nested = make_setup();
  class Reenters : public Callback {
   public:
    std::string name() const override { return "reenters"; }
    std::vector<CallbackNode> nodes() override {
      return {{.event = Event::before_fit, .name = "reenters.fit", .run = [](Learner& l) { l.fit(5); }}};
    }
  };
  nested.learner->add_callback(std::make_shared<Reenters>());
  expect_error([&] { nested.learner->fit(1); }, {"Learner::fit: already running"});

  const std::string path = temp_path("bad.safetensors");
  nn::save_safetensors(path, {{"x", zeros({1})}}, {{"format", "something else"}});
  expect_error([&] { s.learner->load_checkpoint(path); }, {path, "format"});
  Trainee other = make_setup();
  other.learner->save_checkpoint(path);
  auto wide = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 8));
  Learner mismatched(wide, s.train, nullptr, [](const Tensor& p, const Tensor& t2) { return nn::cross_entropy(p, t2); },
                     std::make_shared<optim::Adam>(wide->parameters()));
  expect_error([&] { mismatched.load_checkpoint(path); }, {"0.weight"});
  std::filesystem::remove(path);
  expect_error([] { Learner(nullptr, nullptr, nullptr, nullptr, nullptr); }, {"Learner: no model"});
}

// What a launcher announces: world size, local rank and local size from the environment (1, 0, 1 without one).
TEST(Distributed, LauncherEnvironment) {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"})
    if (std::getenv(v)) GTEST_SKIP() << "running under an MPI launcher";
  EXPECT_EQ(launched_world_size(), 1);
  EXPECT_EQ(launched_local_rank(), 0);
  EXPECT_EQ(launched_local_size(), 1);
  ::setenv("OMPI_COMM_WORLD_SIZE", "8", 1);
  ::setenv("OMPI_COMM_WORLD_LOCAL_RANK", "3", 1);
  ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);
  EXPECT_EQ(launched_world_size(), 8);
  EXPECT_EQ(launched_local_rank(), 3);
  EXPECT_EQ(launched_local_size(), 4);
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"}) ::unsetenv(v);
  EXPECT_EQ(launched_local_size(), 1);
}
