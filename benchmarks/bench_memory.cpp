// Memory-bound float32 kernels against this machine's copy bandwidth, per CPU ISA path.
//
// Kernels: add (a + b), relu, softmax over rows of 1024, layer_norm over rows
// of 1024 (with weight and bias), one Adam step, sum of all elements. Each
// runs at working sets of 4, 32 and 256 MiB, where the working set is the
// bytes of every tensor the op touches (inputs and outputs). Counters:
//   GBps      bytes that must move (inputs read + outputs written) per second
//   pct_copy  GBps as a percentage of cpu::measure_copy_gbs(W / 2, threads):
//             a copy between two arrays of W / 2, the same working set,
//             measured once per size at the start of this run
// Bytes per element: add 12, relu 8, softmax 8, layer_norm 8 (+ 8 per row of
// statistics), adam 28 (reads p, g, m, v; writes p, m, v; working set 16),
// sum 4. The scalar path runs the reference kernels.
//
//   bench_memory [--benchmark_filter=...]     EMBER_NUM_THREADS sets the threads
//
// On a machine busy with other work, wall-clock rates measure the scheduler.
// EMBER_BENCH_CPU_TIME=1 (with EMBER_NUM_THREADS=1) divides by the process's
// CPU time instead, and the copy reference is then a one-thread memcpy of
// W / 2 bytes timed in CPU time the same way (ceiling.hpp's copy is timed in
// wall-clock time).
#include <benchmark/benchmark.h>

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include <ember/ember.hpp>
#include <ember/kernels/cpu/ceiling.hpp>

namespace {

using ember::Tensor;
using ember::cpu::Isa;

int threads() { return ember::runtime::default_executor().num_threads(); }

bool cpu_time_mode() {
  static const bool on = [] {
    const char* env = std::getenv("EMBER_BENCH_CPU_TIME");
    return env != nullptr && *env != '\0' && *env != '0';
  }();
  return on;
}

double process_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One-thread memcpy of `bytes` between two arrays, bytes read + written per CPU second.
double copy_gbs_cpu_time(size_t bytes, double seconds) {
  std::unique_ptr<char[]> src(new char[bytes]), dst(new char[bytes]);
  std::memset(src.get(), 1, bytes);
  std::memset(dst.get(), 0, bytes);
  std::memcpy(dst.get(), src.get(), bytes);  // warm
  int64_t reps = 0;
  const double t0 = process_cpu_seconds();
  double dt = 0;
  while (dt < seconds) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::DoNotOptimize(dst.get());
    ++reps;
    dt = process_cpu_seconds() - t0;
  }
  return 2.0 * static_cast<double>(bytes) * static_cast<double>(reps) / dt * 1e-9;
}

double copy_gbs(int64_t working_set) {
  static std::map<int64_t, double> cache;
  auto it = cache.find(working_set);
  if (it == cache.end()) {
    const size_t bytes = static_cast<size_t>(working_set / 2);
    const double gbs = cpu_time_mode() ? copy_gbs_cpu_time(bytes, 0.5)
                                       : ember::cpu::measure_copy_gbs(bytes, threads(), 0.5);
    it = cache.emplace(working_set, gbs).first;
    std::fprintf(stderr, "copy (%lld MiB working set, %d threads, %s time): %.1f GB/s\n",
                 static_cast<long long>(working_set >> 20), cpu_time_mode() ? 1 : threads(),
                 cpu_time_mode() ? "CPU" : "wall", gbs);
  }
  return it->second;
}

void report(benchmark::State& state, double bytes_per_iter, int64_t working_set) {
  const double gb = bytes_per_iter * static_cast<double>(state.iterations()) * 1e-9;
  state.counters["GBps"] = benchmark::Counter(gb, benchmark::Counter::kIsRate);
  state.counters["pct_copy"] = benchmark::Counter(100.0 * gb / copy_gbs(working_set), benchmark::Counter::kIsRate);
}

enum class Kernel { add, relu, softmax, layer_norm, adam, sum };

const char* kernel_name(Kernel k) {
  switch (k) {
    case Kernel::add: return "add";
    case Kernel::relu: return "relu";
    case Kernel::softmax: return "softmax";
    case Kernel::layer_norm: return "layer_norm";
    case Kernel::adam: return "adam";
    case Kernel::sum: return "sum";
  }
  return "?";
}

// Working-set bytes per element (tensors touched) and bytes moved per element.
std::pair<int64_t, double> bytes_per_element(Kernel k) {
  switch (k) {
    case Kernel::add: return {12, 12.0};
    case Kernel::relu: return {8, 8.0};
    case Kernel::softmax: return {8, 8.0};
    case Kernel::layer_norm: return {8, 8.0 + 8.0 / 1024};
    case Kernel::adam: return {16, 28.0};
    case Kernel::sum: return {4, 4.0};
  }
  return {4, 4.0};
}

void bm_memory(benchmark::State& state, Isa isa, Kernel kernel) {
  const int64_t working_set = state.range(0) << 20;
  const auto [ws_per_elem, moved_per_elem] = bytes_per_element(kernel);
  constexpr int64_t kRow = 1024;
  const int64_t n = working_set / ws_per_elem / kRow * kRow;
  ember::cpu::CpuIsaGuard guard(isa);
  ember::NoGradGuard no_grad;
  ember::manual_seed(0);
  Tensor a = ember::randn({n / kRow, kRow}), b, m, v, out;
  if (kernel == Kernel::add) b = ember::randn({n / kRow, kRow});
  if (kernel == Kernel::layer_norm) {
    m = ember::ones({kRow});
    v = ember::zeros({kRow});
  }
  if (kernel == Kernel::adam) {
    b = ember::randn({n / kRow, kRow});
    m = ember::zeros({n / kRow, kRow});
    v = ember::zeros({n / kRow, kRow});
  }
  ember::AdamArgs args;
  Tensor none;
  auto run = [&] {
    switch (kernel) {
      case Kernel::add: out = ember::add(a, b); break;
      case Kernel::relu: out = ember::relu(a); break;
      case Kernel::softmax: out = ember::softmax(a, -1); break;
      case Kernel::layer_norm: out = ember::layer_norm(a, {kRow}, m, v); break;
      case Kernel::adam: ember::ops::adam_step_(a, b, m, v, none, args); break;
      case Kernel::sum: out = ember::sum(a); break;
    }
  };
  copy_gbs(working_set);  // measured before the kernel's timing starts
  // Warm: output pages, allocator cache. Twice, because each timed call's
  // output is allocated while the previous one is still held: two blocks
  // alternate, and both should have their pages before timing starts.
  run();
  run();
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  report(state, moved_per_elem * static_cast<double>(n), working_set);
}

int register_all() {
  for (Isa isa : ember::cpu::supported_cpu_isas()) {
    for (Kernel k : {Kernel::add, Kernel::relu, Kernel::softmax, Kernel::layer_norm, Kernel::adam, Kernel::sum}) {
      const std::string name = std::string(kernel_name(k)) + "/" + ember::cpu::isa_name(isa);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), [isa, k](benchmark::State& s) { bm_memory(s, isa, k); });
      b->ArgName("MiB")->Arg(4)->Arg(32)->Arg(256)->Unit(benchmark::kMillisecond);
      if (!cpu_time_mode()) b->UseRealTime();
    }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
