// Losses against naive formulas.
#include <cmath>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::to_vector;

TEST(Loss, MseL1SmoothL1) {
  Tensor x = from_values({0.0, 1.0, 3.0, -2.0}, {4}), y = from_values({0.5, 1.0, 1.0, -2.2}, {4});
  EXPECT_NEAR(nn::mse_loss(x, y).item<double>(), (0.25 + 0 + 4 + 0.04) / 4, 1e-12);
  EXPECT_NEAR(nn::l1_loss(x, y, Reduction::Sum).item<double>(), 0.5 + 0 + 2 + 0.2, 1e-12);
  // smooth_l1 (beta 1): 0.5 d^2 below 1, d - 0.5 above.
  EXPECT_NEAR(nn::smooth_l1_loss(x, y).item<double>(), (0.125 + 0 + 1.5 + 0.02) / 4, 1e-12);
  expect_error([&] { nn::mse_loss(x, zeros({3}, kFloat64)); }, {"mse_loss", "[4]", "[3]"});
}

TEST(Loss, BceWithLogitsIsStableAndCorrect) {
  Tensor x = from_values({-100.0, -1.0, 0.0, 2.0, 100.0}, {5}), y = from_values({0.0, 1.0, 0.5, 0.0, 1.0}, {5});
  std::vector<double> xv = to_vector(x), yv = to_vector(y);
  double ref = 0;
  for (size_t i = 0; i < 5; ++i) {
    double s = 1 / (1 + std::exp(-xv[i]));
    double l = -(yv[i] * std::log(std::max(s, 1e-300)) + (1 - yv[i]) * std::log(std::max(1 - s, 1e-300)));
    if (xv[i] == -100.0) l = 0 + std::log1p(std::exp(-100.0));  // exact form where log(1 - s) underflows
    if (xv[i] == 100.0) l = std::log1p(std::exp(-100.0));
    ref += l;
  }
  Tensor loss = nn::bce_with_logits(x, y, {}, {}, Reduction::Sum);
  EXPECT_NEAR(loss.item<double>(), ref, 1e-9);
  Tensor pw = from_values({3.0}, {1});
  double l1 = nn::bce_with_logits(x.narrow(0, 1, 1), y.narrow(0, 1, 1), {}, pw).item<double>();
  EXPECT_NEAR(l1, 3.0 * std::log1p(std::exp(1.0)), 1e-9);
}

TEST(Loss, CrossEntropyMatchesLogSoftmaxNll) {
  manual_seed(0);
  Tensor x = randn({6, 5}, kFloat64);
  Tensor t = ember::tensor({0, 4, 2, 2, 1, 3});
  std::vector<double> xv = to_vector(x);
  std::vector<int64_t> tv = {0, 4, 2, 2, 1, 3};
  double ref = 0;
  for (int i = 0; i < 6; ++i) {
    double m = -1e300, s = 0;
    for (int c = 0; c < 5; ++c) m = std::max(m, xv[static_cast<size_t>(i * 5 + c)]);
    for (int c = 0; c < 5; ++c) s += std::exp(xv[static_cast<size_t>(i * 5 + c)] - m);
    ref += -(xv[static_cast<size_t>(i * 5 + tv[static_cast<size_t>(i)])] - m - std::log(s));
  }
  EXPECT_NEAR(nn::cross_entropy(x, t).item<double>(), ref / 6, 1e-12);
  EXPECT_NEAR(nn::nll_loss(log_softmax(x, 1), t).item<double>(), ref / 6, 1e-12);
}
