// CPU-vs-CUDA agreement of nll_loss, cross_entropy and their backward ops
// (kernels/cuda/softmax_loss.cu): every reduction, with and without class
// weights, ignored targets, label smoothing, (N, C), long-row (C > 1024) and
// (N, C, d1, d2) inputs, 1-D inputs, empty batches, and the out-of-range target
// error. Every test skips cleanly without a GPU; float32 rtol 1e-4.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "cuda_compare.hpp"

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "nll_loss nll_loss_backward cross_entropy cross_entropy_backward ");

namespace {

using namespace ember;
using ember::testing::cuda_matches;
using ember::testing::expect_error;
using ember::testing::gpu;

const char* reduction_name(Reduction r) { return r == Reduction::None ? "none" : r == Reduction::Mean ? "mean" : "sum"; }

// Targets in [0, C) with every third one set to ignore_index; shape = input's without dim 1.
Tensor targets_for(const Tensor& input, int64_t ignore) {
  Dims shape = input.shape();
  shape.erase(1);
  Tensor t = randint(0, input.size(1), shape, kInt64);
  Tensor flat = ops::reshape(ops::contiguous(t), {-1});
  int64_t* p = flat.data_ptr<int64_t>();
  for (int64_t i = 0; i < flat.numel(); i += 3) p[i] = ignore;
  return ops::reshape(flat, shape);
}

struct LossCase {
  Tensor input, target, weight;
  CrossEntropyArgs args;
  std::string what;
};

std::vector<LossCase> loss_cases(DType dt, bool smoothing) {
  std::vector<LossCase> cases;
  const std::vector<std::vector<int64_t>> shapes = {{7, 5}, {3, 1500}, {2, 4, 3, 5}, {1, 1}};
  for (const auto& shape : shapes) {
    Tensor input = ops::mul(ops::to(randn(shape, kFloat64), dt), scalar_tensor(2.0, dt));
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      for (bool weighted : {false, true}) {
        for (double eps : smoothing ? std::vector<double>{0.0, 0.1} : std::vector<double>{0.0}) {
          LossCase c;
          c.input = input;
          c.args.reduction = r;
          c.args.ignore_index = -100;
          c.args.label_smoothing = eps;
          c.target = targets_for(input, c.args.ignore_index);
          if (weighted) c.weight = ops::to(ops::add(rand({input.size(1)}, kFloat64), scalar_tensor(0.5, kFloat64)), dt);
          c.what = input.describe() + " reduction " + reduction_name(r) + (weighted ? " weighted" : "") +
                   " smoothing " + std::to_string(eps);
          cases.push_back(c);
        }
      }
    }
  }
  return cases;
}

// The upstream gradient for a loss of this case: one per target (None) or a scalar.
Tensor grad_for(const LossCase& c) {
  if (c.args.reduction == Reduction::None) return ops::to(randn(c.target.shape(), kFloat64), c.input.dtype());
  return ops::to(scalar_tensor(1.7, kFloat64), c.input.dtype());
}

TEST(CudaLoss, CrossEntropyForwardBackwardMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(31);
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (const LossCase& c : loss_cases(dt, true)) {
      const Tensor xg = gpu(c.input), tg = gpu(c.target), wg = gpu(c.weight);
      EXPECT_TRUE(cuda_matches(ops::cross_entropy(xg, tg, wg, c.args), ops::cross_entropy(c.input, c.target, c.weight, c.args)))
          << "cross_entropy " << c.what;
      const Tensor g = grad_for(c);
      EXPECT_TRUE(cuda_matches(ops::cross_entropy_backward(gpu(g), xg, tg, wg, c.args),
                               ops::cross_entropy_backward(g, c.input, c.target, c.weight, c.args)))
          << "cross_entropy_backward " << c.what;
    }
  }
}

TEST(CudaLoss, NllLossForwardBackwardMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(32);
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (LossCase c : loss_cases(dt, false)) {
      c.input = ops::log_softmax(c.input, 1);
      const Tensor xg = gpu(c.input), tg = gpu(c.target), wg = gpu(c.weight);
      EXPECT_TRUE(cuda_matches(ops::nll_loss(xg, tg, wg, c.args), ops::nll_loss(c.input, c.target, c.weight, c.args)))
          << "nll_loss " << c.what;
      const Tensor g = grad_for(c);
      EXPECT_TRUE(cuda_matches(ops::nll_loss_backward(gpu(g), xg, tg, wg, c.args),
                               ops::nll_loss_backward(g, c.input, c.target, c.weight, c.args)))
          << "nll_loss_backward " << c.what;
    }
  }
}

TEST(CudaLoss, EdgeCasesAndErrors) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(33);
  CrossEntropyArgs mean;
  // 1-D input with a 0-dim target; a non-contiguous input.
  Tensor x1 = randn({6});
  Tensor t1 = scalar_tensor(int64_t{4}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::cross_entropy(gpu(x1), gpu(t1), {}, mean), ops::cross_entropy(x1, t1, {}, mean)));
  Tensor xt = ops::transpose(randn({5, 8}), 0, 1);  // (8, 5), column-major
  Tensor tt = randint(0, 5, {8}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::cross_entropy(gpu(xt), gpu(tt), {}, mean), ops::cross_entropy(xt, tt, {}, mean)));
  // Every target ignored: mean is 0 / 0 = NaN, sum is 0, gradients are 0.
  Tensor xa = randn({4, 3});
  Tensor ta = full({4}, Scalar(int64_t{-100}), kInt64);
  EXPECT_TRUE(cuda_matches(ops::cross_entropy(gpu(xa), gpu(ta), {}, mean), ops::cross_entropy(xa, ta, {}, mean)));
  EXPECT_TRUE(cuda_matches(ops::nll_loss_backward(gpu(scalar_tensor(1.0f)), gpu(xa), gpu(ta), {}, mean),
                           ops::nll_loss_backward(scalar_tensor(1.0f), xa, ta, {}, mean)));
  // An empty batch: none gives an empty result, mean NaN.
  Tensor xe = empty({0, 3});
  Tensor te = empty({0}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::cross_entropy(gpu(xe), gpu(te), {}, mean), ops::cross_entropy(xe, te, {}, mean)));
  CrossEntropyArgs none;
  none.reduction = Reduction::None;
  EXPECT_EQ(ops::cross_entropy(gpu(xe), gpu(te), {}, none).numel(), 0);
  // Extreme logits: +inf and -inf in a row.
  Tensor xi = ember::testing::from_values({std::numeric_limits<double>::infinity(), 1.0, -std::numeric_limits<double>::infinity(),
                                           0.0, 2.0, 3.0},
                                          {2, 3}, kFloat32);
  Tensor ti = ember::testing::from_values({1, 2}, {2}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::cross_entropy(gpu(xi), gpu(ti), {}, none), ops::cross_entropy(xi, ti, {}, none)));
  // A target outside [0, C) names the value and C, as on the CPU.
  Tensor bad = ember::testing::from_values({1, 9, 0}, {3}, kInt64);
  Tensor xb = gpu(randn({3, 5}));
  expect_error([&] { ops::cross_entropy(xb, gpu(bad), {}, mean); },
               {"cross_entropy", "target 9 is out of bounds for 5 classes"});
  expect_error([&] { ops::nll_loss(xb, gpu(bad), {}, mean); }, {"nll_loss", "target 9 is out of bounds for 5 classes"});
  expect_error([&] { ops::cross_entropy_backward(gpu(scalar_tensor(1.0f)), xb, gpu(bad), {}, mean); },
               {"cross_entropy_backward", "target 9"});
  Tensor negative = ember::testing::from_values({1, -3, 0}, {3}, kInt64);
  expect_error([&] { ops::nll_loss_backward(gpu(scalar_tensor(1.0f)), xb, gpu(negative), {}, mean); },
               {"nll_loss_backward", "target -3 is out of bounds"});
}

}  // namespace
