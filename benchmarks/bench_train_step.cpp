// One training step (forward, cross entropy, backward, Adam) of the Fashion-MNIST
// MLP (784-512-256-10) and CNN (32/64-channel conv+BN+ReLU+maxpool blocks, 128
// hidden units) at batch 128, the models ember-fashion-mnist trains.
// benchmarks/compare_cpu.py runs this beside the same step in PyTorch.
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

void run_steps(benchmark::State& state, std::shared_ptr<ember::nn::Module> model) {
  ember::manual_seed(0);
  ember::Tensor x = ember::randn({128, 1, 28, 28});
  ember::Tensor y = ember::randint(0, 10, {128});
  ember::optim::Adam opt(model->parameters(), adam_lr(1e-3));
  for (auto _ : state) {
    ember::Tensor loss = ember::nn::cross_entropy(model->forward(x), y);
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

}  // namespace

BENCHMARK(BM_MlpStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_CnnStep)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3.0);
BENCHMARK_MAIN();
