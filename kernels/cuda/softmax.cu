// CUDA kernels of softmax and log_softmax along one dim and their backward
// passes from the forward output y (same formulas as kernels/cpu/softmax.cpp):
//   softmax:      y = exp(x - max) / sum exp(x - max)
//   log_softmax:  y = x - max - log(sum exp(x - max))
//   softmax_backward:      grad_in = y * (g - sum(g * y))
//   log_softmax_backward:  grad_in = g - exp(y) * sum(g)
// The softmax dim is moved last and the input made contiguous ([rows, n]);
// each row is handled by a warp (n <= 1024) or a 256-thread block, with warp
// shuffles and shared memory for the row max and sum (sums in double, as the
// CPU). A NaN in a row, or a row of only -inf, gives NaN. When the dim is not
// last the result is computed contiguously and copied into out's layout.
//
// Ceilings: forward reads x three times from cache/HBM and writes once, one
// exp per element (two for softmax); backward reads g, y twice, writes once.
// Bandwidth-bound for long rows.
#include <algorithm>
#include <vector>

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/math.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

struct MaxOp {
  template <class A> __device__ __forceinline__ A operator()(A a, A b) const {
    if (a != a) return a;
    if (b != b) return b;
    return b > a ? b : a;
  }
};
struct SumOp {
  template <class A> __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};

// Combines v over the blockDim.x threads of a row (blockDim.x is 32, or 256 with one row per block).
template <class A, class Op>
__device__ __forceinline__ A row_allreduce(A v, Op op, A* smem) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, d));
  if (blockDim.x > 32) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, nwarps = blockDim.x / 32;
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    v = smem[0];
    for (int w = 1; w < nwarps; ++w) v = op(v, smem[w]);
    (void)lane;
  }
  return v;
}

template <class T, bool Log>
__global__ void softmax_fwd_kernel(const T* x, T* y, int64_t rows, int64_t n) {
  using M = Acc<T>;
  __shared__ double smem_d[8];
  __shared__ M smem_m[8];
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t row = base + threadIdx.y;
    const bool valid = row < rows;
    const T* xr = x + (valid ? row : 0) * n;
    M mx = -INFINITY;
    if (valid)
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) mx = MaxOp{}(mx, to_acc(xr[j]));
    mx = row_allreduce(mx, MaxOp{}, smem_m);
    double sum = 0.0;
    if (valid)
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += static_cast<double>(dmath::exp(to_acc(xr[j]) - mx));
    sum = row_allreduce(sum, SumOp{}, smem_d);
    if (valid) {
      T* yr = y + row * n;
      if constexpr (Log) {
        const M lse = static_cast<M>(dmath::log(sum));
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = from_acc<T>(to_acc(xr[j]) - mx - lse);
      } else {
        const M inv = static_cast<M>(1.0 / sum);
        for (int64_t j = threadIdx.x; j < n; j += blockDim.x) yr[j] = from_acc<T>(dmath::exp(to_acc(xr[j]) - mx) * inv);
      }
    }
  }
}

template <class T, bool Log>
__global__ void softmax_bwd_kernel(const T* g, const T* y, T* gi, int64_t rows, int64_t n) {
  using M = Acc<T>;
  __shared__ double smem_d[8];
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < rows;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t row = base + threadIdx.y;
    const bool valid = row < rows;
    const int64_t off = (valid ? row : 0) * n;
    double sum = 0.0;
    if (valid) {
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        if constexpr (Log) sum += static_cast<double>(to_acc(g[off + j]));
        else sum += static_cast<double>(to_acc(g[off + j])) * static_cast<double>(to_acc(y[off + j]));
      }
    }
    sum = row_allreduce(sum, SumOp{}, smem_d);
    if (valid) {
      const M s = static_cast<M>(sum);
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        const M gv = to_acc(g[off + j]), yv = to_acc(y[off + j]);
        if constexpr (Log) gi[off + j] = from_acc<T>(gv - dmath::exp(yv) * s);
        else gi[off + j] = from_acc<T>(yv * (gv - s));
      }
    }
  }
}

// The permutation that moves `dim` last.
Dims dim_last(int64_t ndim, int64_t dim) {
  Dims perm;
  for (int64_t d = 0; d < ndim; ++d)
    if (d != dim) perm.push_back(d);
  perm.push_back(dim);
  return perm;
}

// Runs launch(inputs as [rows, n] contiguous..., output [rows, n] contiguous) and lands the result in out.
template <class Launch>
void along_last(const Tensor& out, const std::vector<Tensor>& inputs, int64_t dim, Launch launch) {
  const int64_t nd = out.dim();
  if (nd == 0) {  // a 0-dim tensor is one row of one element
    std::vector<Tensor> in;
    for (const Tensor& t : inputs) in.push_back(ops::view(t, {1}));
    along_last(ops::view(out, {1}), in, 0, launch);
    return;
  }
  if (dim < 0) dim += nd;
  const Dims perm = dim_last(nd, dim);
  std::vector<Tensor> rows;
  for (const Tensor& t : inputs) rows.push_back(ops::contiguous(ops::permute(t, perm)));
  const Tensor out_view = ops::permute(out, perm);
  const Tensor dst = out_view.is_contiguous() ? out_view : empty(out_view.shape(), out.options());
  const int64_t n = out.size(dim), total = out.numel();
  if (total == 0 || n == 0) return;
  launch(rows, dst, total / n, n);
  if (!dst.is_same(out_view)) EMBER_KERNEL(copy, out.device())(out_view, dst, false);
}

dim3 row_block(int64_t n) { return n <= 1024 ? dim3(32, 8) : dim3(256, 1); }
unsigned row_grid(int64_t rows, const dim3& block) {
  return static_cast<unsigned>(std::clamp<int64_t>((rows + block.y - 1) / block.y, 1, 65535));
}

template <bool Log>
void softmax_forward(const char* op, const Tensor& out, const Tensor& x, int64_t dim) {
  DeviceGuard guard(x.device().index);
  visit_floating(x.dtype(), op, [&]<class T>() {
    using C = CudaType<T>;
    along_last(out, {x}, dim, [&](const std::vector<Tensor>& in, const Tensor& dst, int64_t rows, int64_t n) {
      const dim3 block = row_block(n);
      softmax_fwd_kernel<C, Log><<<row_grid(rows, block), block, 0, stream_of(x)>>>(
          device_ptr<const C>(in[0]), device_ptr<C>(dst), rows, n);
      EMBER_CUDA_LAUNCH_CHECK(op);
    });
  });
}

template <bool Log>
void softmax_backward(const char* op, const Tensor& grad_in, const Tensor& grad_out, const Tensor& y, int64_t dim) {
  DeviceGuard guard(y.device().index);
  visit_floating(y.dtype(), op, [&]<class T>() {
    using C = CudaType<T>;
    along_last(grad_in, {grad_out, y}, dim, [&](const std::vector<Tensor>& in, const Tensor& dst, int64_t rows, int64_t n) {
      const dim3 block = row_block(n);
      softmax_bwd_kernel<C, Log><<<row_grid(rows, block), block, 0, stream_of(y)>>>(
          device_ptr<const C>(in[0]), device_ptr<const C>(in[1]), device_ptr<C>(dst), rows, n);
      EMBER_CUDA_LAUNCH_CHECK(op);
    });
  });
}

void softmax_kernel(const Tensor& out, const Tensor& x, int64_t dim) { softmax_forward<false>("softmax", out, x, dim); }
void log_softmax_kernel(const Tensor& out, const Tensor& x, int64_t dim) {
  softmax_forward<true>("log_softmax", out, x, dim);
}
void softmax_backward_kernel(const Tensor& gi, const Tensor& g, const Tensor& y, int64_t dim) {
  softmax_backward<false>("softmax_backward", gi, g, y, dim);
}
void log_softmax_backward_kernel(const Tensor& gi, const Tensor& g, const Tensor& y, int64_t dim) {
  softmax_backward<true>("log_softmax_backward", gi, g, y, dim);
}

}  // namespace

void register_softmax_kernels(KernelTable& t) {
  t.softmax = softmax_kernel;
  t.log_softmax = log_softmax_kernel;
  t.softmax_backward = softmax_backward_kernel;
  t.log_softmax_backward = log_softmax_backward_kernel;
}

}  // namespace ember::cuda
