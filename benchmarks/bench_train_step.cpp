// One training step (forward, cross entropy, backward, Adam) of the Fashion-MNIST
// MLP (784-512-256-10) and CNN (32/64-channel conv+BN+ReLU+maxpool blocks, 128
// hidden units) at batch 128, the models ember-fashion-mnist trains (also
// under bfloat16 autocast); and one
// epoch of the MLP over 10240 examples through a shuffling DataLoader, once in
// a train::Learner (its task graphs, serial) and once in a hand-written loop,
// which together price the data path and the Learner against the bare steps.
// benchmarks/compare_cpu.py runs this beside the same work in PyTorch.
#include <benchmark/benchmark.h>

#include <ember/ember.hpp>

namespace {

ember::optim::AdamOptions adam_lr(double lr) {
  ember::optim::AdamOptions o;
  o.lr = lr;
  return o;
}

std::shared_ptr<ember::nn::Module> mlp() {
  using namespace ember::nn;
  return std::make_shared<Sequential>(std::make_shared<Flatten>(), std::make_shared<Linear>(784, 512), std::make_shared<ReLU>(),
                                      std::make_shared<Linear>(512, 256), std::make_shared<ReLU>(), std::make_shared<Linear>(256, 10));
}

std::shared_ptr<ember::nn::Module> cnn() {
  using namespace ember::nn;
  return std::make_shared<Sequential>(
      std::make_shared<Conv2d>(1, 32, 3, 1, 1), std::make_shared<BatchNorm2d>(32), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
      std::make_shared<Conv2d>(32, 64, 3, 1, 1), std::make_shared<BatchNorm2d>(64), std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
      std::make_shared<Flatten>(), std::make_shared<Linear>(64 * 7 * 7, 128), std::make_shared<ReLU>(), std::make_shared<Linear>(128, 10));
}

// autocast: forward and loss under AutocastGuard(kBFloat16) (bfloat16 matmuls and convolutions).
void run_steps(benchmark::State& state, std::shared_ptr<ember::nn::Module> model, bool autocast = false) {
  ember::manual_seed(0);
  ember::Tensor x = ember::randn({128, 1, 28, 28});
  ember::Tensor y = ember::randint(0, 10, {128});
  ember::optim::Adam opt(model->parameters(), adam_lr(1e-3));
  for (auto _ : state) {
    ember::Tensor loss;
    {
      ember::AutocastGuard amp(ember::kBFloat16, autocast);
      loss = ember::nn::cross_entropy(model->forward(x), y);
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.item<float>());
  }
  state.counters["ms_per_step"] = benchmark::Counter(static_cast<double>(state.iterations()) * 1e3,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_MlpStep(benchmark::State& state) { run_steps(state, mlp()); }
void BM_CnnStep(benchmark::State& state) { run_steps(state, cnn()); }
void BM_MlpStepBf16(benchmark::State& state) { run_steps(state, mlp(), true); }
void BM_CnnStepBf16(benchmark::State& state) { run_steps(state, cnn(), true); }

constexpr int64_t kEpochExamples = 10240;

std::shared_ptr<ember::data::DataLoader> epoch_loader() {
  ember::manual_seed(0);
  auto ds = std::make_shared<ember::data::TensorDataset>(ember::randn({kEpochExamples, 1, 28, 28}),
                                                         ember::randint(0, 10, {kEpochExamples}));
  ember::data::DataLoaderOptions o;
  o.batch_size = 128;
  o.shuffle = true;
  return std::make_shared<ember::data::DataLoader>(ds, o);
}

void BM_MlpEpochLearner(benchmark::State& state) {
  auto model = mlp();
  auto opt = std::make_shared<ember::optim::Adam>(model->parameters(), adam_lr(1e-3));
  ember::train::Learner learner(model, epoch_loader(), nullptr,
                                [](const ember::Tensor& p, const ember::Tensor& y) { return ember::nn::cross_entropy(p, y); },
                                opt);
  for (auto _ : state) learner.fit(learner.epoch() + 1);
}

void BM_MlpEpochLoop(benchmark::State& state) {
  auto model = mlp();
  auto loader = epoch_loader();
  ember::optim::Adam opt(model->parameters(), adam_lr(1e-3));
  for (auto _ : state) {
    for (ember::data::Batch& b : *loader) {
      ember::Tensor loss = ember::nn::cross_entropy(model->forward(b.input), b.target);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
}

}  // namespace

BENCHMARK(BM_MlpStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_CnnStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_MlpStepBf16)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_CnnStepBf16)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_MlpEpochLearner)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK(BM_MlpEpochLoop)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK_MAIN();
