// Autograd overhead on 1-element float32 tensors, where the op itself is
// negligible and what is measured is the framework: dispatch, allocation,
// graph recording and the backward engine. Compare with
// tools/bench_autograd_torch.py (PyTorch, same three cases).
//   AddNoGrad:        y = x + w, nothing requires grad
//   AddRecording:     y = x + w, w requires grad (one node recorded)
//   TinyForwardBackward: y = (x * w + x).sum(); y.backward()
#include <benchmark/benchmark.h>

#include <ember/ember.hpp>

namespace {

void AddNoGrad(benchmark::State& state) {
  ember::Tensor x = ember::ones({1}), w = ember::ones({1});
  for (auto _ : state) {
    ember::Tensor y = ember::add(x, w);
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(AddNoGrad);

void AddRecording(benchmark::State& state) {
  ember::Tensor x = ember::ones({1}), w = ember::ones({1}).requires_grad_();
  for (auto _ : state) {
    ember::Tensor y = ember::add(x, w);
    benchmark::DoNotOptimize(y.impl());
  }
}
BENCHMARK(AddRecording);

void TinyForwardBackward(benchmark::State& state) {
  ember::Tensor x = ember::ones({1}).requires_grad_(), w = ember::ones({1}).requires_grad_();
  for (auto _ : state) {
    ember::Tensor y = (x * w + x).sum();
    y.backward();
  }
  benchmark::DoNotOptimize(x.grad().impl());
}
BENCHMARK(TinyForwardBackward);

}  // namespace

BENCHMARK_MAIN();
