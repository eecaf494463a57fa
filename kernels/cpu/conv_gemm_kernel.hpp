// The implicit-GEMM convolution of conv_gemm.hpp, written once and compiled
// per ISA inside gemm_avx2.cpp / gemm_avx512.cpp (which also hold the packed
// GEMM it runs on; see vec.hpp, Note [per-ISA namespaces]).
//
// Both B sources walk the output positions of a micro-panel in runs that stay
// on one output row: along such a run, stride-1 taps read consecutive input
// columns, so packing is a clipped copy rather than a gather.
#pragma once

#include <ember/kernels/cpu/conv_gemm.hpp>
#include <ember/kernels/cpu/gemm_kernel.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace gemm_detail {

// dst[t * step] = row[(ow0 + t) * sw + shift] for t < len, zero where the column leaves [0, W).
template <class T>
inline void copy_taps(const T* row, int64_t W, int64_t ow0, int64_t sw, int64_t shift, int64_t len, T* dst, int64_t step) {
  if (sw == 1) {
    const int64_t first = ow0 + shift;  // input column of t = 0
    const int64_t lo = std::clamp<int64_t>(-first, 0, len), hi = std::clamp<int64_t>(W - first, lo, len);
    for (int64_t t = 0; t < lo; ++t) dst[t * step] = T(0);
    for (int64_t t = lo; t < hi; ++t) dst[t * step] = row[first + t];
    for (int64_t t = hi; t < len; ++t) dst[t * step] = T(0);
    return;
  }
  for (int64_t t = 0; t < len; ++t) {
    const int64_t iw = (ow0 + t) * sw + shift;
    dst[t * step] = iw >= 0 && iw < W ? row[iw] : T(0);
  }
}

// The output positions [l0, l0 + n) cut into runs that stay on one output row.
struct RowRuns {
  static constexpr int kMax = 64;  // n <= kMax (a micro-panel's columns or a K slab's rows per call)
  int64_t oh[kMax + 1], ow0[kMax + 1], len[kMax + 1], off[kMax + 1];
  int count = 0;
  RowRuns(const ConvImage& g, int64_t l0, int64_t n) {
    int64_t h = l0 / g.OW, w = l0 % g.OW;
    for (int64_t o = 0; o < n; ++count) {
      const int64_t run = std::min(g.OW - w, n - o);
      oh[count] = h, ow0[count] = w, len[count] = run, off[count] = o;
      o += run;
      w = 0;
      ++h;
    }
  }
};

// B = col: K runs over taps (c, i, j), N over output positions.
struct Im2colB {
  const ConvImage& g;
  template <class V, int NR>
  void pack(int64_t p0, int64_t kc, int64_t j0, int nr, float* dst) const {
    static_assert(NR <= RowRuns::kMax, "a micro-panel fits the run table");
    const RowRuns runs(g, j0, nr);
    const int64_t taps = g.KH * g.KW;
    int64_t c = p0 / taps, i = (p0 % taps) / g.KW, j = p0 % g.KW;
    for (int64_t p = 0; p < kc; ++p) {
      float* d = dst + p * NR;
      for (int t = nr; t < NR; ++t) d[t] = 0.0f;
      const float* plane = g.x + c * g.H * g.W;
      const int64_t shift = j * g.dw - g.pw, ih0 = i * g.dh - g.ph;
      for (int r = 0; r < runs.count; ++r) {
        const int64_t ih = runs.oh[r] * g.sh + ih0;
        float* dr = d + runs.off[r];
        if (ih < 0 || ih >= g.H) {
          for (int64_t t = 0; t < runs.len[r]; ++t) dr[t] = 0.0f;
        } else {
          copy_taps(plane + ih * g.W, g.W, runs.ow0[r], g.sw, shift, runs.len[r], dr, 1);
        }
      }
      if (++j == g.KW) {
        j = 0;
        if (++i == g.KH) i = 0, ++c;
      }
    }
  }
};

// B = col^T: K runs over output positions, N over taps (c, i, j).
struct Im2colTB {
  const ConvImage& g;
  template <class V, int NR>
  void pack(int64_t p0, int64_t kc, int64_t j0, int nr, float* dst) const {
    const int64_t taps = g.KH * g.KW;
    for (int jj = nr; jj < NR; ++jj)
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + jj] = 0.0f;
    // The K slab's positions in pieces the run table holds.
    for (int64_t q0 = 0; q0 < kc; q0 += RowRuns::kMax) {
      const RowRuns runs(g, p0 + q0, std::min<int64_t>(RowRuns::kMax, kc - q0));
      for (int jj = 0; jj < nr; ++jj) {
        const int64_t k = j0 + jj, c = k / taps, i = (k % taps) / g.KW, j = k % g.KW;
        const float* plane = g.x + c * g.H * g.W;
        const int64_t shift = j * g.dw - g.pw, ih0 = i * g.dh - g.ph;
        for (int r = 0; r < runs.count; ++r) {
          float* d = dst + (q0 + runs.off[r]) * NR + jj;
          const int64_t ih = runs.oh[r] * g.sh + ih0;
          if (ih < 0 || ih >= g.H) {
            for (int64_t t = 0; t < runs.len[r]; ++t) d[t * NR] = 0.0f;
          } else {
            copy_taps(plane + ih * g.W, g.W, runs.ow0[r], g.sw, shift, runs.len[r], d, NR);
          }
        }
      }
    }
  }
};

}  // namespace gemm_detail

void conv_gemm(int64_t M, ConstMatrix<float> w, const ConvImage& x, Matrix<float> out, bool accumulate) {
  gemm_detail::gemm_packed<float>(M, x.OH * x.OW, x.C * x.KH * x.KW, w, gemm_detail::Im2colB{x}, out, accumulate);
}

void conv_weight_gemm(int64_t M, ConstMatrix<float> go, const ConvImage& x, Matrix<float> gw, bool accumulate) {
  gemm_detail::gemm_packed<float>(M, x.C * x.KH * x.KW, x.OH * x.OW, go, gemm_detail::Im2colTB{x}, gw, accumulate);
}

}  // namespace ember::cpu::EMBER_ISA_NS
