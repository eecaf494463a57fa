// CPU kernels of the value reductions: sum, mean, prod, amax, amin, var, std,
// logsumexp and norm over any set of dims (the meta function has already
// chosen the output dtype: sum/prod see int64 for integer inputs).
//
// Accumulation: double for every floating dtype (float16/bfloat16/float32 are
// widened on load), int64 with wrap-around for integers. var/std use Welford
// updates merged with Chan's formula; logsumexp keeps a running (max, sum of
// exp(x - max)) pair, so neither needs a second pass over the data.
//
// float32 sum, mean and amax over the last dims, or all elements, of a
// contiguous tensor take the per-ISA fast path (reduce_kernel.hpp, through
// vec_reduce_rows below): accumulated in double, rows cut into fixed
// chunks of kRowChunk so the result depends on the shape only.
//
// Ceilings: one read of x (n x itemsize bytes) and one write of the output;
// about 1 FLOP per element for sum/mean/prod/amax/amin/norm(1, 2, inf),
// ~5 for var/std (a division per element), and one exp (or pow) per element
// for logsumexp and the general p-norm. sum/amax are bandwidth-bound on large
// rows; the others are bound by the division / libm call. The reference sum
// reaches about half the copy bandwidth, the fast path ~90%
// (benchmarks/RESULTS.md, "CPU memory-bound kernels").
#include <ember/kernels/cpu/reduce_loop.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>

namespace ember::cpu {

namespace {

// ---- reducers (see kernels/cpu/reduce_loop.hpp) ----------------------------------------

template <class T>
struct SumR {
  static constexpr bool kPlainSum = true;  // bfloat16 runs take the vector path in accumulate()
  using Acc = SumAcc<T>;
  Acc init() const { return 0; }
  void update(Acc& a, OpMath<T> v) const { add_to(a, v); }
  void combine(Acc& a, const Acc& b) const { add_to(a, b); }
  T finish(const Acc& a, int64_t) const { return store<T>(a); }
};

template <class T>
struct MeanR {
  using Acc = double;
  Acc init() const { return 0.0; }
  void update(Acc& a, OpMath<T> v) const { a += static_cast<double>(v); }
  void combine(Acc& a, const Acc& b) const { a += b; }
  T finish(const Acc& a, int64_t n) const { return store<T>(a / static_cast<double>(n)); }
};

template <class T>
struct ProdR {
  using Acc = SumAcc<T>;
  Acc init() const { return 1; }
  void update(Acc& a, OpMath<T> v) const {
    if constexpr (std::is_integral_v<Acc>) a = static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(v));
    else a *= static_cast<Acc>(v);
  }
  void combine(Acc& a, const Acc& b) const {
    if constexpr (std::is_integral_v<Acc>) a = static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    else a *= b;
  }
  T finish(const Acc& a, int64_t) const { return store<T>(a); }
};

// max (Max = true) or min; a NaN anywhere wins.
template <class T, bool Max>
struct ExtremumR {
  using Acc = OpMath<T>;
  Acc init() const {
    if constexpr (std::is_floating_point_v<Acc>) return Max ? -std::numeric_limits<Acc>::infinity()
                                                            : std::numeric_limits<Acc>::infinity();
    else return Max ? std::numeric_limits<Acc>::lowest() : std::numeric_limits<Acc>::max();
  }
  void update(Acc& a, Acc v) const { a = (Max ? v > a : v < a) || is_nan(v) ? v : a; }
  void combine(Acc& a, const Acc& b) const { update(a, b); }
  T finish(const Acc& a, int64_t) const { return store<T>(a); }
};

// Welford's running (count, mean, M2); finish gives var (Std = false) or std.
struct Welford {
  double n = 0.0, mean = 0.0, m2 = 0.0;
};
template <class T, bool Std>
struct VarR {
  using Acc = Welford;
  double correction;
  Acc init() const { return {}; }
  void update(Acc& a, OpMath<T> x) const {
    double v = static_cast<double>(x);
    a.n += 1.0;
    double d = v - a.mean;
    a.mean += d / a.n;
    a.m2 += d * (v - a.mean);
  }
  void combine(Acc& a, const Acc& b) const {
    if (b.n == 0.0) return;
    if (a.n == 0.0) {
      a = b;
      return;
    }
    double n = a.n + b.n, d = b.mean - a.mean;
    a.mean += d * (b.n / n);
    a.m2 += b.m2 + d * d * (a.n * b.n / n);
    a.n = n;
  }
  T finish(const Acc& a, int64_t) const {
    double divisor = std::max(0.0, a.n - correction);
    double var = a.n == 0.0 ? std::numeric_limits<double>::quiet_NaN() : a.m2 / divisor;
    return store<T>(Std ? std::sqrt(var) : var);
  }
};

// Running (max, sum of exp(x - max)); s == 0 means no finite-weight term yet.
struct Lse {
  double m = -std::numeric_limits<double>::infinity();
  double s = 0.0;
};
template <class T>
struct LogSumExpR {
  using Acc = Lse;
  Acc init() const { return {}; }
  void update(Acc& a, OpMath<T> x) const {
    const double v = static_cast<double>(x);
    if (std::isfinite(v) && std::isfinite(a.m)) {  // the common case; exp in OpMath<T>
      if (v <= a.m) {
        a.s += static_cast<double>(std::exp(static_cast<OpMath<T>>(v - a.m)));
      } else {
        a.s = a.s * static_cast<double>(std::exp(static_cast<OpMath<T>>(a.m - v))) + 1.0;
        a.m = v;
      }
      return;
    }
    combine(a, Lse{v, 1.0});
  }
  void combine(Acc& a, const Acc& b) const {
    if (std::isnan(a.m) || b.s == 0.0) return;  // NaN sticks; b adds nothing
    if (std::isnan(b.m) || a.s == 0.0) {
      a = b;
      return;
    }
    if (b.m == -std::numeric_limits<double>::infinity()) return;  // exp(-inf) = 0
    if (a.m == std::numeric_limits<double>::infinity()) return;
    if (b.m == std::numeric_limits<double>::infinity()) {
      a = {b.m, 1.0};
      return;
    }
    if (b.m > a.m) {
      a.s = a.s * std::exp(a.m - b.m) + b.s;
      a.m = b.m;
    } else {
      a.s += b.s * std::exp(b.m - a.m);
    }
  }
  T finish(const Acc& a, int64_t) const {
    if (std::isnan(a.m)) return store<T>(a.m);
    if (a.s == 0.0) return store<T>(-std::numeric_limits<double>::infinity());
    return store<T>(a.m + std::log(a.s));
  }
};

// Vector norms. Mode: 1, 2, inf (max |x|), -inf (min |x|), 0 (count of non-zeros), p (general).
enum class NormMode { One, Two, Inf, NegInf, Zero, P };
template <class T, NormMode Mode>
struct NormR {
  using Acc = double;
  double p;
  Acc init() const {
    if constexpr (Mode == NormMode::NegInf) return std::numeric_limits<double>::infinity();
    else return 0.0;
  }
  void update(Acc& a, OpMath<T> x) const {
    double v = std::fabs(static_cast<double>(x));
    if constexpr (Mode == NormMode::One) a += v;
    else if constexpr (Mode == NormMode::Two) a += v * v;
    else if constexpr (Mode == NormMode::Zero) a += v != 0.0 ? 1.0 : 0.0;  // NaN counts as non-zero
    else if constexpr (Mode == NormMode::P) a += std::pow(v, p);
    else if constexpr (Mode == NormMode::Inf) a = (v > a || std::isnan(v)) ? v : a;
    else a = (v < a || std::isnan(v)) ? v : a;
  }
  void combine(Acc& a, const Acc& b) const {
    if constexpr (Mode == NormMode::Inf) a = (b > a || std::isnan(b)) ? b : a;
    else if constexpr (Mode == NormMode::NegInf) a = (b < a || std::isnan(b)) ? b : a;
    else a += b;
  }
  T finish(const Acc& a, int64_t) const {
    if constexpr (Mode == NormMode::Two) return store<T>(std::sqrt(a));
    else if constexpr (Mode == NormMode::P) return store<T>(std::pow(a, 1.0 / p));
    else return store<T>(a);
  }
};

// ---- float32 fast path -------------------------------------------------------------------

enum class RowReduce { Sum, Mean, Max };

// Elements per chunk of a long row: rows longer than this are cut into fixed
// chunks reduced in parallel and combined in order.
constexpr int64_t kRowChunk = 4 * kGrain;

// float32 sum/mean/amax of x over `dims` when they are x's last dims (or all)
// and x is contiguous; false (run the reference) otherwise.
bool vec_reduce_rows(const Tensor& out, const Tensor& x, IntList dims, RowReduce kind) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr || x.dtype() != kFloat32 || out.dtype() != kFloat32 || !x.is_contiguous() || x.numel() == 0)
    return false;
  const ReduceLayout L = reduce_layout(x, dims);
  if (L.inner != 1 || !L.src.is_same(x)) return false;
  const int64_t rows = L.outer, n = L.n, pieces = (n + kRowChunk - 1) / kRowChunk;
  const float* px = x.data_ptr<float>();
  Tensor dst = contiguous_output(out);
  float* po = dst.data_ptr<float>();
  // One piece of a row: its sum, or its max (as a double).
  auto piece = [&](int64_t r, int64_t p) {
    const float* xs = px + r * n + p * kRowChunk;
    const int64_t len = std::min(kRowChunk, n - p * kRowChunk);
    return kind == RowReduce::Max ? static_cast<double>(vk->max_f32(xs, len)) : vk->sum_f32(xs, len);
  };
  auto finish = [&](double v) {
    return static_cast<float>(kind == RowReduce::Mean ? v / static_cast<double>(n) : v);
  };
  if (pieces == 1) {
    parallel_range(0, rows, std::max<int64_t>(1, kGrain / n), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) po[r] = finish(piece(r, 0));
    });
  } else {
    std::vector<double> partial(static_cast<size_t>(rows * pieces));
    parallel_range(0, rows * pieces, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) partial[static_cast<size_t>(t)] = piece(t / pieces, t % pieces);
    });
    for (int64_t r = 0; r < rows; ++r) {
      double acc = partial[static_cast<size_t>(r * pieces)];
      for (int64_t p = 1; p < pieces; ++p) {
        const double v = partial[static_cast<size_t>(r * pieces + p)];
        if (kind != RowReduce::Max) acc += v;
        else if (std::isnan(v) || v > acc) acc = std::isnan(acc) ? acc : v;
      }
      po[r] = finish(acc);
    }
  }
  finish_output(out, dst);
  return true;
}

// ---- kernels -----------------------------------------------------------------------------

void sum_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  if (vec_reduce_rows(out, x, args.dims, RowReduce::Sum)) return;
  visit_dtype(x.dtype(), [&]<class T>() { run_reduce<T, T>(out, x, args.dims, SumR<T>{}); });
}

void mean_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  if (vec_reduce_rows(out, x, args.dims, RowReduce::Mean)) return;
  visit_floating(x.dtype(), "mean", [&]<class T>() { run_reduce<T, T>(out, x, args.dims, MeanR<T>{}); });
}

void prod_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  visit_dtype(x.dtype(), [&]<class T>() { run_reduce<T, T>(out, x, args.dims, ProdR<T>{}); });
}

void amax_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  if (vec_reduce_rows(out, x, args.dims, RowReduce::Max)) return;
  visit_dtype(x.dtype(), [&]<class T>() { run_reduce<T, T>(out, x, args.dims, ExtremumR<T, true>{}); });
}

void amin_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  visit_dtype(x.dtype(), [&]<class T>() { run_reduce<T, T>(out, x, args.dims, ExtremumR<T, false>{}); });
}

void var_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  visit_floating(x.dtype(), "var", [&]<class T>() {
    run_reduce<T, T>(out, x, args.dims, VarR<T, false>{args.correction});
  });
}

void std_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  visit_floating(x.dtype(), "std", [&]<class T>() {
    run_reduce<T, T>(out, x, args.dims, VarR<T, true>{args.correction});
  });
}

void logsumexp_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  visit_floating(x.dtype(), "logsumexp", [&]<class T>() { run_reduce<T, T>(out, x, args.dims, LogSumExpR<T>{}); });
}

void norm_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  const double p = args.p;
  visit_floating(x.dtype(), "norm", [&]<class T>() {
    if (p == 1.0) run_reduce<T, T>(out, x, args.dims, NormR<T, NormMode::One>{p});
    else if (p == 2.0) run_reduce<T, T>(out, x, args.dims, NormR<T, NormMode::Two>{p});
    else if (p == 0.0) run_reduce<T, T>(out, x, args.dims, NormR<T, NormMode::Zero>{p});
    else if (std::isinf(p) && p > 0) run_reduce<T, T>(out, x, args.dims, NormR<T, NormMode::Inf>{p});
    else if (std::isinf(p)) run_reduce<T, T>(out, x, args.dims, NormR<T, NormMode::NegInf>{p});
    else run_reduce<T, T>(out, x, args.dims, NormR<T, NormMode::P>{p});
  });
}

}  // namespace

void register_reduce_kernels(KernelTable& t) {
  t.sum = sum_kernel;
  t.mean = mean_kernel;
  t.prod = prod_kernel;
  t.amax = amax_kernel;
  t.amin = amin_kernel;
  t.var = var_kernel;
  t.std = std_kernel;
  t.logsumexp = logsumexp_kernel;
  t.norm = norm_kernel;
  register_arg_reduce_kernels(t);
}

}  // namespace ember::cpu
