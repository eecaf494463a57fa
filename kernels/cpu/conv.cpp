// CPU kernels of conv2d (NCHW) and its two backward ops, as GEMMs.
//
// float32 on the AVX2 / AVX-512 paths runs the convolutions of conv_gemm.hpp:
// the forward pass at stride 1 on conv_direct (the image broadcast from a
// padded copy, the weights packed once, see implicit_conv), at other strides
// on the implicit GEMM (B packed straight from a padded copy of the image);
// the input gradient at stride 1 as a convolution of grad_out with the
// flipped kernel on conv_direct; the weight gradient at any stride on
// conv_direct_weight. Everything else (1x1 kernels at stride 1 with no
// padding, the input gradient at other strides), and the scalar path, uses
// im2col (or no im2col) + gemm as below.
//
// Shapes (G = groups, Cg = C / G, Og = O / G, L = OH * OW, Kc = Cg * KH * KW):
//   forward:         out[n, g] (Og, L)  = w[g] (Og, Kc) @ col(x[n, g]) (Kc, L)  (+ bias)
//   backward_input:  col (Kc, L)        = w[g]^T (Kc, Og) @ grad_out[n, g] (Og, L); grad_x = col2im(col)
//   backward_weight: grad_w[g] (Og, Kc) = sum_n grad_out[n, g] (Og, L) @ col(x[n, g])^T (L, Kc)
// A 1x1 kernel with stride 1 and no padding skips im2col: x[n, g] is the (Cg, H*W) matrix itself.
// Images run in parallel (one im2col buffer per chunk); backward_weight sums
// per-chunk partial gradients in a fixed order, so results are reproducible.
// float16/bfloat16 are converted to float32, computed, and rounded back.
//
// Ceilings per direction: 2 * N * O * Kc * L FLOPs; bytes at best x + w + out,
// plus the im2col buffer (Kc * L per image) written and read once.
// Compute-bound for all but tiny channel counts; speed is the GEMM core's.
#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include <emmintrin.h>

#include <ember/kernels/cpu/conv_gemm.hpp>
#include <ember/kernels/cpu/gemm.hpp>
#include <ember/kernels/cpu/isa.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cpu {
namespace {

// Floor and ceil of a / b for b > 0 and any a.
inline int64_t div_floor(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline int64_t div_ceil(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

struct Geometry {
  int64_t N, C, H, W;    // input
  int64_t O, KH, KW;     // weight
  int64_t OH, OW;        // output
  int64_t G, Cg, Og, Kc, L;
  Conv2dArgs a;

  Geometry(IntList x, IntList w, IntList out, const Conv2dArgs& args)
      : N(x[0]), C(x[1]), H(x[2]), W(x[3]), O(w[0]), KH(w[2]), KW(w[3]), OH(out[2]), OW(out[3]), G(args.groups),
        Cg(C / G), Og(O / G), Kc(Cg * KH * KW), L(OH * OW), a(args) {}
  bool direct() const {
    return KH == 1 && KW == 1 && a.stride[0] == 1 && a.stride[1] == 1 && a.padding[0] == 0 && a.padding[1] == 0;
  }
  // Output columns ow whose input column for kernel tap j lies inside [0, W).
  std::pair<int64_t, int64_t> valid_ow(int64_t j) const {
    const int64_t shift = j * a.dilation[1] - a.padding[1];  // iw = ow * stride + shift
    int64_t lo = std::clamp<int64_t>(div_ceil(-shift, a.stride[1]), 0, OW);
    int64_t hi = std::min<int64_t>(OW, div_floor(W - 1 - shift, a.stride[1]) + 1);
    return {lo, std::max(lo, hi)};
  }
};

// x: (Cg, H, W) -> col: (Kc, L), zeros where the window reads padding.
template <class T>
void im2col(const Geometry& g, const T* x, T* col) {
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t i = 0; i < g.KH; ++i) {
      for (int64_t j = 0; j < g.KW; ++j) {
        T* row = col + ((c * g.KH + i) * g.KW + j) * g.L;
        const auto [ow_lo, ow_hi] = g.valid_ow(j);
        const int64_t shift = j * g.a.dilation[1] - g.a.padding[1];
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* dst = row + oh * g.OW;
          const int64_t ih = oh * g.a.stride[0] - g.a.padding[0] + i * g.a.dilation[0];
          if (ih < 0 || ih >= g.H) {
            std::fill(dst, dst + g.OW, T(0));
            continue;
          }
          const T* src = x + (c * g.H + ih) * g.W;  // input row; column of ow is ow * stride + shift
          std::fill(dst, dst + ow_lo, T(0));
          if (g.a.stride[1] == 1 && ow_hi > ow_lo) {
            std::copy(src + ow_lo + shift, src + ow_hi + shift, dst + ow_lo);
          } else {
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow] = src[ow * g.a.stride[1] + shift];
          }
          std::fill(dst + ow_hi, dst + g.OW, T(0));
        }
      }
    }
  }
}

// col: (Kc, L) -> x: (Cg, H, W), accumulating (x must be zeroed first).
template <class T>
void col2im(const Geometry& g, const T* col, T* x) {
  for (int64_t c = 0; c < g.Cg; ++c) {
    for (int64_t i = 0; i < g.KH; ++i) {
      for (int64_t j = 0; j < g.KW; ++j) {
        const T* row = col + ((c * g.KH + i) * g.KW + j) * g.L;
        const auto [ow_lo, ow_hi] = g.valid_ow(j);
        const int64_t shift = j * g.a.dilation[1] - g.a.padding[1];
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.a.stride[0] - g.a.padding[0] + i * g.a.dilation[0];
          if (ih < 0 || ih >= g.H) continue;
          const T* src = row + oh * g.OW;
          T* dst = x + (c * g.H + ih) * g.W;
          for (int64_t ow = ow_lo; ow < ow_hi; ++ow) dst[ow * g.a.stride[1] + shift] += src[ow];
        }
      }
    }
  }
}

// ---- implicit GEMM (float32 on the AVX2 / AVX-512 paths, conv_gemm.hpp) ----

struct ConvGemmFns {
  void (*forward)(int64_t, ConstMatrix<float>, const ConvImage&, Matrix<float>, bool) = nullptr;
  ConvDirectShape (*direct_shape)() = nullptr;
  void (*pack_direct)(int64_t, ConstMatrix<float>, int64_t, float*) = nullptr;
  void (*direct)(int64_t, const float*, const ConvImage&, const int64_t*, float*, int64_t, int64_t, int64_t) = nullptr;
  void (*direct_unpack)(int64_t, const float*, int64_t, int64_t, const float*, float*) = nullptr;
  void (*direct_weight)(int64_t, const float*, int64_t, const ConvImage&, const int64_t*, float*, int64_t, int64_t,
                        int64_t, bool) = nullptr;
  void (*direct_pack_rows)(int64_t, const float*, int64_t, float*, int64_t) = nullptr;
};

// The active ISA's implicit-GEMM functions; empty on the scalar path (which
// takes the im2col route).
ConvGemmFns conv_gemm_fns() {
#define EMBER_CONV_FNS(isa) \
  {isa::conv_gemm, isa::conv_direct_shape, isa::pack_conv_direct_weights, isa::conv_direct, \
   isa::conv_direct_unpack, isa::conv_direct_weight, isa::conv_direct_pack_rows}
  switch (active_cpu_isa()) {
    case Isa::avx512: return EMBER_CONV_FNS(avx512);
    case Isa::avx2: return EMBER_CONV_FNS(avx2);
    case Isa::scalar: break;
  }
#undef EMBER_CONV_FNS
  return {};
}

// Group gr of an image x (C, H, W) as conv_gemm sees it.
ConvImage conv_image(const Geometry& g, const float* x) {
  return {x, g.Cg, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.a.stride[0], g.a.stride[1],
          g.a.padding[0], g.a.padding[1], g.a.dilation[0], g.a.dilation[1]};
}

// dst[0, n) = src[0, n) for the short rows of an image: SSE2 (baseline
// x86-64) moves, not a memcpy call per row, whose overhead is most of the
// cost for rows of a dozen floats.
void copy_row(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(dst + i, _mm_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
}

// A zero-padded copy of img in buf, with slack behind it (img.overread): the
// implicit GEMM's packer then copies every row of col with whole vectors, with
// no clipping at the borders and no masked loads. The copy moves
// C * (H + 2 ph) * (W + 2 pw) floats per image against the C * KH * KW * OH * OW
// that packing moves, so it pays whenever the image is padded; unpadded, img
// needs no clipping and is returned as it is. buf belongs to
// the caller's task: a thread that waits inside the GEMM may run another
// image's task meanwhile, and that one must not overwrite this copy while
// helpers still read it.
ConvImage padded_copy(const ConvImage& img, std::vector<float>& buf) {
  if (img.ph == 0 && img.pw == 0) return img;
  const int64_t slack = 16;
  const int64_t Hp = img.H + 2 * img.ph, Wp = img.W + 2 * img.pw;
  buf.assign(static_cast<size_t>(img.C * Hp * Wp + slack), 0.0f);
  for (int64_t c = 0; c < img.C; ++c)
    for (int64_t h = 0; h < img.H; ++h)
      copy_row(buf.data() + (c * Hp + h + img.ph) * Wp + img.pw, img.x + (c * img.H + h) * img.W, img.W);
  ConvImage padded = img;
  padded.x = buf.data();
  padded.H = Hp, padded.W = Wp, padded.ph = 0, padded.pw = 0;
  padded.overread = true;
  return padded;
}

// off[k] = (c * H + i * dh) * W + j * dw for tap k = (c, i, j) of C channels
// and a KH x KW kernel over planes of H x W: where the input row that tap
// reads for output row 0 starts (the direct kernels' tap offsets; made here,
// once per call, so no per-ISA file owns a container).
std::vector<int64_t> tap_offsets(int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t dh, int64_t dw) {
  const int64_t taps = KH * KW;
  std::vector<int64_t> off(static_cast<size_t>(C * taps));
  for (int64_t k = 0; k < C * taps; ++k)
    off[static_cast<size_t>(k)] = ((k / taps) * H + ((k % taps) / KW) * dh) * W + (k % KW) * dw;
  return off;
}

// Whether a convolution takes conv_direct: stride 1 on an ISA that has it.
bool direct_route(const ConvGemmFns& fast, const Geometry& g) {
  return fast.direct != nullptr && g.a.stride[0] == 1 && g.a.stride[1] == 1;
}

// conv_direct's weights for every group of convolution g (w: G blocks of M
// rows of K), packed once per call, and its tap offsets.
struct DirectWeights {
  std::vector<float> data;
  std::vector<int64_t> off;  // the taps' offsets in the (padded) image, tap_offsets
  int64_t per_group = 0;
  DirectWeights(const ConvGemmFns& fast, const Geometry& g, int64_t M, int64_t K, const float* w)
      : off(tap_offsets(g.Cg, g.H + 2 * g.a.padding[0], g.W + 2 * g.a.padding[1], g.KH, g.KW, g.a.dilation[0],
                        g.a.dilation[1])) {
    const int64_t G = g.G;
    const int64_t NR = fast.direct_shape().NR;
    per_group = (M + NR - 1) / NR * NR * K;
    data.resize(static_cast<size_t>(G * per_group));
    for (int64_t gr = 0; gr < G; ++gr)
      fast.pack_direct(M, ConstMatrix<float>{w + gr * M * K, K, 1}, K, data.data() + gr * per_group);
  }
  const float* group(int64_t gr) const { return data.data() + gr * per_group; }
};

// One task's scratch for implicit_conv.
struct ImageBuffers {
  std::vector<float> padded, outw;
};

// out (M, OH * OW) = w (M, C * KH * KW) @ col(img) (+ bias[o] on row o when
// bias is given) through the implicit GEMM, or through conv_direct when
// direct_w (w packed, DirectWeights, with the taps' offsets off) is given: a padded copy of the image,
// the output computed with channels along its rows, and the unpack that
// transposes it into place. `split`: the image's positions may be shared out
// among the threads (few images in the batch); otherwise the caller runs
// images in parallel and this one stays on its thread.
void implicit_conv(const ConvGemmFns& fast, int64_t M, ConstMatrix<float> w, const float* direct_w,
                   const int64_t* off, const ConvImage& img, float* out, const float* bias, ImageBuffers& bufs,
                   bool split) {
  if (direct_w != nullptr) {
    const ConvImage x = padded_copy(img, bufs.padded);
    const auto [NR, MR] = fast.direct_shape();
    const int64_t L = x.OH * x.OW, tiles = x.OH * ((x.OW + MR - 1) / MR), ldo = (M + NR - 1) / NR * NR;
    bufs.outw.resize(static_cast<size_t>(L * ldo));
    float* outw = bufs.outw.data();
    const int64_t tile_flops = 2 * MR * ldo * x.C * x.KH * x.KW;
    const int64_t grain = split ? std::max<int64_t>(1, (int64_t{1} << 17) / tile_flops) : tiles;
    parallel_range(0, tiles, grain, [&](int64_t lo, int64_t hi) { fast.direct(M, direct_w, x, off, outw, ldo, lo, hi); });
    fast.direct_unpack(M, outw, ldo, L, bias, out);
    return;
  }
  if (bias != nullptr) {
    const int64_t L = img.OH * img.OW;
    for (int64_t o = 0; o < M; ++o) std::fill(out + o * L, out + (o + 1) * L, bias[o]);
  }
  fast.forward(M, w, padded_copy(img, bufs.padded), Matrix<float>{out, img.OH * img.OW, 1}, bias != nullptr);
}

// Whether a batch has too few images to keep every thread busy one image at
// a time (implicit_conv's `split`).
bool few_images(int64_t N) { return N < 4 * static_cast<int64_t>(runtime::default_executor().num_threads()); }

// Images per parallel chunk: enough GEMM work to be worth a task.
int64_t image_grain(const Geometry& g) {
  const int64_t work = std::max<int64_t>(1, g.O * g.Kc * g.L);
  return std::max<int64_t>(1, (int64_t{1} << 18) / work);
}

// out: (N, O, OH, OW), x: (N, C, H, W), w: (O, Cg, KH, KW), bias: (O) or undefined; all contiguous.
template <class T>
void conv2d_typed(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args) {
  const Geometry g(x.shape(), w.shape(), out.shape(), args);
  const T* px = x.data_ptr<T>();
  const T* pw = w.data_ptr<T>();
  const T* pb = bias.defined() ? bias.data_ptr<T>() : nullptr;
  T* po = out.data_ptr<T>();
  ConvGemmFns fast;
  if constexpr (std::is_same_v<T, float>) fast = conv_gemm_fns();
  const bool implicit = fast.forward != nullptr && !g.direct();
  std::optional<DirectWeights> dw;
  if constexpr (std::is_same_v<T, float>) {
    if (implicit && direct_route(fast, g)) dw.emplace(fast, g, g.Og, g.Kc, pw);
  }
  const bool split = few_images(g.N);
  parallel_range(0, g.N, split ? g.N : image_grain(g), [&](int64_t lo, int64_t hi) {
    ImageBuffers bufs;  // this task's (implicit_conv)
    std::unique_ptr<T[]> col(g.direct() || implicit ? nullptr : new T[static_cast<size_t>(g.Kc * g.L)]);
    for (int64_t n = lo; n < hi; ++n) {
      for (int64_t gr = 0; gr < g.G; ++gr) {
        const T* xg = px + (n * g.C + gr * g.Cg) * g.H * g.W;
        T* og = po + (n * g.O + gr * g.Og) * g.L;
        if constexpr (std::is_same_v<T, float>) {
          if (implicit) {
            implicit_conv(fast, g.Og, ConstMatrix<float>{pw + gr * g.Og * g.Kc, g.Kc, 1},
                          dw ? dw->group(gr) : nullptr, dw ? dw->off.data() : nullptr, conv_image(g, xg), og,
                          pb != nullptr ? pb + gr * g.Og : nullptr, bufs, split);
            continue;
          }
        }
        if (pb) {
          for (int64_t o = 0; o < g.Og; ++o) std::fill(og + o * g.L, og + (o + 1) * g.L, pb[gr * g.Og + o]);
        }
        ConstMatrix<T> cols{xg, g.L, 1};
        if (!g.direct()) {
          im2col(g, xg, col.get());
          cols = {col.get(), g.L, 1};
        }
        gemm<T>(g.Og, g.L, g.Kc, ConstMatrix<T>{pw + gr * g.Og * g.Kc, g.Kc, 1}, cols, Matrix<T>{og, g.L, 1}, pb != nullptr);
      }
    }
  });
}

// The input gradient at stride 1 as a convolution: grad_out is the image (Og
// channels, OH x OW, padded by dilation * (k - 1) - padding), grad_x the
// output. False when that padding would be negative.
std::optional<Geometry> flipped_geometry(const Geometry& g) {
  const int64_t ph = g.a.dilation[0] * (g.KH - 1) - g.a.padding[0], pwd = g.a.dilation[1] * (g.KW - 1) - g.a.padding[1];
  if (g.a.stride[0] != 1 || g.a.stride[1] != 1 || ph < 0 || pwd < 0) return std::nullopt;
  return Geometry({g.N, g.O, g.OH, g.OW}, {g.C, g.Og, g.KH, g.KW}, {g.N, g.C, g.H, g.W},
                  Conv2dArgs{{1, 1}, {ph, pwd}, {g.a.dilation[0], g.a.dilation[1]}, g.G});
}

// Its weights, wf[gr] (Cg, Og * KH * KW): wf[gr][c][o][i][j] = w[gr * Og + o][c][KH - 1 - i][KW - 1 - j].
template <class T>
std::vector<T> flipped_weights(const Geometry& g, const T* pw) {
  const int64_t taps = g.KH * g.KW;
  std::vector<T> wf(static_cast<size_t>(g.O * g.Cg * taps));
  for (int64_t gr = 0; gr < g.G; ++gr)
    for (int64_t o = 0; o < g.Og; ++o)
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t t = 0; t < taps; ++t)
          wf[static_cast<size_t>(((gr * g.Cg + c) * g.Og + o) * taps + (taps - 1 - t))] =
              pw[((gr * g.Og + o) * g.Cg + c) * taps + t];
  return wf;
}

// Stride 1: grad_x is the convolution of grad_out with the flipped, transposed
// kernel, padded by dilation * (k - 1) - padding, which runs on conv_direct
// like the forward pass (no im2col buffer, no col2im scatter). Returns false
// (nothing done) when the shape does not allow it.
bool conv2d_backward_input_implicit(const Geometry& g, const ConvGemmFns& fast, const float* pgo, const float* pw,
                                    float* pgx) {
  const std::optional<Geometry> flipped = flipped_geometry(g);
  if (fast.forward == nullptr || !flipped) return false;
  const Geometry& gt = *flipped;
  const int64_t taps = g.KH * g.KW;
  const std::vector<float> wf = flipped_weights(g, pw);
  std::optional<DirectWeights> dw;
  if (direct_route(fast, gt)) dw.emplace(fast, gt, g.Cg, g.Og * taps, wf.data());
  const bool split = few_images(g.N);
  parallel_range(0, g.N, split ? g.N : image_grain(g), [&](int64_t lo, int64_t hi) {
    ImageBuffers bufs;  // this task's (implicit_conv)
    for (int64_t n = lo; n < hi; ++n) {
      for (int64_t gr = 0; gr < g.G; ++gr) {
        implicit_conv(fast, g.Cg, ConstMatrix<float>{wf.data() + gr * g.Cg * g.Og * taps, g.Og * taps, 1},
                      dw ? dw->group(gr) : nullptr, dw ? dw->off.data() : nullptr,
                      conv_image(gt, pgo + (n * g.O + gr * g.Og) * g.L),
                      pgx + (n * g.C + gr * g.Cg) * g.H * g.W, nullptr, bufs, split);
      }
    }
  });
  return true;
}

// grad_x: (N, C, H, W), grad_out: (N, O, OH, OW), w: (O, Cg, KH, KW); all contiguous.
template <class T>
void conv2d_backward_input_typed(const Tensor& grad_x, const Tensor& grad_out, const Tensor& w, const Conv2dArgs& args) {
  const Geometry g(grad_x.shape(), w.shape(), grad_out.shape(), args);
  if constexpr (std::is_same_v<T, float>) {
    if (!g.direct() && conv2d_backward_input_implicit(g, conv_gemm_fns(), grad_out.data_ptr<float>(),
                                                      w.data_ptr<float>(), grad_x.data_ptr<float>()))
      return;
  }
  const T* pgo = grad_out.data_ptr<T>();
  const T* pw = w.data_ptr<T>();
  T* pgx = grad_x.data_ptr<T>();
  parallel_range(0, g.N, image_grain(g), [&](int64_t lo, int64_t hi) {
    std::unique_ptr<T[]> col(g.direct() ? nullptr : new T[static_cast<size_t>(g.Kc * g.L)]);
    for (int64_t n = lo; n < hi; ++n) {
      T* gx = pgx + n * g.C * g.H * g.W;
      if (!g.direct()) std::fill(gx, gx + g.C * g.H * g.W, T(0));
      for (int64_t gr = 0; gr < g.G; ++gr) {
        const ConstMatrix<T> wt{pw + gr * g.Og * g.Kc, 1, g.Kc};  // w[g]^T: (Kc, Og)
        const ConstMatrix<T> go{pgo + (n * g.O + gr * g.Og) * g.L, g.L, 1};
        T* gxg = gx + gr * g.Cg * g.H * g.W;
        if (g.direct()) {
          gemm<T>(g.Kc, g.L, g.Og, wt, go, Matrix<T>{gxg, g.L, 1}, false);
        } else {
          gemm<T>(g.Kc, g.L, g.Og, wt, go, Matrix<T>{col.get(), g.L, 1}, false);
          col2im(g, col.get(), gxg);
        }
      }
    }
  });
}

// The weight gradients of the direct kernels sum per-image (Kc, ldo) tiles
// over fixed slices of the images: P = min(N, 8) slices (P depends on N only),
// each summed into its own buffer, then added in slice order and transposed
// into grad_w (float32, (G * Og, Kc)): the same sums in the same order for any
// thread count. make_worker() is called once per task and returns its
// worker(n, gr, dst, accumulate), which sets (or adds to) image n's group gr
// tiles in dst with its own buffers.
template <class MakeWorker>
void weight_grad_in_slices(const Geometry& g, const ConvGemmFns& fast, int64_t ldo, float* pgw, MakeWorker&& make_worker) {
  const int64_t per_group = g.Kc * ldo, size = g.G * per_group, P = std::min<int64_t>(g.N, 8);
  std::vector<float> partial(static_cast<size_t>(P * size));
  parallel_range(0, P, 1, [&](int64_t lo, int64_t hi) {
    auto worker = make_worker();
    for (int64_t p = lo; p < hi; ++p) {
      float* dst = partial.data() + p * size;
      const int64_t n0 = g.N * p / P, n1 = g.N * (p + 1) / P;
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t gr = 0; gr < g.G; ++gr) worker(n, gr, dst + gr * per_group, n != n0);
    }
  });
  float* sum = partial.data();
  for (int64_t p = 1; p < P; ++p) {
    const float* src = partial.data() + p * size;
    parallel_range(0, size, kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) sum[i] += src[i];
    });
  }
  for (int64_t gr = 0; gr < g.G; ++gr) fast.direct_unpack(g.Og, sum + gr * per_group, ldo, g.Kc, nullptr, pgw + gr * g.Og * g.Kc);
}

// Tiles of a weight gradient and the grain that shares one image's tiles out
// when there are few slices to run in parallel.
struct WeightTiles {
  int64_t ldo, count, grain;
  WeightTiles(const Geometry& g, int64_t NR, int64_t MR) {
    ldo = (g.Og + NR - 1) / NR * NR;
    count = (g.Kc + MR - 1) / MR * (ldo / NR);
    grain = few_images(std::min<int64_t>(g.N, 8)) ? std::max<int64_t>(1, (int64_t{1} << 17) / (2 * MR * NR * g.L)) : count;
  }
};

// grad_w through conv_direct_weight: per image, grad_out transposed to
// channels along its rows and the image padded, then every (tap tile,
// channel panel) accumulates over the image's positions. Returns false
// (nothing done) on an ISA without it or with no images.
bool conv2d_backward_weight_direct(const Geometry& g, const ConvGemmFns& fast, const float* pgo, const float* px,
                                   float* pgw) {
  if (fast.direct_weight == nullptr || g.N == 0) return false;
  const auto [NR, MR] = fast.direct_shape();
  const WeightTiles t(g, NR, MR);
  // The images are padded copies when the convolution pads (padded_copy), else read as they are.
  const std::vector<int64_t> off = tap_offsets(g.Cg, g.H + 2 * g.a.padding[0], g.W + 2 * g.a.padding[1], g.KH, g.KW,
                                               g.a.dilation[0], g.a.dilation[1]);
  weight_grad_in_slices(g, fast, t.ldo, pgw, [&] {
    return [&, padded = std::vector<float>(), rows = std::vector<float>(static_cast<size_t>(g.L * t.ldo))](
               int64_t n, int64_t gr, float* dst, bool accumulate) mutable {
      fast.direct_pack_rows(g.Og, pgo + (n * g.O + gr * g.Og) * g.L, g.L, rows.data(), t.ldo);
      const ConvImage x = padded_copy(conv_image(g, px + (n * g.C + gr * g.Cg) * g.H * g.W), padded);
      parallel_range(0, t.count, t.grain, [&](int64_t t0, int64_t t1) {
        fast.direct_weight(g.Og, rows.data(), t.ldo, x, off.data(), dst, t.ldo, t0, t1, accumulate);
      });
    };
  });
  return true;
}

// grad_w: (O, Cg, KH, KW), grad_out: (N, O, OH, OW), x: (N, C, H, W); all contiguous.
template <class T>
void conv2d_backward_weight_typed(const Tensor& grad_w, const Tensor& grad_out, const Tensor& x, const Conv2dArgs& args) {
  const Geometry g(x.shape(), grad_w.shape(), grad_out.shape(), args);
  if constexpr (std::is_same_v<T, float>) {
    if (!g.direct() && conv2d_backward_weight_direct(g, conv_gemm_fns(), grad_out.data_ptr<float>(),
                                                     x.data_ptr<float>(), grad_w.data_ptr<float>()))
      return;
  }
  const T* pgo = grad_out.data_ptr<T>();
  const T* px = x.data_ptr<T>();
  T* pgw = grad_w.data_ptr<T>();
  const int64_t wsize = g.O * g.Kc;
  // Fixed partition of the images into P slices, each summed into its own buffer.
  const int64_t P = std::min<int64_t>(g.N, 8);
  std::vector<T> partial(static_cast<size_t>((P - 1) * wsize));
  parallel_range(0, P, 1, [&](int64_t lo, int64_t hi) {
    std::unique_ptr<T[]> col(g.direct() ? nullptr : new T[static_cast<size_t>(g.Kc * g.L)]);
    for (int64_t p = lo; p < hi; ++p) {
      T* dst = p == 0 ? pgw : partial.data() + (p - 1) * wsize;
      const int64_t n0 = g.N * p / P, n1 = g.N * (p + 1) / P;
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t gr = 0; gr < g.G; ++gr) {
          const T* xg = px + (n * g.C + gr * g.Cg) * g.H * g.W;
          ConstMatrix<T> cols_t{xg, 1, g.L};  // col^T: (L, Kc)
          if (!g.direct()) {
            im2col(g, xg, col.get());
            cols_t = {col.get(), 1, g.L};
          }
          const ConstMatrix<T> go{pgo + (n * g.O + gr * g.Og) * g.L, g.L, 1};
          gemm<T>(g.Og, g.Kc, g.L, go, cols_t, Matrix<T>{dst + gr * g.Og * g.Kc, g.Kc, 1}, n != n0);
        }
      }
    }
  });
  for (int64_t p = 1; p < P; ++p) {
    const T* src = partial.data() + (p - 1) * wsize;
    parallel_range(0, wsize, kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) pgw[i] += src[i];
    });
  }
}

// A stride-1 convolution of bfloat16 tensors on the AVX-512 BF16 dot
// products (conv_avx512bf16.cpp), where the CPU has them: per image and
// group, the image rewritten as padded channel pairs, the pair kernel into
// a float32 result with channels along its rows, the float32 unpack (adding
// the bias) and one rounding to bfloat16. x: (N, G * Cg, H, W), w: (G * Og,
// Cg, KH, KW), out: (N, G * Og, OH, OW), all contiguous; bias: G * Og floats
// or null. False (nothing done) where it does not apply.
// Whether the bfloat16 kernels below apply: the AVX-512 path on a CPU with
// AVX-512 BF16, stride 1, and images to work on.
bool bf16_direct_route(const Geometry& g) {
  return active_cpu_isa() == Isa::avx512 && cpu_has_avx512_bf16() && g.a.stride[0] == 1 && g.a.stride[1] == 1 &&
         g.N > 0;
}

bool conv_bf16_direct(const Geometry& g, const BFloat16* x, const BFloat16* w, const float* bias, BFloat16* out) {
  const VecKernels* vk = vec_kernels();
  if (!bf16_direct_route(g) || vk == nullptr) return false;
  const ConvGemmFns fast = conv_gemm_fns();
  constexpr int64_t NR = avx512bf16::kConvPanel, MR = avx512bf16::kConvTile;
  const int64_t Cp = (g.Cg + 1) / 2, taps = g.KH * g.KW, Q = Cp * taps;
  const int64_t Hp = g.H + 2 * g.a.padding[0], Wp = g.W + 2 * g.a.padding[1];
  const int64_t ldo = (g.Og + NR - 1) / NR * NR, per_group = ldo * Q;
  std::vector<uint32_t> wp(static_cast<size_t>(g.G * per_group));
  for (int64_t gr = 0; gr < g.G; ++gr)
    avx512bf16::pack_conv_weights(g.Og, w + gr * g.Og * g.Cg * taps, g.Cg, taps, wp.data() + gr * per_group);
  const std::vector<int64_t> off = tap_offsets(Cp, Hp, Wp, g.KH, g.KW, g.a.dilation[0], g.a.dilation[1]);  // in words
  const ConvImage shape{nullptr, Cp, Hp, Wp, g.KH, g.KW, g.OH, g.OW, 1, 1, 0, 0, g.a.dilation[0], g.a.dilation[1]};
  const int64_t tiles = g.OH * ((g.OW + MR - 1) / MR);
  const bool split = few_images(g.N);
  const int64_t grain = split ? std::max<int64_t>(1, (int64_t{1} << 18) / (2 * MR * ldo * 2 * Q)) : tiles;
  parallel_range(0, g.N, split ? g.N : image_grain(g), [&](int64_t lo, int64_t hi) {
    std::vector<uint32_t> xp(static_cast<size_t>(Cp * Hp * Wp));  // this task's
    std::vector<float> outw(static_cast<size_t>(g.L * ldo)), outf(static_cast<size_t>(g.Og * g.L));
    for (int64_t n = lo; n < hi; ++n) {
      for (int64_t gr = 0; gr < g.G; ++gr) {
        avx512bf16::conv_pair_channels(x + (n * g.C + gr * g.Cg) * g.H * g.W, g.Cg, g.H, g.W, g.a.padding[0],
                                       g.a.padding[1], xp.data());
        parallel_range(0, tiles, grain, [&](int64_t t0, int64_t t1) {
          avx512bf16::conv_direct(g.Og, wp.data() + gr * per_group, xp.data(), shape, off.data(), outw.data(), ldo, t0, t1);
        });
        fast.direct_unpack(g.Og, outw.data(), ldo, g.L, bias != nullptr ? bias + gr * g.Og : nullptr, outf.data());
        vk->f32_to_bf16(&out[(n * g.O + gr * g.Og) * g.L].bits, outf.data(), g.Og * g.L);
      }
    }
  });
  return true;
}

// grad_w of a stride-1 convolution of bfloat16 tensors on the AVX-512 BF16
// dot products, positions in pairs (conv_avx512bf16.cpp), into float32 pgw;
// per image grad_out rewritten as position pairs and the image padded. Only
// where bf16_direct_route() holds.
void conv_bf16_backward_weight(const Geometry& g, const BFloat16* pgo, const BFloat16* px, float* pgw) {
  const ConvGemmFns fast = conv_gemm_fns();
  const WeightTiles t(g, avx512bf16::kConvPanel, avx512bf16::kConvTile);
  const int64_t ph = g.a.padding[0], pw = g.a.padding[1], Hp = g.H + 2 * ph, Wp = g.W + 2 * pw;
  const std::vector<int64_t> off = tap_offsets(g.Cg, Hp, Wp, g.KH, g.KW, g.a.dilation[0], g.a.dilation[1]);
  const ConvImage shape{nullptr, g.Cg, Hp, Wp, g.KH, g.KW, g.OH, g.OW, 1, 1, 0, 0, g.a.dilation[0], g.a.dilation[1]};
  const int64_t pair_rows = g.OH * ((g.OW + 1) / 2);
  weight_grad_in_slices(g, fast, t.ldo, pgw, [&] {
    return [&, img = std::vector<uint16_t>(static_cast<size_t>(g.Cg * Hp * Wp)),
            rows = std::vector<uint32_t>(static_cast<size_t>(pair_rows * t.ldo))](int64_t n, int64_t gr, float* dst,
                                                                                    bool accumulate) mutable {
      avx512bf16::conv_position_pairs(g.Og, pgo + (n * g.O + gr * g.Og) * g.L, g.OH, g.OW, rows.data(), t.ldo);
      const BFloat16* x = px + (n * g.C + gr * g.Cg) * g.H * g.W;
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t h = 0; h < g.H; ++h)
          std::memcpy(img.data() + (c * Hp + h + ph) * Wp + pw, &x[(c * g.H + h) * g.W].bits, 2 * static_cast<size_t>(g.W));
      parallel_range(0, t.count, t.grain, [&](int64_t t0, int64_t t1) {
        avx512bf16::conv_direct_weight(g.Og, rows.data(), t.ldo, img.data(), shape, off.data(), dst, t.ldo, t0, t1,
                                       accumulate);
      });
    };
  });
}

// Runs f<T> for float32/float64; float16/bfloat16 go through float32 copies.
template <class F>
void with_compute_dtype(const Tensor& out, std::vector<Tensor> inputs, const char* op, F&& f) {
  if (out.dtype().is_reduced_float()) {
    for (Tensor& t : inputs)
      if (t.defined()) t = ops::to(t, kFloat32);
    Tensor tmp = empty(out.shape(), TensorOptions(kFloat32, out.device()));
    f.template operator()<float>(tmp, inputs);
    Tensor dst = out;
    ops::copy_(dst, tmp);
    return;
  }
  switch (out.dtype().kind) {
    case DType::Float32: f.template operator()<float>(out, inputs); return;
    case DType::Float64: f.template operator()<double>(out, inputs); return;
    default: EMBER_FAIL(op, ": expected a floating dtype, got ", out.describe());
  }
}

// Whether every tensor given is bfloat16 (undefined ones skipped).
bool all_bf16(std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined() && t->dtype() != kBFloat16) return false;
  return true;
}

void conv2d_kernel(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args) {
  if (all_bf16({&out, &x, &w, &bias})) {
    const Geometry g(x.shape(), w.shape(), out.shape(), args);
    const Tensor b = bias.defined() ? ops::contiguous(ops::to(bias, kFloat32)) : Tensor();
    if (conv_bf16_direct(g, x.data_ptr<BFloat16>(), w.data_ptr<BFloat16>(), b.defined() ? b.data_ptr<float>() : nullptr,
                         out.data_ptr<BFloat16>()))
      return;
  }
  with_compute_dtype(out, {x, w, bias}, "conv2d", [&]<class T>(const Tensor& o, const std::vector<Tensor>& in) {
    conv2d_typed<T>(o, in[0], in[1], in[2], args);
  });
}

void conv2d_backward_input_kernel(const Tensor& grad_x, const Tensor& grad_out, const Tensor& w, const Conv2dArgs& args) {
  if (all_bf16({&grad_x, &grad_out, &w})) {
    const Geometry g(grad_x.shape(), w.shape(), grad_out.shape(), args);
    if (const std::optional<Geometry> gt = flipped_geometry(g); gt && !g.direct()) {
      const std::vector<BFloat16> wf = flipped_weights(g, w.data_ptr<BFloat16>());
      if (conv_bf16_direct(*gt, grad_out.data_ptr<BFloat16>(), wf.data(), nullptr, grad_x.data_ptr<BFloat16>())) return;
    }
  }
  with_compute_dtype(grad_x, {grad_out, w}, "conv2d_backward_input", [&]<class T>(const Tensor& o, const std::vector<Tensor>& in) {
    conv2d_backward_input_typed<T>(o, in[0], in[1], args);
  });
}

void conv2d_backward_weight_kernel(const Tensor& grad_w, const Tensor& grad_out, const Tensor& x, const Conv2dArgs& args) {
  if (all_bf16({&grad_w, &grad_out, &x})) {
    const Geometry g(x.shape(), grad_w.shape(), grad_out.shape(), args);
    if (!g.direct() && bf16_direct_route(g)) {
      Tensor gw = empty(grad_w.shape(), TensorOptions(kFloat32, grad_w.device()));
      conv_bf16_backward_weight(g, grad_out.data_ptr<BFloat16>(), x.data_ptr<BFloat16>(), gw.data_ptr<float>());
      Tensor dst = grad_w;
      ops::copy_(dst, gw);
      return;
    }
  }
  with_compute_dtype(grad_w, {grad_out, x}, "conv2d_backward_weight", [&]<class T>(const Tensor& o, const std::vector<Tensor>& in) {
    conv2d_backward_weight_typed<T>(o, in[0], in[1], args);
  });
}

}  // namespace

void register_conv_kernels(KernelTable& t) {
  t.conv2d = conv2d_kernel;
  t.conv2d_backward_input = conv2d_backward_input_kernel;
  t.conv2d_backward_weight = conv2d_backward_weight_kernel;
}

}  // namespace ember::cpu
