// conv2d forward + backward (input and weight gradients) on the shapes of the
// small Fashion-MNIST CNN and of a ResNet block, against the machine's
// measured FMA peak (ceiling.hpp). benchmarks/compare_cpu.py runs the same
// shapes in PyTorch.
//
//   bench_conv [--benchmark_filter=...]      EMBER_NUM_THREADS sets the threads
//
// Cases (NCHW, 3x3 kernels, padding 1, stride 1 unless said):
//   CnnConv1   batch 128, 1 -> 32 channels, 28 x 28
//   CnnConv2   batch 128, 32 -> 64 channels, 14 x 14
//   ResNet     batch 32, 64 -> 64 channels, 56 x 56
//   ResNetDown batch 32, 64 -> 128 channels, 56 x 56 -> 28 x 28 (stride 2)
// Each case times forward, backward (both gradients) and forward + backward;
// FLOPs counted as 2 * N * O * C * 9 * OH * OW per direction (the first
// layer's input gradient is skipped by autograd, as in PyTorch, since the
// image does not require grad).
#include <benchmark/benchmark.h>

#include <cstdio>

#include <ember/ember.hpp>
#include <ember/kernels/cpu/ceiling.hpp>

namespace {

struct ConvCase {
  int64_t n, c, o, hw;
  bool input_grad;  // does the input require grad (not for the first layer)
  int64_t stride = 1;
};

double peak_gflops() {
  static const double peak = [] {
    const int threads = ember::runtime::default_executor().num_threads();
    const ember::cpu::Isa isa = ember::cpu::active_cpu_isa();
    const double p = ember::cpu::measure_peak_gflops(isa, threads, 0.3);
    std::fprintf(stderr, "peak (%s, %d threads): %.1f GFLOP/s fp32\n", ember::cpu::isa_name(isa), threads, p);
    return p;
  }();
  return peak;
}

enum class Pass { forward, backward, both };

void bm_conv(benchmark::State& state, ConvCase cc, Pass pass) {
  ember::manual_seed(0);
  ember::Tensor x = ember::randn({cc.n, cc.c, cc.hw, cc.hw});
  if (cc.input_grad) x.requires_grad_();
  ember::Tensor w = (ember::randn({cc.o, cc.c, 3, 3}) * 0.1f).requires_grad_();
  ember::Tensor b = ember::zeros({cc.o}).requires_grad_();
  ember::Conv2dArgs opts;
  opts.padding[0] = opts.padding[1] = 1;
  opts.stride[0] = opts.stride[1] = cc.stride;
  const int64_t ohw = (cc.hw - 1) / cc.stride + 1;
  ember::Tensor go = ember::randn({cc.n, cc.o, ohw, ohw});
  const double dir_flops = 2.0 * static_cast<double>(cc.n * cc.o * cc.c * 9 * ohw * ohw);
  double flops = 0;
  if (pass != Pass::backward) flops += dir_flops;
  if (pass != Pass::forward) flops += dir_flops * (cc.input_grad ? 2.0 : 1.0);
  for (auto _ : state) {
    if (pass == Pass::forward) {
      ember::NoGradGuard no_grad;
      benchmark::DoNotOptimize(ember::conv2d(x, w, b, opts).data_ptr<float>());
      continue;
    }
    if (pass == Pass::backward) state.PauseTiming();
    ember::Tensor y = ember::conv2d(x, w, b, opts);
    if (pass == Pass::backward) state.ResumeTiming();
    y.backward(go);
    benchmark::DoNotOptimize(w.grad().data_ptr<float>());
    w.set_grad({});
    b.set_grad({});
    if (cc.input_grad) x.set_grad({});
  }
  const double gflops = flops * static_cast<double>(state.iterations()) * 1e-9;
  state.counters["GFLOPs"] = benchmark::Counter(gflops, benchmark::Counter::kIsRate);
  state.counters["pct_peak"] = benchmark::Counter(100.0 * gflops / peak_gflops(), benchmark::Counter::kIsRate);
}

int register_all() {
  const struct {
    const char* name;
    ConvCase c;
  } cases[] = {{"CnnConv1", {128, 1, 32, 28, false}}, {"CnnConv2", {128, 32, 64, 14, true}}, {"ResNet", {32, 64, 64, 56, true}},
                 {"ResNetDown", {32, 64, 128, 56, true, 2}}};
  for (const auto& k : cases) {
    for (auto [pass, label] : {std::pair{Pass::forward, "fwd"}, std::pair{Pass::backward, "bwd"}, std::pair{Pass::both, "fwd_bwd"}}) {
      const std::string name = std::string("Conv2d/") + k.name + "/" + label;
      benchmark::RegisterBenchmark(name.c_str(), [c = k.c, p = pass](benchmark::State& s) { bm_conv(s, c, p); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
