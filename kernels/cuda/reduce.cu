// CUDA kernels of the value reductions sum, mean, prod, amax, amin over any
// set of dims.
//
// The input is viewed as a matrix [M kept elements, R reduced elements]: the
// kept dims are permuted in front of the reduced ones and, unless that view is
// already contiguous, made contiguous (one copy). Each row is reduced by a
// warp (R <= 512) or a 256-thread block: per-thread partials, then warp
// shuffles, then shared memory across warps. When there are too few rows to
// fill the GPU, each row is split into chunks reduced by separate blocks into a
// [M, chunks] workspace, and a second launch combines the chunks (no atomics:
// results are deterministic run to run).
//
// Accumulation as the CPU (kernels/cpu/reduce.cpp): double for every floating
// dtype, int64 (wrapping) for integers; amax/amin in the compute type, a NaN
// anywhere wins. Ceilings: one read of x (plus the permuting copy for a
// non-trailing reduction), ~1 FLOP per element: bandwidth-bound.
#include <algorithm>
#include <limits>

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

template <class T>
using SumAcc = std::conditional_t<std::is_floating_point_v<Acc<T>>, double, int64_t>;

template <class T>
struct SumR {
  using A = SumAcc<T>;
  __device__ __forceinline__ A init() const { return A(0); }
  __device__ __forceinline__ A load(T v) const { return static_cast<A>(to_acc(v)); }
  __device__ __forceinline__ A combine(A a, A b) const {
    if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    else return a + b;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const { return from_acc<T>(a); }
};
template <class T>
struct MeanR : SumR<T> {
  using A = SumAcc<T>;
  __device__ __forceinline__ T finish(A a, int64_t n) const {
    return from_acc<T>(static_cast<double>(a) / static_cast<double>(n));
  }
};
template <class T>
struct ProdR {
  using A = SumAcc<T>;
  __device__ __forceinline__ A init() const { return A(1); }
  __device__ __forceinline__ A load(T v) const { return static_cast<A>(to_acc(v)); }
  __device__ __forceinline__ A combine(A a, A b) const {
    if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    else return a * b;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const { return from_acc<T>(a); }
};
template <class T, bool Max>
struct ExtremumR {
  using A = Acc<T>;
  A identity;  // the first element's role: -inf/+inf or the integer limits, set on the host
  __device__ __forceinline__ A init() const { return identity; }
  __device__ __forceinline__ A load(T v) const { return to_acc(v); }
  __device__ __forceinline__ A combine(A a, A b) const {
    if (a != a) return a;  // NaN wins
    if (b != b) return b;
    if constexpr (Max) return b > a ? b : a;
    else return b < a ? b : a;
  }
  __device__ __forceinline__ T finish(A a, int64_t) const { return from_acc<T>(a); }
};

// Shuffle for any 4- or 8-byte accumulator (and bool/uint8 widened through int).
template <class A>
__device__ __forceinline__ A shfl_down(A v, int delta) {
  if constexpr (sizeof(A) == 8) {
    long long bits;
    memcpy(&bits, &v, 8);
    bits = __shfl_down_sync(0xffffffffu, bits, delta);
    memcpy(&v, &bits, 8);
    return v;
  } else if constexpr (sizeof(A) == 4) {
    int bits;
    memcpy(&bits, &v, 4);
    bits = __shfl_down_sync(0xffffffffu, bits, delta);
    memcpy(&v, &bits, 4);
    return v;
  } else {
    return static_cast<A>(__shfl_down_sync(0xffffffffu, static_cast<int>(v), delta));
  }
}

template <class R, class A>
__device__ __forceinline__ A warp_reduce(const R& r, A a) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) a = r.combine(a, shfl_down(a, d));
  return a;
}

// Rows of `in` ([M, R] contiguous, of In elements) reduced by blockDim.x threads
// each (blockDim.y rows per block), chunk blockIdx.x of `chunks`. Loads go
// through r.load when FromInput, else `in` already holds accumulators.
// Writes out[row] (one chunk) or partial[row * chunks + chunk].
template <class R, class In, class Out, bool FromInput>
__global__ void reduce_rows_fwd_kernel(const In* in, int64_t rows, int64_t len, int64_t chunk, int64_t chunks,
                                       int64_t count, Out* out, typename R::A* partial, R r) {
  using A = typename R::A;
  __shared__ A warp_results[32];
  const int64_t c = blockIdx.x;
  const int64_t lo = c * chunk, hi = lo + chunk < len ? lo + chunk : len;
  for (int64_t base = static_cast<int64_t>(blockIdx.y) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.y) * blockDim.y) {
    const int64_t row = base + threadIdx.y;
    A a = r.init();
    if (row < rows) {
      const In* p = in + row * len;
      for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x) {
        if constexpr (FromInput) a = r.combine(a, r.load(p[j]));
        else a = r.combine(a, p[j]);
      }
    }
    a = warp_reduce(r, a);
    if (blockDim.x > 32) {  // one row per block (blockDim.y == 1): combine the warps
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
      if (lane == 0) warp_results[warp] = a;
      __syncthreads();
      a = lane < nwarps ? warp_results[lane] : r.init();
      if (warp == 0) a = warp_reduce(r, a);
      __syncthreads();  // warp_results is reused by the next row
    }
    if (threadIdx.x == 0 && row < rows) {
      if (chunks == 1) out[row] = r.finish(a, count);
      else partial[row * chunks + c] = a;
    }
  }
}

int sm_count(int device) {
  static int cached[64] = {};
  if (device < 64 && cached[device] > 0) return cached[device];
  int n = 0;
  EMBER_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device), "reduce");
  if (device < 64) cached[device] = n;
  return n;
}

// Launches a row reduction of in ([rows, len]) into out ([rows]) with reducer r.
template <class R, class T, class Out>
void reduce_rows(const char* op, const T* in, int64_t rows, int64_t len, Out* out, const R& r, const Tensor& like) {
  using A = typename R::A;
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
  const int64_t chunk = (len + chunks - 1) / chunks;
  chunks = std::max<int64_t>(1, (len + chunk - 1) / chunk);
  const dim3 block(static_cast<unsigned>(tpr), static_cast<unsigned>(rows_per_block));
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>(std::min<int64_t>(row_blocks, 65535)));
  if (chunks == 1) {
    reduce_rows_fwd_kernel<R, T, Out, true><<<grid, block, 0, stream>>>(in, rows, len, chunk, 1, len, out, nullptr, r);
    EMBER_CUDA_LAUNCH_CHECK(op);
    return;
  }
  // Workspace for the partials, from the caching allocator on this stream.
  Tensor ws = empty({rows * chunks * static_cast<int64_t>(sizeof(A))}, TensorOptions(kUInt8, like.device()));
  A* partial = static_cast<A*>(ws.data_ptr());
  reduce_rows_fwd_kernel<R, T, Out, true><<<grid, block, 0, stream>>>(in, rows, len, chunk, chunks, len, out, partial, r);
  EMBER_CUDA_LAUNCH_CHECK(op);
  const int tpr2 = chunks <= 512 ? 32 : 256;
  const int rpb2 = kThreads / tpr2;
  const dim3 block2(static_cast<unsigned>(tpr2), static_cast<unsigned>(rpb2));
  const dim3 grid2(1u, static_cast<unsigned>(std::min<int64_t>((rows + rpb2 - 1) / rpb2, 65535)));
  reduce_rows_fwd_kernel<R, A, Out, false><<<grid2, block2, 0, stream>>>(partial, rows, chunks, chunks, 1, len, out,
                                                                        nullptr, r);
  EMBER_CUDA_LAUNCH_CHECK(op);
}

// x viewed as [kept, reduced] contiguous (a copy when the reduced dims are not trailing and packed).
Tensor as_rows(const Tensor& x, const Dims& dims, int64_t& rows, int64_t& len) {
  Dims perm, kept_sizes;
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

template <template <class> class Reducer>
void sum_like(const char* op, const Tensor& out, const Tensor& x, const ReduceArgs& args, bool floating_only) {
  EMBER_CHECK(out.is_contiguous() && out.dtype() == x.dtype(), op, ": CUDA kernel expects a contiguous output of the ",
              "input's dtype, got out ", out.describe(), ", x ", x.describe());
  auto run = [&]<class T>() {
    using C = CudaType<T>;
    int64_t rows = 0, len = 0;
    Tensor xc = as_rows(x, args.dims, rows, len);
    DeviceGuard guard(x.device().index);
    reduce_rows(op, device_ptr<const C>(xc), rows, len, device_ptr<C>(out), Reducer<C>{}, x);
  };
  if (floating_only) visit_floating(x.dtype(), op, run);
  else visit_dtype(x.dtype(), run);
}

void sum_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) { sum_like<SumR>("sum", out, x, args, false); }
void mean_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) { sum_like<MeanR>("mean", out, x, args, true); }
void prod_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) { sum_like<ProdR>("prod", out, x, args, false); }

template <bool Max>
void extremum(const char* op, const Tensor& out, const Tensor& x, const ReduceArgs& args) {
  EMBER_CHECK(out.is_contiguous() && out.dtype() == x.dtype(), op, ": CUDA kernel expects a contiguous output of the ",
              "input's dtype, got out ", out.describe(), ", x ", x.describe());
  visit_dtype(x.dtype(), [&]<class T>() {
    using C = CudaType<T>;
    using A = Acc<C>;
    A identity;
    if constexpr (std::is_floating_point_v<A>) identity = Max ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
    else identity = Max ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
    int64_t rows = 0, len = 0;
    Tensor xc = as_rows(x, args.dims, rows, len);
    DeviceGuard guard(x.device().index);
    reduce_rows(op, device_ptr<const C>(xc), rows, len, device_ptr<C>(out), ExtremumR<C, Max>{identity}, x);
  });
}

void amax_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) { extremum<true>("amax", out, x, args); }
void amin_kernel(const Tensor& out, const Tensor& x, const ReduceArgs& args) { extremum<false>("amin", out, x, args); }

}  // namespace

void register_reduce_kernels(KernelTable& t) {
  t.sum = sum_kernel;
  t.mean = mean_kernel;
  t.prod = prod_kernel;
  t.amax = amax_kernel;
  t.amin = amin_kernel;
}

}  // namespace ember::cuda
