// The implicit-GEMM and direct convolutions of conv_gemm.hpp, written once
// and compiled per ISA inside gemm_avx2.cpp / gemm_avx512.cpp (which also hold
// the packed GEMM the first runs on; see vec.hpp, Note [per-ISA namespaces]).
//
// The implicit GEMM's B source writes rows of col in runs that stay on one
// output row: along such a run, stride-1 taps read consecutive input columns,
// so a row is a few clipped copies rather than a gather.
#pragma once

#include <array>
#include <utility>

#include <ember/kernels/cpu/conv_gemm.hpp>
#include <ember/kernels/cpu/gemm_kernel.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace gemm_detail {

// dst[t] = row[(ow0 + t) * sw + shift] for t < len, zero where the column leaves [0, W).
inline void gather_taps(const float* row, int64_t W, int64_t ow0, int64_t sw, int64_t shift, int64_t len, float* dst) {
  for (int64_t t = 0; t < len; ++t) {
    const int64_t iw = (ow0 + t) * sw + shift;
    dst[t] = iw >= 0 && iw < W ? row[iw] : 0.0f;
  }
}

// Row k of col (tap (c, i, j)) at the output positions [l0, l0 + len) -> dst[0, len).
// dst has room for V::size more floats: every piece is written as whole
// vectors, in increasing order, so a piece's spill past its end is overwritten
// by the next one (the last spills into that room). The image is only read
// inside the row (masked loads at the edges).
template <class V>
inline void im2col_row(const ConvImage& g, int64_t k, int64_t l0, int64_t len, float* dst) {
  constexpr int S = V::size;
  const int64_t taps = g.KH * g.KW, c = k / taps, i = (k % taps) / g.KW, j = k % g.KW;
  const float* plane = g.x + c * g.H * g.W;
  const int64_t shift = j * g.dw - g.pw, ih0 = i * g.dh - g.ph;
  int64_t oh = l0 / g.OW, ow = l0 % g.OW;
  for (int64_t o = 0; o < len; ++oh, ow = 0) {
    const int64_t run = std::min(g.OW - ow, len - o);
    const int64_t ih = oh * g.sh + ih0;
    float* d = dst + o;
    if (ih < 0 || ih >= g.H) {
      for (int64_t t = 0; t < run; t += S) V::zero().store(d + t);
    } else if (g.sw == 1 && g.overread && g.pw == 0) {
      const float* src = plane + ih * g.W + ow + shift;  // shift >= 0: no column leaves the row
      for (int64_t t = 0; t < run; t += S) V::load(src + t).store(d + t);
    } else if (g.sw == 1) {
      const float* src = plane + ih * g.W + ow + shift;  // input of t = 0 (valid for t in [lo, hi))
      const int64_t lo = std::clamp<int64_t>(-(ow + shift), 0, run);
      const int64_t hi = std::clamp<int64_t>(g.W - (ow + shift), lo, run);
      for (int64_t t = 0; t < lo; t += S) V::zero().store(d + t);
      for (int64_t t = lo; t < hi; t += S)
        (hi - t >= S ? V::load(src + t) : V::load(src + t, static_cast<int>(hi - t))).store(d + t);
      for (int64_t t = hi; t < run; t += S) V::zero().store(d + t);
    } else {
      gather_taps(plane + ih * g.W, g.W, ow, g.sw, shift, run, d);
    }
    o += run;
  }
}

// The source packs a range of micro-panels at a time (pack_range, see
// StridedB): eight rows of col are first written out as plain rows into a
// small staging buffer, each a few clipped copies, then moved into the panels
// with full vector loads and stores. Packing panel by panel straight from the
// image instead costs a gather per element.

// B = col: K runs over taps (c, i, j), N over output positions.
struct Im2colB {
  const ConvImage& g;
  template <class V, int NR>
  void pack_range(int64_t p0, int64_t kc, int64_t j0, int64_t n, float* dst) const {
    constexpr int64_t kPiece = 16 * NR;  // positions staged per row
    alignas(64) float staged[8][kPiece + V::size];
    const float* rows[8] = {staged[0], staged[1], staged[2], staged[3], staged[4], staged[5], staged[6], staged[7]};
    for (int64_t c0 = 0; c0 < n; c0 += kPiece) {
      const int64_t cn = std::min(kPiece, n - c0);
      for (int64_t p = 0; p < kc; p += 8) {
        const int64_t rn = std::min<int64_t>(8, kc - p);
        for (int64_t q = 0; q < rn; ++q) im2col_row<V>(g, p0 + p + q, j0 + c0, cn, staged[q]);
        rows_to_panels<float, V, NR>(rows, rn, cn, kc, p, dst + (c0 / NR) * kc * NR);
      }
    }
  }
};

// conv_direct's register tile: MR positions x NV vectors of output channels
// (MR * NV accumulators + NV weight vectors + 1 broadcast fit the register
// file: AVX-512 14 x 2 of 32 zmm, AVX2 6 x 2 of 16 ymm). KC taps per slab keep
// a panel's weight slab (KC x NR) in L1 while the tiles sweep the positions.
#if defined(__AVX512F__)
struct DirectBlocking { static constexpr int MR = 14, NV = 2; static constexpr int64_t KC = 256; };
#else
struct DirectBlocking { static constexpr int MR = 6, NV = 2; static constexpr int64_t KC = 256; };
#endif

// The direct kernels' register tiles: R rows of NV vectors, zeroed, then
// stored to (add: added into) row r at c + r * ldc.
template <class V, int R, int NV>
inline void zero_tile(V (&acc)[R][NV]) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[r][j] = V::zero();
}
template <class V, int R, int NV>
inline void store_tile(const V (&acc)[R][NV], float* c, int64_t ldc, bool add) {
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      float* dst = c + r * ldc + j * V::size;
      (add ? V::load(dst) + acc[r][j] : acc[r][j]).store(dst);
    }
}

// acc (R positions x NR channels) = sum over kc taps of xs[off[p] + r] * w[p][0, NR);
// then c = acc (add: c += acc), row r of the tile at c + r * ldc.
template <class V, int R, int NV>
void direct_tile(int64_t kc, const int64_t* __restrict off, const float* xs, const float* __restrict w, float* c,
                 int64_t ldc, bool add) {
  constexpr int NR = NV * V::size;
  V acc[R][NV];
  zero_tile<V, R, NV>(acc);
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = xs + off[p];
    V wv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) wv[j] = V::load(w + p * NR + j * V::size);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V xr = V::broadcast(s[r]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[r][j] = fmadd(xr, wv[j], acc[r][j]);
    }
  }
  store_tile<V, R, NV>(acc, c, ldc, add);
}

// direct_tile for every tile height 1..MR: a row's last piece is as tall as
// what is left of the row, so no position is computed that is not wanted.
using DirectTileFn = void (*)(int64_t, const int64_t*, const float*, const float*, float*, int64_t, bool);
template <size_t... I>
constexpr std::array<DirectTileFn, sizeof...(I)> direct_tiles(std::index_sequence<I...>) {
  return {&direct_tile<Vf, static_cast<int>(I) + 1, DirectBlocking::NV>...};
}

// The weight gradient's tile: acc (R taps x NR channels) = sum over the
// output positions (oh, ow) of x[off[r] + oh * sh * W + ow * sw] * g[oh * OW + ow][0, NR)
// (g: the output gradient with channels along its rows, leading dimension ldg);
// then c = acc (add: c += acc), row r at c + r * ldc. The R taps read R
// different rows of the image, one pointer each; the positions of an output
// row advance all of them together.
template <class V, int R, int NV>
void weight_tile(const ConvImage& x, const int64_t* __restrict off, const float* __restrict g, int64_t ldg, float* c,
                 int64_t ldc, bool add) {
  V acc[R][NV];
  zero_tile<V, R, NV>(acc);
  for (int64_t oh = 0; oh < x.OH; ++oh) {
    const float* src[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) src[r] = x.x + off[r] + oh * x.sh * x.W;
    const float* grow = g + oh * x.OW * ldg;
    for (int64_t ow = 0, iw = 0; ow < x.OW; ++ow, iw += x.sw) {
      V gv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) gv[j] = V::load(grow + ow * ldg + j * V::size);
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const V xr = V::broadcast(src[r][iw]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[r][j] = fmadd(xr, gv[j], acc[r][j]);
      }
    }
  }
  store_tile<V, R, NV>(acc, c, ldc, add);
}

using WeightTileFn = void (*)(const ConvImage&, const int64_t*, const float*, int64_t, float*, int64_t, bool);
template <size_t... I>
constexpr std::array<WeightTileFn, sizeof...(I)> weight_tiles(std::index_sequence<I...>) {
  return {&weight_tile<Vf, static_cast<int>(I) + 1, DirectBlocking::NV>...};
}

#if defined(__AVX2__)
// The first n (1..8) floats at p, zeros after them; nothing past p + n is read.
inline __m256 load_first(const float* p, int n) {
  if (n == 8) return _mm256_loadu_ps(p);
  alignas(32) float t[8] = {};
  for (int i = 0; i < n; ++i) t[i] = p[i];
  return _mm256_load_ps(t);
}
#endif

}  // namespace gemm_detail

ConvDirectShape conv_direct_shape() {
  using DB = gemm_detail::DirectBlocking;
  return {DB::NV * Vf::size, DB::MR};
}

void pack_conv_direct_weights(int64_t M, ConstMatrix<float> w, int64_t K, float* dst) {
  const int64_t NR = conv_direct_shape().NR, panels = (M + NR - 1) / NR;
  for (int64_t jp = 0; jp < panels; ++jp)
    for (int64_t k = 0; k < K; ++k) {
      float* d = dst + (jp * K + k) * NR;
      for (int64_t u = 0; u < NR; ++u) {
        const int64_t o = jp * NR + u;
        d[u] = o < M ? w.data[o * w.rs + k * w.cs] : 0.0f;
      }
    }
}

void conv_direct(int64_t M, const float* wp, const ConvImage& x, const int64_t* off, float* outw, int64_t ldo, int64_t u0,
                 int64_t u1) {
  using DB = gemm_detail::DirectBlocking;
  constexpr int MR = DB::MR, NR = DB::NV * Vf::size;
  static constexpr auto tiles = gemm_detail::direct_tiles(std::make_index_sequence<MR>());
  const int64_t K = x.C * x.KH * x.KW;
  for_each_direct_tile<MR, NR>(M, K, DB::KC, x.OW, u0, u1,
                               [&](int64_t pc, int64_t kc, int64_t jp, int64_t oh, int64_t ow, int64_t mr) {
                                 tiles[static_cast<size_t>(mr - 1)](kc, off + pc, x.x + oh * x.W + ow,
                                                                    wp + (jp * K + pc) * NR,
                                                                    outw + (oh * x.OW + ow) * ldo + jp * NR, ldo, pc > 0);
                               });
}

void conv_direct_weight(int64_t M, const float* g, int64_t ldg, const ConvImage& x, const int64_t* off, float* gwt,
                        int64_t ldo, int64_t u0, int64_t u1, bool accumulate) {
  using DB = gemm_detail::DirectBlocking;
  constexpr int MR = DB::MR, NR = DB::NV * Vf::size;
  static constexpr auto tiles = gemm_detail::weight_tiles(std::make_index_sequence<MR>());
  const int64_t K = x.C * x.KH * x.KW, panels = (M + NR - 1) / NR;
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t k = (u / panels) * MR, jp = u % panels, mr = std::min<int64_t>(MR, K - k);
    tiles[static_cast<size_t>(mr - 1)](x, off + k, g + jp * NR, ldg, gwt + k * ldo + jp * NR, ldo, accumulate);
  }
}

void conv_direct_pack_rows(int64_t M, const float* src, int64_t L, float* dst, int64_t ldo) {
  int64_t o0 = 0;
#if defined(__AVX2__)
  // Eight channels x eight positions at a time, transposed in registers.
  for (; o0 + 8 <= M; o0 += 8) {
    for (int64_t l = 0; l < L; l += 8) {
      const int lanes = static_cast<int>(std::min<int64_t>(8, L - l));
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = gemm_detail::load_first(src + (o0 + q) * L + l, lanes);
      gemm_detail::transpose_8x8_regs(r);
      for (int q = 0; q < lanes; ++q) _mm256_storeu_ps(dst + (l + q) * ldo + o0, r[q]);
    }
  }
#endif
  for (; o0 < M; ++o0)
    for (int64_t l = 0; l < L; ++l) dst[l * ldo + o0] = src[o0 * L + l];
  for (int64_t l = 0; l < L; ++l)
    for (int64_t o = M; o < ldo; ++o) dst[l * ldo + o] = 0.0f;
}

void conv_direct_unpack(int64_t M, const float* outw, int64_t ldo, int64_t L, const float* bias, float* out) {
  int64_t o0 = 0;
#if defined(__AVX2__)
  // Eight channels x eight positions at a time, transposed in registers.
  for (; o0 + 8 <= M; o0 += 8) {
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t l = 0; l < L; l += 8) {
      const int rows = static_cast<int>(std::min<int64_t>(8, L - l));
      const float* src = outw + l * ldo + o0;
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = q < rows ? _mm256_loadu_ps(src + q * ldo) : zero;
      gemm_detail::transpose_8x8_regs(r);
      for (int q = 0; q < 8; ++q) {
        if (bias != nullptr) r[q] = _mm256_add_ps(r[q], _mm256_set1_ps(bias[o0 + q]));
        gemm_detail::store_first(out + (o0 + q) * L + l, r[q], rows);
      }
    }
  }
#endif
  for (; o0 < M; ++o0) {
    const float b = bias != nullptr ? bias[o0] : 0.0f;
    for (int64_t l = 0; l < L; ++l) out[o0 * L + l] = outw[l * ldo + o0] + b;
  }
}

void conv_gemm(int64_t M, ConstMatrix<float> w, const ConvImage& x, Matrix<float> out, bool accumulate) {
  gemm_detail::gemm_packed<float>(M, x.OH * x.OW, x.C * x.KH * x.KW, w, gemm_detail::Im2colB{x}, out, accumulate);
}

}  // namespace ember::cpu::EMBER_ISA_NS
