// Autocast: which ops run in the 16-bit dtype and which in float32, that
// float32 parameters get float32 gradients close to a float32 run's, that the
// running statistics of batch norm stay float32, and that the state is per
// thread and can be switched off inside a region.
#include <thread>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;

TEST(Autocast, MatrixOpsRunIn16BitAndSensitiveOpsInFloat32) {
  manual_seed(0);
  Tensor x = randn({4, 8}), w = randn({5, 8}), b = randn({5});
  Tensor img = randn({2, 3, 6, 6}), k = randn({4, 3, 3, 3});
  for (DType low : {kBFloat16, kFloat16}) {
    AutocastGuard amp(low);
    EXPECT_TRUE(autocast_enabled());
    EXPECT_EQ(autocast_dtype(), low);
    EXPECT_EQ(mm(x, t(w)).dtype(), low);
    EXPECT_EQ(matmul(x, t(w)).dtype(), low);
    EXPECT_EQ(bmm(unsqueeze(x, 0), unsqueeze(t(w), 0)).dtype(), low);
    EXPECT_EQ(linear(x, w, b).dtype(), low);
    EXPECT_EQ(conv2d(img, k).dtype(), low);
    Tensor logits = linear(x, w, b);
    EXPECT_EQ(softmax(logits, 1).dtype(), kFloat32);
    EXPECT_EQ(log_softmax(logits, 1).dtype(), kFloat32);
    Tensor target = tensor(std::vector<int64_t>{0, 1, 2, 3});
    EXPECT_EQ(nn::cross_entropy(logits, target).dtype(), kFloat32);
    EXPECT_EQ(layer_norm(logits, {5}).dtype(), kFloat32);
    EXPECT_EQ(relu(logits).dtype(), low);                      // other ops keep their input's dtype
    EXPECT_EQ(add(logits, ones({5})).dtype(), kFloat32);      // and mixing promotes
    Tensor x64 = randn({2, 3}, kFloat64);
    EXPECT_EQ(mm(x64, t(x64)).dtype(), kFloat64);             // float64 is never cast
    {
      AutocastGuard off(low, /*enabled=*/false);
      EXPECT_EQ(mm(x, t(w)).dtype(), kFloat32);
    }
    EXPECT_EQ(mm(x, t(w)).dtype(), low);
    // Values: the 16-bit product of the rounded inputs.
    EXPECT_TRUE(all_close(to(mm(x, t(w)), kFloat32), mm(to(to(x, low), kFloat32), to(to(t(w), low), kFloat32)), 0.05, 0.02));
  }
  EXPECT_FALSE(autocast_enabled());
  EXPECT_EQ(mm(x, t(w)).dtype(), kFloat32);
  expect_error([] { AutocastGuard bad(kFloat64); }, {"bfloat16 or float16", "float64"});
}

TEST(Autocast, Float32ParametersGetFloat32GradientsCloseToAFloat32Run) {
  manual_seed(1);
  Tensor x = randn({16, 12});
  Tensor target = randint(0, 4, {16});
  Tensor w1 = mul(randn({32, 12}), scalar_tensor(0.3f)).requires_grad_(), w2 = mul(randn({4, 32}), scalar_tensor(0.3f)).requires_grad_();
  auto loss_of = [&] { return nn::cross_entropy(linear(relu(linear(x, w1)), w2), target); };
  Tensor full = loss_of();
  full.backward();
  Tensor g1 = ops::clone(w1.grad()), g2 = ops::clone(w2.grad());
  w1.set_grad({});
  w2.set_grad({});
  Tensor mixed;
  {
    AutocastGuard amp(kBFloat16);
    mixed = loss_of();
  }
  EXPECT_EQ(mixed.dtype(), kFloat32);
  mixed.backward();
  EXPECT_EQ(w1.grad().dtype(), kFloat32);
  EXPECT_EQ(w2.grad().dtype(), kFloat32);
  EXPECT_NEAR(mixed.item<double>(), full.item<double>(), 0.02 * std::fabs(full.item<double>()) + 0.01);
  EXPECT_TRUE(all_close(w1.grad(), g1, 0.02, 0.1));
  EXPECT_TRUE(all_close(w2.grad(), g2, 0.02, 0.1));
}

TEST(Autocast, BatchNormRunsInFloat32AndKeepsItsStatistics) {
  manual_seed(2);
  nn::BatchNorm2d bn(3);
  Tensor x = to(randn({4, 3, 5, 5}), kBFloat16);
  AutocastGuard amp(kBFloat16);
  Tensor y = bn.forward(x);
  EXPECT_EQ(y.dtype(), kFloat32);
  for (auto& [name, buffer] : bn.named_buffers())
    if (buffer.dtype().is_floating()) {
      EXPECT_EQ(buffer.dtype(), kFloat32) << name;
    }
  EXPECT_NE(ember::testing::to_vector(bn.named_buffers()[0].second)[0], 0.0);  // the running mean moved
}

TEST(Autocast, StateIsPerThread) {
  AutocastGuard amp(kFloat16);
  bool other_enabled = true;
  DType other_result = kFloat16;
  std::thread worker([&] {
    other_enabled = autocast_enabled();
    other_result = mm(ones({2, 2}), ones({2, 2})).dtype();
  });
  worker.join();
  EXPECT_FALSE(other_enabled);
  EXPECT_EQ(other_result, kFloat32);
  EXPECT_EQ(mm(ones({2, 2}), ones({2, 2})).dtype(), kFloat16);
}
