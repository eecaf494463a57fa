// The CUDA backend against the GPU's ceilings; benchmarks/compare_gpu.py runs
// the same work in PyTorch and prints the ratios.
//
// Families (all float32 unless named):
//   copy_ceiling/<MiB>   cudaMemcpyAsync device to device of W / 2 bytes: the
//                        ceiling, measured first, once per working set W
//   <kernel>/<MiB>       memory-bound ops at working set W (bytes of every
//                        tensor touched): copy (ops::copy_), add, relu, sum,
//                        softmax and layer_norm over rows of 1024, adam (one
//                        fused Adam step of a W / 16-byte parameter)
//   mm/<dtype>/<n>       n x n x n GEMM through cuBLASLt (float32 without
//                        TF32, as PyTorch's default; bfloat16, float16)
//   linear/<dtype>/<n>   (8192, n) @ (n, n)^T + bias, the bias epilogue
//   conv/<case>/<dir>    cuDNN 3x3 convolutions: fwd, and fwd + both backward ops
//   batch_norm/ResNet/fwd_bwd        training batch norm, forward + backward, of
//   batch_norm_ember/ResNet/fwd_bwd  a (32, 64, 56, 56) activation: through
//                        cuDNN (the default), then ember's own kernels
//   host/add_small       host time per eager op (two 1024-element tensors):
//                        launches only, the GPU drains outside the timing
// Counters:
//   us        GPU microseconds per op (CUDA events around a batch of calls on
//             the current stream, the batch long enough, about 2 ms, for the
//             events' resolution and launch gaps not to matter); host/ rows:
//             host microseconds per op
//   GBps      bytes that must move (inputs read + outputs written) per second
//   pct_copy  GBps as a percentage of copy_ceiling at the same working set
//   TFLOPs    for mm, linear, conv
//
//   bench_cuda [--benchmark_filter=...]
//
// Without a GPU (or in a build without CUDA) it says so and measures nothing.
#include <benchmark/benchmark.h>

#include <cstdio>

#include <ember/ember.hpp>

#if defined(EMBER_WITH_CUDA)

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include <cuda_runtime_api.h>

#include <ember/kernels/cuda/register.hpp>
#include <ember/runtime/cuda_stream.hpp>

namespace {

using ember::Tensor;
namespace cuda = ember::cuda;

const ember::Device kGpu{ember::DeviceType::CUDA, 0};

// GPU seconds per call of fn over `reps` calls timed between two events.
double time_batch(const std::function<void()>& fn, int reps) {
  cuda::Event start(true), stop(true);
  start.record();
  for (int i = 0; i < reps; ++i) fn();
  stop.record();
  stop.synchronize();
  return 1e-3 * start.elapsed_ms(stop) / reps;
}

// A batch size for about 2 ms of GPU time: a warm call, then one timed call.
int batch_size(const std::function<void()>& fn) {
  fn();
  const double one = std::max(time_batch(fn, 1), 1e-7);
  return static_cast<int>(std::clamp(2e-3 / one, 1.0, 10000.0));
}

// Runs the benchmark loop: the batch is sized once, then each iteration is one timed batch;
// returns GPU seconds per call.
double time_loop(benchmark::State& state, const std::function<void()>& fn) {
  const int reps = batch_size(fn);
  double total = 0;
  int64_t calls = 0;
  for (auto _ : state) {
    const double per_call = time_batch(fn, reps);
    state.SetIterationTime(per_call * reps);
    total += per_call * reps;
    calls += reps;
  }
  const double s = total / static_cast<double>(std::max<int64_t>(calls, 1));
  state.counters["us"] = s * 1e6;
  return s;
}

// A benchmark body that reports an error (Google Benchmark's error_occurred, which compare_gpu.py
// reports and skips) instead of ending the whole run.
template <class Fn>
auto guarded(Fn fn) {
  return [fn](benchmark::State& state) {
    try {
      fn(state);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
  };
}

// cudaMemcpyAsync device to device of working_set / 2 bytes: bytes read + written per second.
double copy_ceiling_gbs(int64_t working_set) {
  static std::map<int64_t, double> cache;
  auto it = cache.find(working_set);
  if (it != cache.end()) return it->second;
  const int64_t half = working_set / 2;
  Tensor src = ember::empty({half}, ember::TensorOptions(ember::kUInt8, kGpu));
  Tensor dst = ember::empty({half}, ember::TensorOptions(ember::kUInt8, kGpu));
  cudaStream_t stream = cuda::current_stream().handle();
  auto copy = [&] {
    if (cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), static_cast<size_t>(half), cudaMemcpyDeviceToDevice,
                        stream) != cudaSuccess)
      throw ember::Error("bench_cuda: cudaMemcpyAsync failed");
  };
  const int reps = batch_size(copy);
  double best = 1e30;
  for (int i = 0; i < 5; ++i) best = std::min(best, time_batch(copy, reps));
  const double gbs = 2.0 * static_cast<double>(half) / best * 1e-9;
  std::fprintf(stderr, "copy ceiling (%lld MiB working set): %.0f GB/s\n",
               static_cast<long long>(working_set >> 20), gbs);
  return cache.emplace(working_set, gbs).first->second;
}

void bm_copy_ceiling(benchmark::State& state) {
  const int64_t working_set = state.range(0) << 20;
  const double gbs = copy_ceiling_gbs(working_set);
  for (auto _ : state) state.SetIterationTime(static_cast<double>(working_set) / gbs * 1e-9);
  state.counters["GBps"] = gbs;
  state.counters["us"] = static_cast<double>(working_set) / gbs * 1e-3;
}

enum class Kernel { copy, add, relu, sum, softmax, layer_norm, adam };

// Working-set bytes per element (tensors touched) and bytes moved per element.
struct KernelBytes {
  int64_t working_set;
  double moved;
};
KernelBytes kernel_bytes(Kernel k) {
  switch (k) {
    case Kernel::copy: return {8, 8.0};
    case Kernel::add: return {12, 12.0};
    case Kernel::relu: return {8, 8.0};
    case Kernel::sum: return {4, 4.0};
    case Kernel::softmax: return {8, 8.0};
    case Kernel::layer_norm: return {8, 8.0};
    case Kernel::adam: return {16, 28.0};  // reads p, g, m, v; writes p, m, v
  }
  return {4, 4.0};
}

void bm_memory(benchmark::State& state, Kernel kernel) {
  constexpr int64_t kRow = 1024;
  const int64_t working_set = state.range(0) << 20;
  const KernelBytes bytes = kernel_bytes(kernel);
  const int64_t n = working_set / bytes.working_set / kRow * kRow;
  const double ceiling = copy_ceiling_gbs(working_set);
  ember::manual_seed(0);
  const ember::TensorOptions f32(ember::kFloat32, kGpu);
  Tensor a = ember::randn({n / kRow, kRow}, f32), b, m, v, out;
  if (kernel == Kernel::add || kernel == Kernel::adam || kernel == Kernel::copy) b = ember::randn({n / kRow, kRow}, f32);
  if (kernel == Kernel::layer_norm) {
    m = ember::ones({kRow}, f32);
    v = ember::zeros({kRow}, f32);
  }
  if (kernel == Kernel::adam) {
    m = ember::zeros({n / kRow, kRow}, f32);
    v = ember::zeros({n / kRow, kRow}, f32);
  }
  ember::AdamArgs args;
  Tensor none;
  const double seconds = time_loop(state, [&] {
    switch (kernel) {
      case Kernel::copy: ember::ops::copy_(b, a); break;
      case Kernel::add: out = ember::add(a, b); break;
      case Kernel::relu: out = ember::relu(a); break;
      case Kernel::sum: out = ember::sum(a); break;
      case Kernel::softmax: out = ember::softmax(a, -1); break;
      case Kernel::layer_norm: out = ember::layer_norm(a, {kRow}, m, v); break;
      case Kernel::adam: ember::ops::adam_step_(a, b, m, v, none, args); break;
    }
  });
  const double gbs = bytes.moved * static_cast<double>(n) / seconds * 1e-9;
  state.counters["GBps"] = gbs;
  state.counters["pct_copy"] = 100.0 * gbs / ceiling;
}

void bm_gemm(benchmark::State& state, ember::DType dt, bool linear) {
  const int64_t n = state.range(0);
  const int64_t m = linear ? 8192 : n;
  ember::manual_seed(0);
  const ember::TensorOptions opt(dt, kGpu);
  Tensor a = ember::randn({m, n}, opt), w = ember::randn({n, n}, opt), bias = ember::randn({n}, opt), out;
  const double seconds = time_loop(state, [&] { out = linear ? ember::linear(a, w, bias) : ember::mm(a, w); });
  state.counters["TFLOPs"] = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(n) / seconds * 1e-12;
}

// Convolution cases: (batch, in channels, out channels, size), 3x3, padding 1.
struct ConvCase {
  const char* name;
  int64_t batch, in, out, size;
};
constexpr ConvCase kConvCases[] = {{"CnnConv2", 128, 32, 64, 14}, {"ResNet", 32, 64, 64, 56}};

void bm_conv(benchmark::State& state, ConvCase c, bool backward) {
  ember::manual_seed(0);
  const ember::TensorOptions f32(ember::kFloat32, kGpu);
  Tensor x = ember::randn({c.batch, c.in, c.size, c.size}, f32);
  Tensor w = ember::mul(ember::randn({c.out, c.in, 3, 3}, f32), 0.1);
  Tensor bias = ember::zeros({c.out}, f32);
  Tensor go = ember::randn({c.batch, c.out, c.size, c.size}, f32), y, gx, gw;
  ember::Conv2dArgs args;
  args.padding[0] = args.padding[1] = 1;
  const double seconds = time_loop(state, [&] {
    y = ember::ops::conv2d(x, w, bias, args);
    if (backward) {
      gx = ember::ops::conv2d_backward_input(go, w, x.shape(), args);
      gw = ember::ops::conv2d_backward_weight(go, x, w.shape(), args);
    }
  });
  const double flops = 2.0 * static_cast<double>(c.batch * c.out * c.size * c.size * c.in * 9) * (backward ? 3 : 1);
  state.counters["TFLOPs"] = flops / seconds * 1e-12;
}

// Training batch norm, forward + backward, through cuDNN or ember's own kernels. GBps counts the
// bytes that must move: x read and y written forward; x and dy read and dx written backward.
void bm_batch_norm(benchmark::State& state, bool cudnn) {
  ember::manual_seed(0);
  const ember::TensorOptions f32(ember::kFloat32, kGpu);
  const int64_t C = 64;
  Tensor x = ember::randn({32, C, 56, 56}, f32), go = ember::randn({32, C, 56, 56}, f32);
  Tensor w = ember::ones({C}, f32), b = ember::zeros({C}, f32), rm = ember::zeros({C}, f32), rv = ember::ones({C}, f32);
  ember::NormArgs args;
  cuda::set_cudnn_batch_norm(cudnn);
  struct Restore {
    ~Restore() { cuda::set_cudnn_batch_norm(true); }
  } restore;  // also when a call throws
  const double seconds = time_loop(state, [&] {
    auto [y, mean, invstd] = ember::ops::batch_norm(x, w, b, rm, rv, args);
    auto grads = ember::ops::batch_norm_backward(go, x, w, mean, invstd, args);
    benchmark::DoNotOptimize(std::get<0>(grads).impl());
  });
  const double gbs = 20.0 * static_cast<double>(x.numel()) / seconds * 1e-9;
  state.counters["GBps"] = gbs;
  state.counters["pct_copy"] = 100.0 * gbs / copy_ceiling_gbs(int64_t{256} << 20);
}

// Host time per eager op: batches of 100 launches timed on the host; the
// stream drains between batches, outside the timing.
void bm_host_add(benchmark::State& state) {
  const ember::TensorOptions f32(ember::kFloat32, kGpu);
  Tensor a = ember::randn({1024}, f32), b = ember::randn({1024}, f32);
  constexpr int kBatch = 100;
  for (int i = 0; i < kBatch; ++i) benchmark::DoNotOptimize(ember::add(a, b).impl());
  cuda::synchronize();
  double total = 0;
  int64_t ops = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kBatch; ++i) {
      Tensor y = ember::add(a, b);
      benchmark::DoNotOptimize(y.impl());
    }
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cuda::synchronize();
    state.SetIterationTime(dt);
    total += dt;
    ops += kBatch;
  }
  state.counters["us"] = total / static_cast<double>(std::max<int64_t>(ops, 1)) * 1e6;
}

const char* kernel_name(Kernel k) {
  switch (k) {
    case Kernel::copy: return "copy";
    case Kernel::add: return "add";
    case Kernel::relu: return "relu";
    case Kernel::sum: return "sum";
    case Kernel::softmax: return "softmax";
    case Kernel::layer_norm: return "layer_norm";
    case Kernel::adam: return "adam";
  }
  return "?";
}

void register_all() {
  benchmark::RegisterBenchmark("copy_ceiling", guarded(bm_copy_ceiling))
      ->ArgName("MiB")->Arg(256)->Arg(1024)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
  for (Kernel k : {Kernel::copy, Kernel::add, Kernel::relu, Kernel::sum, Kernel::softmax, Kernel::layer_norm,
                   Kernel::adam})
    benchmark::RegisterBenchmark(kernel_name(k), guarded([k](benchmark::State& s) { bm_memory(s, k); }))
        ->ArgName("MiB")->Arg(256)->Arg(1024)->UseManualTime()->Unit(benchmark::kMicrosecond);
  for (ember::DType dt : {ember::kFloat32, ember::kBFloat16, ember::kFloat16}) {
    const std::string suffix = std::string("/") + dt.name();
    benchmark::RegisterBenchmark(("mm" + suffix).c_str(), guarded([dt](benchmark::State& s) { bm_gemm(s, dt, false); }))
        ->Arg(1024)->Arg(2048)->Arg(4096)->Arg(8192)->UseManualTime()->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("linear" + suffix).c_str(), guarded([dt](benchmark::State& s) { bm_gemm(s, dt, true); }))
        ->Arg(1024)->Arg(4096)->UseManualTime()->Unit(benchmark::kMicrosecond);
  }
  for (const ConvCase& c : kConvCases) {
    for (bool backward : {false, true}) {
      const std::string name = std::string("conv/") + c.name + (backward ? "/fwd_bwd" : "/fwd");
      benchmark::RegisterBenchmark(name.c_str(), guarded([c, backward](benchmark::State& s) { bm_conv(s, c, backward); }))
          ->UseManualTime()->Unit(benchmark::kMicrosecond);
    }
  }
  for (bool cudnn : {true, false}) {
    const char* name = cudnn ? "batch_norm/ResNet/fwd_bwd" : "batch_norm_ember/ResNet/fwd_bwd";
    benchmark::RegisterBenchmark(name, guarded([cudnn](benchmark::State& s) { bm_batch_norm(s, cudnn); }))
        ->UseManualTime()->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("host/add_small", guarded(bm_host_add))->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_cuda: no CUDA GPU present (the driver reports none); nothing measured\n");
    return 0;
  }
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

#else  // !EMBER_WITH_CUDA

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::fprintf(stderr, "bench_cuda: this build has no CUDA backend (EMBER_CUDA=OFF); nothing measured\n");
  return 0;
}

#endif
