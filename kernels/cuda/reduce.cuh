// The CUDA row-reduction engine under the value reductions (reduce.cu): an
// input viewed as a matrix [M kept elements, R reduced elements], each row
// folded by a reducer.
//
// The kept dims are permuted in front of the reduced ones and, unless that
// view is already contiguous, made contiguous (one copy). Each row is reduced
// by a warp (R <= 512) or a 256-thread block: per-thread partials, then warp
// shuffles, then shared memory across warps. Rows that start 16-byte aligned
// and hold whole 16-byte vectors are read with 128-bit loads (vec_width<T>()
// elements each); others element by element. When there are too few rows to
// fill the GPU, each row is split into chunks reduced by separate blocks into
// an [M, chunks] workspace, and a second launch combines the chunks (no
// atomics: results are deterministic run to run).
//
// A reducer R is a small struct with an accumulator type A (trivially
// copyable, trivial default constructor, a whole number of 32-bit words or
// under 4 bytes) and __device__ members
//   A init(); A load(T v); A combine(A a, A b); Out finish(A a, int64_t n)
// where combine must not depend on which operand came first in memory beyond
// what the reducer tolerates (sums reassociate; extrema commute). A reducer
// that needs the element's position in its row (the arg-reductions) defines
// A load_at(T v, int64_t j) instead of load.
// Ceilings: one read of x (plus the permuting copy for a non-trailing
// reduction); bandwidth-bound unless the reducer calls libm per element.
#pragma once

#include <algorithm>
#include <atomic>

#include <ember/kernels/cuda/block_reduce.cuh>
#include <ember/kernels/cuda/common.cuh>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {

// Accumulator of sums: double for floating dtypes, int64 (wrapping) otherwise.
template <class T>
using SumAcc = std::conditional_t<std::is_floating_point_v<Acc<T>>, double, int64_t>;

// Rows of `in` ([M, R] contiguous, of In elements) reduced by blockDim.x threads
// each (blockDim.y rows per block), chunk blockIdx.x of `chunks`. Loads go
// through r.load when FromInput, else `in` already holds accumulators. With
// `vec` (FromInput only; rows and chunks start 16-byte aligned and hold whole
// vectors), each thread reads vec_width<In>() elements per 128-bit load.
// Writes out[row] (one chunk) or partial[row * chunks + chunk].
template <class R, class In, class Out, bool FromInput>
__global__ void reduce_rows_fwd_kernel(const In* in, int64_t rows, int64_t len, int64_t chunk, int64_t chunks,
                                       int64_t count, Out* out, typename R::A* partial, R r, bool vec) {
  using A = typename R::A;
  __shared__ A warp_results[32];
  const int64_t c = blockIdx.x;
  const int64_t lo = c * chunk, hi = lo + chunk < len ? lo + chunk : len;
  auto combine = [&r](A a, A b) { return r.combine(a, b); };
  // Element j of its row as an accumulator.
  auto take = [&r](In v, int64_t j) -> A {
    if constexpr (!FromInput) return v;
    else if constexpr (requires { r.load_at(v, j); }) return r.load_at(v, j);  // index-aware
    else return r.load(v);
  };
  for (int64_t base = static_cast<int64_t>(blockIdx.y) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.y) * blockDim.y) {
    const int64_t row = base + threadIdx.y;
    A a = r.init();
    if (row < rows) {
      const In* p = in + row * len;
      constexpr int V = FromInput ? vec_width<In>() : 1;
      bool scalar = true;
      if constexpr (V > 1) {
        if (vec) {
          const VecT<In, V>* pv = reinterpret_cast<const VecT<In, V>*>(p);
          for (int64_t jv = lo / V + threadIdx.x; jv < hi / V; jv += blockDim.x) {
            const VecT<In, V> x = pv[jv];  // by value: one vector load
#pragma unroll
            for (int k = 0; k < V; ++k) a = r.combine(a, take(x.v[k], jv * V + k));
          }
          scalar = false;
        }
      }
      if (scalar)
        for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) a = r.combine(a, take(p[j], j));
    }
    a = warp_reduce_any(a, combine);
    if (blockDim.x > 32) {  // one row per block (blockDim.y == 1): combine the warps
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
      if (lane == 0) warp_results[warp] = a;
      __syncthreads();
      a = lane < nwarps ? warp_results[lane] : r.init();
      if (warp == 0) a = warp_reduce_any(a, combine);
      __syncthreads();  // warp_results is reused by the next row
    }
    if (threadIdx.x == 0 && row < rows) {
      if (chunks == 1) out[row] = r.finish(a, count);
      else partial[row * chunks + c] = a;
    }
  }
}

// Number of SMs of a device (cached, safe from any host thread; the reduction engines size their
// grids with it).
inline int sm_count(int device) {
  static std::atomic<int> cached[64] = {};
  if (device >= 0 && device < 64) {
    const int known = cached[device].load(std::memory_order_relaxed);
    if (known > 0) return known;
  }
  int n = 0;
  EMBER_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "reduce");
  if (device >= 0 && device < 64) cached[device].store(n, std::memory_order_relaxed);
  return n;
}

// Launches a row reduction of in ([rows, len]) into out ([rows]) with reducer r,
// on the current stream of like's device.
template <class R, class T, class Out>
void reduce_rows(const char* op, const T* in, int64_t rows, int64_t len, Out* out, const R& r, const Tensor& like) {
  using A = typename R::A;
  if (rows == 0) return;
  const int device = like.device().index;
  cudaStream_t stream = stream_of(like);
  const int tpr = len <= 512 ? 32 : 256;  // threads per row
  const int rows_per_block = kThreads / tpr;
  const int64_t row_blocks = (rows + rows_per_block - 1) / rows_per_block;
  // Split rows into chunks only when the rows alone leave the GPU idle.
  const int64_t target_blocks = 4 * static_cast<int64_t>(sm_count(device));
  int64_t chunks = 1;
  if (row_blocks < target_blocks && len > 16 * tpr) {
    chunks = std::min((len + 16 * tpr - 1) / (16 * tpr), (target_blocks + row_blocks - 1) / row_blocks);
  }
  // 128-bit loads when every row starts 16-byte aligned and holds whole vectors; chunks then hold
  // whole vectors too.
  constexpr int V = vec_width<T>();
  const bool vec = V > 1 && len % V == 0 && reinterpret_cast<uintptr_t>(in) % 16 == 0;
  int64_t chunk = std::max<int64_t>(1, (len + chunks - 1) / chunks);  // len may be 0
  if (vec) chunk = (chunk + V - 1) / V * V;
  chunks = std::max<int64_t>(1, (len + chunk - 1) / chunk);
  const dim3 block(static_cast<unsigned>(tpr), static_cast<unsigned>(rows_per_block));
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(std::min<int64_t>(row_blocks, 65535)));
  if (chunks == 1) {
    reduce_rows_fwd_kernel<R, T, Out, true>
        <<<grid, block, 0, stream>>>(in, rows, len, chunk, 1, len, out, nullptr, r, vec);
    EMBER_CUDA_LAUNCH_CHECK(op);
    return;
  }
  // Workspace for the partials, from the caching allocator on this stream.
  Tensor ws = empty({rows * chunks * static_cast<int64_t>(sizeof(A))}, TensorOptions(kUInt8, like.device()));
  A* partial = static_cast<A*>(ws.data_ptr());
  reduce_rows_fwd_kernel<R, T, Out, true>
      <<<grid, block, 0, stream>>>(in, rows, len, chunk, chunks, len, out, partial, r, vec);
  EMBER_CUDA_LAUNCH_CHECK(op);
  const int tpr2 = chunks <= 512 ? 32 : 256;
  const int rpb2 = kThreads / tpr2;
  const dim3 block2(static_cast<unsigned>(tpr2), static_cast<unsigned>(rpb2));
  const dim3 grid2(1u, static_cast<unsigned>(std::min<int64_t>((rows + rpb2 - 1) / rpb2, 65535)));
  reduce_rows_fwd_kernel<R, A, Out, false><<<grid2, block2, 0, stream>>>(partial, rows, chunks, chunks, 1, len, out,
                                                                        nullptr, r, false);
  EMBER_CUDA_LAUNCH_CHECK(op);
}

// x viewed as [kept, reduced] contiguous (a copy when the reduced dims are not trailing and packed).
inline Tensor as_rows(const Tensor& x, const Dims& dims, int64_t& rows, int64_t& len) {
  Dims perm;
  len = 1;
  rows = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) {
      perm.push_back(d);
      rows *= x.size(d);
    }
  }
  for (int64_t d : dims) {
    perm.push_back(d);
    len *= x.size(d);
  }
  return ops::contiguous(ops::permute(x, perm));
}

}  // namespace ember::cuda
