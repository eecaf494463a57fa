// The float32 fast paths of layer and batch norm (see norm_vec.hpp): how the
// work is cut and spread over the pool; the per-ISA kernels do the math.
//
// Layer norm: blocks of rows per task. Its backward also accumulates the
// weight/bias gradients: each fixed chunk of rows (at most kMaxRowChunks)
// adds into its own double column buffers while it writes dx, and the chunks
// are summed in order, so one pass over x and grad_out serves both.
// Batch norm: a channel is cut into pieces of whole (n, c) strips, at most
// kPiece elements each. When every channel is one piece (the common case),
// one task computes a channel's statistics and then normalises it while it is
// still in L2; otherwise the pieces' statistics are computed in parallel,
// merged in order (Chan's formula), and the pieces normalised in parallel.
#include <ember/kernels/cpu/norm_vec.hpp>

#include <algorithm>
#include <cmath>

#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>

namespace ember::cpu {
namespace {

constexpr int64_t kPiece = 4 * kGrain;      // batch norm: elements per piece of a channel
constexpr int64_t kMaxRowChunks = 64;      // layer norm backward: column-sum buffers (doubles)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t rows_grain(int64_t per_row) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, per_row)); }

// Runs fn(c, n0, n1) over the pieces of every channel: strips [n0, n1) of channel c.
struct Pieces {
  int64_t N, C, S, per, count;  // per: strips per piece; count: pieces per channel
  Pieces(int64_t n, int64_t c, int64_t s) : N(n), C(c), S(s), per(std::max<int64_t>(1, kPiece / s)), count(ceil_div(n, per)) {}
  int64_t n0(int64_t p) const { return p * per; }
  int64_t n1(int64_t p) const { return std::min(N, (p + 1) * per); }
  int64_t offset(int64_t n, int64_t c) const { return (n * C + c) * S; }
};

}  // namespace

bool vec_layer_norm_f32(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        int64_t R, int64_t D, double eps) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr) return false;
  const bool stream = use_streaming_stores(R * D * 4);
  parallel_range(0, R, rows_grain(D), [&](int64_t lo, int64_t hi) {
    vk->layer_norm_rows_f32(y + lo * D, mean + lo, rstd + lo, x + lo * D, w, b, hi - lo, D, eps, stream);
  });
  return true;
}

bool vec_layer_norm_backward_f32(float* dx, std::vector<double>& gw, std::vector<double>& gb, const float* g,
                                 const float* x, const float* w, const float* mean, const float* rstd, int64_t R,
                                 int64_t D) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr) return false;
  const bool stream = use_streaming_stores(R * D * 4);
  const int64_t per = std::max(ceil_div(kGrain, D), ceil_div(R, kMaxRowChunks)), chunks = ceil_div(R, per);
  std::vector<double> acc(static_cast<size_t>(chunks * 2 * D), 0.0);  // per chunk: g xhat, then g
  parallel_range(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const int64_t r0 = c * per, r1 = std::min(R, r0 + per);
      double* a = acc.data() + c * 2 * D;
      vk->layer_norm_backward_rows_f32(dx + r0 * D, a, a + D, g + r0 * D, x + r0 * D, w, mean + r0, rstd + r0,
                                       r1 - r0, D, stream);
    }
  });
  gw.assign(static_cast<size_t>(D), 0.0);
  gb.assign(static_cast<size_t>(D), 0.0);
  for (int64_t c = 0; c < chunks; ++c) {
    const double* a = acc.data() + c * 2 * D;
    for (int64_t j = 0; j < D; ++j) {
      gw[static_cast<size_t>(j)] += a[j];
      gb[static_cast<size_t>(j)] += a[D + j];
    }
  }
  return true;
}

bool vec_batch_norm_f32(const BatchNormF32& bn, const NormArgs& args) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr) return false;
  const Pieces P(bn.N, bn.C, bn.S);
  const double count = static_cast<double>(bn.N * bn.S);
  const bool stream = use_streaming_stores(bn.N * bn.C * bn.S * 4);
  auto stats = [&](int64_t c, int64_t p) {
    Moments mo{0.0, 0.0, 0.0};
    for (int64_t n = P.n0(p); n < P.n1(p); ++n) vk->moments_f32(bn.x + P.offset(n, c), bn.S, &mo);
    return mo;
  };
  // Per channel: statistics -> (mean, scale, shift); saves mean/invstd and the batch statistics.
  std::vector<float> m(static_cast<size_t>(bn.C)), scale(m.size()), shift(m.size());
  auto finish_channel = [&](int64_t c, const Moments& mo) {
    const size_t ci = static_cast<size_t>(c);
    double mean = bn.running_mean.empty() ? 0.0 : bn.running_mean[ci];
    double var = bn.running_var.empty() ? 0.0 : bn.running_var[ci];
    if (args.training) {
      mean = mo.mean;
      var = mo.m2 / count;
      bn.batch_mean[ci] = mean;
      bn.unbiased_var[ci] = count > 1.0 ? mo.m2 / (count - 1.0) : var;
    }
    const double invstd = 1.0 / std::sqrt(var + args.eps);
    bn.save_mean[c] = static_cast<float>(mean);
    bn.save_invstd[c] = static_cast<float>(invstd);
    m[ci] = static_cast<float>(mean);
    scale[ci] = static_cast<float>(invstd * (bn.weight.empty() ? 1.0 : bn.weight[ci]));
    shift[ci] = static_cast<float>(bn.bias.empty() ? 0.0 : bn.bias[ci]);
  };
  auto apply = [&](int64_t c, int64_t p) {
    const size_t ci = static_cast<size_t>(c);
    for (int64_t n = P.n0(p); n < P.n1(p); ++n) {
      const int64_t off = P.offset(n, c);
      vk->affine_f32(bn.y + off, bn.x + off, bn.S, m[ci], scale[ci], shift[ci], stream);
    }
  };
  const Moments none{0.0, 0.0, 0.0};
  if (P.count == 1) {
    parallel_range(0, bn.C, rows_grain(bn.N * bn.S), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        finish_channel(c, args.training ? stats(c, 0) : none);
        apply(c, 0);
      }
    });
    return true;
  }
  std::vector<Moments> part(static_cast<size_t>(bn.C * P.count), none);
  if (args.training) {
    parallel_range(0, bn.C * P.count, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) part[static_cast<size_t>(t)] = stats(t / P.count, t % P.count);
    });
  }
  for (int64_t c = 0; c < bn.C; ++c) {
    Moments mo = part[static_cast<size_t>(c * P.count)];
    for (int64_t p = 1; p < P.count; ++p) merge_moments(&mo, part[static_cast<size_t>(c * P.count + p)]);
    finish_channel(c, mo);
  }
  parallel_range(0, bn.C * P.count, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) apply(t / P.count, t % P.count);
  });
  return true;
}

bool vec_batch_norm_backward_f32(float* dx, std::vector<double>& gw, std::vector<double>& gb, const float* g,
                                 const float* x, int64_t N, int64_t C, int64_t S, const std::vector<double>& weight,
                                 const std::vector<double>& mean, const std::vector<double>& invstd,
                                 const NormArgs& args) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr) return false;
  const Pieces P(N, C, S);
  const double count = static_cast<double>(N * S);
  const bool stream = use_streaming_stores(N * C * S * 4);
  struct Sums {
    double g, gx;
  };
  auto sums = [&](int64_t c, int64_t p) {
    Sums s{0.0, 0.0};
    for (int64_t n = P.n0(p); n < P.n1(p); ++n) {
      const int64_t off = P.offset(n, c);
      vk->norm_backward_sums_f32(g + off, x + off, S, static_cast<float>(mean[static_cast<size_t>(c)]), &s.g, &s.gx);
    }
    return s;
  };
  // dx = k (g - mean_g - (x - mean) proj), k = w invstd (training; eval: mean_g = proj = 0).
  std::vector<float> k(static_cast<size_t>(C)), mean_g(k.size()), proj(k.size());
  auto finish_channel = [&](int64_t c, const Sums& s) {
    const size_t ci = static_cast<size_t>(c);
    gb[ci] = s.g;
    gw[ci] = s.gx * invstd[ci];
    k[ci] = static_cast<float>((weight.empty() ? 1.0 : weight[ci]) * invstd[ci]);
    mean_g[ci] = args.training ? static_cast<float>(s.g / count) : 0.0f;
    proj[ci] = args.training ? static_cast<float>(s.gx * invstd[ci] * invstd[ci] / count) : 0.0f;
  };
  auto apply = [&](int64_t c, int64_t p) {
    const size_t ci = static_cast<size_t>(c);
    for (int64_t n = P.n0(p); n < P.n1(p); ++n) {
      const int64_t off = P.offset(n, c);
      vk->norm_backward_apply_f32(dx + off, g + off, x + off, S, k[ci], mean_g[ci], static_cast<float>(mean[ci]),
                                  proj[ci], stream);
    }
  };
  gw.assign(static_cast<size_t>(C), 0.0);
  gb.assign(static_cast<size_t>(C), 0.0);
  if (P.count == 1) {
    parallel_range(0, C, rows_grain(2 * N * S), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        finish_channel(c, sums(c, 0));
        apply(c, 0);
      }
    });
    return true;
  }
  std::vector<Sums> part(static_cast<size_t>(C * P.count));
  parallel_range(0, C * P.count, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) part[static_cast<size_t>(t)] = sums(t / P.count, t % P.count);
  });
  for (int64_t c = 0; c < C; ++c) {
    Sums s{0.0, 0.0};
    for (int64_t p = 0; p < P.count; ++p) {
      s.g += part[static_cast<size_t>(c * P.count + p)].g;
      s.gx += part[static_cast<size_t>(c * P.count + p)].gx;
    }
    finish_channel(c, s);
  }
  parallel_range(0, C * P.count, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) apply(t / P.count, t % P.count);
  });
  return true;
}

}  // namespace ember::cpu
