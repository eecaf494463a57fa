// Warp and block reductions for the CUDA kernels that reduce rows, columns
// or groups (reductions, arg-reductions, losses, normalisation): shuffles of
// any trivially copyable accumulator (a double, a (max, sum) pair, a Welford
// triple) and block-wide all-reduces through a 32-slot shared array.
//
// Invariant: every thread of the block (blockDim.x threads per row, at most
// 1024) calls block_allreduce, so the __syncthreads inside are reached by all;
// accumulator types have trivial default constructors (they live in __shared__).
// Ceilings: log2(32) shuffles per warp plus one shared-memory pass per block.
#pragma once

#include <cstring>
#include <type_traits>

#include <cuda_runtime.h>

namespace ember::cuda {

inline constexpr unsigned kFullMask = 0xffffffffu;

// Shuffles of any accumulator, word by word (types under 4 bytes through int).
// shuffle(int word) -> int is one of the __shfl_*_sync intrinsics with its lane argument bound.
template <class A, class Shuffle>
__device__ __forceinline__ A shfl_words(A v, Shuffle shuffle) {
  static_assert(std::is_trivially_copyable_v<A>);
  if constexpr (sizeof(A) < 4) {
    return static_cast<A>(shuffle(static_cast<int>(v)));
  } else {
    static_assert(sizeof(A) % 4 == 0, "accumulators are whole 32-bit words");
    int words[sizeof(A) / 4];
    memcpy(words, &v, sizeof(A));
#pragma unroll
    for (unsigned i = 0; i < sizeof(A) / 4; ++i) words[i] = shuffle(words[i]);
    memcpy(&v, words, sizeof(A));
    return v;
  }
}

template <class A>
__device__ __forceinline__ A shfl_down_any(A v, int delta) {
  return shfl_words(v, [delta](int w) { return __shfl_down_sync(kFullMask, w, delta); });
}
template <class A>
__device__ __forceinline__ A shfl_up_any(A v, int delta) {
  return shfl_words(v, [delta](int w) { return __shfl_up_sync(kFullMask, w, delta); });
}
template <class A>
__device__ __forceinline__ A shfl_xor_any(A v, int mask) {
  return shfl_words(v, [mask](int w) { return __shfl_xor_sync(kFullMask, w, mask); });
}
template <class A>
__device__ __forceinline__ A shfl_idx_any(A v, int lane) {
  return shfl_words(v, [lane](int w) { return __shfl_sync(kFullMask, w, lane); });
}

// Lane 0 of each warp ends with the combination of its warp's values.
template <class A, class Combine>
__device__ __forceinline__ A warp_reduce_any(A v, Combine combine) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = combine(v, shfl_down_any(v, d));
  return v;
}

// Every lane ends with the combination of its warp's values.
template <class A, class Combine>
__device__ __forceinline__ A warp_allreduce_any(A v, Combine combine) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = combine(v, shfl_xor_any(v, d));
  return v;
}

// Every thread of a (blockDim.x x 1) block, or of a 32-wide row of a (32 x k)
// block, ends with the combination over its row. smem: 32 slots of A.
template <class A, class Combine>
__device__ __forceinline__ A block_allreduce(A v, Combine combine, A* smem) {
  v = warp_allreduce_any(v, combine);
  if (blockDim.x > 32) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = (blockDim.x + 31) / 32;
    __syncthreads();  // smem may still be read by an earlier call
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    A r = smem[0];
    for (int w = 1; w < nwarps; ++w) r = combine(r, smem[w]);
    v = r;
  }
  return v;
}

struct SumCombine {
  template <class A>
  __device__ __forceinline__ A operator()(A a, A b) const {
    return a + b;
  }
};

// Two running sums reduced together (one shuffle pass for both).
struct Sum2 {
  double a, b;
};
struct Sum2Combine {
  __device__ __forceinline__ Sum2 operator()(Sum2 x, Sum2 y) const { return {x.a + y.a, x.b + y.b}; }
};

}  // namespace ember::cuda
