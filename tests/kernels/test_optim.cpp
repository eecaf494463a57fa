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
