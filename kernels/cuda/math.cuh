// Device scalar math for the elementwise kernels: float and double overloads
// of the libm functions (so a functor written once on M picks expf or exp),
// and the activation helpers, written as the CPU's kernels/cpu/elementwise.hpp.
#pragma once

#include <cuda_runtime.h>

namespace ember::cuda::dmath {

#define EMBER_CUDA_MATH1(name)                                               \
  __device__ __forceinline__ float name(float x) { return ::name##f(x); }    \
  __device__ __forceinline__ double name(double x) { return ::name(x); }
EMBER_CUDA_MATH1(exp)
EMBER_CUDA_MATH1(log)
EMBER_CUDA_MATH1(log1p)
EMBER_CUDA_MATH1(sqrt)
EMBER_CUDA_MATH1(sin)
EMBER_CUDA_MATH1(cos)
EMBER_CUDA_MATH1(tanh)
EMBER_CUDA_MATH1(erf)
#undef EMBER_CUDA_MATH1

__device__ __forceinline__ float pow(float x, float y) { return ::powf(x, y); }
__device__ __forceinline__ double pow(double x, double y) { return ::pow(x, y); }

template <class T>
__device__ __forceinline__ T sigmoid(T x) {
  return T(1) / (T(1) + exp(-x));
}
template <class T>
__device__ __forceinline__ T gelu_erf(T x) {
  return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
}
template <class T>
__device__ __forceinline__ T gelu_tanh(T x) {
  const T k = T(0.79788456080286535588);  // sqrt(2/pi)
  return T(0.5) * x * (T(1) + tanh(k * (x + T(0.044715) * x * x * x)));
}
template <class T>
__device__ __forceinline__ T gelu_erf_grad(T x) {
  const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
  const T pdf = exp(T(-0.5) * x * x) * T(0.39894228040143267794);
  return cdf + x * pdf;
}
template <class T>
__device__ __forceinline__ T gelu_tanh_grad(T x) {
  const T k = T(0.79788456080286535588), c = T(0.044715);
  const T th = tanh(k * (x + c * x * x * x));
  const T dinner = k * (T(1) + T(3) * c * x * x);
  return T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * dinner;
}

}  // namespace ember::cuda::dmath
