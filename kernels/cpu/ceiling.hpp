// ceiling: measures this machine's compute and memory ceilings, so a benchmark
// can print the fraction of the machine it reaches, measured in the same run.
//
// Peak: independent chains of vector FMAs on the chosen ISA path, one
// std::thread per core asked for (the pool is not used: a ceiling must not
// depend on how ember schedules). Bandwidth: each thread copies its slice of
// an array, counting bytes read plus bytes written, as STREAM's copy does; the
// better of memcpy (non-temporal stores for large copies) and a copy with
// cached stores (faster while the arrays fit the caches).
#pragma once

#include <cstddef>
#include <cstdint>

#include <ember/kernels/cpu/isa.hpp>

namespace ember::cpu {

// float32 FMA throughput in GFLOP/s of `threads` threads on `isa` (which the
// CPU must support): the best of several slices of about `seconds` in all.
double measure_peak_gflops(Isa isa, int threads, double seconds = 0.2);

// Copy bandwidth in GB/s (bytes read + written per second) between two arrays
// of `bytes` each, split over `threads` threads: the best of several timed
// slices of about `seconds` in all per copy method.
double measure_copy_gbs(size_t bytes, int threads, double seconds = 0.2);

// The FMA loop per ISA: `iters` steps of the per-ISA number of independent
// vector FMA chains; returns a value that depends on every chain (so the loop
// is not optimised away) and sets *flops to the FLOPs performed.
#define EMBER_DECLARE_FMA_LOOP(isa) \
  namespace isa {                   \
  float fma_loop(int64_t iters, double* flops); \
  }
EMBER_DECLARE_FMA_LOOP(scalar)
EMBER_DECLARE_FMA_LOOP(avx2)
EMBER_DECLARE_FMA_LOOP(avx512)
#undef EMBER_DECLARE_FMA_LOOP

}  // namespace ember::cpu
