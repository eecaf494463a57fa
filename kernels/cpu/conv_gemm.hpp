// conv_gemm: 2-D convolution as a packed GEMM that reads the image directly
// ("implicit GEMM"): the B micro-panels are packed straight from the input
// plane, so no im2col matrix is ever written and read back. conv_direct
// below: the stride-1 convolution with no packing of the image at all.
// conv.cpp uses them for float32 on the AVX2/AVX-512 paths; the im2col + gemm
// route stays the reference and the path for the other types.
//
// With col = im2col(x), a (C * KH * KW, OH * OW) matrix whose row
// (c, i, j) holds x[c, oh * sh - ph + i * dh, ow * sw - pw + j * dw] (zero
// outside the image) at column oh * OW + ow:
//   conv_gemm:        out (M, OH*OW)    (+)= w (M, C*KH*KW) @ col
#pragma once

#include <cstdint>

#include <ember/kernels/cpu/gemm.hpp>

namespace ember::cpu {

// One image of one group: x is (C, H, W), contiguous.
struct ConvImage {
  const float* x;
  int64_t C, H, W;   // input planes
  int64_t KH, KW;    // kernel
  int64_t OH, OW;    // output plane
  int64_t sh, sw;    // stride
  int64_t ph, pw;    // padding
  int64_t dh, dw;    // dilation
  // True when every element of x may be read up to 16 floats past it (the
  // image is a copy with slack behind it, see padded_copy in conv.cpp): rows
  // are then copied with whole vectors and no masked tail loads.
  bool overread = false;
};

// The walk of the direct forward kernels, float32 (conv_gemm_kernel.hpp) and
// bfloat16 (conv_avx512bf16.cpp): K taps in equal slabs of at most kc_cap,
// each slab over the panels of NR output channels of M and the tiles u0..u1
// (MR positions of one output row of OW; a row's last tile is only as tall as
// what is left of it). Calls tile(pc, kc, jp, oh, ow, mr). A template over the
// caller's lambda, whose type belongs to the caller's per-ISA namespace, so
// every per-ISA file compiles a copy of its own (Note [per-ISA namespaces]).
template <int MR, int NR, class Tile>
inline void for_each_direct_tile(int64_t M, int64_t K, int64_t kc_cap, int64_t OW, int64_t u0, int64_t u1,
                                 Tile&& tile) {
  const int64_t panels = (M + NR - 1) / NR, per_row = (OW + MR - 1) / MR;
  const int64_t slabs = (K + kc_cap - 1) / kc_cap, kc_max = (K + slabs - 1) / slabs;
  for (int64_t pc = 0; pc < K; pc += kc_max) {
    const int64_t kc = K - pc < kc_max ? K - pc : kc_max;
    for (int64_t jp = 0; jp < panels; ++jp)
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t oh = u / per_row, ow = (u % per_row) * MR;
        tile(pc, kc, jp, oh, ow, OW - ow < MR ? OW - ow : int64_t{MR});
      }
  }
}

// conv_direct: the convolution at stride 1 on an unpadded image (ph = pw = 0,
// a padded copy), with the roles turned round: output channels run along the
// vectors and positions along the register tile's rows. A tile is up to MR
// consecutive positions of one output row, which read MR consecutive floats
// of each tap's input row, so every step broadcasts them straight from the
// image: nothing of the image is packed, no position is computed that is not
// wanted, and the weights are packed once per convolution
// (pack_conv_direct_weights: ceil(M / NR) panels of K x NR, zero channels
// past M) instead of once per image.
//   conv_direct:        outw (OH * OW, ldo) row-major, channels along its rows, for the
//                       tiles [u0, u1): tile u is output row u / T, positions from
//                       (u % T) * MR, with T = ceil(OW / MR) tiles per row; off[k] is
//                       where tap k = (c, i, j) starts in x: (c * H + i * dh) * W + j * dw.
//   conv_direct_unpack: out (M, L) = the first M columns of outw (L, ldo) transposed
//                       (+ bias[o] on row o when bias is given).
// The weight gradient the same way round, at any stride: with g the output
// gradient (M, OH * OW) laid out by conv_direct_pack_rows as (OH * OW, ldo),
//   conv_direct_weight: gwt (K, ldo) (+)= col @ g over one image, for the tiles [u0, u1):
//                       tile u is taps [(u / P) * MR, + MR) x channels [(u % P) * NR, + NR)
//                       with P = ceil(M / NR) panels; gwt^T's first M rows are grad_w.
//   conv_direct_pack_rows: dst (L, ldo) = src (M, L) transposed, zero columns past M.
struct ConvDirectShape {
  int64_t NR, MR;  // channels per weight panel, positions per register tile
};
#define EMBER_DECLARE_CONV_GEMM(isa)                                                                          \
  namespace isa {                                                                                             \
  void conv_gemm(int64_t M, ConstMatrix<float> w, const ConvImage& x, Matrix<float> out, bool accumulate);   \
  ConvDirectShape conv_direct_shape();                                                                        \
  void pack_conv_direct_weights(int64_t M, ConstMatrix<float> w, int64_t K, float* dst);                     \
  void conv_direct(int64_t M, const float* wp, const ConvImage& x, const int64_t* off, float* outw,          \
                   int64_t ldo, int64_t u0, int64_t u1);                                                      \
  void conv_direct_unpack(int64_t M, const float* outw, int64_t ldo, int64_t L, const float* bias, float* out); \
  void conv_direct_weight(int64_t M, const float* g, int64_t ldg, const ConvImage& x, const int64_t* off,        \
                          float* gwt, int64_t ldo, int64_t u0, int64_t u1, bool accumulate);                    \
  void conv_direct_pack_rows(int64_t M, const float* src, int64_t L, float* dst, int64_t ldo);                 \
  }
EMBER_DECLARE_CONV_GEMM(avx2)
EMBER_DECLARE_CONV_GEMM(avx512)
#undef EMBER_DECLARE_CONV_GEMM

// The stride-1 direct convolution for bfloat16 on the AVX-512 BF16 dot
// products (conv_avx512bf16.cpp; call only when cpu_has_avx512_bf16()), the
// taps taken two channels at a time:
//   conv_pair_channels: dst (ceil(C / 2), H + 2 ph, W + 2 pw) words = x (C, H, W)
//                       zero-padded, channels 2p and 2p + 1 in word p's low and high
//                       halves (zero past C).
//   pack_conv_weights:  w (M, C, taps) -> ceil(M / 32) panels of ceil(C / 2) * taps
//                       pair steps x 32 words (zero channels past M).
//   conv_direct:        as conv_direct above over the pair image xp, whose geometry x
//                       gives (C the pairs, H and W padded, ph = pw = 0, stride 1);
//                       off[q] is the word offset of pair step q = (pair, i, j).
// The weight gradient at stride 1, positions taken two at a time:
//   conv_position_pairs: dst (OH * ceil(OW / 2), ldo) words = g (M, OH, OW) with the
//                       positions of each output row in neighbouring pairs (an odd
//                       row's last one with zero), channels along the rows, zero past M.
//   conv_direct_weight: as the float32 one over the padded bfloat16 image img (geometry
//                       x: C channels, H and W padded, ph = pw = 0, stride 1), off[k] the
//                       offset of tap k = (c, i, j) in img.
namespace avx512bf16 {
inline constexpr int64_t kConvPanel = 32, kConvTile = 14;
void conv_pair_channels(const BFloat16* x, int64_t C, int64_t H, int64_t W, int64_t ph, int64_t pw, uint32_t* dst);
void pack_conv_weights(int64_t M, const BFloat16* w, int64_t C, int64_t taps, uint32_t* dst);
void conv_direct(int64_t M, const uint32_t* wp, const uint32_t* xp, const ConvImage& x, const int64_t* off,
                 float* outw, int64_t ldo, int64_t u0, int64_t u1);
void conv_position_pairs(int64_t M, const BFloat16* g, int64_t OH, int64_t OW, uint32_t* dst, int64_t ldo);
void conv_direct_weight(int64_t M, const uint32_t* g, int64_t ldg, const uint16_t* img, const ConvImage& x,
                        const int64_t* off, float* gwt, int64_t ldo, int64_t u0, int64_t u1, bool accumulate);
}  // namespace avx512bf16

}  // namespace ember::cpu
