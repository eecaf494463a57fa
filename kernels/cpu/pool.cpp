// CPU kernels of 2-D max, average and adaptive average pooling and their
// backward ops, on contiguous NCHW tensors, one H*W plane at a time (planes
// run in parallel; every write stays inside its plane).
//
// Windows follow PyTorch exactly:
//   max:      rows oh*s - p + i*d for i < k, clipped to [0, H); NaN wins; index = ih * W + iw
//   avg:      rows [oh*s - p, min(oh*s - p + k, H + p)), divisor = that size (count_include_pad)
//             or the size clipped to [0, H) (otherwise)
//   adaptive: rows [floor(oh * H / OH), ceil((oh + 1) * H / OH))
// Compute in OpMath<T> (float for float16/bfloat16).
// Ceilings: forward reads each window (N*C*OH*OW*kH*kW loads), writes the
// output; backward the same in reverse. Memory-bound: bytes ~ (in + out) * itemsize.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::cpu {
namespace {

struct Planes {
  int64_t count, H, W, OH, OW;  // input plane H x W, output plane OH x OW
};
Planes planes_of(const Tensor& in, const Tensor& out) {
  return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3)};
}
int64_t plane_grain(int64_t work_per_plane) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, work_per_plane)); }

inline int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
inline int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// Max-pooling candidate step: v at index i replaces the best when greater, or
// when NaN (NaN wins, the last NaN's index is kept, as PyTorch does). Written
// without branches: on real data the comparison is unpredictable.
template <class M>
inline void take_max(M v, int64_t i, M& best, int64_t& best_i) {
  const bool take = (v > best) | (v != v);
  best = take ? v : best;
  best_i = take ? i : best_i;
}

#if defined(__SSE2__)
// 2x2 windows at stride 2, four outputs at a time with SSE2 (baseline x86-64):
// even and odd input columns are split with shuffles, and each of the four
// candidates is taken with compare + blend, in the order the scalar loop uses,
// so values and indices match it exactly. Returns the outputs done (a multiple of 4).
int64_t max_pool_row_2x2_sse2(const float* r0, const float* r1, int64_t OW, float* op, int32_t* code) {
  int64_t ow = 0;
  for (; ow + 4 <= OW; ow += 4) {
    const __m128 a0 = _mm_loadu_ps(r0 + 2 * ow), a1 = _mm_loadu_ps(r0 + 2 * ow + 4);
    const __m128 b0 = _mm_loadu_ps(r1 + 2 * ow), b1 = _mm_loadu_ps(r1 + 2 * ow + 4);
    const __m128 cand[4] = {_mm_shuffle_ps(a0, a1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(a0, a1, _MM_SHUFFLE(3, 1, 3, 1)),
                            _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))};
    __m128 best = cand[0];
    __m128i which = _mm_setzero_si128();
    for (int k = 1; k < 4; ++k) {
      const __m128 v = cand[k];
      const __m128 take = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_cmpunord_ps(v, v));
      best = _mm_or_ps(_mm_and_ps(take, v), _mm_andnot_ps(take, best));
      const __m128i t = _mm_castps_si128(take);
      which = _mm_or_si128(_mm_and_si128(t, _mm_set1_epi32(k)), _mm_andnot_si128(t, which));
    }
    _mm_storeu_ps(op + ow, best);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(code + ow), which);
  }
  return ow;
}
#endif

// One plane, dilation 1 (every CNN's case): windows clipped to the plane, no
// empty windows (padding is at most half the kernel, checked by the meta function).
template <class T>
void max_pool_plane_dense(const T* xp, T* op, int64_t* ip, const Planes& g, const Pool2dArgs& a) {
  using M = OpMath<T>;
  const int64_t kh = a.kernel[0], kw = a.kernel[1], sh = a.stride[0], sw = a.stride[1];
  if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && a.padding[0] == 0 && a.padding[1] == 0 && 2 * g.OH <= g.H &&
      2 * g.OW <= g.W) {  // (ceil_mode can add a last, clipped window: the general loop takes it)
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const T* r0 = xp + 2 * oh * g.W;
      const T* r1 = r0 + g.W;
      const int64_t base = 2 * oh * g.W;
      int64_t ow = 0;
#if defined(__SSE2__)
      if constexpr (std::is_same_v<T, float>) {
        int32_t code[64];  // candidate per output: 0, 1 (top row), 2, 3 (bottom row)
        while (ow + 4 <= g.OW) {
          const int64_t n = std::min<int64_t>(64, (g.OW - ow) / 4 * 4);
          max_pool_row_2x2_sse2(r0 + 2 * ow, r1 + 2 * ow, n, op + oh * g.OW + ow, code);
          for (int64_t t = 0; t < n; ++t)
            ip[oh * g.OW + ow + t] = base + 2 * (ow + t) + (code[t] & 1) + (code[t] >> 1) * g.W;
          ow += n;
        }
        if (ow < g.OW) {
          // The last 1-3 outputs through the same vector step, on copies padded
          // with zeros (lanes are independent; the padding lanes are dropped).
          const int64_t rem = g.OW - ow;
          alignas(16) float t0[8] = {}, t1[8] = {}, out[4];
          for (int64_t j = 0; j < 2 * rem; ++j) t0[j] = r0[2 * ow + j], t1[j] = r1[2 * ow + j];
          max_pool_row_2x2_sse2(t0, t1, 4, out, code);
          for (int64_t t = 0; t < rem; ++t) {
            op[oh * g.OW + ow + t] = out[t];
            ip[oh * g.OW + ow + t] = base + 2 * (ow + t) + (code[t] & 1) + (code[t] >> 1) * g.W;
          }
          ow = g.OW;
        }
      }
#endif
      for (; ow < g.OW; ++ow) {
        const int64_t j = 2 * ow;
        M best = static_cast<M>(r0[j]);
        int64_t best_i = base + j;
        take_max(static_cast<M>(r0[j + 1]), base + j + 1, best, best_i);
        take_max(static_cast<M>(r1[j]), base + g.W + j, best, best_i);
        take_max(static_cast<M>(r1[j + 1]), base + g.W + j + 1, best, best_i);
        op[oh * g.OW + ow] = static_cast<T>(best);
        ip[oh * g.OW + ow] = best_i;
      }
    }
    return;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const int64_t h0 = oh * sh - a.padding[0];
    const int64_t hs = std::max<int64_t>(h0, 0), he = std::min(h0 + kh, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t w0 = ow * sw - a.padding[1];
      const int64_t ws = std::max<int64_t>(w0, 0), we = std::min(w0 + kw, g.W);
      M best = static_cast<M>(xp[hs * g.W + ws]);
      int64_t best_i = hs * g.W + ws;
      for (int64_t ih = hs; ih < he; ++ih)
        for (int64_t iw = ih == hs ? ws + 1 : ws; iw < we; ++iw) take_max(static_cast<M>(xp[ih * g.W + iw]), ih * g.W + iw, best, best_i);
      op[oh * g.OW + ow] = static_cast<T>(best);
      ip[oh * g.OW + ow] = best_i;
    }
  }
}

// out, indices: (N, C, OH, OW); x: (N, C, H, W)
void max_pool2d_kernel(const Tensor& out, const Tensor& indices, const Tensor& x, const Pool2dArgs& a) {
  visit_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    using M = OpMath<T>;
    const Planes g = planes_of(x, out);
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    int64_t* pi = indices.data_ptr<int64_t>();
    const int64_t kh = a.kernel[0], kw = a.kernel[1], sh = a.stride[0], sw = a.stride[1];
    const int64_t dh = a.dilation[0], dw = a.dilation[1];
    const bool dense = dh == 1 && dw == 1 && 2 * a.padding[0] <= kh && 2 * a.padding[1] <= kw;
    parallel_range(0, g.count, plane_grain(g.OH * g.OW * kh * kw), [&](int64_t lo, int64_t hi) {
      if (dense) {
        for (int64_t p = lo; p < hi; ++p)
          max_pool_plane_dense<T>(px + p * g.H * g.W, po + p * g.OH * g.OW, pi + p * g.OH * g.OW, g, a);
        return;
      }
      for (int64_t p = lo; p < hi; ++p) {
        const T* xp = px + p * g.H * g.W;
        T* op = po + p * g.OH * g.OW;
        int64_t* ip = pi + p * g.OH * g.OW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t hs = oh * sh - a.padding[0];
          const int64_t he = std::min(hs + (kh - 1) * dh + 1, g.H);
          while (hs < 0) hs += dh;
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            int64_t ws = ow * sw - a.padding[1];
            const int64_t we = std::min(ws + (kw - 1) * dw + 1, g.W);
            while (ws < 0) ws += dw;
            M best = -std::numeric_limits<M>::infinity();
            // An empty window (only possible with dilation) yields -inf and index -1.
            int64_t best_i = hs < he && ws < we ? hs * g.W + ws : -1;
            for (int64_t ih = hs; ih < he; ih += dh) {
              for (int64_t iw = ws; iw < we; iw += dw) {
                const M v = static_cast<M>(xp[ih * g.W + iw]);
                if (v > best || std::isnan(v)) {
                  best = v;
                  best_i = ih * g.W + iw;
                }
              }
            }
            op[oh * g.OW + ow] = static_cast<T>(best);
            ip[oh * g.OW + ow] = best_i;
          }
        }
      }
    });
  });
}

// grad_x: (N, C, H, W); grad_out, indices: (N, C, OH, OW)
void max_pool2d_backward_kernel(const Tensor& grad_x, const Tensor& grad_out, const Tensor& indices) {
  visit_floating(grad_x.dtype(), "max_pool2d_backward", [&]<class T>() {
    using M = OpMath<T>;
    const Planes g = planes_of(grad_x, grad_out);
    const int64_t hw = g.H * g.W, ohw = g.OH * g.OW;
    const T* pgo = grad_out.data_ptr<T>();
    const int64_t* pi = indices.data_ptr<int64_t>();
    T* pgx = grad_x.data_ptr<T>();
    // Adds each output's gradient at its argmax into acc (hw values, zeroed here).
    auto scatter = [&](int64_t p, auto* acc) {
      std::fill(acc, acc + hw, M(0));
      for (int64_t k = 0; k < ohw; ++k) {
        const int64_t idx = pi[p * ohw + k];
        if (idx == -1) continue;  // empty window
        EMBER_CHECK(idx >= 0 && idx < hw, "max_pool2d_backward: index ", idx,
                    " is out of range for an input plane of ", g.H, "x", g.W);
        acc[idx] += static_cast<M>(pgo[p * ohw + k]);
      }
    };
    parallel_range(0, g.count, plane_grain(hw + ohw), [&](int64_t lo, int64_t hi) {
      if constexpr (std::is_same_v<T, M>) {
        for (int64_t p = lo; p < hi; ++p) scatter(p, pgx + p * hw);  // straight into grad_x
      } else {
        std::vector<M> acc(static_cast<size_t>(hw));  // reduced precision: sum in float, round once
        for (int64_t p = lo; p < hi; ++p) {
          scatter(p, acc.data());
          for (int64_t i = 0; i < hw; ++i) pgx[p * hw + i] = static_cast<T>(acc[static_cast<size_t>(i)]);
        }
      }
    });
  });
}

// Window rows/cols of avg_pool2d for output position o: [start, end) clipped, and the divisor span.
struct AvgWindow {
  int64_t start, end, span;
};
inline AvgWindow avg_window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  int64_t s = o * stride - pad;
  int64_t e = std::min(s + k, in + pad);
  const int64_t span = e - s;
  return {std::max<int64_t>(s, 0), std::min(e, in), span};
}

// Calls f(oh, ow, hs, he, ws, we, divisor) for every output position of one plane.
template <class F>
void for_each_avg_window(const Planes& g, const Pool2dArgs& a, F&& f) {
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const AvgWindow rh = avg_window(oh, a.stride[0], a.padding[0], a.kernel[0], g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const AvgWindow rw = avg_window(ow, a.stride[1], a.padding[1], a.kernel[1], g.W);
      if (rh.start >= rh.end || rw.start >= rw.end) {
        f(oh, ow, rh.start, rh.start, rw.start, rw.start, int64_t{1});
        continue;
      }
      const int64_t divisor = a.count_include_pad ? rh.span * rw.span : (rh.end - rh.start) * (rw.end - rw.start);
      f(oh, ow, rh.start, rh.end, rw.start, rw.end, divisor);
    }
  }
}

// out: (N, C, OH, OW); x: (N, C, H, W)
void avg_pool2d_kernel(const Tensor& out, const Tensor& x, const Pool2dArgs& a) {
  visit_floating(x.dtype(), "avg_pool2d", [&]<class T>() {
    using M = OpMath<T>;
    const Planes g = planes_of(x, out);
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    parallel_range(0, g.count, plane_grain(g.OH * g.OW * a.kernel[0] * a.kernel[1]), [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) {
        const T* xp = px + p * g.H * g.W;
        T* op = po + p * g.OH * g.OW;
        for_each_avg_window(g, a, [&](int64_t oh, int64_t ow, int64_t hs, int64_t he, int64_t ws, int64_t we, int64_t div) {
          M sum = 0;
          for (int64_t ih = hs; ih < he; ++ih)
            for (int64_t iw = ws; iw < we; ++iw) sum += static_cast<M>(xp[ih * g.W + iw]);
          op[oh * g.OW + ow] = static_cast<T>(sum / static_cast<M>(div));
        });
      }
    });
  });
}

// grad_x: (N, C, H, W); grad_out: (N, C, OH, OW)
void avg_pool2d_backward_kernel(const Tensor& grad_x, const Tensor& grad_out, const Pool2dArgs& a) {
  visit_floating(grad_x.dtype(), "avg_pool2d_backward", [&]<class T>() {
    using M = OpMath<T>;
    const Planes g = planes_of(grad_x, grad_out);
    const T* pgo = grad_out.data_ptr<T>();
    T* pgx = grad_x.data_ptr<T>();
    parallel_range(0, g.count, plane_grain(g.OH * g.OW * a.kernel[0] * a.kernel[1]), [&](int64_t lo, int64_t hi) {
      std::vector<M> acc(static_cast<size_t>(g.H * g.W));
      for (int64_t p = lo; p < hi; ++p) {
        std::fill(acc.begin(), acc.end(), M(0));
        const T* gop = pgo + p * g.OH * g.OW;
        for_each_avg_window(g, a, [&](int64_t oh, int64_t ow, int64_t hs, int64_t he, int64_t ws, int64_t we, int64_t div) {
          const M v = static_cast<M>(gop[oh * g.OW + ow]) / static_cast<M>(div);
          for (int64_t ih = hs; ih < he; ++ih)
            for (int64_t iw = ws; iw < we; ++iw) acc[static_cast<size_t>(ih * g.W + iw)] += v;
        });
        T* gxp = pgx + p * g.H * g.W;
        for (int64_t i = 0; i < g.H * g.W; ++i) gxp[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
      }
    });
  });
}

// out: (N, C, OH, OW); x: (N, C, H, W)
void adaptive_avg_pool2d_kernel(const Tensor& out, const Tensor& x, const Pool2dArgs&) {
  visit_floating(x.dtype(), "adaptive_avg_pool2d", [&]<class T>() {
    using M = OpMath<T>;
    const Planes g = planes_of(x, out);
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    parallel_range(0, g.count, plane_grain(g.H * g.W + g.OH * g.OW), [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) {
        const T* xp = px + p * g.H * g.W;
        T* op = po + p * g.OH * g.OW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t hs = adaptive_start(oh, g.H, g.OH), he = adaptive_end(oh, g.H, g.OH);
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t ws = adaptive_start(ow, g.W, g.OW), we = adaptive_end(ow, g.W, g.OW);
            M sum = 0;
            for (int64_t ih = hs; ih < he; ++ih)
              for (int64_t iw = ws; iw < we; ++iw) sum += static_cast<M>(xp[ih * g.W + iw]);
            op[oh * g.OW + ow] = static_cast<T>(sum / static_cast<M>((he - hs) * (we - ws)));
          }
        }
      }
    });
  });
}

// grad_x: (N, C, H, W); grad_out: (N, C, OH, OW)
void adaptive_avg_pool2d_backward_kernel(const Tensor& grad_x, const Tensor& grad_out, const Pool2dArgs&) {
  visit_floating(grad_x.dtype(), "adaptive_avg_pool2d_backward", [&]<class T>() {
    using M = OpMath<T>;
    const Planes g = planes_of(grad_x, grad_out);
    const T* pgo = grad_out.data_ptr<T>();
    T* pgx = grad_x.data_ptr<T>();
    parallel_range(0, g.count, plane_grain(g.H * g.W + g.OH * g.OW), [&](int64_t lo, int64_t hi) {
      std::vector<M> acc(static_cast<size_t>(g.H * g.W));
      for (int64_t p = lo; p < hi; ++p) {
        std::fill(acc.begin(), acc.end(), M(0));
        const T* gop = pgo + p * g.OH * g.OW;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t hs = adaptive_start(oh, g.H, g.OH), he = adaptive_end(oh, g.H, g.OH);
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const int64_t ws = adaptive_start(ow, g.W, g.OW), we = adaptive_end(ow, g.W, g.OW);
            const M v = static_cast<M>(gop[oh * g.OW + ow]) / static_cast<M>((he - hs) * (we - ws));
            for (int64_t ih = hs; ih < he; ++ih)
              for (int64_t iw = ws; iw < we; ++iw) acc[static_cast<size_t>(ih * g.W + iw)] += v;
          }
        }
        T* gxp = pgx + p * g.H * g.W;
        for (int64_t i = 0; i < g.H * g.W; ++i) gxp[i] = static_cast<T>(acc[static_cast<size_t>(i)]);
      }
    });
  });
}

}  // namespace

void register_pool_kernels(KernelTable& t) {
  t.max_pool2d = max_pool2d_kernel;
  t.max_pool2d_backward = max_pool2d_backward_kernel;
  t.avg_pool2d = avg_pool2d_kernel;
  t.avg_pool2d_backward = avg_pool2d_backward_kernel;
  t.adaptive_avg_pool2d = adaptive_avg_pool2d_kernel;
  t.adaptive_avg_pool2d_backward = adaptive_avg_pool2d_backward_kernel;
}

}  // namespace ember::cpu
