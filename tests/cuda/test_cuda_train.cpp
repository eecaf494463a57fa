// End to end on the GPU: a few Adam steps of an MLP and of a small CNN (conv,
// batch norm, ReLU, max pool, linear, cross-entropy), built from one seed on
// the CPU and on the GPU (Module::to), must give the same losses step by step
// and the same logits afterwards. This is what "an ember program runs on a GPU
// by moving its tensors with .to(kCUDA)" means for autograd, nn and optim
// together. Skips cleanly without a GPU; also rehearsed on the CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <ember/ember.hpp>

#include "cuda_compare.hpp"

namespace {

using namespace ember;
using ember::testing::gpu;
using ember::testing::kGpu;
using ember::testing::to_gpu;

std::shared_ptr<nn::Module> make_mlp() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(64, 32),
                                          std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 10));
}

// The convolution has no bias: before batch norm its gradient is zero up to rounding, which Adam would
// turn into +-lr steps of either sign on either device (and batch norm's running mean keeps them).
std::shared_ptr<nn::Module> make_cnn() {
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(1, 8, 3, 1, 1, 1, 1, /*bias=*/false), std::make_shared<nn::BatchNorm2d>(8),
      std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(8 * 4 * 4, 10));
}

// Losses of `steps` Adam steps on (x, y), then the logits of x in eval mode.
struct Run {
  std::vector<double> losses;
  Tensor logits;
};
Run train(const std::shared_ptr<nn::Module>& model, const Tensor& x, const Tensor& y, int steps) {
  optim::AdamOptions opts;
  opts.lr = 1e-2;
  optim::Adam opt(model->parameters(), opts);
  Run run;
  model->train();
  for (int s = 0; s < steps; ++s) {
    Tensor loss = nn::cross_entropy(model->forward(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    run.losses.push_back(loss.item<double>());
  }
  NoGradGuard no_grad;
  model->eval();
  run.logits = model->forward(x);
  return run;
}

void expect_same_training(const std::string& name, std::shared_ptr<nn::Module> (*make)()) {
  manual_seed(91);
  std::shared_ptr<nn::Module> on_cpu = make();
  manual_seed(91);
  std::shared_ptr<nn::Module> on_gpu = make();
  on_gpu->to(kGpu);
  for (const Tensor& p : on_gpu->parameters()) EXPECT_TRUE(ember::testing::on_gpu(p)) << name << ": a parameter stayed behind";
  Tensor x = randn({32, 1, 8, 8}), y = randint(0, 10, {32}, kInt64);
  const Run want = train(on_cpu, x, y, 5);
  const Run got = train(on_gpu, gpu(x), gpu(y), 5);
  ASSERT_EQ(got.losses.size(), want.losses.size());
  for (size_t s = 0; s < want.losses.size(); ++s)
    EXPECT_NEAR(got.losses[s], want.losses[s], 1e-4 * std::max(1.0, std::abs(want.losses[s])))
        << name << ": loss of step " << s;
  EXPECT_LT(want.losses.back(), want.losses.front()) << name << ": the steps did not train";
  EXPECT_TRUE(ember::testing::cuda_matches_rms(got.logits, want.logits)) << name << ": logits after training";
}

TEST(CudaTrain, MlpStepsMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  expect_same_training("MLP", make_mlp);
}

TEST(CudaTrain, CnnStepsMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
#if defined(EMBER_WITH_CUDA)
  if (!cuda::built_with_cudnn()) GTEST_SKIP() << "this CUDA build has no cuDNN (conv2d needs it)";
#endif
  expect_same_training("CNN", make_cnn);
}

// The Learner on the GPU: a DataLoader over a split held on the device with
// augmentation as a device transform, Adam, Accuracy, two epochs; the same run
// on the CPU from one seed must give the same epoch losses and accuracies
// (the Philox streams make the shuffles and the augmentation identical).
std::vector<std::map<std::string, double>> fit_learner(Device device, std::optional<DType> autocast) {
  manual_seed(5);
  std::shared_ptr<nn::Module> model = make_mlp();
  model->to(device);
  Generator g(6);
  Tensor x = randn({96, 1, 8, 8}, {}, &g), y = randint(0, 10, {96}, TensorOptions(kInt64), &g);
  auto ds = std::make_shared<data::TensorDataset>(device == kCPU ? x : to_gpu(x), device == kCPU ? y : to_gpu(y));
  data::DataLoaderOptions o;
  o.batch_size = 16;
  o.shuffle = true;
  o.seed = 3;
  o.device_transform = data::compose(
      {data::on_input([](const Tensor& t, Generator& gen) { return data::random_crop(t, 8, 8, 1, gen); }),
       data::on_input([](const Tensor& t, Generator& gen) { return data::random_horizontal_flip(t, 0.5, gen); })});
  data::DataLoaderOptions eval;
  eval.batch_size = 32;
  optim::AdamOptions adam;
  adam.lr = 1e-2;
  train::LearnerOptions lo;
  lo.autocast = autocast;
  train::Learner learner(model, std::make_shared<data::DataLoader>(ds, o), std::make_shared<data::DataLoader>(ds, eval),
                         [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); },
                         std::make_shared<optim::Adam>(model->parameters(), adam), lo);
  learner.add_callback(std::make_shared<train::Accuracy>());
  learner.fit(2);
  for (const Tensor& p : model->parameters()) EXPECT_TRUE(device == kCPU || ember::testing::on_gpu(p));
  return learner.history();
}

TEST(CudaTrain, LearnerWithDeviceAugmentationMatchesCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  const auto want = fit_learner(kCPU, std::nullopt);
  const auto got = fit_learner(kGpu, std::nullopt);
  ASSERT_EQ(got.size(), want.size());
  for (size_t e = 0; e < want.size(); ++e) {
    for (const char* k : {"train_loss", "valid_loss"})
      EXPECT_NEAR(got[e].at(k), want[e].at(k), 1e-4 * want[e].at(k)) << k << " of epoch " << e + 1;
    EXPECT_NEAR(got[e].at("accuracy"), want[e].at("accuracy"), 2.0 / 96) << "epoch " << e + 1;
  }
  // bfloat16 autocast on the device trains too (values differ by rounding, so only the trend is checked).
  const auto amp = fit_learner(kGpu, kBFloat16);
  EXPECT_LT(amp.back().at("train_loss"), amp.front().at("train_loss"));
}

}  // namespace
