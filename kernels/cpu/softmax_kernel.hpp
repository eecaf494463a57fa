// The float32 softmax, log_softmax, their backward passes and the cross-entropy
// row kernels (vec_kernels.hpp), written once with Vf and compiled per ISA by
// softmax_avx2.cpp and softmax_avx512.cpp. softmax.cpp calls them for the last
// dim of a contiguous float32 tensor, softmax_loss.cpp for (N, C) inputs.
//
// One row at a time, so every pass after the first reads the row from L1/L2:
//   softmax      max; e = exp(x - max) into an L1 scratch row (rows up to
//                kScratch; longer rows use y), summed; y = e / sum
//   log_softmax  max; sum of exp(x - max); y = (x - max) - log(sum)
//   backward     sum(g y) or sum(g); one pass writing dx
// Sums of exponentials run in float chains per block of 2048, totalled in
// double (block_sum_blocked, vec_loop.hpp); the backward sums in double. As in the reference, a
// row holding NaN, or only -inf, gives NaN.
//
// Ceilings per element: forward 8 bytes from memory (x read, y written once),
// one exp (~20 FLOPs); backward 12 bytes, ~4 FLOPs (plus an exp for
// log_softmax). Softmax over rows of 1024 reaches 70-90% of the copy
// bandwidth (benchmarks/RESULTS.md); short rows on 2 cores are exp-bound.
#pragma once

#include <cmath>

#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/kernels/cpu/vec_loop.hpp>
#include <ember/kernels/cpu/vec_math.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace softmax_detail {

constexpr int64_t kScratch = 8192;  // floats: 32 KiB, one L1

inline void store_some(Vf v, float* p) { v.store(p); }
inline void store_some(Vf v, float* p, int k) { v.store(p, k); }

void softmax_row(float* y, const float* x, int64_t n, bool stream, float* scratch) {
  const float ninf = -__builtin_inff();
  const Vf m = Vf::broadcast(max_of(x, n));
  float* e = n <= kScratch ? scratch : y;
  const double sum = block_sum_blocked(n, [&](int64_t i, auto... k) {
    const Vf v = vexp(ld_or(x + i, ninf, k...) - m);  // padding lanes: exp(-inf) = 0
    store_some(v, e + i, k...);
    return v;
  });
  const Vf inv = Vf::broadcast(static_cast<float>(1.0 / sum));
  map_out(y, n, stream, [&](int64_t i, auto... k) { return ld(e + i, k...) * inv; });
}

void log_softmax_row(float* y, const float* x, int64_t n, bool stream) {
  const float ninf = -__builtin_inff();
  const Vf m = Vf::broadcast(max_of(x, n));
  const double sum = block_sum_blocked(n, [&](int64_t i, auto... k) { return vexp(ld_or(x + i, ninf, k...) - m); });
  const Vf lse = Vf::broadcast(static_cast<float>(std::log(sum)));
  map_out(y, n, stream, [&](int64_t i, auto... k) { return (ld(x + i, k...) - m) - lse; });
}

}  // namespace softmax_detail

void softmax_rows_f32(float* y, const float* x, int64_t rows, int64_t n, bool log, bool stream) {
  alignas(64) float scratch[softmax_detail::kScratch];
  for (int64_t r = 0; r < rows; ++r) {
    if (log) softmax_detail::log_softmax_row(y + r * n, x + r * n, n, stream);
    else softmax_detail::softmax_row(y + r * n, x + r * n, n, stream, scratch);
  }
}

void softmax_backward_rows_f32(float* dx, const float* g, const float* y, int64_t rows, int64_t n, bool log,
                               bool stream) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* gr = g + r * n;
    const float* yr = y + r * n;
    if (log) {
      const Vf s = Vf::broadcast(static_cast<float>(block_sum(n, [&](int64_t i, auto... k) { return ld(gr + i, k...); })));
      map_out(dx + r * n, n, stream,
              [&](int64_t i, auto... k) { return fnmadd(vexp(ld(yr + i, k...)), s, ld(gr + i, k...)); });
    } else {
      const double dot = block_sum(n, [&](int64_t i, auto... k) { return ld(gr + i, k...) * ld(yr + i, k...); });
      const Vf s = Vf::broadcast(static_cast<float>(dot));
      map_out(dx + r * n, n, stream, [&](int64_t i, auto... k) { return ld(yr + i, k...) * (ld(gr + i, k...) - s); });
    }
  }
}

double logsumexp_f32(const float* x, int64_t n) {
  const float m = max_of(x, n);
  if (m != m || m == __builtin_inff() || m == -__builtin_inff()) return m;  // NaN, or a shift that means nothing
  const Vf mv = Vf::broadcast(m);
  const float ninf = -__builtin_inff();
  const double sum = block_sum_blocked(n, [&](int64_t i, auto... k) { return vexp(ld_or(x + i, ninf, k...) - mv); });
  return static_cast<double>(m) + std::log(sum);
}

void cross_entropy_grad_row_f32(float* d, const float* x, int64_t n, float lse, float A, float B, const float* w) {
  const Vf l = Vf::broadcast(lse), a = Vf::broadcast(A), b = Vf::broadcast(B);
  if (w == nullptr) {
    map_out(d, n, false, [&](int64_t i, auto... k) { return fmadd(a, vexp(ld(x + i, k...) - l), -b); });
  } else {
    map_out(d, n, false, [&](int64_t i, auto... k) {
      return fnmadd(b, ld(w + i, k...), a * vexp(ld(x + i, k...) - l));
    });
  }
}

}  // namespace ember::cpu::EMBER_ISA_NS
