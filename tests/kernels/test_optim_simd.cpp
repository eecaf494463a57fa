// Tests of the float32 Adam/AdamW fast path (kernels/cpu/optim_kernel.hpp
// through optim.cpp) on every CPU ISA path this machine has, against the
// reference kernel (the scalar path), over every tail length, all options,
// several steps, and NaN gradients.
//
// Tolerance: rtol 1e-6 (a few ulps: the fast path may fuse a multiply-add the
// reference rounds twice), atol 1e-7 on values of order 1 and 1e-3 (the steps).
#include <cmath>
#include <string>

#include "fast_path_util.hpp"

namespace ember {
namespace {

using testing::all_close;
using testing::for_each_cpu_isa;
using testing::kTailSizes;
using testing::on_scalar;
using testing::randf;

struct State {
  Tensor p, m, v, vmax;
};

State fresh(int64_t n) {
  manual_seed(601);
  return {randf({n}), zeros({n}), zeros({n}), zeros({n})};
}

State clone(const State& s) { return {s.p.clone(), s.m.clone(), s.v.clone(), s.vmax.clone()}; }

void steps(State& s, const std::vector<Tensor>& grads, AdamArgs a) {
  for (size_t k = 0; k < grads.size(); ++k) {
    a.step = static_cast<int64_t>(k) + 1;
    ops::adam_step_(s.p, grads[k], s.m, s.v, s.vmax, a);
  }
}

void check(int64_t n, const AdamArgs& a, const std::string& what, std::vector<Tensor> grads = {}) {
  if (grads.empty())
    for (int k = 0; k < 3; ++k) grads.push_back(randf({n}));
  const State start = fresh(n);
  State ref = clone(start);
  on_scalar([&] {
    steps(ref, grads, a);
    return 0;
  });
  for_each_cpu_isa([&] {
    State s = clone(start);
    steps(s, grads, a);
    EXPECT_TRUE(all_close(s.p, ref.p, 1e-7, 1e-6)) << "param " << what;
    EXPECT_TRUE(all_close(s.m, ref.m, 1e-7, 1e-6)) << "exp_avg " << what;
    EXPECT_TRUE(all_close(s.v, ref.v, 1e-7, 1e-6)) << "exp_avg_sq " << what;
    if (a.amsgrad) {
      EXPECT_TRUE(all_close(s.vmax, ref.vmax, 1e-7, 1e-6)) << "max_exp_avg_sq " << what;
    }
  });
}

TEST(SimdAdam, EveryTailLength) {
  AdamArgs a;
  a.lr = 1e-2;
  for (int64_t n : kTailSizes) check(n, a, "n=" + std::to_string(n));
  check(100003, a, "parallel");
}

TEST(SimdAdam, EveryOption) {
  for (bool decoupled : {false, true}) {
    for (bool amsgrad : {false, true}) {
      for (bool maximize : {false, true}) {
        AdamArgs a;
        a.lr = 3e-3;
        a.weight_decay = 0.1;
        a.decoupled_weight_decay = decoupled;
        a.amsgrad = amsgrad;
        a.maximize = maximize;
        check(1037, a, std::string(decoupled ? "adamw" : "adam") + (amsgrad ? " amsgrad" : "") + (maximize ? " max" : ""));
      }
    }
  }
}

TEST(SimdAdam, NaNGradientsPoisonOnlyTheirElements) {
  AdamArgs a;
  a.amsgrad = true;
  std::vector<Tensor> grads = {testing::with_specials(randf({41}), {3, 17}), randf({41})};
  check(41, a, "NaN grads", grads);
  for_each_cpu_isa([&] {
    State s = fresh(41);
    steps(s, grads, a);
    const auto p = testing::to_vector(s.p);
    EXPECT_TRUE(std::isnan(p[3]) && std::isnan(p[17]));
    EXPECT_FALSE(std::isnan(p[4]) || std::isnan(p[40]));
  });
}

}  // namespace
}  // namespace ember
