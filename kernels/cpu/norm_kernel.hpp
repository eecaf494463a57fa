// The float32 layer-norm and batch-norm kernels (vec_kernels.hpp), written once
// with Vf and compiled per ISA by norm_avx2.cpp and norm_avx512.cpp. norm.cpp
// calls them for contiguous float32 inputs with float32 (or no) affine
// parameters: layer norm by blocks of rows, batch norm by (N, C) strips of
// S = H * W elements.
//
// Statistics: moments_f32 cuts a group into blocks of kMomentBlock floats (in
// L1), takes each block's mean, then the sum of its squared deviations (and
// their plain sum, which corrects the rounded block mean), summed in float
// chains of at most 2048 / 32 terms and totalled in double, and merges blocks
// in double with Chan's formula: one pass over memory, no cancellation when the
// mean is large against the spread.
// Layer-norm backward adds g * xhat and g into per-chunk double column
// accumulators while it writes dx, so grad_weight and grad_bias need no second pass.
//
// Ceilings per element: forward 8 bytes (read x, write y; the second read of a
// row or channel hits L1/L2), ~8 FLOPs; backward 12 bytes (read x and g, write
// dx), ~12 FLOPs. Layer norm over rows of 1024 reaches 75-90% of the copy
// bandwidth (benchmarks/RESULTS.md).
#pragma once

#include <cmath>

#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/kernels/cpu/vec_loop.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace norm_detail {

constexpr int64_t kMomentBlock = kShortBlock;  // floats: 8 KiB, float chains of at most 2048 / 32 terms

}  // namespace norm_detail

void moments_f32(const float* x, int64_t n, Moments* acc) {
  for (int64_t i0 = 0; i0 < n; i0 += norm_detail::kMomentBlock) {
    const int64_t nb = n - i0 < norm_detail::kMomentBlock ? n - i0 : norm_detail::kMomentBlock;
    const float* xb = x + i0;
    const double cnt = static_cast<double>(nb);
    const float mb = static_cast<float>(block_sum_short(nb, [&](int64_t i, auto... k) { return ld(xb + i, k...); }) / cnt);
    const Vf mv = Vf::broadcast(mb);
    double sd = 0.0, sdd = 0.0;
    block_sum2_short(nb, [&](int64_t i, Vf* a, Vf* b, auto... k) {
      const Vf d = ld_or(xb + i, mb, k...) - mv;  // padding lanes: d = 0
      *a = d;
      *b = d * d;
    }, &sd, &sdd);
    const double m2 = sdd - sd * sd / cnt;
    merge_moments(acc, Moments{cnt, static_cast<double>(mb) + sd / cnt, m2 > 0.0 ? m2 : 0.0});
  }
}

void layer_norm_rows_f32(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                         int64_t rows, int64_t D, double eps, bool stream) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * D;
    Moments mo{0.0, 0.0, 0.0};
    moments_f32(xr, D, &mo);
    const double inv = 1.0 / std::sqrt(mo.m2 / static_cast<double>(D) + eps);
    mean[r] = static_cast<float>(mo.mean);
    rstd[r] = static_cast<float>(inv);
    const Vf m = Vf::broadcast(static_cast<float>(mo.mean)), k = Vf::broadcast(static_cast<float>(inv));
    float* yr = y + r * D;
    if (w != nullptr && b != nullptr) {
      map_out(yr, D, stream, [&](int64_t i, auto... j) { return fmadd((ld(xr + i, j...) - m) * k, ld(w + i, j...), ld(b + i, j...)); });
    } else if (w != nullptr) {
      map_out(yr, D, stream, [&](int64_t i, auto... j) { return (ld(xr + i, j...) - m) * k * ld(w + i, j...); });
    } else if (b != nullptr) {
      map_out(yr, D, stream, [&](int64_t i, auto... j) { return fmadd(ld(xr + i, j...) - m, k, ld(b + i, j...)); });
    } else {
      map_out(yr, D, stream, [&](int64_t i, auto... j) { return (ld(xr + i, j...) - m) * k; });
    }
  }
}

void layer_norm_backward_rows_f32(float* dx, double* gw_acc, double* gb_acc, const float* g, const float* x,
                                  const float* w, const float* mean, const float* rstd, int64_t rows, int64_t D,
                                  bool stream) {
  const Vf one = Vf::broadcast(1.0f);
  // g * w, or g when there is no weight (the padding lanes of g are 0 either way).
  auto gw_at = [&](const float* gr, int64_t i, auto... j) { return w != nullptr ? ld(gr + i, j...) * ld(w + i, j...) : ld(gr + i, j...) * one; };
  for (int64_t r = 0; r < rows; ++r) {
    const float* gr = g + r * D;
    const float* xr = x + r * D;
    const Vf m = Vf::broadcast(mean[r]), k = Vf::broadcast(rstd[r]);
    double sum_g = 0.0, sum_gd = 0.0;
    block_sum2(D, [&](int64_t i, Vf* a, Vf* bb, auto... j) {
      const Vf gw = gw_at(gr, i, j...);
      *a = gw;
      *bb = gw * (ld(xr + i, j...) - m);
    }, &sum_g, &sum_gd);
    const double n = static_cast<double>(D);
    const Vf a = Vf::broadcast(static_cast<float>(sum_g / n));
    const Vf proj = Vf::broadcast(static_cast<float>(sum_gd * static_cast<double>(rstd[r]) / n));
    map_out(dx + r * D, D, stream, [&](int64_t i, auto... j) {
      const Vf xhat = (ld(xr + i, j...) - m) * k;
      if (gb_acc != nullptr) add_to_wide(gb_acc + i, ld(gr + i, j...), j...);
      if (gw_acc != nullptr) add_to_wide(gw_acc + i, ld(gr + i, j...) * xhat, j...);
      return k * fnmadd(xhat, proj, gw_at(gr, i, j...) - a);
    });
  }
}

void affine_f32(float* y, const float* x, int64_t n, float m, float scale, float shift, bool stream) {
  const Vf mv = Vf::broadcast(m), s = Vf::broadcast(scale), t = Vf::broadcast(shift);
  map_out(y, n, stream, [&](int64_t i, auto... k) { return fmadd(ld(x + i, k...) - mv, s, t); });
}

void norm_backward_sums_f32(const float* g, const float* x, int64_t n, float m, double* sum_g, double* sum_gx) {
  const Vf mv = Vf::broadcast(m);
  // Float chains per block of 2048, totalled in double (as moments_f32).
  block_sum2_blocked(n, [&](int64_t i, Vf* a, Vf* b, auto... k) {
    const Vf gv = ld(g + i, k...);
    *a = gv;
    *b = gv * (ld(x + i, k...) - mv);
  }, sum_g, sum_gx);
}

void norm_backward_apply_f32(float* dx, const float* g, const float* x, int64_t n, float k, float mean_g, float m,
                             float proj, bool stream) {
  const Vf kv = Vf::broadcast(k), mg = Vf::broadcast(mean_g), mv = Vf::broadcast(m), pv = Vf::broadcast(proj);
  map_out(dx, n, stream, [&](int64_t i, auto... j) {
    return kv * fnmadd(ld(x + i, j...) - mv, pv, ld(g + i, j...) - mg);
  });
}

}  // namespace ember::cpu::EMBER_ISA_NS
