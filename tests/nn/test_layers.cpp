// Layers: shapes, PyTorch's default init bounds, forward against the functional ops, modes.
#include <cmath>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::to_vector;

TEST(Layers, LinearInitBoundsAndForward) {
  manual_seed(0);
  nn::Linear lin(100, 30);
  EXPECT_EQ(lin.weight.shape(), (Dims{30, 100}));
  const double bound = 1.0 / std::sqrt(100.0);  // kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
  for (double v : to_vector(lin.weight)) EXPECT_LE(std::fabs(v), bound + 1e-7);
  for (double v : to_vector(lin.bias)) EXPECT_LE(std::fabs(v), bound + 1e-7);
  double max_abs = 0;
  for (double v : to_vector(lin.weight)) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_GT(max_abs, 0.9 * bound);  // actually spans the range
  Tensor x = randn({7, 100});
  EXPECT_TRUE(all_close(lin(x), ops::add(ops::matmul(x, ops::t(lin.weight)), lin.bias), 1e-5, 1e-5));
  expect_error([&] { lin(randn({7, 99})); }, {"[7, 99]"});
}

// Linear with a fused activation: the same values and gradients as Linear followed by the activation.
TEST(Layers, LinearWithActivationMatchesTheComposition) {
  manual_seed(1);
  nn::Linear lin(20, 9);
  Tensor x = randn({6, 20});
  Tensor plain = lin(x);
  lin.activation = Activation::relu;
  EXPECT_NE(lin.extra_repr().find("activation=relu"), std::string::npos) << lin.extra_repr();
  Tensor fused = lin(x);
  EXPECT_TRUE(all_close(fused, relu(plain), 0.0, 0.0));
  fused.sum().backward();
  Tensor gw_fused = lin.weight.grad().clone(), gb_fused = lin.bias.grad().clone();
  lin.zero_grad();
  relu(plain).sum().backward();
  EXPECT_TRUE(all_close(gw_fused, lin.weight.grad(), 1e-6, 1e-6));
  EXPECT_TRUE(all_close(gb_fused, lin.bias.grad(), 1e-6, 1e-6));
  EXPECT_LT(ops::amin(plain).item<float>(), 0.0f);  // relu clipped something, so its mask mattered
  lin.activation = Activation::gelu_tanh;
  EXPECT_TRUE(all_close(lin(x), gelu(linear(x, lin.weight, lin.bias), "tanh"), 1e-6, 1e-6));
}

TEST(Layers, Conv2dShapes) {
  nn::Conv2d conv(3, 8, 3, 2, 1, 1, 1);
  EXPECT_EQ(conv.weight.shape(), (Dims{8, 3, 3, 3}));
  EXPECT_EQ(conv(randn({2, 3, 9, 9})).shape(), (Dims{2, 8, 5, 5}));
  nn::Conv2d grouped(4, 8, 3, 1, 1, 1, 2);
  EXPECT_EQ(grouped.weight.shape(), (Dims{8, 2, 3, 3}));
  expect_error([] { nn::Conv2d bad(3, 8, 3, 1, 0, 1, 2); }, {"divisible by groups"});
}

TEST(Layers, BatchNormTrainUpdatesRunningStatsEvalUsesThem) {
  manual_seed(0);
  nn::BatchNorm2d bn(3);
  Tensor x = randn({4, 3, 5, 5}) * 2.0 + 1.0;
  Tensor y = bn(x);
  // Training output is normalised per channel.
  Tensor m = ops::mean(y, {0, 2, 3});
  EXPECT_TRUE(all_close(m, zeros({3}), 1e-5, 0));
  // running_mean moved 10% toward the batch mean.
  EXPECT_TRUE(all_close(bn.running_mean, ops::mean(x, {0, 2, 3}) * 0.1, 1e-5, 1e-4));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  bn.eval();
  Tensor before = ops::clone(bn.running_mean);
  Tensor ye = bn(x);
  EXPECT_TRUE(all_close(bn.running_mean, before, 0, 0));
  Tensor expect = (x - bn.running_mean.reshape({1, 3, 1, 1})) / ops::sqrt(bn.running_var.reshape({1, 3, 1, 1}) + 1e-5);
  EXPECT_TRUE(all_close(ye, expect, 1e-5, 1e-5));
  expect_error([&] { bn(randn({4, 2, 5, 5})); }, {"BatchNorm2d", "3 channels"});
}

TEST(Layers, DropoutIsIdentityInEval) {
  nn::Dropout d(0.5);
  Tensor x = ones({1000});
  Tensor y = d(x);
  double kept = 0;
  for (double v : to_vector(y)) {
    EXPECT_TRUE(v == 0.0 || v == 2.0);
    kept += v != 0.0;
  }
  EXPECT_NEAR(kept / 1000, 0.5, 0.1);
  d.eval();
  EXPECT_TRUE(all_close(d(x), x, 0, 0));
}

TEST(Layers, PoolingFlattenActivations) {
  Tensor x = randn({2, 3, 8, 8});
  EXPECT_EQ(nn::MaxPool2d(2)(x).shape(), (Dims{2, 3, 4, 4}));
  EXPECT_EQ(nn::AvgPool2d(2)(x).shape(), (Dims{2, 3, 4, 4}));
  EXPECT_EQ(nn::AdaptiveAvgPool2d({1})(x).shape(), (Dims{2, 3, 1, 1}));
  EXPECT_EQ(nn::Flatten()(x).shape(), (Dims{2, 192}));
  EXPECT_TRUE(all_close(nn::ReLU()(x), ops::relu(x), 0, 0));
  EXPECT_TRUE(all_close(nn::GELU("tanh")(x), ops::gelu(x, "tanh"), 0, 0));
  EXPECT_TRUE(all_close(nn::Softmax(1)(x).sum({1}), ones({2, 8, 8}), 1e-5, 0));
}

TEST(Layers, LayerNormGroupNormEmbedding) {
  Tensor x = randn({4, 6});
  nn::LayerNorm ln({6});
  EXPECT_TRUE(all_close(ops::mean(ln(x), {1}), zeros({4}), 1e-5, 0));
  nn::GroupNorm gn(2, 4);
  EXPECT_EQ(gn(randn({3, 4, 5, 5})).shape(), (Dims{3, 4, 5, 5}));
  nn::Embedding emb(10, 3);
  Tensor idx = ember::tensor({1, 4, 1});
  Tensor e = emb(idx);
  EXPECT_EQ(e.shape(), (Dims{3, 3}));
  EXPECT_TRUE(all_close(e[0], e[2], 0, 0));
  expect_error([&] { emb(ember::tensor({10})); }, {"10"});
}

TEST(Layers, ResidualBlockShapesAndGradients) {
  nn::ResidualBlock block(4, 8, 2);
  Tensor x = randn({2, 4, 6, 6});
  Tensor y = block(x);
  EXPECT_EQ(y.shape(), (Dims{2, 8, 3, 3}));
  sum(y).backward();
  for (auto& [n, p] : block.named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
}
