// Optimizers against hand-computed PyTorch rules; groups, state dicts, schedules, clipping.
#include <cmath>
#include <limits>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;

namespace {
optim::SGDOptions sgd_opts(double lr, double momentum = 0.0) {
  optim::SGDOptions o;
  o.lr = lr;
  o.momentum = momentum;
  return o;
}
optim::AdamOptions adam_opts(double lr, double weight_decay = 0.0) {
  optim::AdamOptions o;
  o.lr = lr;
  o.weight_decay = weight_decay;
  return o;
}
// Sets p.grad to g.
void set_grad(Tensor& p, const std::vector<double>& g) { p.set_grad(from_values(g, {static_cast<int64_t>(g.size())})); }
}  // namespace

TEST(SGD, MomentumDampeningNesterovWeightDecay) {
  Tensor p = from_values({1.0, -2.0}, {2}).requires_grad_();
  optim::SGDOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 0.01;
  o.nesterov = true;
  optim::SGD opt({p}, o);
  std::vector<double> ref = {1.0, -2.0}, buf = {0, 0};
  std::vector<std::vector<double>> grads = {{0.5, -1.0}, {0.25, 0.75}, {-1.0, 0.1}};
  for (size_t s = 0; s < grads.size(); ++s) {
    set_grad(p, grads[s]);
    opt.step();
    for (int i = 0; i < 2; ++i) {
      double g = grads[s][static_cast<size_t>(i)] + 0.01 * ref[static_cast<size_t>(i)];
      buf[static_cast<size_t>(i)] = s == 0 ? g : 0.9 * buf[static_cast<size_t>(i)] + g;
      ref[static_cast<size_t>(i)] -= 0.1 * (g + 0.9 * buf[static_cast<size_t>(i)]);
    }
  }
  EXPECT_TRUE(all_close(p, from_values(ref, {2}), 1e-12, 1e-12));
  expect_error([&] { optim::SGD bad({p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.0, .dampening = 0.0, .weight_decay = 0.0, .nesterov = true}); },
               {"Nesterov"});
}

TEST(Adam, DefaultLearningRateIs3eMinus4AndFirstStepMovesByLr) {
  Tensor p = from_values({1.0, 1.0}, {2}).requires_grad_();
  optim::Adam opt({p});
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 3e-4);
  set_grad(p, {2.0, -5.0});
  opt.step();
  // The first bias-corrected Adam step is lr * sign(g) (up to eps).
  EXPECT_TRUE(all_close(p, from_values({1.0 - 3e-4, 1.0 + 3e-4}, {2}), 1e-9, 0));
}

TEST(Adam, MinimisesAQuadratic) {
  manual_seed(0);
  Tensor target = randn({10}, kFloat64);
  Tensor p = zeros({10}, kFloat64).requires_grad_();
  optim::AdamOptions o;
  o.lr = 0.05;
  optim::Adam opt({p}, o);
  for (int i = 0; i < 500; ++i) {
    opt.zero_grad();
    Tensor loss = sum(pow(p - target, 2));
    loss.backward();
    opt.step();
  }
  EXPECT_TRUE(all_close(p, target, 1e-3, 0));
}

TEST(Adam, ParamGroupsAndStateDictResume) {
  Tensor a = from_values({1.0, 2.0}, {2}).requires_grad_(), b = from_values({3.0}, {1}).requires_grad_();
  optim::ParamGroup g1, g2;
  g1.params = {a};
  g2.params = {b};
  g2.options["lr"] = 0.5;
  optim::Adam opt({g1, g2}, adam_opts(0.1));
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 0.1);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr(), 0.5);
  set_grad(a, {1.0, 1.0});
  set_grad(b, {1.0});
  opt.step();
  auto state = opt.state_dict();
  EXPECT_EQ(state.at("state.0.step").item<int64_t>(), 1);
  EXPECT_TRUE(state.count("state.1.exp_avg_sq"));
  // A second optimizer restored from the state dict takes the same next step.
  Tensor a2 = ops::clone(a).requires_grad_(), b2 = ops::clone(b).requires_grad_();
  optim::ParamGroup h1, h2;
  h1.params = {a2};
  h2.params = {b2};
  optim::Adam opt2({h1, h2});
  opt2.load_state_dict(state);
  EXPECT_DOUBLE_EQ(opt2.param_groups()[1].lr(), 0.5);
  set_grad(a, {0.3, -0.2});
  set_grad(b, {2.0});
  set_grad(a2, {0.3, -0.2});
  set_grad(b2, {2.0});
  opt.step();
  opt2.step();
  EXPECT_TRUE(all_close(a, a2, 0, 0));
  EXPECT_TRUE(all_close(b, b2, 0, 0));
  expect_error([&] { optim::Adam dup({a, a}); }, {"more than one parameter group"});
}

// load_state_dict replaces the whole state: loading a fresh optimizer's state dict forgets the moments
// and step counts of steps taken since, and a rejected state dict changes nothing.
TEST(Adam, LoadStateDictReplacesTheState) {
  Tensor p = from_values({1.0, -1.0}, {2}).requires_grad_();
  optim::Adam opt({p}, adam_opts(0.1));
  auto fresh = opt.state_dict();
  EXPECT_FALSE(fresh.count("state.0.step"));
  set_grad(p, {1.0, 2.0});
  opt.step();
  opt.param_groups()[0].lr() = 0.7;
  EXPECT_TRUE(opt.state_dict().count("state.0.exp_avg"));
  auto bad = fresh;
  bad["state.0.exp_avg"] = zeros({3}, kFloat64);
  expect_error([&] { opt.load_state_dict(bad); }, {"state.0.exp_avg", "shape"});
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 0.7);  // unchanged by the rejected load
  EXPECT_TRUE(opt.state_dict().count("state.0.step"));
  opt.load_state_dict(fresh);
  EXPECT_EQ(opt.state_dict().size(), fresh.size());
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].lr(), 0.1);
  // The next step is a first step again: Adam's first update is lr * sign(grad).
  Tensor before = ops::clone(p);
  set_grad(p, {0.5, -3.0});
  opt.step();
  EXPECT_NEAR(p.data_ptr<double>()[0] - before.data_ptr<double>()[0], -0.1, 1e-6);
  EXPECT_NEAR(p.data_ptr<double>()[1] - before.data_ptr<double>()[1], 0.1, 1e-6);
}

TEST(AdamW, DecoupledWeightDecayShrinksWithZeroGrad) {
  Tensor p = from_values({2.0}, {1}).requires_grad_();
  optim::AdamW opt({p}, adam_opts(0.1, 0.5));
  set_grad(p, {0.0});
  opt.step();
  EXPECT_NEAR(p.item<double>(), 2.0 * (1 - 0.1 * 0.5), 1e-9);
}

TEST(Schedules, StepCosineWarmupOneCycle) {
  Tensor p = zeros({1}).requires_grad_();
  optim::SGD opt({p}, sgd_opts(1.0, 0.9));
  optim::StepLR step(opt, 2, 0.5);
  std::vector<double> got;
  for (int i = 0; i < 5; ++i) {
    step.step();
    got.push_back(opt.param_groups()[0].lr());
  }
  EXPECT_EQ(got, (std::vector<double>{1.0, 0.5, 0.5, 0.25, 0.25}));

  optim::SGD opt2({p}, sgd_opts(1.0));
  optim::CosineAnnealingLR cos(opt2, 10, 0.1);
  for (int i = 0; i < 5; ++i) cos.step();
  EXPECT_NEAR(opt2.param_groups()[0].lr(), 0.55, 1e-12);  // halfway
  for (int i = 0; i < 10; ++i) cos.step();
  EXPECT_NEAR(opt2.param_groups()[0].lr(), 0.1, 1e-12);

  optim::SGD opt3({p}, sgd_opts(2.0));
  optim::WarmupCosineLR wc(opt3, 4, 12);
  EXPECT_EQ(opt3.param_groups()[0].lr(), 0.0);
  wc.step();
  wc.step();
  EXPECT_NEAR(opt3.param_groups()[0].lr(), 1.0, 1e-12);
  wc.step();
  wc.step();
  EXPECT_NEAR(opt3.param_groups()[0].lr(), 2.0, 1e-12);

  optim::SGD opt4({p}, sgd_opts(0.0, 0.9));
  optim::OneCycleLR oc(opt4, 1.0, 100, 0.25);
  EXPECT_NEAR(opt4.param_groups()[0].lr(), 1.0 / 25, 1e-12);
  EXPECT_NEAR(opt4.param_groups()[0].options["momentum"], 0.95, 1e-12);
  double peak = 0;
  for (int i = 0; i < 99; ++i) {
    oc.step();
    peak = std::max(peak, opt4.param_groups()[0].lr());
  }
  EXPECT_NEAR(peak, 1.0, 1e-3);
  EXPECT_NEAR(opt4.param_groups()[0].lr(), 1.0 / 25 / 1e4, 1e-9);
  EXPECT_NEAR(opt4.param_groups()[0].options["momentum"], 0.95, 1e-9);

  optim::SGD opt5({p}, sgd_opts(1.0));
  optim::LambdaLR lam(opt5, [](int64_t t) { return 1.0 / static_cast<double>(t + 1); });
  lam.step();
  lam.step();
  EXPECT_NEAR(opt5.param_groups()[0].lr(), 1.0 / 3, 1e-12);
}

TEST(Clipping, GlobalNormAndValue) {
  Tensor a = zeros({2}, kFloat64).requires_grad_(), b = zeros({1}, kFloat64).requires_grad_();
  a.set_grad(from_values({3.0, 0.0}, {2}));
  b.set_grad(from_values({4.0}, {1}));
  double norm = optim::clip_grad_norm_({a, b}, 1.0);
  EXPECT_NEAR(norm, 5.0, 1e-12);
  EXPECT_TRUE(all_close(a.grad(), from_values({0.6, 0.0}, {2}), 1e-6, 0));
  EXPECT_TRUE(all_close(b.grad(), from_values({0.8}, {1}), 1e-6, 0));
  optim::clip_grad_value_({a, b}, 0.7);
  EXPECT_TRUE(all_close(b.grad(), from_values({0.7}, {1}), 1e-12, 0));
}

TEST(GradScaler, ScalesUnscalesSkipsNonFiniteStepsAndAdjustsTheScale) {
  Tensor p = from_values({1.0, 2.0}, {2}).requires_grad_();
  optim::SGDOptions so;
  so.lr = 0.5;
  optim::SGD opt({p}, so);
  optim::GradScalerOptions go;
  go.init_scale = 8.0;
  go.growth_interval = 2;
  optim::GradScaler scaler(go);
  Tensor loss = sum(mul(p, p));  // gradient 2p
  Tensor scaled = scaler.scale(loss);
  EXPECT_DOUBLE_EQ(scaled.item<double>(), 8.0 * 5.0);
  scaled.backward();
  EXPECT_EQ(ember::testing::to_vector(p.grad()), (std::vector<double>{16.0, 32.0}));
  scaler.unscale_(opt);
  EXPECT_EQ(ember::testing::to_vector(p.grad()), (std::vector<double>{2.0, 4.0}));
  expect_error([&] { scaler.unscale_(opt); }, {"already called"});
  EXPECT_TRUE(optim::grads_are_finite(opt));
  EXPECT_TRUE(scaler.step(opt));
  scaler.update();
  EXPECT_EQ(ember::testing::to_vector(p), (std::vector<double>{0.0, 0.0}));
  EXPECT_DOUBLE_EQ(scaler.get_scale(), 8.0);

  // An infinite gradient: no step, the scale halves, and the clean-step count restarts.
  set_grad(p, {std::numeric_limits<double>::infinity(), 1.0});
  EXPECT_FALSE(optim::grads_are_finite(opt));
  EXPECT_FALSE(scaler.step(opt));
  EXPECT_TRUE(scaler.last_step_skipped());
  scaler.update();
  EXPECT_EQ(ember::testing::to_vector(p), (std::vector<double>{0.0, 0.0}));
  EXPECT_DOUBLE_EQ(scaler.get_scale(), 4.0);
  set_grad(p, {std::nan(""), 1.0});
  EXPECT_FALSE(scaler.step(opt));
  scaler.update();
  EXPECT_DOUBLE_EQ(scaler.get_scale(), 2.0);
  // growth_interval clean steps double it.
  for (int i = 0; i < 2; ++i) {
    set_grad(p, {0.0, 0.0});
    EXPECT_TRUE(scaler.step(opt));
    scaler.update();
  }
  EXPECT_DOUBLE_EQ(scaler.get_scale(), 4.0);
  optim::GradScaler restored;
  restored.load_state_dict(scaler.state_dict());
  EXPECT_DOUBLE_EQ(restored.get_scale(), 4.0);
  expect_error([] { optim::GradScalerOptions bad; bad.backoff_factor = 2; optim::GradScaler s(bad); }, {"backoff_factor"});
}
