// CPU reference kernels for the unary element-wise ops (any strides, all float dtypes,
// and the integer dtypes where PyTorch's CPU has them).
//
// float32 relu, neg, abs, exp, log, sigmoid, tanh, silu and gelu first try the
// per-ISA fast path (vec_dispatch.hpp, elementwise_kernel.hpp); the code here
// is the scalar path and the reference the tests compare against.
//
// Ceilings: each element is read once and written once (2 x itemsize bytes).
// The reference reaches about 1/3 (relu) of the copy bandwidth; the fast path
// 75-95% for relu/neg/abs (benchmarks/RESULTS.md, "CPU memory-bound kernels").
// The transcendental ops are compute-bound here on libm calls; vectorised
// (vec_math.hpp) exp/sigmoid/tanh/silu are near bandwidth, gelu(erf) about half.
#include <cmath>
#include <optional>

#include <ember/kernels/cpu/elementwise.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_dispatch.hpp>

namespace ember::cpu {
namespace {

// Applies f (on OpMath<T>) to every element, for T in the dtypes `visit` accepts.
template <class F>
void unary_float(const Tensor& out, const Tensor& x, const char* op, F f) {
  visit_floating(x.dtype(), op, [&]<class T>() {
    elementwise<T, T>(out, [&](T v) { return static_cast<T>(f(static_cast<OpMath<T>>(v))); }, x);
  });
}
template <class F>
void unary_numeric(const Tensor& out, const Tensor& x, const char* op, F f) {
  visit_numeric(x.dtype(), op, [&]<class T>() {
    elementwise<T, T>(out, [&](T v) { return static_cast<T>(f(static_cast<OpMath<T>>(v))); }, x);
  });
}

// fast: the VecUnary of the float32 fast path, or kNoVec.
#define EMBER_UNARY_FLOAT(name, fast, expr)                            \
  void name##_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) { \
    if (vec_unary(out, x, fast)) return;                               \
    unary_float(out, x, #name, [&](auto v) {                           \
      using M = decltype(v);                                           \
      (void)args;                                                      \
      return static_cast<M>(expr);                                     \
    });                                                                \
  }

const std::optional<VecUnary> kNoVec;
EMBER_UNARY_FLOAT(exp, VecUnary::exp, std::exp(v))
EMBER_UNARY_FLOAT(log, VecUnary::log, std::log(v))
EMBER_UNARY_FLOAT(log1p, kNoVec, std::log1p(v))
EMBER_UNARY_FLOAT(sqrt, kNoVec, std::sqrt(v))
EMBER_UNARY_FLOAT(rsqrt, kNoVec, M(1) / std::sqrt(v))
EMBER_UNARY_FLOAT(sin, kNoVec, std::sin(v))
EMBER_UNARY_FLOAT(cos, kNoVec, std::cos(v))
EMBER_UNARY_FLOAT(tanh, VecUnary::tanh, std::tanh(v))
EMBER_UNARY_FLOAT(sigmoid, VecUnary::sigmoid, sigmoid(v))
EMBER_UNARY_FLOAT(silu, VecUnary::silu, v * sigmoid(v))
EMBER_UNARY_FLOAT(reciprocal, kNoVec, M(1) / v)
EMBER_UNARY_FLOAT(leaky_relu, kNoVec, v > M(0) ? v : v * M(args.a))
EMBER_UNARY_FLOAT(gelu, args.mode == 1 ? VecUnary::gelu_tanh : VecUnary::gelu_erf,
                  args.mode == 1 ? gelu_tanh(v) : gelu_erf(v))
// softplus: log(1 + exp(beta x)) / beta, linear above threshold (as PyTorch).
EMBER_UNARY_FLOAT(softplus, kNoVec, v * M(args.a) > M(args.b) ? v : std::log1p(std::exp(v * M(args.a))) / M(args.a))
#undef EMBER_UNARY_FLOAT

void neg_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) {
  if (vec_unary(out, x, VecUnary::neg)) return;
  unary_numeric(out, x, "neg", [](auto v) { return -v; });
}
void abs_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) {
  if (vec_unary(out, x, VecUnary::abs)) return;
  unary_numeric(out, x, "abs", [](auto v) {
    using M = decltype(v);
    if constexpr (std::is_unsigned_v<M>) return v;
    else return v < M(0) ? M(-v) : v;
  });
}
void sign_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) {
  unary_numeric(out, x, "sign", [](auto v) {
    using M = decltype(v);
    return static_cast<M>((M(0) < v) - (v < M(0)));
  });
}
void relu_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) {
  if (vec_unary(out, x, VecUnary::relu)) return;
  unary_numeric(out, x, "relu", [](auto v) {
    using M = decltype(v);
    return v < M(0) ? M(0) : v;  // NaN passes through, as in PyTorch
  });
}
void pow_scalar_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {
  unary_numeric(out, x, "pow", [&](auto v) {
    using M = decltype(v);
    if constexpr (std::is_same_v<M, bool>) {
      return v;  // never runs (visit_numeric rejects bool); keeps bool out of the loop below
    } else if constexpr (std::is_integral_v<M>) {
      M r = 1, b = v;
      for (int64_t e = static_cast<int64_t>(args.a); e > 0; e >>= 1, b *= b)
        if (e & 1) r *= b;
      return r;
    } else {
      if (args.a == 2.0) return v * v;
      if (args.a == 0.5) return std::sqrt(v);
      return static_cast<M>(std::pow(v, static_cast<M>(args.a)));
    }
  });
}
void clamp_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {
  unary_numeric(out, x, "clamp", [&](auto v) {
    using M = decltype(v);
    if (v != v) return v;  // NaN propagates
    if (args.has_a && v < static_cast<M>(args.a)) v = static_cast<M>(args.a);
    if (args.has_b && v > static_cast<M>(args.b)) v = static_cast<M>(args.b);
    return v;
  });
}
void logical_not_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) {
  visit_dtype(x.dtype(), [&]<class T>() {
    elementwise<bool, T>(out, [](T v) { return !(static_cast<OpMath<T>>(v) != OpMath<T>(0)); }, x);
  });
}

}  // namespace

void register_unary_kernels(KernelTable& t) {
  t.neg = neg_kernel;
  t.abs = abs_kernel;
  t.sign = sign_kernel;
  t.exp = exp_kernel;
  t.log = log_kernel;
  t.log1p = log1p_kernel;
  t.sqrt = sqrt_kernel;
  t.rsqrt = rsqrt_kernel;
  t.sin = sin_kernel;
  t.cos = cos_kernel;
  t.tanh = tanh_kernel;
  t.sigmoid = sigmoid_kernel;
  t.relu = relu_kernel;
  t.leaky_relu = leaky_relu_kernel;
  t.gelu = gelu_kernel;
  t.silu = silu_kernel;
  t.softplus = softplus_kernel;
  t.pow_scalar = pow_scalar_kernel;
  t.clamp = clamp_kernel;
  t.reciprocal = reciprocal_kernel;
  t.logical_not = logical_not_kernel;
}

}  // namespace ember::cpu
