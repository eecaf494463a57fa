// The CUDA elementwise engine: out = f(in0, in1, ...) over out's shape, with
// broadcasting and arbitrary (byte) strides, for every elementwise family
// (unary, binary, ternary, copy, fill).
//
// launch_elementwise<Out, In...>(op, out, f, inputs...) picks one of two kernels:
// - the contiguous fast path, when every operand is contiguous with out's
//   shape (no broadcast) and 16-byte aligned: each thread moves V elements
//   per operand with one 128-bit load/store (V = 16 / the widest element);
// - the strided path otherwise: up to kMaxDims coalesced dims of sizes and
//   per-operand byte strides travel in a small struct (StridedLayout) and each
//   thread turns its flat index into one offset per operand (by multiply-high
//   and shift, int_divider.hpp, when every index is below 2^31). Layouts with more
//   dims (rare: coalescing merges contiguous runs) are split on the outer dim.
// Types are CUDA element types (__half, not ember::Half); f is a functor with a
// __device__ operator() taking the In values and returning an Out.
// Ceilings: (sum of operand itemsizes) bytes per element; memory-bound.
#pragma once

#include <array>
#include <utility>

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/int_divider.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {

inline constexpr int kMaxDims = 8;

template <int N>
struct StridedLayout {
  FlatShape<kMaxDims> shape;       // the coalesced dims, innermost last
  int64_t strides[kMaxDims][N];    // bytes, 0 where broadcast
  char* base[N];

  __device__ __forceinline__ void offsets(int64_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    shape.unravel(linear, [&](int d, int64_t i) {
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += i * strides[d][k];
    });
  }
};

template <class Out, class... In, class F, size_t... I>
__device__ __forceinline__ void apply_strided(const F& f, char* const* base, const int64_t* off,
                                              std::index_sequence<I...>) {
  *reinterpret_cast<Out*>(base[0] + off[0]) = f(*reinterpret_cast<const In*>(base[I + 1] + off[I + 1])...);
}

template <class F, class Out, class... In>
__global__ void elementwise_strided_fwd_kernel(int64_t n, StridedLayout<1 + sizeof...(In)> layout, F f) {
  constexpr int N = 1 + sizeof...(In);
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[N];
    layout.offsets(i, off);
    apply_strided<Out, In...>(f, layout.base, off, std::index_sequence_for<In...>{});
  }
}

template <int V, class F, class Out, class... In>
__global__ void elementwise_vectorized_fwd_kernel(int64_t n, F f, Out* out, const In*... in) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t nvec = n / V;
  // The operands are taken by value: a copy of an aligned VecT is one 128-bit load, where reading
  // through a reference would load each element on its own.
  auto apply = [&](const VecT<In, V>... xs) {
    VecT<Out, V> o;
#pragma unroll
    for (int j = 0; j < V; ++j) o.v[j] = f(xs.v[j]...);
    return o;
  };
  for (int64_t v = tid; v < nvec; v += step)
    reinterpret_cast<VecT<Out, V>*>(out)[v] = apply(reinterpret_cast<const VecT<In, V>*>(in)[v]...);
  for (int64_t i = nvec * V + tid; i < n; i += step) out[i] = f(in[i]...);
}

// Builds the coalesced layout of operands (operand 0 = out) over `shape`:
// broadcast byte strides, size-1 dims dropped, dims contiguous in every operand merged.
template <int N>
bool make_layout(const std::array<const Tensor*, N>& ops, IntList shape, StridedLayout<N>& layout) {
  const size_t nd = shape.size();
  std::array<Dims, N> full;
  for (int k = 0; k < N; ++k) {
    const Tensor& t = *ops[k];
    layout.base[k] = static_cast<char*>(t.data_ptr());
    full[k] = Dims(nd, 0);
    const int64_t tnd = t.dim(), item = static_cast<int64_t>(t.itemsize());
    for (int64_t i = 0; i < tnd; ++i) {
      size_t d = nd - static_cast<size_t>(tnd) + static_cast<size_t>(i);
      full[k][d] = t.size(i) == 1 ? 0 : t.strides()[static_cast<size_t>(i)] * item;
    }
  }
  Dims sizes;
  std::array<Dims, N> strides;
  for (size_t d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (int k = 0; k < N && merge; ++k) merge = strides[k].back() == full[k][d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (int k = 0; k < N; ++k) strides[k].back() = full[k][d];
    } else {
      sizes.push_back(shape[d]);
      for (int k = 0; k < N; ++k) strides[k].push_back(full[k][d]);
    }
  }
  if (sizes.size() > static_cast<size_t>(kMaxDims)) return false;
  layout.shape = FlatShape<kMaxDims>(sizes.data(), sizes.size());
  for (size_t d = 0; d < sizes.size(); ++d)
    for (int k = 0; k < N; ++k) layout.strides[d][k] = strides[k][d];
  return true;
}

inline bool aligned16(const Tensor& t) {
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0;
}

// out = f(inputs...) elementwise on out's device and current stream.
// Out/In are CUDA element types; inputs broadcast to out's shape.
template <class Out, class... In, class F, class... Ts>
void launch_elementwise(const char* op, const Tensor& out, const F& f, const Ts&... inputs) {
  static_assert(sizeof...(In) == sizeof...(Ts), "one element type per input");
  constexpr int N = 1 + sizeof...(In);
  const int64_t n = out.numel();
  if (n == 0) return;
  EMBER_CHECK(out.is_cuda() && ((inputs.device() == out.device()) && ...), op,
              ": CUDA kernel expects every operand on ", out.device(), ", got out ", out.describe());
  EMBER_CHECK(((inputs.itemsize() == sizeof(In)) && ...) && out.itemsize() == sizeof(Out), op,
              ": CUDA kernel got operands of unexpected dtypes (out ", out.describe(), ")");
  DeviceGuard guard(out.device().index);
  cudaStream_t stream = stream_of(out);
  constexpr int V = vec_width<Out, In...>();
  const bool fast = out.is_contiguous() && ((inputs.is_contiguous() && inputs.shape() == out.shape()) && ...) &&
                    aligned16(out) && (aligned16(inputs) && ...);
  if (fast) {
    elementwise_vectorized_fwd_kernel<V, F, Out, In...><<<blocks_for((n + V - 1) / V), kThreads, 0, stream>>>(
        n, f, static_cast<Out*>(out.data_ptr()), static_cast<const In*>(inputs.data_ptr())...);
    EMBER_CUDA_LAUNCH_CHECK(op);
    return;
  }
  StridedLayout<N> layout;
  if (make_layout<N>({&out, &inputs...}, out.shape(), layout)) {
    elementwise_strided_fwd_kernel<F, Out, In...><<<blocks_for(n), kThreads, 0, stream>>>(n, layout, f);
    EMBER_CUDA_LAUNCH_CHECK(op);
    return;
  }
  // Too many dims after coalescing: one launch per index of the outer dim.
  for (int64_t i = 0; i < out.size(0); ++i)
    launch_elementwise<Out, In...>(op, ops::select(out, 0, i), f, ops::select(ops::expand(inputs, out.shape()), 0, i)...);
}

}  // namespace ember::cuda
