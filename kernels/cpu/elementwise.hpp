// Scalar math shared by the CPU element-wise kernels (unary, binary, ternary).
//
// Each functor maps OpMath<T> values; the kernels load T, compute in OpMath<T>
// (float for float16/bfloat16) and store T.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include <ember/kernels/cpu/loops.hpp>
#include <ember/kernels/cpu/parallel.hpp>

namespace ember::cpu {

// Runs out = f(inputs...) element-wise over out's shape, in parallel.
// All operands are of element types given explicitly: Out and In....
template <class Out, class... In, class F, class... Ts>
void elementwise(const Tensor& out, F&& f, const Ts&... inputs) {
  static_assert(sizeof...(In) == sizeof...(Ts), "one element type per input");
  auto loop = make_loop<1 + sizeof...(In)>({&out, &inputs...}, out.shape());
  parallel_range(0, loop.numel, kGrain, [&](int64_t lo, int64_t hi) { map_range<Out, In...>(loop, lo, hi, f); });
}

template <class T>
inline T gelu_erf(T x) {
  return static_cast<T>(0.5) * x * (static_cast<T>(1) + std::erf(x * static_cast<T>(0.70710678118654752440)));
}
template <class T>
inline T gelu_tanh(T x) {
  const T k = static_cast<T>(0.79788456080286535588);  // sqrt(2/pi)
  return static_cast<T>(0.5) * x * (static_cast<T>(1) + std::tanh(k * (x + static_cast<T>(0.044715) * x * x * x)));
}
template <class T>
inline T gelu_erf_grad(T x) {
  const T cdf = static_cast<T>(0.5) * (static_cast<T>(1) + std::erf(x * static_cast<T>(0.70710678118654752440)));
  const T pdf = std::exp(static_cast<T>(-0.5) * x * x) * static_cast<T>(0.39894228040143267794);
  return cdf + x * pdf;
}
template <class T>
inline T gelu_tanh_grad(T x) {
  const T k = static_cast<T>(0.79788456080286535588);
  const T c = static_cast<T>(0.044715);
  T inner = k * (x + c * x * x * x);
  T th = std::tanh(inner);
  T dinner = k * (static_cast<T>(1) + static_cast<T>(3) * c * x * x);
  return static_cast<T>(0.5) * (static_cast<T>(1) + th) + static_cast<T>(0.5) * x * (static_cast<T>(1) - th * th) * dinner;
}
template <class T>
inline T sigmoid(T x) {
  return static_cast<T>(1) / (static_cast<T>(1) + std::exp(-x));
}

}  // namespace ember::cpu
