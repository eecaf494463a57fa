// CPU kernels of batch, layer and group normalisation and their backward ops.
//
// Each normalises groups of elements of a contiguous x:
//   batch_norm (N, C, *): per channel c, the N strips of S = prod(*) elements at (n, c)
//   layer_norm (*, D):    per row, the D trailing elements
//   group_norm (N, C, *): per (n, g), the (C / G) * S contiguous elements
// y = (x - mean) * invstd * w + b with invstd = 1 / sqrt(biased var + eps).
// Statistics are accumulated in double (two passes: mean, then squared
// deviations), elements are computed in OpMath<T>. Weight/bias/running stats
// may be undefined and of any floating dtype; they are read into doubles.
// Backward (xhat = (x - mean) * invstd, g = grad_out * w, means over the group):
//   grad_x = invstd * (g - mean(g) - xhat * mean(g * xhat))   (batch_norm eval: g * invstd)
//   grad_w = sum grad_out * xhat, grad_b = sum grad_out        (over everything but the affine dim)
// float32 batch norm (with S = prod(*) > 1) and layer norm (float32 or no
// weight/bias) first try the per-ISA fast paths (norm_vec.cpp, norm_kernel.hpp).
// Ceilings: ~8 FLOPs per element forward, ~12 backward; memory-bound: forward
// reads x twice and writes y (3 * itemsize per element), backward reads x and
// grad_out twice. The reference layer norm reaches about 1/4 of the copy
// bandwidth; the fast path keeps each row or channel in cache between its
// passes, so memory sees one read and one write (benchmarks/RESULTS.md).
#include <algorithm>
#include <cmath>
#include <tuple>
#include <type_traits>
#include <vector>

#include <ember/kernels/cpu/norm_vec.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::cpu {
namespace {

// A 1-D (or contiguous) floating tensor as doubles; empty when undefined.
std::vector<double> load_param(const Tensor& t) {
  std::vector<double> v;
  if (!t.defined()) return v;
  v.resize(static_cast<size_t>(t.numel()));
  const int64_t stride = t.dim() == 1 ? t.stride(0) : 1;
  visit_floating(t.dtype(), "norm", [&]<class T>() {
    const T* p = t.data_ptr<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(static_cast<OpMath<T>>(p[static_cast<int64_t>(i) * stride]));
  });
  return v;
}

// Writes doubles into a 1-D (or contiguous) floating tensor; no-op when undefined.
void store_param(const Tensor& t, const std::vector<double>& v) {
  if (!t.defined()) return;
  const int64_t stride = t.dim() == 1 ? t.stride(0) : 1;
  visit_floating(t.dtype(), "norm", [&]<class T>() {
    T* p = t.data_ptr<T>();
    for (size_t i = 0; i < v.size(); ++i) p[static_cast<int64_t>(i) * stride] = static_cast<T>(v[i]);
  });
}

// segs strips of len contiguous elements, strip i at base + i * stride.
template <class T>
struct Strips {
  const T* base;
  int64_t segs, len, stride;
  int64_t count() const { return segs * len; }
};

// Mean and biased variance of the strips' elements.
template <class T>
std::pair<double, double> moments(const Strips<T>& s) {
  const int64_t n = s.count();
  if (n == 0) return {0.0, 0.0};
  double sum = 0.0;
  for (int64_t i = 0; i < s.segs; ++i)
    for (int64_t j = 0; j < s.len; ++j) sum += static_cast<double>(static_cast<OpMath<T>>(s.base[i * s.stride + j]));
  const double mean = sum / static_cast<double>(n);
  double sq = 0.0;
  for (int64_t i = 0; i < s.segs; ++i) {
    for (int64_t j = 0; j < s.len; ++j) {
      const double d = static_cast<double>(static_cast<OpMath<T>>(s.base[i * s.stride + j])) - mean;
      sq += d * d;
    }
  }
  return {mean, sq / static_cast<double>(n)};
}

// A float32 parameter (contiguous: the meta functions pass them so) or none, for the fast paths.
bool f32_or_undefined(const Tensor& t) { return !t.defined() || (t.dtype() == kFloat32 && t.is_contiguous()); }
const float* f32_ptr(const Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

// The dtype of saved statistics: float64 for float64 input, float32 otherwise.
template <class T> using StatT = std::conditional_t<std::is_same_v<T, double>, double, float>;

int64_t grain_for(int64_t work_per_item) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, work_per_item)); }

// ---- batch norm ---------------------------------------------------------------------------
// out, x: (N, C, *); stat0/stat1 (mean, invstd): (C); weight, bias, running stats: (C) or undefined.
void batch_norm_kernel(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, const Tensor& running_mean, const Tensor& running_var, const NormArgs& args) {
  visit_floating(x.dtype(), "batch_norm", [&]<class T>() {
    using M = OpMath<T>;
    const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
    const std::vector<double> w = load_param(weight), b = load_param(bias);
    std::vector<double> rm = load_param(running_mean), rv = load_param(running_var);
    std::vector<double> batch_mean(static_cast<size_t>(C)), unbiased(static_cast<size_t>(C));
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    StatT<T>* pmean = stat0.data_ptr<StatT<T>>();
    StatT<T>* pinv = stat1.data_ptr<StatT<T>>();
    const int64_t count = N * S;
    bool fast = false;
    if constexpr (std::is_same_v<T, float>) {
      fast = S > 1 && vec_batch_norm_f32({.x = px, .y = po, .N = N, .C = C, .S = S, .weight = w, .bias = b,
                                          .running_mean = rm, .running_var = rv, .save_mean = pmean,
                                          .save_invstd = pinv, .batch_mean = batch_mean, .unbiased_var = unbiased},
                                         args);
    }
    if (!fast) parallel_range(0, C, grain_for(count), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const size_t ci = static_cast<size_t>(c);
        double mean, var;
        if (args.training) {
          std::tie(mean, var) = moments(Strips<T>{px + c * S, N, S, C * S});
          batch_mean[ci] = mean;
          unbiased[ci] = count > 1 ? var * static_cast<double>(count) / static_cast<double>(count - 1) : var;
        } else {
          mean = rm[ci];
          var = rv[ci];
        }
        const double invstd = 1.0 / std::sqrt(var + args.eps);
        pmean[c] = static_cast<StatT<T>>(mean);
        pinv[c] = static_cast<StatT<T>>(invstd);
        const M m = static_cast<M>(mean), scale = static_cast<M>(invstd * (w.empty() ? 1.0 : w[ci]));
        const M shift = static_cast<M>(b.empty() ? 0.0 : b[ci]);
        for (int64_t n = 0; n < N; ++n) {
          const T* xs = px + (n * C + c) * S;
          T* ys = po + (n * C + c) * S;
          for (int64_t s = 0; s < S; ++s) ys[s] = static_cast<T>((static_cast<M>(xs[s]) - m) * scale + shift);
        }
      }
    });
    if (args.training && running_mean.defined()) {
      for (size_t c = 0; c < rm.size(); ++c) {
        rm[c] = (1.0 - args.momentum) * rm[c] + args.momentum * batch_mean[c];
        rv[c] = (1.0 - args.momentum) * rv[c] + args.momentum * unbiased[c];
      }
      store_param(running_mean, rm);
      store_param(running_var, rv);
    }
  });
}

// grad_x, grad_out, x: (N, C, *); grad_weight/grad_bias: (C) or undefined; stat0/stat1: (C).
void batch_norm_backward_kernel(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& stat0,
                                const Tensor& stat1, const NormArgs& args) {
  visit_floating(x.dtype(), "batch_norm_backward", [&]<class T>() {
    using M = OpMath<T>;
    const int64_t N = x.size(0), C = x.size(1), S = x.numel() / std::max<int64_t>(1, N * C);
    const std::vector<double> w = load_param(weight), mean = load_param(stat0), invstd = load_param(stat1);
    std::vector<double> gw(static_cast<size_t>(C)), gb(static_cast<size_t>(C));
    const T* px = x.data_ptr<T>();
    const T* pg = grad_out.data_ptr<T>();
    T* pgx = grad_x.data_ptr<T>();
    const int64_t count = N * S;
    bool fast = false;
    if constexpr (std::is_same_v<T, float>) {
      fast = S > 1 && vec_batch_norm_backward_f32(pgx, gw, gb, pg, px, N, C, S, w, mean, invstd, args);
    }
    if (!fast) parallel_range(0, C, grain_for(2 * count), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const size_t ci = static_cast<size_t>(c);
        double sum_g = 0.0, sum_gx = 0.0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t off = (n * C + c) * S;
          for (int64_t s = 0; s < S; ++s) {
            const double g = static_cast<double>(static_cast<M>(pg[off + s]));
            sum_g += g;
            sum_gx += g * (static_cast<double>(static_cast<M>(px[off + s])) - mean[ci]);
          }
        }
        gb[ci] = sum_g;
        gw[ci] = sum_gx * invstd[ci];
        const double wc = w.empty() ? 1.0 : w[ci];
        const M k = static_cast<M>(wc * invstd[ci]);
        // training: grad_x = k * (g - mean_g - (x - mean) * proj), proj = sum_gx * invstd^2 / count
        const M mean_g = args.training ? static_cast<M>(sum_g / static_cast<double>(count)) : M(0);
        const M proj = args.training ? static_cast<M>(sum_gx * invstd[ci] * invstd[ci] / static_cast<double>(count)) : M(0);
        const M m = static_cast<M>(mean[ci]);
        for (int64_t n = 0; n < N; ++n) {
          const int64_t off = (n * C + c) * S;
          for (int64_t s = 0; s < S; ++s) {
            const M g = static_cast<M>(pg[off + s]), xc = static_cast<M>(px[off + s]) - m;
            pgx[off + s] = static_cast<T>(k * (g - mean_g - xc * proj));
          }
        }
      }
    });
    store_param(grad_weight, gw);
    store_param(grad_bias, gb);
  });
}

// ---- layer norm ---------------------------------------------------------------------------
// out, x: (R, D) viewed flat; stat0/stat1: R values; weight, bias: D values or undefined.
void layer_norm_kernel(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, const Tensor&, const Tensor&, const NormArgs& args) {
  visit_floating(x.dtype(), "layer_norm", [&]<class T>() {
    using M = OpMath<T>;
    const int64_t R = stat0.numel(), D = R > 0 ? x.numel() / R : 0;
    std::vector<M> w, b;
    for (double v : load_param(weight)) w.push_back(static_cast<M>(v));
    for (double v : load_param(bias)) b.push_back(static_cast<M>(v));
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    StatT<T>* pmean = stat0.data_ptr<StatT<T>>();
    StatT<T>* prstd = stat1.data_ptr<StatT<T>>();
    if constexpr (std::is_same_v<T, float>) {
      if (f32_or_undefined(weight) && f32_or_undefined(bias) &&
          vec_layer_norm_f32(po, pmean, prstd, px, f32_ptr(weight), f32_ptr(bias), R, D, args.eps))
        return;
    }
    parallel_range(0, R, grain_for(D), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const auto [mean, var] = moments(Strips<T>{px + r * D, 1, D, 0});
        const double rstd = 1.0 / std::sqrt(var + args.eps);
        pmean[r] = static_cast<StatT<T>>(mean);
        prstd[r] = static_cast<StatT<T>>(rstd);
        const M m = static_cast<M>(mean), k = static_cast<M>(rstd);
        const T* xr = px + r * D;
        T* yr = po + r * D;
        for (int64_t j = 0; j < D; ++j) {
          M y = (static_cast<M>(xr[j]) - m) * k;
          if (!w.empty()) y *= w[static_cast<size_t>(j)];
          if (!b.empty()) y += b[static_cast<size_t>(j)];
          yr[j] = static_cast<T>(y);
        }
      }
    });
  });
}

void layer_norm_backward_kernel(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& stat0,
                                const Tensor& stat1, const NormArgs&) {
  visit_floating(x.dtype(), "layer_norm_backward", [&]<class T>() {
    using M = OpMath<T>;
    const int64_t R = stat0.numel(), D = R > 0 ? x.numel() / R : 0;
    const std::vector<double> w = load_param(weight), mean = load_param(stat0), rstd = load_param(stat1);
    const T* px = x.data_ptr<T>();
    const T* pg = grad_out.data_ptr<T>();
    T* pgx = grad_x.data_ptr<T>();
    if constexpr (std::is_same_v<T, float>) {
      std::vector<double> gw, gb;
      if (f32_or_undefined(weight) && stat0.dtype() == kFloat32 &&
          vec_layer_norm_backward_f32(pgx, gw, gb, pg, px, f32_ptr(weight), stat0.data_ptr<float>(),
                                      stat1.data_ptr<float>(), R, D)) {
        store_param(grad_weight, gw);
        store_param(grad_bias, gb);
        return;
      }
    }
    parallel_range(0, R, grain_for(3 * D), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const size_t ri = static_cast<size_t>(r);
        const T* xr = px + r * D;
        const T* gr = pg + r * D;
        double sum_g = 0.0, sum_gxhat = 0.0;
        for (int64_t j = 0; j < D; ++j) {
          const double g = static_cast<double>(static_cast<M>(gr[j])) * (w.empty() ? 1.0 : w[static_cast<size_t>(j)]);
          sum_g += g;
          sum_gxhat += g * (static_cast<double>(static_cast<M>(xr[j])) - mean[ri]) * rstd[ri];
        }
        const M a = static_cast<M>(sum_g / static_cast<double>(D)), bproj = static_cast<M>(sum_gxhat / static_cast<double>(D));
        const M m = static_cast<M>(mean[ri]), k = static_cast<M>(rstd[ri]);
        for (int64_t j = 0; j < D; ++j) {
          const M g = static_cast<M>(gr[j]) * (w.empty() ? M(1) : static_cast<M>(w[static_cast<size_t>(j)]));
          const M xhat = (static_cast<M>(xr[j]) - m) * k;
          pgx[r * D + j] = static_cast<T>(k * (g - a - xhat * bproj));
        }
      }
    });
    if (!grad_weight.defined() && !grad_bias.defined()) return;
    // Column sums over rows: each chunk owns a range of columns and walks all rows.
    std::vector<double> gw(static_cast<size_t>(D)), gb(static_cast<size_t>(D));
    parallel_range(0, D, std::max<int64_t>(64, grain_for(R)), [&](int64_t lo, int64_t hi) {
      for (int64_t r = 0; r < R; ++r) {
        const size_t ri = static_cast<size_t>(r);
        for (int64_t j = lo; j < hi; ++j) {
          const double g = static_cast<double>(static_cast<M>(pg[r * D + j]));
          gb[static_cast<size_t>(j)] += g;
          gw[static_cast<size_t>(j)] += g * (static_cast<double>(static_cast<M>(px[r * D + j])) - mean[ri]) * rstd[ri];
        }
      }
    });
    store_param(grad_weight, gw);
    store_param(grad_bias, gb);
  });
}

// ---- group norm ---------------------------------------------------------------------------
// out, x: (N, C, *); stat0/stat1: (N, G); weight, bias: (C) or undefined.
void group_norm_kernel(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, const Tensor&, const Tensor&, const NormArgs& args) {
  visit_floating(x.dtype(), "group_norm", [&]<class T>() {
    using M = OpMath<T>;
    const int64_t N = x.size(0), C = x.size(1), G = args.groups, Cg = C / G;
    const int64_t S = x.numel() / std::max<int64_t>(1, N * C);
    const std::vector<double> w = load_param(weight), b = load_param(bias);
    const T* px = x.data_ptr<T>();
    T* po = out.data_ptr<T>();
    StatT<T>* pmean = stat0.data_ptr<StatT<T>>();
    StatT<T>* prstd = stat1.data_ptr<StatT<T>>();
    parallel_range(0, N * G, grain_for(Cg * S), [&](int64_t lo, int64_t hi) {
      for (int64_t ng = lo; ng < hi; ++ng) {
        const int64_t off = ng * Cg * S;  // (n, g) group is contiguous
        const auto [mean, var] = moments(Strips<T>{px + off, 1, Cg * S, 0});
        const double rstd = 1.0 / std::sqrt(var + args.eps);
        pmean[ng] = static_cast<StatT<T>>(mean);
        prstd[ng] = static_cast<StatT<T>>(rstd);
        const M m = static_cast<M>(mean);
        for (int64_t cc = 0; cc < Cg; ++cc) {
          const size_t c = static_cast<size_t>((ng % G) * Cg + cc);
          const M scale = static_cast<M>(rstd * (w.empty() ? 1.0 : w[c])), shift = static_cast<M>(b.empty() ? 0.0 : b[c]);
          const T* xs = px + off + cc * S;
          T* ys = po + off + cc * S;
          for (int64_t s = 0; s < S; ++s) ys[s] = static_cast<T>((static_cast<M>(xs[s]) - m) * scale + shift);
        }
      }
    });
  });
}

void group_norm_backward_kernel(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& stat0,
                                const Tensor& stat1, const NormArgs& args) {
  visit_floating(x.dtype(), "group_norm_backward", [&]<class T>() {
    using M = OpMath<T>;
    const int64_t N = x.size(0), C = x.size(1), G = args.groups, Cg = C / G;
    const int64_t S = x.numel() / std::max<int64_t>(1, N * C);
    const std::vector<double> w = load_param(weight), mean = load_param(stat0), rstd = load_param(stat1);
    const T* px = x.data_ptr<T>();
    const T* pg = grad_out.data_ptr<T>();
    T* pgx = grad_x.data_ptr<T>();
    const double count = static_cast<double>(Cg * S);
    parallel_range(0, N * G, grain_for(3 * Cg * S), [&](int64_t lo, int64_t hi) {
      for (int64_t ng = lo; ng < hi; ++ng) {
        const size_t gi = static_cast<size_t>(ng);
        const int64_t off = ng * Cg * S;
        double sum_g = 0.0, sum_gxhat = 0.0;
        for (int64_t cc = 0; cc < Cg; ++cc) {
          const double wc = w.empty() ? 1.0 : w[static_cast<size_t>((ng % G) * Cg + cc)];
          for (int64_t s = 0; s < S; ++s) {
            const int64_t i = off + cc * S + s;
            const double g = static_cast<double>(static_cast<M>(pg[i])) * wc;
            sum_g += g;
            sum_gxhat += g * (static_cast<double>(static_cast<M>(px[i])) - mean[gi]) * rstd[gi];
          }
        }
        const M a = static_cast<M>(sum_g / count), bproj = static_cast<M>(sum_gxhat / count);
        const M m = static_cast<M>(mean[gi]), k = static_cast<M>(rstd[gi]);
        for (int64_t cc = 0; cc < Cg; ++cc) {
          const M wc = static_cast<M>(w.empty() ? 1.0 : w[static_cast<size_t>((ng % G) * Cg + cc)]);
          for (int64_t s = 0; s < S; ++s) {
            const int64_t i = off + cc * S + s;
            const M xhat = (static_cast<M>(px[i]) - m) * k;
            pgx[i] = static_cast<T>(k * (static_cast<M>(pg[i]) * wc - a - xhat * bproj));
          }
        }
      }
    });
    if (!grad_weight.defined() && !grad_bias.defined()) return;
    std::vector<double> gw(static_cast<size_t>(C)), gb(static_cast<size_t>(C));
    parallel_range(0, C, grain_for(N * S), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const size_t ci = static_cast<size_t>(c);
        for (int64_t n = 0; n < N; ++n) {
          const size_t gi = static_cast<size_t>(n * G + c / Cg);
          const int64_t off = (n * C + c) * S;
          for (int64_t s = 0; s < S; ++s) {
            const double g = static_cast<double>(static_cast<M>(pg[off + s]));
            gb[ci] += g;
            gw[ci] += g * (static_cast<double>(static_cast<M>(px[off + s])) - mean[gi]) * rstd[gi];
          }
        }
      }
    });
    store_param(grad_weight, gw);
    store_param(grad_bias, gb);
  });
}

}  // namespace

void register_norm_kernels(KernelTable& t) {
  t.batch_norm = batch_norm_kernel;
  t.batch_norm_backward = batch_norm_backward_kernel;
  t.layer_norm = layer_norm_kernel;
  t.layer_norm_backward = layer_norm_backward_kernel;
  t.group_norm = group_norm_kernel;
  t.group_norm_backward = group_norm_backward_kernel;
}

}  // namespace ember::cpu
