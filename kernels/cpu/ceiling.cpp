// Machine ceilings for benchmarks (see ceiling.hpp). This file is built for
// baseline x86-64, so it also holds the scalar path's FMA loop.
#include <ember/kernels/cpu/ceiling.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <emmintrin.h>

#include <ember/kernels/cpu/ceiling_kernel.hpp>
#include <ember/runtime/error.hpp>

namespace ember::cpu {
namespace {

using Clock = std::chrono::steady_clock;

// Runs body(thread_index) on `threads` threads started together; returns the wall seconds.
template <class F>
double timed_on_threads(int threads, F&& body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  }
  while (ready.load() < threads - 1) std::this_thread::yield();
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  body(0);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

float fma_loop_for(Isa isa, int64_t iters, double* flops) {
  switch (isa) {
    case Isa::avx512: return avx512::fma_loop(iters, flops);
    case Isa::avx2: return avx2::fma_loop(iters, flops);
    case Isa::scalar: break;
  }
  return scalar::fma_loop(iters, flops);
}

}  // namespace

double measure_peak_gflops(Isa isa, int threads, double seconds) {
  EMBER_CHECK(isa_supported(isa), "measure_peak_gflops: this CPU cannot run ", isa_name(isa), " (", cpu_features(), ")");
  threads = std::max(threads, 1);
  // Calibrate the iteration count on one thread, then time all threads.
  double flops = 0;
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = Clock::now();
    volatile float sink = fma_loop_for(isa, iters, &flops);
    (void)sink;
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt > seconds / 10 || iters > (int64_t{1} << 40)) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * seconds / std::max(dt, 1e-9));
      break;
    }
    iters *= 4;
  }
  // The best of kSlices timed slices: a ceiling is what the machine can do, and
  // on a shared host one slice may lose time to a neighbour.
  constexpr int kSlices = 5;
  iters = std::max<int64_t>(iters / kSlices, 1);
  double best = 0;
  for (int slice = 0; slice < kSlices; ++slice) {
    std::vector<double> per_thread(static_cast<size_t>(threads), 0.0);
    const double wall = timed_on_threads(threads, [&](int t) {
      volatile float sink = fma_loop_for(isa, iters, &per_thread[static_cast<size_t>(t)]);
      (void)sink;
    });
    double total = 0;
    for (double f : per_thread) total += f;
    best = std::max(best, total / wall * 1e-9);
  }
  return best;
}

namespace {

// Copies n bytes (a multiple of 64) with ordinary, cached 16-byte stores.
// Written with SSE2 intrinsics (baseline x86-64) so the compiler cannot turn it
// into a memcpy call.
void copy_cached(char* dst, const char* src, size_t n) {
  for (size_t i = 0; i < n; i += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
  }
}

}  // namespace

double measure_copy_gbs(size_t bytes, int threads, double seconds) {
  threads = std::max(threads, 1);
  bytes = std::max<size_t>(bytes, 4096) / 64 * 64;
  std::unique_ptr<char[]> src(new char[bytes]), dst(new char[bytes]);
  std::memset(src.get(), 1, bytes);
  std::memset(dst.get(), 0, bytes);
  // Each thread's slice, 64-byte granular.
  auto slice = [&](int t, size_t* lo, size_t* hi) {
    const size_t lines = bytes / 64;
    *lo = lines * static_cast<size_t>(t) / static_cast<size_t>(threads) * 64;
    *hi = lines * static_cast<size_t>(t + 1) / static_cast<size_t>(threads) * 64;
  };
  // The better of two copies: memcpy (non-temporal stores for large copies)
  // and cached stores (faster while the arrays fit the caches).
  double best = 0;
  for (bool cached : {false, true}) {
    auto copy_all = [&](int t) {
      size_t lo = 0, hi = 0;
      slice(t, &lo, &hi);
      if (cached) {
        copy_cached(dst.get() + lo, src.get() + lo, hi - lo);
      } else {
        std::memcpy(dst.get() + lo, src.get() + lo, hi - lo);
      }
    };
    timed_on_threads(threads, copy_all);  // warm: pages touched, caches filled
    // Calibrate the repetitions to a tenth of the time, then keep the best of
    // several timed runs (as for the peak); every run counts towards the best.
    const double run_seconds = seconds / 10;
    int reps = 1;
    auto timed_run = [&] {
      const double wall = timed_on_threads(threads, [&](int t) {
        for (int r = 0; r < reps; ++r) copy_all(t);
      });
      best = std::max(best, 2.0 * static_cast<double>(bytes) * reps / wall * 1e-9);
      return wall;
    };
    for (double wall = timed_run(); wall <= run_seconds && reps <= (1 << 24); wall = timed_run())
      reps = std::max(reps * 2, static_cast<int>(static_cast<double>(reps) * run_seconds / std::max(wall, 1e-9)));
    for (int run = 0; run < 4; ++run) timed_run();
  }
  return best;
}

}  // namespace ember::cpu
