// CPU reference kernels for binary and ternary element-wise ops with broadcasting.
//
// The meta function has already promoted both inputs to one dtype T (the
// compute dtype) and allocated out as T (arithmetic) or bool (comparisons,
// logical ops). float32 add, sub, mul, div, maximum and minimum first try the
// per-ISA fast path (vec_dispatch.hpp: same shapes, a scalar, a row or column
// vector broadcast); the code here is the scalar path and the reference.
//
// Ceilings: 3 x itemsize bytes per element, no reuse: memory-bound. The
// reference reaches about 1/3 of the copy bandwidth; the fast path 75-95%
// (benchmarks/RESULTS.md, "CPU memory-bound kernels").
#include <cmath>

#include <ember/kernels/cpu/elementwise.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_dispatch.hpp>
#include <ember/kernels/integer_pow.hpp>

namespace ember::cpu {
namespace {

template <class F>
void arith(const Tensor& out, const Tensor& a, const Tensor& b, const char* op, F f) {
  visit_dtype(a.dtype(), [&]<class T>() {
    using M = OpMath<T>;
    elementwise<T, T, T>(out, [&](T x, T y) { return static_cast<T>(f(static_cast<M>(x), static_cast<M>(y))); }, a, b);
  });
}
template <class F>
void predicate(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  visit_dtype(a.dtype(), [&]<class T>() {
    using M = OpMath<T>;
    elementwise<bool, T, T>(out, [&](T x, T y) { return static_cast<bool>(f(static_cast<M>(x), static_cast<M>(y))); }, a, b);
  });
}

void add_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs& args) {
  if (vec_binary(out, a, b, VecBinary::add, args.alpha)) return;
  if (args.alpha == 1.0) {
    arith(out, a, b, "add", [](auto x, auto y) { return x + y; });
  } else {
    arith(out, a, b, "add", [&](auto x, auto y) { return x + static_cast<decltype(x)>(args.alpha) * y; });
  }
}
void sub_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs& args) {
  if (vec_binary(out, a, b, VecBinary::sub, args.alpha)) return;
  if (args.alpha == 1.0) {
    arith(out, a, b, "sub", [](auto x, auto y) { return x - y; });
  } else {
    arith(out, a, b, "sub", [&](auto x, auto y) { return x - static_cast<decltype(x)>(args.alpha) * y; });
  }
}
void mul_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  if (vec_binary(out, a, b, VecBinary::mul, 1.0)) return;
  arith(out, a, b, "mul", [](auto x, auto y) { return x * y; });
}
void div_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  if (vec_binary(out, a, b, VecBinary::div, 1.0)) return;
  arith(out, a, b, "div", [](auto x, auto y) { return x / y; });
}
void pow_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  arith(out, a, b, "pow", [](auto x, auto y) {
    using M = decltype(x);
    if constexpr (std::is_integral_v<M>) {
      return kernels::integer_pow(x, y);  // negative exponents as PyTorch
    } else {
      return static_cast<M>(std::pow(x, y));
    }
  });
}
void maximum_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  if (vec_binary(out, a, b, VecBinary::maximum, 1.0)) return;
  arith(out, a, b, "maximum", [](auto x, auto y) { return (x != x || y != y) ? x + y : (x > y ? x : y); });
}
void minimum_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  if (vec_binary(out, a, b, VecBinary::minimum, 1.0)) return;
  arith(out, a, b, "minimum", [](auto x, auto y) { return (x != x || y != y) ? x + y : (x < y ? x : y); });
}
void eq_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { predicate(o, a, b, [](auto x, auto y) { return x == y; }); }
void ne_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { predicate(o, a, b, [](auto x, auto y) { return x != y; }); }
void lt_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { predicate(o, a, b, [](auto x, auto y) { return x < y; }); }
void le_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { predicate(o, a, b, [](auto x, auto y) { return x <= y; }); }
void gt_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { predicate(o, a, b, [](auto x, auto y) { return x > y; }); }
void ge_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { predicate(o, a, b, [](auto x, auto y) { return x >= y; }); }
void logical_and_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  predicate(o, a, b, [](auto x, auto y) { return x != decltype(x)(0) && y != decltype(y)(0); });
}
void logical_or_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  predicate(o, a, b, [](auto x, auto y) { return x != decltype(x)(0) || y != decltype(y)(0); });
}
// out = grad * gelu'(x); a = grad, b = x.
void gelu_backward_kernel(const Tensor& out, const Tensor& grad, const Tensor& x, const BinaryArgs& args) {
  visit_floating(x.dtype(), "gelu_backward", [&]<class T>() {
    using M = OpMath<T>;
    elementwise<T, T, T>(out, [&](T g, T v) {
      M xv = static_cast<M>(v);
      return static_cast<T>(static_cast<M>(g) * (args.mode == 1 ? gelu_tanh_grad(xv) : gelu_erf_grad(xv)));
    }, grad, x);
  });
}

// out = y <= 0 ? 0 : grad; a = grad, b = y (NaN in y passes the gradient, as PyTorch's threshold_backward).
void relu_backward_kernel(const Tensor& out, const Tensor& grad, const Tensor& y, const BinaryArgs&) {
  if (vec_binary(out, grad, y, VecBinary::relu_backward, 1.0)) return;
  visit_floating(y.dtype(), "relu_backward", [&]<class T>() {
    using M = OpMath<T>;
    elementwise<T, T, T>(out, [](T g, T v) { return static_cast<M>(v) <= M(0) ? T(0) : g; }, grad, y);
  });
}

void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  visit_dtype(out.dtype(), [&]<class T>() {
    elementwise<T, bool, T, T>(out, [](bool c, T x, T y) { return c ? x : y; }, cond, a, b);
  });
}
void masked_fill_kernel(const Tensor& out, const Tensor& x, const Tensor& mask, const Scalar& value) {
  visit_dtype(out.dtype(), [&]<class T>() {
    T v = static_cast<T>(value.to<OpMath<T>>());
    elementwise<T, T, bool>(out, [v](T x, bool m) { return m ? v : x; }, x, mask);
  });
}
void addcmul_kernel(const Tensor& out, const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  visit_numeric(out.dtype(), "addcmul", [&]<class T>() {
    using M = OpMath<T>;
    M v = value.to<M>();
    elementwise<T, T, T, T>(out, [v](T s, T x, T y) {
      return static_cast<T>(static_cast<M>(s) + v * static_cast<M>(x) * static_cast<M>(y));
    }, self, t1, t2);
  });
}
void addcdiv_kernel(const Tensor& out, const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  visit_floating(out.dtype(), "addcdiv", [&]<class T>() {
    using M = OpMath<T>;
    M v = value.to<M>();
    elementwise<T, T, T, T>(out, [v](T s, T x, T y) {
      return static_cast<T>(static_cast<M>(s) + v * static_cast<M>(x) / static_cast<M>(y));
    }, self, t1, t2);
  });
}

}  // namespace

void register_binary_kernels(KernelTable& t) {
  t.add = add_kernel;
  t.sub = sub_kernel;
  t.mul = mul_kernel;
  t.div = div_kernel;
  t.pow = pow_kernel;
  t.maximum = maximum_kernel;
  t.minimum = minimum_kernel;
  t.eq = eq_kernel;
  t.ne = ne_kernel;
  t.lt = lt_kernel;
  t.le = le_kernel;
  t.gt = gt_kernel;
  t.ge = ge_kernel;
  t.logical_and = logical_and_kernel;
  t.logical_or = logical_or_kernel;
  t.gelu_backward = gelu_backward_kernel;
  t.relu_backward = relu_backward_kernel;
  t.where = where_kernel;
  t.masked_fill = masked_fill_kernel;
  t.addcmul = addcmul_kernel;
  t.addcdiv = addcdiv_kernel;
}

}  // namespace ember::cpu
