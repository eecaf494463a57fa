// CUDA kernels of the binary and ternary elementwise ops with broadcasting
// (add ... gelu_backward, where, masked_fill, addcmul, addcdiv), on the
// elementwise engine (kernels/cuda/elementwise.cuh). Same math and dtype rules
// as kernels/cpu/binary.cpp: the meta function has promoted the inputs to one
// dtype T; out is T (arithmetic) or bool (comparisons, logical ops).
//
// Ceilings: 3 x itemsize bytes per element (4 for the ternary ops), no reuse:
// memory-bound.
#include <ember/kernels/cuda/elementwise.cuh>
#include <ember/kernels/cuda/math.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/kernels/integer_pow.hpp>

namespace ember::cuda {
namespace {

template <class T, class Op>
struct ArithFn {
  Op op;
  __device__ __forceinline__ T operator()(T x, T y) const { return from_acc<T>(op(to_acc(x), to_acc(y))); }
};
template <class T, class Op>
struct PredicateFn {
  Op op;
  __device__ __forceinline__ bool operator()(T x, T y) const { return static_cast<bool>(op(to_acc(x), to_acc(y))); }
};

template <class Op>
void arith(const char* name, const Tensor& out, const Tensor& a, const Tensor& b, Op op) {
  visit_dtype(a.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, C, C>(name, out, ArithFn<C, Op>{op}, a, b);
  });
}
template <class Op>
void predicate(const char* name, const Tensor& out, const Tensor& a, const Tensor& b, Op op) {
  visit_dtype(a.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<bool, C, C>(name, out, PredicateFn<C, Op>{op}, a, b);
  });
}

// a + alpha * b (alpha == 1 skips the multiply, as the CPU kernel does).
struct add_op {
  double alpha;
  template <class M> __device__ __forceinline__ auto operator()(M x, M y) const {
    return alpha == 1.0 ? x + y : x + static_cast<M>(alpha) * y;
  }
};
struct sub_op {
  double alpha;
  template <class M> __device__ __forceinline__ auto operator()(M x, M y) const {
    return alpha == 1.0 ? x - y : x - static_cast<M>(alpha) * y;
  }
};
struct mul_op {
  template <class M> __device__ __forceinline__ auto operator()(M x, M y) const { return x * y; }
};
struct div_op {
  template <class M> __device__ __forceinline__ auto operator()(M x, M y) const {
    if constexpr (std::is_integral_v<M>) return y == M(0) ? M(0) : static_cast<M>(x / y);  // never float-promoted here
    else return x / y;
  }
};
struct pow_op {
  template <class M> __device__ __forceinline__ M operator()(M x, M y) const {
    if constexpr (std::is_integral_v<M>) {
      return kernels::integer_pow(x, y);  // the CPU's function: negative exponents as PyTorch
    } else {
      return dmath::pow(x, y);
    }
  }
};
struct maximum_op {
  template <class M> __device__ __forceinline__ auto operator()(M x, M y) const {
    return (x != x || y != y) ? x + y : (x > y ? x : y);
  }
};
struct minimum_op {
  template <class M> __device__ __forceinline__ auto operator()(M x, M y) const {
    return (x != x || y != y) ? x + y : (x < y ? x : y);
  }
};
#define EMBER_CUDA_PREDICATE(name, expr)                                               \
  struct name##_op {                                                                   \
    template <class M> __device__ __forceinline__ bool operator()(M x, M y) const { return expr; } \
  };                                                                                   \
  void name##_kernel(const Tensor& o, const Tensor& a, const Tensor& b, const BinaryArgs&) { \
    predicate(#name, o, a, b, name##_op{});                                            \
  }
EMBER_CUDA_PREDICATE(eq, x == y)
EMBER_CUDA_PREDICATE(ne, x != y)
EMBER_CUDA_PREDICATE(lt, x < y)
EMBER_CUDA_PREDICATE(le, x <= y)
EMBER_CUDA_PREDICATE(gt, x > y)
EMBER_CUDA_PREDICATE(ge, x >= y)
EMBER_CUDA_PREDICATE(logical_and, x != M(0) && y != M(0))
EMBER_CUDA_PREDICATE(logical_or, x != M(0) || y != M(0))
#undef EMBER_CUDA_PREDICATE

void add_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs& args) {
  arith("add", out, a, b, add_op{args.alpha});
}
void sub_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs& args) {
  arith("sub", out, a, b, sub_op{args.alpha});
}
void mul_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) { arith("mul", out, a, b, mul_op{}); }
void div_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) { arith("div", out, a, b, div_op{}); }
void pow_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) { arith("pow", out, a, b, pow_op{}); }
void maximum_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  arith("maximum", out, a, b, maximum_op{});
}
void minimum_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs&) {
  arith("minimum", out, a, b, minimum_op{});
}

// out = grad * gelu'(x); a = grad, b = x.
template <class T>
struct GeluBackwardFn {
  int mode;
  __device__ __forceinline__ T operator()(T g, T x) const {
    const auto v = to_acc(x);
    return from_acc<T>(to_acc(g) * (mode == 1 ? dmath::gelu_tanh_grad(v) : dmath::gelu_erf_grad(v)));
  }
};
void gelu_backward_kernel(const Tensor& out, const Tensor& grad, const Tensor& x, const BinaryArgs& args) {
  visit_floating(x.dtype(), "gelu_backward", [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, C, C>("gelu_backward", out, GeluBackwardFn<C>{args.mode}, grad, x);
  });
}

// out = y <= 0 ? 0 : grad; a = grad, b = y.
template <class T>
struct ReluBackwardFn {
  __device__ __forceinline__ T operator()(T g, T y) const { return to_acc(y) <= 0 ? from_acc<T>(0) : g; }
};
void relu_backward_kernel(const Tensor& out, const Tensor& grad, const Tensor& y, const BinaryArgs&) {
  visit_floating(y.dtype(), "relu_backward", [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, C, C>("relu_backward", out, ReluBackwardFn<C>{}, grad, y);
  });
}

// ---- ternary --------------------------------------------------------------------

template <class T>
struct WhereFn {
  __device__ __forceinline__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};
void where_kernel(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  visit_dtype(out.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, bool, C, C>("where", out, WhereFn<C>{}, cond, a, b);
  });
}

template <class T>
struct MaskedFillFn {
  T value;
  __device__ __forceinline__ T operator()(T x, bool m) const { return m ? value : x; }
};
void masked_fill_kernel(const Tensor& out, const Tensor& x, const Tensor& mask, const Scalar& value) {
  visit_dtype(out.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, C, bool>("masked_fill", out, MaskedFillFn<C>{device_value<T>(value)}, x, mask);
  });
}

// out = self + value * t1 (* or /) t2, in the compute type.
template <class T, bool Divide>
struct AddcFn {
  Acc<T> value;
  __device__ __forceinline__ T operator()(T s, T x, T y) const {
    if constexpr (Divide) return from_acc<T>(to_acc(s) + value * to_acc(x) / to_acc(y));
    else return from_acc<T>(to_acc(s) + value * to_acc(x) * to_acc(y));
  }
};
void addcmul_kernel(const Tensor& out, const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  visit_numeric(out.dtype(), "addcmul", [&]<class T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      using C = CudaType<T>;
      launch_elementwise<C, C, C, C>("addcmul", out, AddcFn<C, false>{value.to<OpMath<T>>()}, self, t1, t2);
    }
  });
}
void addcdiv_kernel(const Tensor& out, const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  visit_floating(out.dtype(), "addcdiv", [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, C, C, C>("addcdiv", out, AddcFn<C, true>{value.to<OpMath<T>>()}, self, t1, t2);
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

}  // namespace ember::cuda
