// CUDA kernels of the unary elementwise ops (any strides; float dtypes, and the
// integer dtypes where the CPU kernels have them), on the elementwise engine
// of kernels/cuda/elementwise.cuh. Same math as kernels/cpu/unary.cpp, in the
// compute type (float for float16/bfloat16).
//
// Ceilings: 2 x itemsize bytes per element (memory-bound: ~3.3 TB/s on an
// H100 SXM); the transcendental ones are a few dozen FLOPs per element, still
// under the bandwidth roof in float32.
#include <ember/kernels/cuda/elementwise.cuh>
#include <ember/kernels/cuda/math.cuh>
#include <ember/kernels/cuda/register.hpp>

namespace ember::cuda {
namespace {

// Wraps an op on compute values into a functor on CUDA element values.
template <class T, class Op>
struct UnaryFn {
  Op op;
  __device__ __forceinline__ T operator()(T v) const { return from_acc<T>(op(to_acc(v))); }
};

template <class Op>
void unary_floating(const char* name, const Tensor& out, const Tensor& x, Op op) {
  visit_floating(x.dtype(), name, [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<C, C>(name, out, UnaryFn<C, Op>{op}, x);
  });
}

template <class Op>
void unary_numeric(const char* name, const Tensor& out, const Tensor& x, Op op) {
  visit_numeric(x.dtype(), name, [&]<class T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      using C = CudaType<T>;
      launch_elementwise<C, C>(name, out, UnaryFn<C, Op>{op}, x);
    }
  });
}

#define EMBER_CUDA_UNARY_FLOAT(name, expr)                                             \
  struct name##_op {                                                                   \
    UnaryArgs args;                                                                    \
    template <class M>                                                                 \
    __device__ __forceinline__ M operator()(M v) const {                               \
      using namespace dmath;                                                           \
      return static_cast<M>(expr);                                                     \
    }                                                                                  \
  };                                                                                   \
  void name##_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {     \
    unary_floating(#name, out, x, name##_op{args});                                    \
  }

EMBER_CUDA_UNARY_FLOAT(exp, exp(v))
EMBER_CUDA_UNARY_FLOAT(log, log(v))
EMBER_CUDA_UNARY_FLOAT(log1p, log1p(v))
EMBER_CUDA_UNARY_FLOAT(sqrt, sqrt(v))
EMBER_CUDA_UNARY_FLOAT(rsqrt, M(1) / sqrt(v))
EMBER_CUDA_UNARY_FLOAT(sin, sin(v))
EMBER_CUDA_UNARY_FLOAT(cos, cos(v))
EMBER_CUDA_UNARY_FLOAT(tanh, tanh(v))
EMBER_CUDA_UNARY_FLOAT(sigmoid, sigmoid(v))
EMBER_CUDA_UNARY_FLOAT(silu, v * sigmoid(v))
EMBER_CUDA_UNARY_FLOAT(reciprocal, M(1) / v)
EMBER_CUDA_UNARY_FLOAT(leaky_relu, v > M(0) ? v : v * M(args.a))
EMBER_CUDA_UNARY_FLOAT(gelu, args.mode == 1 ? gelu_tanh(v) : gelu_erf(v))
// softplus: log(1 + exp(beta x)) / beta, linear above threshold (as PyTorch).
EMBER_CUDA_UNARY_FLOAT(softplus, v * M(args.a) > M(args.b) ? v : log1p(exp(v * M(args.a))) / M(args.a))
#undef EMBER_CUDA_UNARY_FLOAT

struct neg_op {
  template <class M> __device__ __forceinline__ M operator()(M v) const { return static_cast<M>(-v); }
};
struct abs_op {
  template <class M> __device__ __forceinline__ M operator()(M v) const {
    if constexpr (std::is_unsigned_v<M>) return v;
    else return v < M(0) ? static_cast<M>(-v) : v;
  }
};
struct sign_op {
  template <class M> __device__ __forceinline__ M operator()(M v) const {
    if constexpr (std::is_unsigned_v<M>) return static_cast<M>(v != M(0));
    else return static_cast<M>((M(0) < v) - (v < M(0)));
  }
};
struct relu_op {
  template <class M> __device__ __forceinline__ M operator()(M v) const {
    if constexpr (std::is_unsigned_v<M>) return v;
    else return v < M(0) ? M(0) : v;  // NaN passes through, as in PyTorch
  }
};
struct pow_scalar_op {
  double e;
  template <class M> __device__ __forceinline__ M operator()(M v) const {
    if constexpr (std::is_integral_v<M>) {
      M r = 1, b = v;
      for (int64_t k = static_cast<int64_t>(e); k > 0; k >>= 1, b = static_cast<M>(b * b))
        if (k & 1) r = static_cast<M>(r * b);
      return r;
    } else {
      if (e == 2.0) return v * v;
      if (e == 0.5) return dmath::sqrt(v);
      return dmath::pow(v, static_cast<M>(e));
    }
  }
};
struct clamp_op {
  UnaryArgs args;
  template <class M> __device__ __forceinline__ M operator()(M v) const {
    if (v != v) return v;  // NaN propagates
    if (args.has_a && v < static_cast<M>(args.a)) v = static_cast<M>(args.a);
    if (args.has_b && v > static_cast<M>(args.b)) v = static_cast<M>(args.b);
    return v;
  }
};

void neg_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) { unary_numeric("neg", out, x, neg_op{}); }
void abs_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) { unary_numeric("abs", out, x, abs_op{}); }
void sign_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) { unary_numeric("sign", out, x, sign_op{}); }
void relu_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) { unary_numeric("relu", out, x, relu_op{}); }
void pow_scalar_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {
  unary_numeric("pow", out, x, pow_scalar_op{args.a});
}
void clamp_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {
  unary_numeric("clamp", out, x, clamp_op{args});
}

template <class T>
struct LogicalNotFn {
  __device__ __forceinline__ bool operator()(T v) const { return !(to_acc(v) != Acc<T>(0)); }
};

void logical_not_kernel(const Tensor& out, const Tensor& x, const UnaryArgs&) {
  visit_dtype(x.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    launch_elementwise<bool, C>("logical_not", out, LogicalNotFn<C>{}, x);
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

}  // namespace ember::cuda
