// CUDA kernels of the value reductions sum, mean, prod, amax, amin, var, std,
// logsumexp and norm over any set of dims, on the row engine of reduce.cuh
// (rows of kept elements, deterministic two-pass chunking, no atomics).
//
// Accumulation as the CPU (kernels/cpu/reduce.cpp): double for every floating
// dtype, int64 (wrapping) for integers; amax/amin in the compute type, a NaN
// anywhere wins. var/std merge per-thread Welford triples with Chan's
// formula; logsumexp merges (max, sum of exp(x - max)) pairs in double; norm
// sums |x|, x^2 or |x|^p (or takes max/min |x|, or counts non-zeros).
// Ceilings: one read of x (plus the permuting copy for a non-trailing
// reduction); ~1 FLOP per element for sum/mean/prod/amax/amin/norm(1, 2, inf),
// ~6 for var/std (a division), one exp or pow for logsumexp and the p-norm:
// bandwidth-bound, except the libm-bound p-norm and logsumexp.
#include <cmath>
#include <limits>

#include <math_constants.h>

#include <ember/kernels/cuda/math.cuh>
#include <ember/kernels/cuda/reduce.cuh>
#include <ember/kernels/cuda/register.hpp>

namespace ember::cuda {
namespace {

template <class T>
struct SumR {
  using A = SumAcc<T>;
  __device__ __forceinline__ A init() const { return A(0); }
  __device__ __forceinline__ A load(T v) const { return static_cast<A>(to_acc(v)); }
  __device__ __forceinline__ A combine(A a, A b) const {
    if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    else return a + b;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const { return from_acc<T>(a); }
};
template <class T>
struct MeanR : SumR<T> {
  using A = SumAcc<T>;
  __device__ __forceinline__ T finish(A a, int64_t n) const {
    return from_acc<T>(static_cast<double>(a) / static_cast<double>(n));
  }
};
template <class T>
struct ProdR {
  using A = SumAcc<T>;
  __device__ __forceinline__ A init() const { return A(1); }
  __device__ __forceinline__ A load(T v) const { return static_cast<A>(to_acc(v)); }
  __device__ __forceinline__ A combine(A a, A b) const {
    if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    else return a * b;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const { return from_acc<T>(a); }
};
template <class T, bool Max>
struct ExtremumR {
  using A = Acc<T>;
  A identity;  // -inf/+inf or the integer limits, set on the host
  __device__ __forceinline__ A init() const { return identity; }
  __device__ __forceinline__ A load(T v) const { return to_acc(v); }
  __device__ __forceinline__ A combine(A a, A b) const {
    if (a != a) return a;  // NaN wins
    if (b != b) return b;
    if constexpr (Max) return b > a ? b : a;
    else return b < a ? b : a;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const { return from_acc<T>(a); }
};

// Welford's (count, mean, M2); finish gives var (Std = false) or std.
struct WelfordAcc {
  double n, mean, m2;
};
template <class T, bool Std>
struct VarR {
  using A = WelfordAcc;
  double correction;
  __device__ __forceinline__ A init() const { return {0.0, 0.0, 0.0}; }
  // An inf or NaN element makes M2 NaN, as the CPU's sequential update does (inf * (inf - inf)); merging
  // summaries alone would give inf (or 0 for a single element).
  __device__ __forceinline__ A load(T v) const {
    const double x = static_cast<double>(to_acc(v));
    return {1.0, x, isfinite(x) ? 0.0 : CUDART_NAN};
  }
  __device__ __forceinline__ A combine(A a, A b) const {
    if (b.n == 0.0) return a;
    if (a.n == 0.0) return b;
    const double n = a.n + b.n, d = b.mean - a.mean;
    return {n, a.mean + d * (b.n / n), a.m2 + b.m2 + d * d * (a.n * b.n / n)};
  }
  __device__ __forceinline__ T finish(A a, int64_t) const {
    const double divisor = fmax(0.0, a.n - correction);
    const double var = a.n == 0.0 ? CUDART_NAN : a.m2 / divisor;
    return from_acc<T>(Std ? sqrt(var) : var);
  }
};

// Running (max, sum of exp(x - max)); s == 0 means no term yet. Same cases as the CPU's LogSumExpR::combine.
struct LseAcc {
  double m, s;
};
template <class T>
struct LogSumExpR {
  using A = LseAcc;
  __device__ __forceinline__ A init() const { return {-CUDART_INF, 0.0}; }
  __device__ __forceinline__ A load(T v) const { return {static_cast<double>(to_acc(v)), 1.0}; }
  __device__ __forceinline__ A combine(A a, A b) const {
    if (isnan(a.m) || b.s == 0.0) return a;  // NaN sticks; b adds nothing
    if (isnan(b.m) || a.s == 0.0) return b;
    if (b.m == -CUDART_INF) return a;  // exp(-inf) = 0
    if (a.m == CUDART_INF) return a;
    if (b.m == CUDART_INF) return {b.m, 1.0};
    if (a.m == -CUDART_INF) return b;
    if (b.m > a.m) return {b.m, a.s * exp(a.m - b.m) + b.s};
    return {a.m, a.s + b.s * exp(b.m - a.m)};
  }
  __device__ __forceinline__ T finish(A a, int64_t) const {
    if (isnan(a.m)) return from_acc<T>(a.m);
    if (a.s == 0.0) return from_acc<T>(-CUDART_INF);
    return from_acc<T>(a.m + log(a.s));
  }
};

// Vector norms: 1, 2, inf (max |x|), -inf (min |x|), 0 (count of non-zeros), p (general).
enum class NormMode { One, Two, Inf, NegInf, Zero, P };
template <class T, NormMode Mode>
struct NormR {
  using A = double;
  double p;
  __device__ __forceinline__ A init() const { return Mode == NormMode::NegInf ? CUDART_INF : 0.0; }
  __device__ __forceinline__ A load(T x) const {
    const double v = fabs(static_cast<double>(to_acc(x)));
    if constexpr (Mode == NormMode::Two) return v * v;
    else if constexpr (Mode == NormMode::Zero) return v != 0.0 ? 1.0 : 0.0;  // NaN counts as non-zero
    else if constexpr (Mode == NormMode::P) return pow(v, p);
    else return v;
  }
  __device__ __forceinline__ A combine(A a, A b) const {
    if constexpr (Mode == NormMode::Inf) return (b > a || isnan(b)) && !isnan(a) ? b : a;
    else if constexpr (Mode == NormMode::NegInf) return (b < a || isnan(b)) && !isnan(a) ? b : a;
    else return a + b;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const {
    if constexpr (Mode == NormMode::Two) return from_acc<T>(sqrt(a));
    else if constexpr (Mode == NormMode::P) return from_acc<T>(pow(a, 1.0 / p));
    else return from_acc<T>(a);
  }
};

void check_output(const char* op, const Tensor& out, const Tensor& x) {
  EMBER_CHECK(out.is_contiguous() && out.dtype() == x.dtype() && out.device() == x.device(), op,
              ": CUDA kernel expects a contiguous output of the input's dtype and device, got out ", out.describe(),
              ", x ", x.describe());
}

// Reduces x over args.dims into out with the reducer make_reducer.template operator()<C>() gives.
template <class MakeReducer>
void run_reduce(const char* op, const Tensor& out, const Tensor& x, const ReduceArgs& args, bool floating_only,
                MakeReducer make_reducer) {
  check_output(op, out, x);
  auto run = [&]<class T>() {
    using C = CudaType<T>;
    int64_t rows = 0, len = 0;
    Tensor xc = as_rows(x, args.dims, rows, len);
    DeviceGuard guard(x.device().index);
    reduce_rows(op, device_ptr<const C>(xc), rows, len, device_ptr<C>(out), make_reducer.template operator()<C>(), x);
  };
  if (floating_only) visit_floating(x.dtype(), op, run);
  else visit_dtype(x.dtype(), run);
}

template <template <class> class R>
struct Plain {
  template <class C> R<C> operator()() const { return R<C>{}; }
};

void sum_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) { run_reduce("sum", out, x, a, false, Plain<SumR>{}); }
void mean_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) { run_reduce("mean", out, x, a, true, Plain<MeanR>{}); }
void prod_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) { run_reduce("prod", out, x, a, false, Plain<ProdR>{}); }

template <bool Max>
void extremum(const char* op, const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  run_reduce(op, out, x, args, false, [&]<class C>() {  // a capture: no function-pointer conversion to instantiate
    using A = Acc<C>;
    A identity;
    if constexpr (std::is_floating_point_v<A>) identity = Max ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
    else identity = Max ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
    return ExtremumR<C, Max>{identity};
  });
}
void amax_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) { extremum<true>("amax", out, x, a); }
void amin_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) { extremum<false>("amin", out, x, a); }

void var_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) {
  run_reduce("var", out, x, a, true, [&]<class C>() { return VarR<C, false>{a.correction}; });
}
void std_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) {
  run_reduce("std", out, x, a, true, [&]<class C>() { return VarR<C, true>{a.correction}; });
}
void logsumexp_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) {
  run_reduce("logsumexp", out, x, a, true, Plain<LogSumExpR>{});
}

template <NormMode Mode>
void norm_with(const Tensor& out, const Tensor& x, const ReduceArgs& a) {
  run_reduce("norm", out, x, a, true, [&]<class C>() { return NormR<C, Mode>{a.p}; });
}
void norm_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& a) {
  const double p = a.p;
  if (p == 1.0) norm_with<NormMode::One>(out, x, a);
  else if (p == 2.0) norm_with<NormMode::Two>(out, x, a);
  else if (p == 0.0) norm_with<NormMode::Zero>(out, x, a);
  else if (std::isinf(p) && p > 0) norm_with<NormMode::Inf>(out, x, a);
  else if (std::isinf(p)) norm_with<NormMode::NegInf>(out, x, a);
  else norm_with<NormMode::P>(out, x, a);
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
}

}  // namespace ember::cuda
