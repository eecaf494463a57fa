// SGEMM throughput against this machine's measured FMA peak, per CPU ISA path.
//
// For m = n = k in {256, 512, 1024, 2048} (plus the transposed-B layout that
// nn::Linear uses, x @ w^T), each path the CPU has runs ember::matmul on
// float32; counters give GFLOP/s and the percentage of the FMA peak measured
// at the start of this run with the same thread count (ceiling.hpp). BF16GEMM
// rows run bfloat16 operands (float32 arithmetic, one rounding).
//
//   bench_gemm [--benchmark_filter=...]       EMBER_NUM_THREADS sets the threads
// benchmarks/compare_cpu.py runs these shapes beside PyTorch.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>

#include <ember/ember.hpp>
#include <ember/kernels/cpu/ceiling.hpp>

namespace {

using ember::cpu::Isa;

double peak_gflops(Isa isa) {
  static std::map<Isa, double> cache;
  auto it = cache.find(isa);
  if (it == cache.end()) {
    const int threads = ember::runtime::default_executor().num_threads();
    it = cache.emplace(isa, ember::cpu::measure_peak_gflops(isa, threads, 0.3)).first;
    std::fprintf(stderr, "peak (%s, %d threads): %.1f GFLOP/s fp32\n", ember::cpu::isa_name(isa), threads, it->second);
  }
  return it->second;
}

void report(benchmark::State& state, double flops_per_iter, Isa isa) {
  const double gflops = flops_per_iter * static_cast<double>(state.iterations()) * 1e-9;
  state.counters["GFLOPs"] = benchmark::Counter(gflops, benchmark::Counter::kIsRate);
  // Percentage of peak: a rate too, so divide the FLOP count by the peak first.
  state.counters["pct_peak"] = benchmark::Counter(100.0 * gflops / peak_gflops(isa), benchmark::Counter::kIsRate);
}

// C = A @ B with A (n, n), B (n, n); transposed_b: B is the transpose of a row-major (n, n) matrix.
void bm_matmul(benchmark::State& state, Isa isa, bool transposed_b, ember::DType dtype = ember::kFloat32) {
  const int64_t n = state.range(0);
  ember::cpu::CpuIsaGuard guard(isa);
  ember::manual_seed(0);
  ember::Tensor a = ember::randn({n, n}).to(dtype);
  ember::Tensor b = transposed_b ? ember::randn({n, n}).to(dtype).t() : ember::randn({n, n}).to(dtype);
  // Warm: packing buffers and pages of both output blocks (each call's output
  // is allocated while the previous one is still held).
  ember::Tensor c = ember::matmul(a, b);
  c = ember::matmul(a, b);
  for (auto _ : state) {
    c = ember::matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  report(state, 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n), isa);
}

int register_all() {
  for (Isa isa : ember::cpu::supported_cpu_isas()) {
    for (bool tb : {false, true}) {
      std::string name = std::string("SGEMM/") + ember::cpu::isa_name(isa) + (tb ? "/A_BT" : "/A_B");
      auto* b = benchmark::RegisterBenchmark(name.c_str(), [isa, tb](benchmark::State& s) { bm_matmul(s, isa, tb); });
      b->Arg(256)->Arg(512)->Arg(1024)->Arg(2048)->Unit(benchmark::kMillisecond)->UseRealTime();
      if (isa == Isa::scalar) b->MinTime(0.2);  // slow path: fewer iterations
    }
    if (isa == Isa::scalar) continue;
    // bfloat16 (autocast's matmuls on the CPU): widened to float32 for the packed kernel, rounded once.
    std::string name = std::string("BF16GEMM/") + ember::cpu::isa_name(isa) + "/A_B";
    benchmark::RegisterBenchmark(name.c_str(), [isa](benchmark::State& s) { bm_matmul(s, isa, false, ember::kBFloat16); })
        ->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
