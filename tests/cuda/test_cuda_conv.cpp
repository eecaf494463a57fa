// CPU-vs-CUDA agreement of conv2d and its backward ops (kernels/cuda/conv.cpp,
// cuDNN, through its graph API and again through the descriptor API):
// padding, stride, dilation, groups (depthwise included), 1x1 and non-square
// kernels, bias, unbatched input, float32/float64/float16/bfloat16, the TF32
// switch, and the plan cache (the same shape twice, then another). Every test
// but GraphDescriptorsFinalize (which needs no GPU) skips cleanly without one.
// Tolerances: rtol 1e-4 for float32 (the CPU runs im2col + GEMM, cuDNN its own
// summation order), 2e-2 for 16-bit, 1e-2 with TF32; the absolute part is
// cuda_compare's, scaled by the RMS of the expected values (a sum of K
// products has rounding error ~ sqrt(K) ulps of its terms, so outputs near
// zero are judged against the scale of the whole output).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "cuda_compare.hpp"

#if defined(EMBER_WITH_CUDA)
#include <ember/kernels/cuda/register.hpp>
#include <ember/runtime/cuda_stream.hpp>

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "conv2d conv2d_backward_input conv2d_backward_weight ");
#endif

namespace {

using namespace ember;
using ember::testing::all_close;
using ember::testing::gpu;
using ember::testing::non_contiguous;
// Convolutions sum many products: their rounding grows with the output's scale.
using ember::testing::cuda_matches_rms;

struct ConvCase {
  std::vector<int64_t> x, w;
  Conv2dArgs args;
  std::string what;
};

Conv2dArgs conv_args(int64_t stride, int64_t pad, int64_t dilation, int64_t groups) {
  Conv2dArgs a;
  a.stride[0] = stride, a.stride[1] = stride == 1 ? 1 : stride - 1;  // asymmetric when stride > 1
  a.padding[0] = pad, a.padding[1] = pad;
  a.dilation[0] = dilation, a.dilation[1] = dilation;
  a.groups = groups;
  return a;
}

std::vector<ConvCase> conv_cases() {
  return {{{2, 3, 9, 11}, {4, 3, 3, 3}, conv_args(1, 1, 1, 1), "3x3 pad 1"},
          {{2, 3, 9, 11}, {5, 3, 3, 2}, conv_args(2, 0, 1, 1), "3x2 stride 2"},
          {{1, 4, 12, 10}, {6, 4, 3, 3}, conv_args(1, 2, 2, 1), "dilation 2"},
          {{2, 6, 8, 8}, {9, 2, 3, 3}, conv_args(2, 1, 1, 3), "groups 3"},
          {{2, 4, 7, 7}, {4, 1, 3, 3}, conv_args(1, 1, 1, 4), "depthwise"},
          {{3, 8, 5, 6}, {16, 8, 1, 1}, conv_args(1, 0, 1, 1), "1x1"},
          {{4, 16, 28, 28}, {32, 16, 5, 5}, conv_args(1, 2, 1, 1), "5x5 wide"},
          {{1, 1, 4, 4}, {1, 1, 4, 4}, conv_args(1, 0, 1, 1), "kernel = input"}};
}

// Every case through one cuDNN API, compared with the CPU.
void check_conv_cases() {
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const ConvCase& c : conv_cases()) {
      Tensor x = ops::to(randn(c.x, kFloat64), dt), w = ops::to(randn(c.w, kFloat64), dt);
      Tensor bias = ops::to(randn({c.w[0]}, kFloat64), dt);
      const std::string what = c.what + " x " + x.describe() + " w " + w.describe();
      // The 16-bit CPU reference is computed in float32 from the same rounded inputs.
      Tensor y = ops::conv2d(x, w, bias, c.args);
      Tensor yg = ops::conv2d(gpu(x), gpu(w), gpu(bias), c.args);
      EXPECT_TRUE(cuda_matches_rms(yg, y)) << "conv2d " << what;
      EXPECT_TRUE(cuda_matches_rms(ops::conv2d(non_contiguous(gpu(x)), gpu(w), {}, c.args), ops::conv2d(x, w, {}, c.args)))
          << "conv2d no bias, non-contiguous x " << what;
      Tensor go = ops::to(randn(y.shape(), kFloat64), dt);
      EXPECT_TRUE(cuda_matches_rms(ops::conv2d_backward_input(gpu(go), gpu(w), x.shape(), c.args),
                               ops::conv2d_backward_input(go, w, x.shape(), c.args)))
          << "conv2d_backward_input " << what;
      EXPECT_TRUE(cuda_matches_rms(ops::conv2d_backward_weight(gpu(go), gpu(x), w.shape(), c.args),
                               ops::conv2d_backward_weight(go, x, w.shape(), c.args)))
          << "conv2d_backward_weight " << what;
    }
  }
}

TEST(CudaConv, ForwardAndBackwardMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(51);
#if defined(EMBER_WITH_CUDA)
  if (!cuda::built_with_cudnn()) GTEST_SKIP() << "this CUDA build has no cuDNN (conv2d needs it)";
  // The graph API (default): it must build plans itself (a silent fall back everywhere would fail).
  ASSERT_EQ(cuda::cudnn_conv_api(), cuda::CudnnConvApi::graph);
  const cuda::CudnnCounts before = cuda::cudnn_counts();
  check_conv_cases();
  const cuda::CudnnCounts graph = cuda::cudnn_counts();
  EXPECT_GT(graph.conv_graph_plans, before.conv_graph_plans) << "no convolution plan came from cuDNN's graph API";
  // The descriptor API, forced: every new plan is a legacy one.
  {
    ember::testing::SwitchGuard<cuda::CudnnConvApi> legacy_api(cuda::set_cudnn_conv_api, cuda::cudnn_conv_api,
                                                              cuda::CudnnConvApi::legacy);
    check_conv_cases();
  }
  const cuda::CudnnCounts legacy = cuda::cudnn_counts();
  EXPECT_EQ(legacy.conv_graph_plans, graph.conv_graph_plans);
  EXPECT_GE(legacy.conv_legacy_plans - graph.conv_legacy_plans, static_cast<int64_t>(conv_cases().size() * 3 * 4))
      << "forcing the descriptor API did not build one plan per case, direction and dtype";
#else
  check_conv_cases();
#endif
}

#if defined(EMBER_WITH_CUDA)

// cuDNN handles are lent per host thread and taken back when a thread exits: a run of short-lived
// threads, one after another, each convolving, creates at most one handle, and each gets the
// CPU's answer.
TEST(CudaConv, ShortLivedThreadsReuseCudnnHandles) {
  EMBER_SKIP_WITHOUT_GPU();
  if (!cuda::built_with_cudnn()) GTEST_SKIP() << "this CUDA build has no cuDNN";
  const ConvCase& c = conv_cases()[0];
  Tensor x = randn(c.x), w = randn(c.w);
  Tensor want = ops::conv2d(x, w, {}, c.args);
  Tensor xg = gpu(x), wg = gpu(w);
  const int64_t before = cuda::cudnn_counts().handles;
  for (int i = 0; i < 8; ++i) {
    Tensor got;
    std::thread t([&] {
      got = ops::conv2d(xg, wg, {}, c.args);
      cuda::synchronize(got.device().index);
    });
    t.join();
    EXPECT_TRUE(cuda_matches_rms(got, want)) << "thread " << i;
  }
  EXPECT_LE(cuda::cudnn_counts().handles - before, 1) << "short-lived threads did not reuse the cuDNN handle";
}

// The backend descriptors (tensors, convolution, operation node) finalize for every case, direction
// and dtype; cuDNN rejects inconsistent shapes. Needs no GPU: runs in every CUDA build with cuDNN.
TEST(CudaConv, GraphDescriptorsFinalize) {
  if (!cuda::built_with_cudnn()) GTEST_SKIP() << "this CUDA build has no cuDNN";
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const ConvCase& c : conv_cases()) {
      Tensor y = ops::conv2d(randn(c.x), randn(c.w), {}, c.args);
      for (int dir = 0; dir < 3; ++dir)
        EXPECT_EQ(cuda::conv_graph_check(dir, dt, c.x, c.w, y.shape(), c.args), "")
            << c.what << " direction " << dir << " " << dt;
    }
  }
  Conv2dArgs a;
  a.padding[0] = a.padding[1] = 1;
  const std::string wrong_out = cuda::conv_graph_check(0, kFloat32, {2, 3, 9, 11}, {4, 3, 3, 3}, {2, 4, 8, 11}, a);
  EXPECT_NE(wrong_out.find("cudnnBackendFinalize"), std::string::npos) << "wrong output height: " << wrong_out;
  a.groups = 3;
  const std::string wrong_groups = cuda::conv_graph_check(2, kFloat32, {2, 6, 8, 8}, {9, 4, 3, 3}, {2, 9, 8, 8}, a);
  EXPECT_NE(wrong_groups.find("cudnnBackendFinalize"), std::string::npos) << "6 channels, 4 per group: " << wrong_groups;
  EXPECT_EQ(cuda::conv_graph_check(0, kInt32, {2, 3, 9, 11}, {4, 3, 3, 3}, {2, 4, 9, 11}, a),
            "no cuDNN convolution for this dtype");
  EXPECT_THROW(cuda::conv_graph_check(3, kFloat32, {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}, a), Error);
}
#endif

TEST(CudaConv, UnbatchedCachedPlansAndTf32) {
  EMBER_SKIP_WITHOUT_GPU();
#if defined(EMBER_WITH_CUDA)
  if (!cuda::built_with_cudnn()) GTEST_SKIP() << "this CUDA build has no cuDNN (conv2d needs it)";
#endif
  manual_seed(52);
  Conv2dArgs a = conv_args(1, 1, 1, 1);
  Tensor x = randn({3, 10, 10}), w = randn({5, 3, 3, 3});
  EXPECT_TRUE(cuda_matches_rms(ops::conv2d(gpu(x), gpu(w), {}, a), ops::conv2d(x, w, {}, a))) << "unbatched";
  // The same problem again reuses its cached plan; new values, same answer as the CPU.
  for (int i = 0; i < 3; ++i) {
    Tensor xi = randn({2, 3, 10, 10});
    EXPECT_TRUE(cuda_matches_rms(ops::conv2d(gpu(xi), gpu(w), {}, a), ops::conv2d(xi, w, {}, a))) << "repeat " << i;
  }
  // Nothing to sum (no input channels): the bias, as on the CPU.
  Tensor no_channels = randn({2, 0, 6, 6}), w0 = randn({3, 0, 3, 3}), b0 = randn({3});
  EXPECT_TRUE(cuda_matches_rms(ops::conv2d(gpu(no_channels), gpu(w0), gpu(b0), a), ops::conv2d(no_channels, w0, b0, a)))
      << "no input channels";
  Tensor go = randn({5, 10, 10});
  EXPECT_TRUE(cuda_matches_rms(ops::conv2d_backward_input(gpu(go), gpu(w), x.shape(), a),
                           ops::conv2d_backward_input(go, w, x.shape(), a)))
      << "unbatched backward_input";
  EXPECT_TRUE(cuda_matches_rms(ops::conv2d_backward_weight(gpu(go), gpu(x), w.shape(), a),
                           ops::conv2d_backward_weight(go, x, w.shape(), a)))
      << "unbatched backward_weight";
#if defined(EMBER_WITH_CUDA)
  Tensor xb = randn({8, 32, 16, 16}), wb = randn({64, 32, 3, 3});
  Tensor tf32;
  {
    ember::testing::SwitchGuard<bool> allow(cuda::set_allow_tf32, cuda::allow_tf32, true);
    tf32 = ops::conv2d(gpu(xb), gpu(wb), {}, a);
  }
  EXPECT_TRUE(all_close(tf32, ops::conv2d(xb, wb, {}, a), 2e-1, 1e-2)) << "TF32 conv2d";
  EXPECT_TRUE(cuda_matches_rms(ops::conv2d(gpu(xb), gpu(wb), {}, a), ops::conv2d(xb, wb, {}, a))) << "full float32 again";
#endif
}

}  // namespace
