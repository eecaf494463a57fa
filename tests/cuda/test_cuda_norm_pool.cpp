// CPU-vs-CUDA agreement of batch/layer/group norm (kernels/cuda/norm.cu,
// norm_layer.cu) and 2-D pooling (kernels/cuda/pool.cu), forward and backward:
// saved statistics, running-stat updates, optional affine parameters of another
// dtype, training and eval, every pooling option, unbatched and non-contiguous
// inputs, and the bad-index error of max_pool2d_backward; batch norm in training
// through cuDNN and again through ember's kernels. Every test skips cleanly
// without a GPU; float32 rtol 1e-4, pooling indices exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_compare.hpp"

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "max_pool2d max_pool2d_backward avg_pool2d avg_pool2d_backward adaptive_avg_pool2d "
    "adaptive_avg_pool2d_backward batch_norm batch_norm_backward layer_norm "
    "layer_norm_backward group_norm group_norm_backward ");

namespace {

using namespace ember;
using ember::testing::cuda_matches;
using ember::testing::expect_error;
using ember::testing::gpu;
using ember::testing::non_contiguous;

Tensor positive(IntList shape, DType dt) {
  return ops::to(ops::add(rand(shape, kFloat64), scalar_tensor(0.5, kFloat64)), dt);
}

// Training and eval, forward and backward, against the CPU (in training through whichever path
// cuda::cudnn_batch_norm() selects).
void check_batch_norm_cases() {
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (const std::vector<int64_t>& shape :
         std::vector<std::vector<int64_t>>{{16, 3}, {4, 3, 5, 6}, {2, 70, 9, 9}, {3, 5, 4, 2, 3}, {8, 16, 40, 40}}) {
      const int64_t C = shape[1];
      Tensor x = ops::to(ops::add(ops::mul(randn(shape, kFloat64), scalar_tensor(2.0, kFloat64)),
                                  scalar_tensor(0.7, kFloat64)), dt);
      Tensor g = ops::to(randn(shape, kFloat64), dt);
      for (bool affine : {false, true}) {
        for (bool training : {true, false}) {
          // Affine parameters and running stats in float32 whatever x's dtype (mixed dtypes are allowed).
          Tensor w = affine ? randn({C}) : Tensor(), b = affine ? randn({C}) : Tensor();
          Tensor rm = randn({C}), rv = positive({C}, kFloat32);
          Tensor rm_g = gpu(rm), rv_g = gpu(rv);
          NormArgs args;
          args.training = training;
          args.momentum = 0.2;
          const std::string what = x.describe() + (affine ? " affine" : "") + (training ? " training" : " eval");
          auto [y, mean, invstd] = ops::batch_norm(x, w, b, rm, rv, args);
          auto [yg, mean_g, invstd_g] = ops::batch_norm(gpu(x), gpu(w), gpu(b), rm_g, rv_g, args);
          EXPECT_TRUE(cuda_matches(yg, y)) << "batch_norm out " << what;
          EXPECT_TRUE(cuda_matches(mean_g, mean)) << "batch_norm mean " << what;
          EXPECT_TRUE(cuda_matches(invstd_g, invstd)) << "batch_norm invstd " << what;
          EXPECT_TRUE(cuda_matches(rm_g, rm)) << "batch_norm running_mean " << what;
          EXPECT_TRUE(cuda_matches(rv_g, rv)) << "batch_norm running_var " << what;
          auto [gx, gw, gb] = ops::batch_norm_backward(g, x, w, mean, invstd, args);
          auto [gx_g, gw_g, gb_g] = ops::batch_norm_backward(gpu(g), gpu(x), gpu(w), mean_g, invstd_g, args);
          EXPECT_TRUE(cuda_matches(gx_g, gx)) << "batch_norm_backward grad_x " << what;
          // Per-channel sums over N * S elements (12800 for the largest shape), in float inside cuDNN.
          EXPECT_TRUE(ember::testing::cuda_matches_rms(gw_g, gw)) << "batch_norm_backward grad_w " << what;
          EXPECT_TRUE(ember::testing::cuda_matches_rms(gb_g, gb)) << "batch_norm_backward grad_b " << what;
        }
      }
    }
  }
}

TEST(CudaNorm, BatchNormTrainingAndEvalMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(41);
#if defined(EMBER_WITH_CUDA)
  // Training through cuDNN (the default): every training call (forward and backward) must go there.
  ASSERT_TRUE(cuda::cudnn_batch_norm());
  const int64_t before = cuda::cudnn_counts().batch_norm_calls;
  check_batch_norm_cases();
  const int64_t through_cudnn = cuda::cudnn_counts().batch_norm_calls - before;
  if (cuda::built_with_cudnn()) {
    EXPECT_GE(through_cudnn, 3 * 5 * 2 * 2) << "training batch norm did not go through cuDNN";
  }
  // The same on ember's own kernels.
  {
    ember::testing::SwitchGuard<bool> own_kernels(cuda::set_cudnn_batch_norm, cuda::cudnn_batch_norm, false);
    check_batch_norm_cases();
  }
  EXPECT_EQ(cuda::cudnn_counts().batch_norm_calls - before, through_cudnn) << "the switch did not keep cuDNN out";
#else
  check_batch_norm_cases();
#endif
  // Running stats as non-contiguous float64 views are updated in place through their strides.
  Tensor x = randn({8, 4, 3});
  Tensor rm_big = zeros({8}, kFloat64), rv_big = ones({8}, kFloat64);
  Tensor rm = ops::slice(rm_big, 0, 0, std::nullopt, 2), rv = ops::slice(rv_big, 0, 0, std::nullopt, 2);
  Tensor rm_g_big = gpu(rm_big), rv_g_big = gpu(rv_big);
  Tensor rm_g = ops::slice(rm_g_big, 0, 0, std::nullopt, 2), rv_g = ops::slice(rv_g_big, 0, 0, std::nullopt, 2);
  NormArgs args;
  ops::batch_norm(x, {}, {}, rm, rv, args);
  ops::batch_norm(gpu(x), {}, {}, rm_g, rv_g, args);
  EXPECT_TRUE(cuda_matches(rm_g_big, rm_big)) << "strided running_mean";
  EXPECT_TRUE(cuda_matches(rv_g_big, rv_big)) << "strided running_var";
}

TEST(CudaNorm, LayerNormMatchesCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(42);
  struct Case {
    std::vector<int64_t> shape, normalized;
  };
  const std::vector<Case> cases = {{{7, 10}, {10}}, {{3, 4, 2000}, {2000}}, {{2, 3, 4, 5}, {4, 5}}, {{5, 1}, {1}}};
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (const Case& c : cases) {
      Tensor x = ops::to(ops::add(randn(c.shape, kFloat64), scalar_tensor(1.5, kFloat64)), dt);
      Tensor g = ops::to(randn(c.shape, kFloat64), dt);
      for (bool affine : {false, true}) {
        Tensor w = affine ? ops::to(randn(c.normalized, kFloat64), dt) : Tensor();
        Tensor b = affine ? ops::to(randn(c.normalized, kFloat64), dt) : Tensor();
        const std::string what = x.describe() + (affine ? " affine" : "");
        auto [y, mean, rstd] = ops::layer_norm(x, c.normalized, w, b, 1e-5);
        auto [yg, mean_g, rstd_g] = ops::layer_norm(non_contiguous(gpu(x)), c.normalized, gpu(w), gpu(b), 1e-5);
        EXPECT_TRUE(cuda_matches(yg, y)) << "layer_norm out " << what;
        EXPECT_TRUE(cuda_matches(mean_g, mean)) << "layer_norm mean " << what;
        EXPECT_TRUE(cuda_matches(rstd_g, rstd)) << "layer_norm rstd " << what;
        auto [gx, gw, gb] = ops::layer_norm_backward(g, x, c.normalized, w, mean, rstd);
        auto [gx_g, gw_g, gb_g] = ops::layer_norm_backward(gpu(g), gpu(x), c.normalized, gpu(w), mean_g, rstd_g);
        EXPECT_TRUE(cuda_matches(gx_g, gx)) << "layer_norm_backward grad_x " << what;
        EXPECT_TRUE(cuda_matches(gw_g, gw)) << "layer_norm_backward grad_w " << what;
        EXPECT_TRUE(cuda_matches(gb_g, gb)) << "layer_norm_backward grad_b " << what;
      }
    }
  }
}

TEST(CudaNorm, GroupNormMatchesCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(43);
  struct Case {
    std::vector<int64_t> shape;
    int64_t groups;
  };
  const std::vector<Case> cases = {{{4, 6, 5, 5}, 3}, {{2, 4, 7}, 2}, {{3, 8}, 4}, {{2, 6, 3, 3}, 1}, {{1, 4, 2, 2}, 4}};
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (const Case& c : cases) {
      const int64_t C = c.shape[1];
      Tensor x = ops::to(ops::sub(randn(c.shape, kFloat64), scalar_tensor(0.3, kFloat64)), dt);
      Tensor g = ops::to(randn(c.shape, kFloat64), dt);
      for (bool affine : {false, true}) {
        Tensor w = affine ? randn({C}) : Tensor(), b = affine ? randn({C}) : Tensor();
        const std::string what = x.describe() + " groups " + std::to_string(c.groups) + (affine ? " affine" : "");
        auto [y, mean, rstd] = ops::group_norm(x, c.groups, w, b, 1e-5);
        auto [yg, mean_g, rstd_g] = ops::group_norm(gpu(x), c.groups, gpu(w), gpu(b), 1e-5);
        EXPECT_TRUE(cuda_matches(yg, y)) << "group_norm out " << what;
        EXPECT_TRUE(cuda_matches(mean_g, mean)) << "group_norm mean " << what;
        EXPECT_TRUE(cuda_matches(rstd_g, rstd)) << "group_norm rstd " << what;
        auto [gx, gw, gb] = ops::group_norm_backward(g, x, c.groups, w, mean, rstd);
        auto [gx_g, gw_g, gb_g] = ops::group_norm_backward(gpu(g), gpu(x), c.groups, gpu(w), mean_g, rstd_g);
        EXPECT_TRUE(cuda_matches(gx_g, gx)) << "group_norm_backward grad_x " << what;
        EXPECT_TRUE(cuda_matches(gw_g, gw)) << "group_norm_backward grad_w " << what;
        EXPECT_TRUE(cuda_matches(gb_g, gb)) << "group_norm_backward grad_b " << what;
      }
    }
  }
}

Pool2dArgs pool(int64_t k, int64_t s, int64_t p, int64_t d = 1, bool ceil_mode = false, bool include_pad = true) {
  Pool2dArgs a;
  a.kernel[0] = k, a.kernel[1] = k == 3 ? 2 : k;  // a non-square kernel when k == 3
  a.stride[0] = s, a.stride[1] = s;
  a.padding[0] = p, a.padding[1] = std::min<int64_t>(p, a.kernel[1] / 2);
  a.dilation[0] = d, a.dilation[1] = d;
  a.ceil_mode = ceil_mode, a.count_include_pad = include_pad;
  return a;
}

TEST(CudaPool, MaxAvgAdaptiveForwardBackwardMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(44);
  const std::vector<Pool2dArgs> max_args = {pool(2, 2, 0), pool(3, 1, 1), pool(3, 2, 1, 2), pool(2, 3, 1, 1, true),
                                            pool(5, 2, 2, 1, true)};
  const std::vector<Pool2dArgs> avg_args = {pool(2, 2, 0), pool(3, 1, 1), pool(3, 2, 1, 1, false, false),
                                            pool(2, 3, 1, 1, true), pool(4, 3, 2, 1, true, false)};
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    // Small integers make ties common in max pooling (the first maximum wins).
    const std::vector<ember::testing::CpuGpu> inputs = {
        ember::testing::contiguous_pair(ops::to(randint(-4, 5, {2, 3, 11, 9}, kInt64), dt)),
        ember::testing::strided_pair(ops::to(randn({1, 2, 8, 12}, kFloat64), dt)),
        ember::testing::contiguous_pair(ops::to(randn({3, 7, 7}, kFloat64), dt))};
    for (const auto& [x, xg] : inputs) {
      for (const Pool2dArgs& a : max_args) {
        const std::string what = x.describe() + " kernel " + std::to_string(a.kernel[0]) + "x" +
                                 std::to_string(a.kernel[1]) + " stride " + std::to_string(a.stride[0]) + " pad " +
                                 std::to_string(a.padding[0]) + " dilation " + std::to_string(a.dilation[0]) +
                                 (a.ceil_mode ? " ceil" : "");
        auto [y, idx] = ops::max_pool2d_with_indices(x, a);
        auto [yg, idxg] = ops::max_pool2d_with_indices(xg, a);
        EXPECT_TRUE(cuda_matches(yg, y)) << "max_pool2d " << what;
        EXPECT_TRUE(cuda_matches(idxg, idx)) << "max_pool2d indices " << what;
        Tensor go = ops::to(randn(y.shape(), kFloat64), dt);
        EXPECT_TRUE(cuda_matches(ops::max_pool2d_backward(gpu(go), idxg, x.shape()),
                                 ops::max_pool2d_backward(go, idx, x.shape()), ember::testing::kRtolElementwise))
            << "max_pool2d_backward " << what;
      }
      for (const Pool2dArgs& a : avg_args) {
        const std::string what = x.describe() + " kernel " + std::to_string(a.kernel[0]) + " stride " +
                                 std::to_string(a.stride[0]) + " pad " + std::to_string(a.padding[0]) +
                                 (a.ceil_mode ? " ceil" : "") + (a.count_include_pad ? "" : " exclude_pad");
        Tensor y = ops::avg_pool2d(x, a);
        EXPECT_TRUE(cuda_matches(ops::avg_pool2d(xg, a), y, ember::testing::kRtolElementwise)) << "avg_pool2d " << what;
        Tensor go = ops::to(randn(y.shape(), kFloat64), dt);
        EXPECT_TRUE(cuda_matches(ops::avg_pool2d_backward(gpu(go), x.shape(), a), ops::avg_pool2d_backward(go, x.shape(), a),
                                 ember::testing::kRtolElementwise))
            << "avg_pool2d_backward " << what;
      }
      for (const std::vector<int64_t>& size : std::vector<std::vector<int64_t>>{{1, 1}, {3, 2}, {4, 5}, {7, 7}, {10, 13}}) {
        const std::string what = x.describe() + " to " + std::to_string(size[0]) + "x" + std::to_string(size[1]);
        Tensor y = ops::adaptive_avg_pool2d(x, size);
        EXPECT_TRUE(cuda_matches(ops::adaptive_avg_pool2d(xg, size), y, ember::testing::kRtolElementwise))
            << "adaptive_avg_pool2d " << what;
        Tensor go = ops::to(randn(y.shape(), kFloat64), dt);
        EXPECT_TRUE(cuda_matches(ops::adaptive_avg_pool2d_backward(gpu(go), x.shape()),
                                 ops::adaptive_avg_pool2d_backward(go, x.shape()), ember::testing::kRtolElementwise))
            << "adaptive_avg_pool2d_backward " << what;
      }
    }
  }
}

TEST(CudaPool, NanWinsAndBadIndicesAreErrors) {
  EMBER_SKIP_WITHOUT_GPU();
  Tensor x = ember::testing::from_values({1, 2, std::numeric_limits<double>::quiet_NaN(), 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3},
                                         kFloat32);
  auto [y, idx] = ops::max_pool2d_with_indices(x, pool(2, 1, 0));
  auto [yg, idxg] = ops::max_pool2d_with_indices(gpu(x), pool(2, 1, 0));
  EXPECT_TRUE(cuda_matches(yg, y));
  EXPECT_TRUE(cuda_matches(idxg, idx));
  Tensor bad = ember::testing::from_values({0, 99, 1, 2}, {1, 1, 2, 2}, kInt64);
  expect_error([&] { ops::max_pool2d_backward(gpu(ones({1, 1, 2, 2})), gpu(bad), {1, 1, 3, 3}); },
               {"max_pool2d_backward", "index 99 is out of range for an input plane of 3x3"});
}

}  // namespace
