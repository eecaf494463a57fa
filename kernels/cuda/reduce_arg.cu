// CUDA kernels of the arg-reductions (max_dim, min_dim, argmax, argmin) and
// of cumsum, all along one dim of an input viewed contiguously as
// (outer, n, inner), as kernels/cpu/reduce_arg.cpp.
//
// max/min return the first index of the extreme value; a NaN counts as the
// extreme and the first NaN wins. Rows (inner == 1) are reduced by a warp
// (n <= 512) or a 256-thread block with a combine that is order-free (ties
// go to the lower index), so the result equals the CPU's sequential scan.
// Columns (inner > 1) run one thread per (outer, inner) position walking n,
// reads coalesced across the inner dim. Too few rows or columns for the
// device, each long: the row engine of reduce.cuh instead (columns moved to
// rows by one copy), which splits each line into chunks across blocks.
// cumsum accumulates in double (floating) or int64 (wrapping): rows by a
// warp/block inclusive scan with a running carry, columns sequentially (the
// CPU's order); a few long rows or columns (columns transposed to rows and
// back) in chunks across blocks: chunk totals, their exclusive scan per row,
// then each chunk's scan from its carry.
// Ceilings: one read of x and one write of the outputs (values + 8-byte
// indices, or x-sized for cumsum); one compare or add per element:
// bandwidth-bound.
#include <ember/kernels/cuda/block_reduce.cuh>
#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/reduce.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

template <class A>
__device__ __forceinline__ bool is_nan_any(A v) {
  if constexpr (std::is_floating_point_v<A>) return v != v;
  else return false;
}

// The best (value, index) seen so far; i < 0 when nothing has been seen.
template <class A>
struct ArgBest {
  A v;
  int64_t i;
};

template <class A, bool Max>
struct ArgCombine {
  __device__ __forceinline__ ArgBest<A> operator()(ArgBest<A> a, ArgBest<A> b) const {
    if (a.i < 0) return b;
    if (b.i < 0) return a;
    const bool an = is_nan_any(a.v), bn = is_nan_any(b.v);
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    if constexpr (Max) return a.v > b.v ? a : b;
    else return a.v < b.v ? a : b;
  }
};

// x: (rows, n) contiguous; values (may be null) and indices: (rows).
template <class T, bool Max>
__global__ void arg_reduce_rows_fwd_kernel(const T* x, int64_t rows, int64_t n, T* values, int64_t* indices) {
  using A = Acc<T>;
  __shared__ ArgBest<A> smem[32];
  const ArgCombine<A, Max> combine;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t row = base + threadIdx.y;
    ArgBest<A> best{A(0), -1};
    if (row < rows)
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) best = combine(best, ArgBest<A>{to_acc(x[row * n + j]), j});
    best = block_allreduce(best, combine, smem);
    if (threadIdx.x == 0 && row < rows) {
      indices[row] = best.i;
      if (values != nullptr) values[row] = from_acc<T>(best.v);
    }
  }
}

// x: (outer, n, inner) contiguous; values (may be null) and indices: (outer, inner).
template <class T, bool Max>
__global__ void arg_reduce_cols_fwd_kernel(const T* x, int64_t outer, int64_t n, int64_t inner, T* values,
                                           int64_t* indices) {
  using A = Acc<T>;
  const ArgCombine<A, Max> combine;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < outer * inner; c += step) {
    const T* col = x + (c / inner) * n * inner + c % inner;
    ArgBest<A> best{A(0), -1};
    for (int64_t k = 0; k < n; ++k) best = combine(best, ArgBest<A>{to_acc(col[k * inner]), k});
    indices[c] = best.i;
    if (values != nullptr) values[c] = from_acc<T>(best.v);
  }
}

// The arg-reductions as a reducer of the row engine (reduce.cuh), for what the kernels above leave
// idle: a few long rows are split into chunks across blocks, and combine's order-free ties keep the
// CPU's answer. finish keeps the (value, index) pair; split_best_fwd_kernel writes it out.
template <class T, bool Max>
struct ArgR {
  using A = ArgBest<Acc<T>>;
  __device__ __forceinline__ A init() const { return A{Acc<T>(0), -1}; }
  __device__ __forceinline__ A load_at(T v, int64_t j) const { return A{to_acc(v), j}; }
  __device__ __forceinline__ A combine(A a, A b) const { return ArgCombine<Acc<T>, Max>()(a, b); }
  __device__ __forceinline__ A finish(A a, int64_t) const { return a; }
};

template <class T>
__global__ void split_best_fwd_kernel(const ArgBest<Acc<T>>* best, int64_t rows, T* values, int64_t* indices) {
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    indices[r] = best[r].i;
    if (values != nullptr) values[r] = from_acc<T>(best[r].v);
  }
}

// When the dedicated kernels would leave most of the GPU idle: rows (outer of them) or columns
// (outer * inner of them) too few for the device, each n long enough to split.
bool few_long_lines(int64_t lines, int64_t n, int device) {
  return n >= 8192 && lines < 4 * static_cast<int64_t>(sm_count(device));
}

// (outer, n, inner) sizes of x around dim.
void dims_around(const Tensor& x, int64_t dim, int64_t& outer, int64_t& n, int64_t& inner) {
  outer = n = inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.size(d);
    else if (d == dim) n = x.size(d);
    else inner *= x.size(d);
  }
}

dim3 row_block(int64_t n) { return n <= 512 ? dim3(32, 8) : dim3(256, 1); }
unsigned row_grid(int64_t rows, const dim3& block) {
  return static_cast<unsigned>(std::clamp<int64_t>((rows + block.y - 1) / block.y, 1, 65535));
}

template <bool Max>
void arg_extremum(const char* op, const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  int64_t outer, n, inner;
  dims_around(x, dim, outer, n, inner);
  Tensor xc = ops::contiguous(x);
  Tensor vdst = values.defined() ? contiguous_output(values) : Tensor();
  Tensor idst = contiguous_output(indices);
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  const bool engine = few_long_lines(outer * inner, n, x.device().index);
  // The engine reduces rows: a reduced dim that is not last is moved there first (one copy).
  Tensor rows_view =
      engine && inner > 1 ? ops::contiguous(ops::transpose(ops::view(xc, {outer, n, inner}), 1, 2)) : xc;
  visit_dtype(x.dtype(), [&]<class E>() {
    using T = CudaType<E>;
    T* pv = vdst.defined() ? device_ptr<T>(vdst) : nullptr;
    if (engine) {
      using Best = ArgBest<Acc<T>>;
      const int64_t rows = outer * inner;
      Tensor best = empty({rows * static_cast<int64_t>(sizeof(Best))}, TensorOptions(kUInt8, x.device()));
      Best* pb = static_cast<Best*>(best.data_ptr());
      reduce_rows(op, device_ptr<const T>(rows_view), rows, n, pb, ArgR<T, Max>{}, x);
      split_best_fwd_kernel<T><<<blocks_for(rows), kThreads, 0, stream>>>(pb, rows, pv, device_ptr<int64_t>(idst));
    } else if (inner == 1) {
      const dim3 block = row_block(n);
      arg_reduce_rows_fwd_kernel<T, Max><<<row_grid(outer, block), block, 0, stream>>>(
          device_ptr<const T>(xc), outer, n, pv, device_ptr<int64_t>(idst));
    } else {
      arg_reduce_cols_fwd_kernel<T, Max><<<blocks_for(outer * inner), kThreads, 0, stream>>>(
          device_ptr<const T>(xc), outer, n, inner, pv, device_ptr<int64_t>(idst));
    }
    EMBER_CUDA_LAUNCH_CHECK(op);
  });
  if (vdst.defined()) finish_output(values, vdst);
  finish_output(indices, idst);
}

void max_dim_kernel(const Tensor& v, const Tensor& i, const Tensor& x, int64_t dim) { arg_extremum<true>("max", v, i, x, dim); }
void min_dim_kernel(const Tensor& v, const Tensor& i, const Tensor& x, int64_t dim) { arg_extremum<false>("min", v, i, x, dim); }
void argmax_kernel(const Tensor& v, const Tensor& i, const Tensor& x, int64_t dim) { arg_extremum<true>("argmax", v, i, x, dim); }
void argmin_kernel(const Tensor& v, const Tensor& i, const Tensor& x, int64_t dim) { arg_extremum<false>("argmin", v, i, x, dim); }

// ---- cumsum -------------------------------------------------------------------------------

template <class A>
__device__ __forceinline__ A wrap_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else return a + b;
}

// Rows of x (rows, n) contiguous scanned into y: blockDim.x threads per row take
// blockDim.x elements per step (inclusive warp scan, then across warps), plus the carry.
// Chunked (gridDim.y = chunks > 1, one row per block): block (r, c) scans elements
// [c * chunk, (c + 1) * chunk) of row r starting from carry_in[r * chunks + c], the sum of the
// row's earlier chunks.
template <class T, class A>
__global__ void cumsum_rows_fwd_kernel(const T* x, T* y, int64_t rows, int64_t n, int64_t chunk, const A* carry_in) {
  __shared__ A warp_totals[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  const int64_t c = blockIdx.y, chunks = gridDim.y;
  const int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t row = base + threadIdx.y;
    const bool valid = row < rows;
    A carry = carry_in != nullptr && valid ? carry_in[row * chunks + c] : A(0);
    for (int64_t j0 = lo; j0 < hi; j0 += blockDim.x) {  // uniform across the block
      const int64_t j = j0 + threadIdx.x;
      A v = valid && j < hi ? static_cast<A>(to_acc(x[row * n + j])) : A(0);
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        const A up = shfl_up_any(v, d);
        if (lane >= d) v = wrap_add(v, up);
      }
      A block_total = shfl_idx_any(v, 31);
      if (nwarps > 1) {
        __syncthreads();
        if (lane == 31) warp_totals[warp] = v;
        __syncthreads();
        A before = A(0);
        block_total = A(0);
        for (int w = 0; w < nwarps; ++w) {
          if (w < warp) before = wrap_add(before, warp_totals[w]);
          block_total = wrap_add(block_total, warp_totals[w]);
        }
        v = wrap_add(v, before);
      }
      v = wrap_add(v, carry);
      if (valid && j < hi) y[row * n + j] = from_acc<T>(v);
      carry = wrap_add(carry, block_total);
    }
  }
}

// Chunk totals of x (rows, n): block (r, c) writes the sum of row r's elements [c * chunk,
// (c + 1) * chunk) to totals[r * chunks + c]. One row per block (blockDim.y == 1).
template <class T, class A>
__global__ void cumsum_chunk_totals_fwd_kernel(const T* x, int64_t n, int64_t chunk, A* totals) {
  __shared__ A smem[32];
  const int64_t row = blockIdx.x, c = blockIdx.y, chunks = gridDim.y;
  const int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
  A acc = A(0);
  for (int64_t j = lo + threadIdx.x; j < hi; j += blockDim.x)
    acc = wrap_add(acc, static_cast<A>(to_acc(x[row * n + j])));
  acc = block_allreduce(acc, [](A a, A b) { return wrap_add(a, b); }, smem);
  if (threadIdx.x == 0) totals[row * chunks + c] = acc;
}

// Exclusive scan of each row's chunk totals, in place: totals[r * chunks + c] becomes the sum of
// chunks 0 .. c - 1 of row r.
template <class A>
__global__ void cumsum_chunk_carries_fwd_kernel(A* totals, int64_t rows, int64_t chunks) {
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    A sum = A(0);
    for (int64_t c = 0; c < chunks; ++c) {
      const A t = totals[r * chunks + c];
      totals[r * chunks + c] = sum;
      sum = wrap_add(sum, t);
    }
  }
}

// x, y: (outer, n, inner) contiguous; one thread per (outer, inner) column, sequential along n.
template <class T, class A>
__global__ void cumsum_cols_fwd_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < outer * inner; c += step) {
    const int64_t off = (c / inner) * n * inner + c % inner;
    A acc = A(0);
    for (int64_t k = 0; k < n; ++k) {
      acc = wrap_add(acc, static_cast<A>(to_acc(x[off + k * inner])));
      y[off + k * inner] = from_acc<T>(acc);
    }
  }
}

// Scans rows (rows, n) of x into y (both contiguous): one warp or block per row, or, for a few
// long rows, chunks across blocks (chunk totals, their exclusive scan, then each chunk's scan from
// its carry).
template <class T, class A>
void cumsum_rows(const T* x, T* y, int64_t rows, int64_t n, const Tensor& like) {
  cudaStream_t stream = stream_of(like);
  if (!few_long_lines(rows, n, like.device().index)) {
    const dim3 block = n <= 64 ? dim3(32, 8) : dim3(256, 1);
    cumsum_rows_fwd_kernel<T, A><<<row_grid(rows, block), block, 0, stream>>>(x, y, rows, n, n, nullptr);
    EMBER_CUDA_LAUNCH_CHECK("cumsum");
    return;
  }
  const int64_t target = 4 * static_cast<int64_t>(sm_count(like.device().index));
  const int64_t chunks = std::clamp<int64_t>(target / std::max<int64_t>(rows, 1), 1, (n + 4095) / 4096);
  const int64_t chunk = (n + chunks - 1) / chunks;
  Tensor ws = empty({rows * chunks * static_cast<int64_t>(sizeof(A))}, TensorOptions(kUInt8, like.device()));
  A* carries = static_cast<A*>(ws.data_ptr());
  const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(chunks));  // rows, chunks < 4 * SMs
  cumsum_chunk_totals_fwd_kernel<T, A><<<grid, kThreads, 0, stream>>>(x, n, chunk, carries);
  EMBER_CUDA_LAUNCH_CHECK("cumsum");
  cumsum_chunk_carries_fwd_kernel<A><<<blocks_for(rows), kThreads, 0, stream>>>(carries, rows, chunks);
  EMBER_CUDA_LAUNCH_CHECK("cumsum");
  cumsum_rows_fwd_kernel<T, A><<<grid, dim3(kThreads, 1), 0, stream>>>(x, y, rows, n, chunk, carries);
  EMBER_CUDA_LAUNCH_CHECK("cumsum");
}

void cumsum_kernel(const Tensor& out, const Tensor& x, int64_t dim) {
  int64_t outer, n, inner;
  dims_around(x, dim, outer, n, inner);
  Tensor xc = ops::contiguous(x);
  Tensor dst = contiguous_output(out);
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  // A few long columns: scanned as rows of a transposed copy, then transposed back.
  const bool columns_as_rows = inner > 1 && few_long_lines(outer * inner, n, x.device().index);
  Tensor src = columns_as_rows ? ops::contiguous(ops::transpose(ops::view(xc, {outer, n, inner}), 1, 2)) : xc;
  Tensor scanned = columns_as_rows ? empty(src.shape(), src.options()) : dst;
  visit_dtype(x.dtype(), [&]<class E>() {
    using T = CudaType<E>;
    using A = std::conditional_t<std::is_floating_point_v<Acc<T>>, double, int64_t>;
    if (inner == 1 || columns_as_rows) {
      cumsum_rows<T, A>(device_ptr<const T>(src), device_ptr<T>(scanned), outer * inner, n, x);
    } else {
      cumsum_cols_fwd_kernel<T, A><<<blocks_for(outer * inner), kThreads, 0, stream>>>(
          device_ptr<const T>(xc), device_ptr<T>(dst), outer, n, inner);
      EMBER_CUDA_LAUNCH_CHECK("cumsum");
    }
  });
  if (columns_as_rows) {
    Tensor dst3 = ops::view(dst, {outer, n, inner});
    ops::copy_(dst3, ops::transpose(scanned, 1, 2));
  }
  finish_output(out, dst);
}

}  // namespace

void register_arg_reduce_kernels(KernelTable& t) {
  t.max_dim = max_dim_kernel;
  t.min_dim = min_dim_kernel;
  t.argmax = argmax_kernel;
  t.argmin = argmin_kernel;
  t.cumsum = cumsum_kernel;
}

}  // namespace ember::cuda
