// conv_gemm: 2-D convolution as a packed GEMM that reads the image directly
// ("implicit GEMM"): the B micro-panels are packed straight from the input
// plane, so no im2col matrix is ever written and read back. conv.cpp uses it
// for float32 on the AVX2/AVX-512 paths; the im2col + gemm route stays the
// reference and the path for the other types.
//
// With col = im2col(x), a (C * KH * KW, OH * OW) matrix whose row
// (c, i, j) holds x[c, oh * sh - ph + i * dh, ow * sw - pw + j * dw] (zero
// outside the image) at column oh * OW + ow:
//   conv_gemm:        out (M, OH*OW)    (+)= w (M, C*KH*KW) @ col
//   conv_weight_gemm: gw  (M, C*KH*KW)  (+)= go (M, OH*OW) @ col^T
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

// conv_gemm_wide (stride 1, x unpadded with ph = pw = 0, readable (KW - 1) * dw
// + 16 floats past its end): out (M, OH * W) = w @ colw, where row (c, i, j)
// of colw is the contiguous run of OH * W floats of x starting at
// [c, i * dh, j * dw]. Column oh * W + ow of out is the convolution's output
// (oh, ow) for ow < OW; the W - OW columns after each row are by-products the
// caller drops. Packing colw is a plain copy, so for small planes, where
// packing col costs a large share of the arithmetic, computing the extra
// columns is cheaper.
#define EMBER_DECLARE_CONV_GEMM(isa)                                                                          \
  namespace isa {                                                                                             \
  void conv_gemm(int64_t M, ConstMatrix<float> w, const ConvImage& x, Matrix<float> out, bool accumulate);   \
  void conv_gemm_wide(int64_t M, ConstMatrix<float> w, const ConvImage& x, Matrix<float> out);               \
  void conv_weight_gemm(int64_t M, ConstMatrix<float> go, const ConvImage& x, Matrix<float> gw, bool accumulate); \
  }
EMBER_DECLARE_CONV_GEMM(avx2)
EMBER_DECLARE_CONV_GEMM(avx512)
#undef EMBER_DECLARE_CONV_GEMM

}  // namespace ember::cpu
