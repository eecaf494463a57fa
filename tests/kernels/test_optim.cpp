// The fused Adam/AdamW kernel against a naive per-element reference of PyTorch's rule.
#include <cmath>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::to_vector;

EMBER_OP_TESTED(adam_step);

namespace {

struct RefState {
  std::vector<double> p, m, v, vmax;
};

void ref_adam(RefState& s, const std::vector<double>& g, const AdamArgs& a) {
  double bc1 = 1 - std::pow(a.beta1, a.step), bc2 = 1 - std::pow(a.beta2, a.step);
  for (size_t i = 0; i < s.p.size(); ++i) {
    double grad = a.maximize ? -g[i] : g[i];
    if (a.decoupled_weight_decay) s.p[i] *= 1 - a.lr * a.weight_decay;
    else grad += a.weight_decay * s.p[i];
    s.m[i] = a.beta1 * s.m[i] + (1 - a.beta1) * grad;
    s.v[i] = a.beta2 * s.v[i] + (1 - a.beta2) * grad * grad;
    double v = s.v[i];
    if (a.amsgrad) {
      s.vmax[i] = std::max(s.vmax[i], s.v[i]);
      v = s.vmax[i];
    }
    double denom = std::sqrt(v) / std::sqrt(bc2) + a.eps;
    s.p[i] -= a.lr / bc1 * s.m[i] / denom;
  }
}

void run_case(DType dtype, bool decoupled, bool amsgrad, bool maximize, double wd, double tol) {
  manual_seed(3);
  const int64_t n = 1037;  // odd size: exercises tails
  Tensor p = ops::to(randn({n}), dtype), m = zeros({n}, dtype), v = zeros({n}, dtype), vmax = zeros({n}, dtype);
  RefState ref{to_vector(p), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  AdamArgs a;
  a.lr = 1e-2;
  a.weight_decay = wd;
  a.decoupled_weight_decay = decoupled;
  a.amsgrad = amsgrad;
  a.maximize = maximize;
  for (int step = 1; step <= 5; ++step) {
    Tensor g = ops::to(randn({n}), dtype);
    a.step = step;
    ops::adam_step_(p, g, m, v, vmax, a);
    ref_adam(ref, to_vector(g), a);
  }
  Tensor expect = ember::testing::from_values(ref.p, {n});
  EXPECT_TRUE(all_close(p, expect, tol, tol));
  EXPECT_TRUE(all_close(m, ember::testing::from_values(ref.m, {n}), tol, tol));
  EXPECT_TRUE(all_close(v, ember::testing::from_values(ref.v, {n}), tol, tol));
}

}  // namespace

TEST(AdamKernel, MatchesReferenceFloat64) {
  run_case(kFloat64, false, false, false, 0.0, 1e-12);
  run_case(kFloat64, false, false, false, 0.1, 1e-12);
  run_case(kFloat64, true, false, false, 0.1, 1e-12);
  run_case(kFloat64, false, true, false, 0.0, 1e-12);
  run_case(kFloat64, false, false, true, 0.0, 1e-12);
}

TEST(AdamKernel, MatchesReferenceFloat32) {
  run_case(kFloat32, false, false, false, 0.0, 1e-5);
  run_case(kFloat32, true, true, false, 0.05, 1e-5);
}

TEST(AdamKernel, BumpsVersionsAndChecksShapes) {
  Tensor p = zeros({4}), g = ones({4}), m = zeros({4}), v = zeros({4}), none;
  uint32_t before = p.version();
  ops::adam_step_(p, g, m, v, none, AdamArgs{});
  EXPECT_GT(p.version(), before);
  EXPECT_LT(p.data_ptr<float>()[0], 0.0f);  // moved against the gradient
  Tensor bad = zeros({5});
  ember::testing::expect_error([&] { ops::adam_step_(p, bad, m, v, none, AdamArgs{}); }, {"adam_step", "grad", "[5]", "[4]"});
  AdamArgs zero_step;
  zero_step.step = 0;
  ember::testing::expect_error([&] { ops::adam_step_(p, g, m, v, none, zero_step); }, {"step"});
}

// The multi-tensor step gives each parameter exactly what a step of its own gives
// (sizes of 0, 1, odd and several grains; amsgrad and AdamW included).
TEST(AdamKernel, ListStepEqualsOneStepPerParameter) {
  const std::vector<int64_t> sizes = {5, 0, 1, 1037, 70000, 3};
  for (DType dt : {kFloat32, kFloat64}) {
    for (bool amsgrad : {false, true}) {
      manual_seed(11);
      AdamArgs a;
      a.lr = 1e-2;
      a.weight_decay = 0.05;
      a.decoupled_weight_decay = amsgrad;  // both kinds of decay across the cases
      a.amsgrad = amsgrad;
      AdamTensorLists list, single;
      for (int64_t n : sizes) {
        Tensor p = ops::to(randn({n}), dt), g = ops::to(randn({n}), dt);
        Tensor m = ops::to(randn({n}), dt), v = ops::to(rand({n}), dt), vmax = ops::to(rand({n}), dt);
        list.params.push_back(p.clone());
        list.grads.push_back(g);
        list.exp_avgs.push_back(m.clone());
        list.exp_avg_sqs.push_back(v.clone());
        single.params.push_back(p.clone());
        single.grads.push_back(g);
        single.exp_avgs.push_back(m.clone());
        single.exp_avg_sqs.push_back(v.clone());
        if (amsgrad) {
          list.max_exp_avg_sqs.push_back(vmax.clone());
          single.max_exp_avg_sqs.push_back(vmax.clone());
        }
      }
      for (int64_t step = 1; step <= 3; ++step) {
        a.step = step;
        ops::adam_step_(list, a);
        for (size_t i = 0; i < sizes.size(); ++i) {
          Tensor none;
          ops::adam_step_(single.params[i], single.grads[i], single.exp_avgs[i], single.exp_avg_sqs[i],
                          amsgrad ? single.max_exp_avg_sqs[i] : none, a);
        }
      }
      for (size_t i = 0; i < sizes.size(); ++i) {
        EXPECT_TRUE(all_close(list.params[i], single.params[i], 0.0, 0.0)) << dt << " param " << i;
        EXPECT_TRUE(all_close(list.exp_avgs[i], single.exp_avgs[i], 0.0, 0.0)) << dt << " exp_avg " << i;
        EXPECT_TRUE(all_close(list.exp_avg_sqs[i], single.exp_avg_sqs[i], 0.0, 0.0)) << dt << " exp_avg_sq " << i;
        if (amsgrad) {
          EXPECT_TRUE(all_close(list.max_exp_avg_sqs[i], single.max_exp_avg_sqs[i], 0.0, 0.0)) << i;
        }
      }
    }
  }
}

TEST(AdamKernel, ListStepChecksEveryEntry) {
  auto lists = [](std::vector<Tensor> params) {
    AdamTensorLists t;
    for (const Tensor& p : params) {
      t.params.push_back(p);
      t.grads.push_back(ones_like(p));
      t.exp_avgs.push_back(zeros_like(p));
      t.exp_avg_sqs.push_back(zeros_like(p));
    }
    return t;
  };
  AdamTensorLists ok = lists({zeros({4}), zeros({2, 3})});
  const uint32_t before = ok.params[1].version();
  ops::adam_step_(ok, AdamArgs{});
  EXPECT_GT(ok.params[1].version(), before);
  EXPECT_LT(ok.params[1].data_ptr<float>()[5], 0.0f);

  AdamTensorLists short_grads = lists({zeros({4}), zeros({3})});
  short_grads.grads.pop_back();
  ember::testing::expect_error([&] { ops::adam_step_(short_grads, AdamArgs{}); }, {"adam_step", "2 parameters", "1 grads"});
  AdamTensorLists mixed = lists({zeros({4}), zeros({3}, kFloat64)});
  ember::testing::expect_error([&] { ops::adam_step_(mixed, AdamArgs{}); }, {"adam_step", "param 1", "float64", "param 0"});
  AdamTensorLists bad_shape = lists({zeros({4}), zeros({3})});
  bad_shape.exp_avg_sqs[1] = zeros({4});
  ember::testing::expect_error([&] { ops::adam_step_(bad_shape, AdamArgs{}); }, {"adam_step", "exp_avg_sq 1", "[3]", "[4]"});
  AdamArgs ams;
  ams.amsgrad = true;
  ember::testing::expect_error([&] { ops::adam_step_(lists({zeros({4})}), ams); }, {"adam_step", "max_exp_avg_sqs"});
  AdamTensorLists none;
  ops::adam_step_(none, AdamArgs{});  // an empty list is a no-op
}
