// Shared pieces of the CUDA kernels: ember dtypes as CUDA element types,
// loads/stores through the compute type, launch sizes, and dtype visitors.
//
// Element types: float16/bfloat16 tensors are read as __half/__nv_bfloat16
// (same bits as ember::Half/BFloat16) and computed in float (Acc<T>), as the
// CPU kernels do; conversions round to nearest even, matching tensor/half.hpp.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/cuda_stream.hpp>
#include <ember/tensor/dispatch.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::cuda {

// The CUDA element type of an ember element type.
template <class T> struct CudaTypeT { using type = T; };
template <> struct CudaTypeT<Half> { using type = __half; };
template <> struct CudaTypeT<BFloat16> { using type = __nv_bfloat16; };
template <class T> using CudaType = typename CudaTypeT<T>::type;

// The type arithmetic on a CUDA element type T is done in.
template <class T> struct AccT { using type = T; };
template <> struct AccT<__half> { using type = float; };
template <> struct AccT<__nv_bfloat16> { using type = float; };
template <class T> using Acc = typename AccT<T>::type;

template <class T>
inline constexpr bool is_reduced_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// T -> its compute type.
template <class T>
__device__ __forceinline__ Acc<T> to_acc(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return v;
}

// float -> 16-bit float as ember::Half / ember::BFloat16 round on the CPU
// (tensor/half.hpp): nearest even, and NaN bits chosen the CPU's way (half:
// the sign and 0x7e00; bfloat16: the top 16 bits, made quiet), where the
// CUDA intrinsics return one canonical NaN.
__device__ __forceinline__ __half float_to_half(float f) {
  const unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __ushort_as_half(static_cast<unsigned short>(((u >> 16) & 0x8000u) | 0x7e00u));
  return __float2half_rn(f);
}
__device__ __forceinline__ __nv_bfloat16 float_to_bfloat16(float f) {
  const unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __ushort_as_bfloat16(static_cast<unsigned short>((u >> 16) | 0x40u));
  return __float2bfloat16_rn(f);
}

// Any arithmetic value -> element type D (bool: != 0; 16-bit floats through float).
template <class D, class V>
__device__ __forceinline__ D from_acc(V v) {
  if constexpr (std::is_same_v<D, bool>) return v != V(0);
  else if constexpr (std::is_same_v<D, __half>) return float_to_half(static_cast<float>(v));
  else if constexpr (std::is_same_v<D, __nv_bfloat16>) return float_to_bfloat16(static_cast<float>(v));
  else return static_cast<D>(v);
}

// Element conversion S -> D, as the CPU copy kernel converts.
template <class D, class S>
__device__ __forceinline__ D convert(S v) {
  return from_acc<D>(to_acc(v));
}

// A host scalar as the CUDA element type of ember type T, converted as the
// CPU kernels convert (same bits: ember::Half has __half's layout).
template <class T>
CudaType<T> device_value(const Scalar& s) {
  T v = static_cast<T>(s.to<OpMath<T>>());
  CudaType<T> c;
  static_assert(sizeof(c) == sizeof(v));
  std::memcpy(static_cast<void*>(&c), &v, sizeof(c));
  return c;
}

// Typed device pointer of a tensor's first element.
template <class T>
T* device_ptr(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

inline constexpr int kThreads = 256;

// V elements moved as one aligned unit: a copy of a VecT (by value, not through a reference) is one
// vector load or store, 128-bit when sizeof(T) * V == 16.
template <class T, int V>
struct alignas(sizeof(T) * V) VecT {
  T v[V];
};

// Elements of each operand per 16-byte vector, set by the widest type (at least 1).
template <class... Ts>
constexpr int vec_width() {
  constexpr size_t widest = std::max({sizeof(Ts)...});
  return static_cast<int>(16 / widest) > 0 ? static_cast<int>(16 / widest) : 1;
}

// Blocks for a grid-stride loop over n work items (at least 1, at most 65536).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, 65536));
}

// The current stream of the device a CUDA tensor lives on (Note [stream ownership]).
inline cudaStream_t stream_of(const Tensor& t) { return current_stream(t.device().index).handle(); }

// Where a kernel that writes contiguously puts out's values: out itself when it
// is contiguous, else a temporary that finish_output copies into out.
inline Tensor contiguous_output(const Tensor& out) {
  return out.is_contiguous() ? out : empty(out.shape(), out.options());
}
inline void finish_output(const Tensor& out, const Tensor& tmp) {
  if (!tmp.is_same(out)) EMBER_KERNEL(copy, out.device())(out, tmp, false);
}

// Visitors over the ember element types a CUDA kernel family supports; f is
// called as f.template operator()<T>() with T the ember type (Half, not __half).
template <class F>
decltype(auto) visit_cuda_floating(DType dt, const char* op, F&& f) {
  return visit_floating(dt, op, std::forward<F>(f));
}

}  // namespace ember::cuda
