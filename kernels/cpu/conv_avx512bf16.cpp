// Stride-1 convolutions of bfloat16 tensors on the AVX-512 BF16 dot products
// (vdpbf16ps), compiled with -mavx512bf16 and run only where
// cpu_has_avx512_bf16() says the CPU has them; conv.cpp chooses.
//
// The float32 conv_direct (conv_gemm.hpp) with the taps taken two channels at
// a time: the image is first rewritten as channel pairs, one 32-bit word per
// pixel holding channels 2p and 2p + 1 (pair_channels, which also pads it),
// so the MR positions of a tile are still MR consecutive words of one row and
// each step broadcasts them straight from the image; the weights are packed
// into panels of NR channels of the same pairs. One vdpbf16ps per vector of
// channels adds both channels' products: twice the float32 kernel's work per
// instruction. Products of two bfloat16 values are exact in float32; sums
// round to nearest even and subnormals flush to zero. The result is float32
// with channels along its rows, as conv_direct's.
#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include <ember/kernels/cpu/bf16_pairs.hpp>
#include <ember/kernels/cpu/conv_gemm.hpp>
#include <ember/tensor/half.hpp>

namespace ember::cpu::avx512bf16 {
namespace {

constexpr int MR = kConvTile, NR = kConvPanel;
constexpr int64_t KC = 256;  // pair steps per slab: a panel's slab (KC x NR words) stays in L1

// A tile's R rows of 32 float accumulators -> row r at c + r * ldc (add: +=).
template <int R>
inline void store_tile(__m512 (&acc)[R][2], float* c, int64_t ldc, bool add) {
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
    if (add) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(row));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[r][0]);
    _mm512_storeu_ps(row + 16, acc[r][1]);
  }
}

// acc (R positions x 32 channels) = sum over kc pair steps of the pair word
// xs[off[p] + r] dotted with the weight pairs w[p][0, 32); then c = acc (add: +=).
template <int R>
void tile(int64_t kc, const int64_t* __restrict off, const uint32_t* xs, const uint32_t* __restrict w, float* c,
          int64_t ldc, bool add) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const uint32_t* s = xs + off[p];
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w + p * NR);
    const __m512bh w1 = (__m512bh)_mm512_loadu_si512(w + p * NR + 16);
#pragma GCC unroll 14
    for (int r = 0; r < R; ++r) {
      const __m512bh xr = (__m512bh)_mm512_set1_epi32(static_cast<int>(s[r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xr, w0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xr, w1);
    }
  }
  store_tile<R>(acc, c, ldc, add);
}

using TileFn = void (*)(int64_t, const int64_t*, const uint32_t*, const uint32_t*, float*, int64_t, bool);
template <size_t... I>
constexpr std::array<TileFn, sizeof...(I)> tiles(std::index_sequence<I...>) {
  return {&tile<static_cast<int>(I) + 1>...};
}

// The weight gradient's tile: acc (R taps x 32 channels) = sum over the output
// positions, two neighbours of one output row at a time, of the pair
// (x[tap][pos], x[tap][pos + 1]) dotted with the pairs g[pos pair][0, 32); an
// odd row's last position pairs with zero. Tap r reads its own input row
// (src[r]); stride 1, so a position pair is one 32-bit word of that row.
template <int R>
void weight_tile(const ConvImage& x, const uint16_t* img, const int64_t* __restrict off, const uint32_t* __restrict g,
                 int64_t ldg, float* c, int64_t ldc, bool add) {
  const int64_t full = x.OW / 2, per_row = (x.OW + 1) / 2;
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < x.OH; ++oh) {
    const uint16_t* src[R];
    for (int r = 0; r < R; ++r) src[r] = img + off[r] + oh * x.W;
    const uint32_t* grow = g + oh * per_row * ldg;
    for (int64_t p = 0; p < per_row; ++p) {
      const __m512bh g0 = (__m512bh)_mm512_loadu_si512(grow + p * ldg);
      const __m512bh g1 = (__m512bh)_mm512_loadu_si512(grow + p * ldg + 16);
#pragma GCC unroll 14
      for (int r = 0; r < R; ++r) {
        uint32_t v = src[r][2 * p];
        if (p < full) std::memcpy(&v, src[r] + 2 * p, 4);
        const __m512bh xr = (__m512bh)_mm512_set1_epi32(static_cast<int>(v));
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xr, g0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xr, g1);
      }
    }
  }
  store_tile<R>(acc, c, ldc, add);
}

using WeightTileFn = void (*)(const ConvImage&, const uint16_t*, const int64_t*, const uint32_t*, int64_t, float*,
                              int64_t, bool);
template <size_t... I>
constexpr std::array<WeightTileFn, sizeof...(I)> weight_tiles(std::index_sequence<I...>) {
  return {&weight_tile<static_cast<int>(I) + 1>...};
}

}  // namespace

void conv_pair_channels(const BFloat16* x, int64_t C, int64_t H, int64_t W, int64_t ph, int64_t pw, uint32_t* dst) {
  const int64_t Hp = H + 2 * ph, Wp = W + 2 * pw, Cp = (C + 1) / 2;
  std::memset(dst, 0, 4 * static_cast<size_t>(Cp * Hp * Wp));
  for (int64_t cp = 0; cp < Cp; ++cp) {
    const bool second = 2 * cp + 1 < C;
    for (int64_t h = 0; h < H; ++h) {
      const uint16_t* r0 = &x[((2 * cp) * H + h) * W].bits;
      const uint16_t* r1 = second ? &x[((2 * cp + 1) * H + h) * W].bits : nullptr;
      uint32_t* d = dst + (cp * Hp + h + ph) * Wp + pw;
      int64_t w = 0;
      for (; w + 16 <= W; w += 16) {
        const __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + w)));
        const __m512i hi = r1 != nullptr
            ? _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + w))), 16)
            : _mm512_setzero_si512();
        _mm512_storeu_si512(d + w, _mm512_or_si512(lo, hi));
      }
      for (; w < W; ++w) d[w] = pair(r0[w], r1 != nullptr ? r1[w] : uint16_t{0});
    }
  }
}

void pack_conv_weights(int64_t M, const BFloat16* w, int64_t C, int64_t taps, uint32_t* dst) {
  const int64_t Q = (C + 1) / 2 * taps, panels = (M + NR - 1) / NR;
  for (int64_t jp = 0; jp < panels; ++jp)
    for (int64_t q = 0; q < Q; ++q) {
      const int64_t cp = q / taps, t = q % taps;
      uint32_t* d = dst + (jp * Q + q) * NR;
      for (int64_t u = 0; u < NR; ++u) {
        const int64_t o = jp * NR + u;
        if (o >= M) {
          d[u] = 0;
          continue;
        }
        const BFloat16* wo = w + o * C * taps;
        d[u] = pair(wo[(2 * cp) * taps + t].bits, 2 * cp + 1 < C ? wo[(2 * cp + 1) * taps + t].bits : uint16_t{0});
      }
    }
}

void conv_direct(int64_t M, const uint32_t* wp, const uint32_t* xp, const ConvImage& x, const int64_t* off,
                 float* outw, int64_t ldo, int64_t u0, int64_t u1) {
  static constexpr auto fns = tiles(std::make_index_sequence<MR>());
  const int64_t Q = x.C * x.KH * x.KW;
  for_each_direct_tile<MR, NR>(M, Q, KC, x.OW, u0, u1,
                               [&](int64_t pc, int64_t kc, int64_t jp, int64_t oh, int64_t ow, int64_t mr) {
                                 fns[static_cast<size_t>(mr - 1)](kc, off + pc, xp + oh * x.W + ow,
                                                                  wp + (jp * Q + pc) * NR,
                                                                  outw + (oh * x.OW + ow) * ldo + jp * NR, ldo, pc > 0);
                               });
}

void conv_position_pairs(int64_t M, const BFloat16* g, int64_t OH, int64_t OW, uint32_t* dst, int64_t ldo) {
  const int64_t per_row = (OW + 1) / 2, rows = OH * per_row;
  for (int64_t q = 0; q < rows; ++q)
    for (int64_t o = M; o < ldo; ++o) dst[q * ldo + o] = 0;
  for (int64_t o = 0; o < M; ++o) {
    for (int64_t oh = 0; oh < OH; ++oh) {
      const uint16_t* row = &g[(o * OH + oh) * OW].bits;
      uint32_t* d = dst + oh * per_row * ldo + o;
      for (int64_t p = 0; p < per_row; ++p)
        d[p * ldo] = pair(row[2 * p], 2 * p + 1 < OW ? row[2 * p + 1] : uint16_t{0});
    }
  }
}

void conv_direct_weight(int64_t M, const uint32_t* g, int64_t ldg, const uint16_t* img, const ConvImage& x,
                        const int64_t* off, float* gwt, int64_t ldo, int64_t u0, int64_t u1, bool accumulate) {
  static constexpr auto fns = weight_tiles(std::make_index_sequence<MR>());
  const int64_t K = x.C * x.KH * x.KW, panels = (M + NR - 1) / NR;
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t k = (u / panels) * MR, jp = u % panels, mr = std::min<int64_t>(MR, K - k);
    fns[static_cast<size_t>(mr - 1)](x, img, off + k, g + jp * NR, ldg, gwt + k * ldo + jp * NR, ldo, accumulate);
  }
}

}  // namespace ember::cpu::avx512bf16
