// CUDA kernels of layer_norm and group_norm and their backward ops (batch
// norm and the family's registration are in norm.cu; the formulas and the
// arithmetic split, double statistics and compute-type elements, follow
// kernels/cpu/norm.cpp).
//   layer_norm: rows of D elements, a warp per row (D <= 1024) or a 256-thread
//               block; grad_weight/grad_bias are column sums over the rows, 32
//               columns per block with 16 row lanes combined in shared memory.
//   group_norm: one block per (n, g) group of (C / G) * S contiguous elements;
//               grad_weight/grad_bias one block per channel.
// Deterministic (no atomics). Ceilings: memory-bound, as norm.cu: forward
// reads x twice and writes y, backward reads x and grad_out twice, writes grad_x.
#include <ember/kernels/cuda/block_reduce.cuh>
#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/norm_common.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

using namespace norm;

// Mean and biased variance (two passes, double) of n contiguous elements, over the threads of a row.
template <class T>
__device__ void row_moments(const T* x, int64_t n, double& mean, double& var, double* smem) {
  double sum = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += static_cast<double>(to_acc(x[j]));
  mean = block_allreduce(sum, SumCombine{}, smem) / static_cast<double>(n);
  double sq = 0.0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const double d = static_cast<double>(to_acc(x[j])) - mean;
    sq += d * d;
  }
  var = block_allreduce(sq, SumCombine{}, smem) / static_cast<double>(n);
}

// ---- layer norm ---------------------------------------------------------------------------

// x, y: (R, D); mean, rstd: (R); w, b: (D) doubles or null.
template <class T>
__global__ void layer_norm_fwd_kernel(const T* x, T* y, int64_t R, int64_t D, double eps, const double* w,
                                      const double* b, StatOf<Acc<T>>* mean_out, StatOf<Acc<T>>* rstd_out) {
  using M = Acc<T>;
  __shared__ double smem[32];
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < R;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t r = base + threadIdx.y;
    if (r >= R) continue;  // uniform over the row's threads (a warp, or the whole block when blockDim.y == 1)
    const T* xr = x + r * D;
    double mean, var;
    row_moments(xr, D, mean, var, smem);
    const double rstd = 1.0 / sqrt(var + eps);
    if (threadIdx.x == 0) {
      mean_out[r] = static_cast<StatOf<M>>(mean);
      rstd_out[r] = static_cast<StatOf<M>>(rstd);
    }
    const M m = static_cast<M>(mean), k = static_cast<M>(rstd);
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      M v = (to_acc(xr[j]) - m) * k;
      if (w) v *= static_cast<M>(w[j]);
      if (b) v += static_cast<M>(b[j]);
      y[r * D + j] = from_acc<T>(v);
    }
  }
}

template <class T>
__global__ void layer_norm_grad_x_bwd_kernel(const T* g, const T* x, T* gx, int64_t R, int64_t D, const double* w,
                                             const double* mean, const double* rstd) {
  using M = Acc<T>;
  __shared__ Sum2 smem[32];
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < R;
       base += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t r = base + threadIdx.y;
    if (r >= R) continue;
    const T* xr = x + r * D;
    const T* gr = g + r * D;
    Sum2 acc{0.0, 0.0};  // (sum g * w, sum g * w * xhat)
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      const double gw = static_cast<double>(to_acc(gr[j])) * (w ? w[j] : 1.0);
      acc.a += gw;
      acc.b += gw * (static_cast<double>(to_acc(xr[j])) - mean[r]) * rstd[r];
    }
    acc = block_allreduce(acc, Sum2Combine{}, smem);
    const M a = static_cast<M>(acc.a / static_cast<double>(D)), proj = static_cast<M>(acc.b / static_cast<double>(D));
    const M m = static_cast<M>(mean[r]), k = static_cast<M>(rstd[r]);
    for (int64_t j = threadIdx.x; j < D; j += blockDim.x) {
      const M gv = to_acc(gr[j]) * (w ? static_cast<M>(w[j]) : M(1));
      const M xhat = (to_acc(xr[j]) - m) * k;
      gx[r * D + j] = from_acc<T>(k * (gv - a - xhat * proj));
    }
  }
}

// Column sums over R rows: gb[j] = sum g, gw[j] = sum g * (x - mean[r]) * rstd[r]. Block (32, 16).
template <class T>
__global__ void layer_norm_params_bwd_kernel(const T* g, const T* x, int64_t R, int64_t D, const double* mean,
                                             const double* rstd, double* gw, double* gb) {
  __shared__ Sum2 part[16][33];
  for (int64_t j0 = static_cast<int64_t>(blockIdx.x) * 32; j0 < D; j0 += static_cast<int64_t>(gridDim.x) * 32) {
    const int64_t j = j0 + threadIdx.x;
    Sum2 acc{0.0, 0.0};
    if (j < D)
      for (int64_t r = threadIdx.y; r < R; r += blockDim.y) {
        const double gv = static_cast<double>(to_acc(g[r * D + j]));
        acc.a += gv;
        acc.b += gv * (static_cast<double>(to_acc(x[r * D + j])) - mean[r]) * rstd[r];
      }
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < D) {
      Sum2 total = part[0][threadIdx.x];
      for (unsigned k = 1; k < blockDim.y; ++k) total = Sum2Combine{}(total, part[k][threadIdx.x]);
      gb[j] = total.a;
      gw[j] = total.b;
    }
    __syncthreads();
  }
}

// ---- group norm ---------------------------------------------------------------------------

struct GnShape {
  int64_t N, C, G, Cg, S;
};

// One block per (n, g): statistics, then y with per-channel scale/shift.
template <class T>
__global__ void group_norm_fwd_kernel(const T* x, T* y, GnShape s, double eps, const double* w, const double* b,
                                      StatOf<Acc<T>>* mean_out, StatOf<Acc<T>>* rstd_out) {
  using M = Acc<T>;
  __shared__ double smem[32];
  const int64_t len = s.Cg * s.S;
  for (int64_t ng = blockIdx.x; ng < s.N * s.G; ng += gridDim.x) {
    const T* xg = x + ng * len;
    double mean, var;
    row_moments(xg, len, mean, var, smem);
    const double rstd = 1.0 / sqrt(var + eps);
    if (threadIdx.x == 0) {
      mean_out[ng] = static_cast<StatOf<M>>(mean);
      rstd_out[ng] = static_cast<StatOf<M>>(rstd);
    }
    const M m = static_cast<M>(mean);
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const int64_t c = (ng % s.G) * s.Cg + i / s.S;
      const M scale = static_cast<M>(rstd * (w ? w[c] : 1.0)), shift = static_cast<M>(b ? b[c] : 0.0);
      y[ng * len + i] = from_acc<T>((to_acc(xg[i]) - m) * scale + shift);
    }
  }
}

template <class T>
__global__ void group_norm_grad_x_bwd_kernel(const T* g, const T* x, T* gx, GnShape s, const double* w,
                                             const double* mean, const double* rstd) {
  using M = Acc<T>;
  __shared__ Sum2 smem[32];
  const int64_t len = s.Cg * s.S;
  for (int64_t ng = blockIdx.x; ng < s.N * s.G; ng += gridDim.x) {
    const int64_t off = ng * len, c0 = (ng % s.G) * s.Cg;
    Sum2 acc{0.0, 0.0};
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const double gv = static_cast<double>(to_acc(g[off + i])) * (w ? w[c0 + i / s.S] : 1.0);
      acc.a += gv;
      acc.b += gv * (static_cast<double>(to_acc(x[off + i])) - mean[ng]) * rstd[ng];
    }
    acc = block_allreduce(acc, Sum2Combine{}, smem);
    const double count = static_cast<double>(len);
    const M a = static_cast<M>(acc.a / count), proj = static_cast<M>(acc.b / count);
    const M m = static_cast<M>(mean[ng]), k = static_cast<M>(rstd[ng]);
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      const M wc = static_cast<M>(w ? w[c0 + i / s.S] : 1.0);
      const M xhat = (to_acc(x[off + i]) - m) * k;
      gx[off + i] = from_acc<T>(k * (to_acc(g[off + i]) * wc - a - xhat * proj));
    }
  }
}

// One block per channel: gb[c] = sum g, gw[c] = sum g * xhat over (n, s).
template <class T>
__global__ void group_norm_params_bwd_kernel(const T* g, const T* x, GnShape s, const double* mean, const double* rstd,
                                             double* gw, double* gb) {
  __shared__ Sum2 smem[32];
  for (int64_t c = blockIdx.x; c < s.C; c += gridDim.x) {
    Sum2 acc{0.0, 0.0};
    for (int64_t k = threadIdx.x; k < s.N * s.S; k += blockDim.x) {
      const int64_t n = k / s.S, i = (n * s.C + c) * s.S + k % s.S, gi = n * s.G + c / s.Cg;
      const double gv = static_cast<double>(to_acc(g[i]));
      acc.a += gv;
      acc.b += gv * (static_cast<double>(to_acc(x[i])) - mean[gi]) * rstd[gi];
    }
    acc = block_allreduce(acc, Sum2Combine{}, smem);
    if (threadIdx.x == 0) {
      gb[c] = acc.a;
      gw[c] = acc.b;
    }
  }
}

// ---- launchers ----------------------------------------------------------------------------

dim3 row_block(int64_t n) { return n <= 1024 ? dim3(32, kThreads / 32) : dim3(kThreads, 1); }

void layer_norm_kernel(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x,
                       const Tensor& weight, const Tensor& bias, const Tensor&, const Tensor&, const NormArgs& args) {
  check_contiguous("layer_norm", {&out, &stat0, &stat1, &x});
  const int64_t R = stat0.numel(), D = R > 0 ? x.numel() / R : 0;
  Tensor w = as_f64(weight), b = as_f64(bias);
  DeviceGuard guard(x.device().index);
  visit_floating(x.dtype(), "layer_norm", [&]<class E>() {
    using T = CudaType<E>;
    using S = StatOf<Acc<T>>;
    const dim3 block = row_block(D);
    layer_norm_fwd_kernel<T><<<grid_for((R + block.y - 1) / block.y), block, 0, stream_of(x)>>>(
        device_ptr<const T>(x), device_ptr<T>(out), R, D, args.eps, f64(w), f64(b), device_ptr<S>(stat0),
        device_ptr<S>(stat1));
    EMBER_CUDA_LAUNCH_CHECK("layer_norm");
  });
}

void layer_norm_backward_kernel(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& stat0,
                                const Tensor& stat1, const NormArgs&) {
  check_contiguous("layer_norm_backward", {&grad_x, &grad_out, &x});
  const int64_t R = stat0.numel(), D = R > 0 ? x.numel() / R : 0;
  Tensor w = as_f64(weight), mean = as_f64(stat0), rstd = as_f64(stat1);
  const bool params = grad_weight.defined() || grad_bias.defined();
  Tensor gw = params ? f64_buffer(D, x) : Tensor(), gb = params ? f64_buffer(D, x) : Tensor();
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  visit_floating(x.dtype(), "layer_norm_backward", [&]<class E>() {
    using T = CudaType<E>;
    const dim3 block = row_block(D);
    layer_norm_grad_x_bwd_kernel<T><<<grid_for((R + block.y - 1) / block.y), block, 0, stream>>>(
        device_ptr<const T>(grad_out), device_ptr<const T>(x), device_ptr<T>(grad_x), R, D, f64(w), f64(mean),
        f64(rstd));
    EMBER_CUDA_LAUNCH_CHECK("layer_norm_backward");
    if (params) {
      layer_norm_params_bwd_kernel<T><<<grid_for((D + 31) / 32), dim3(32, 16), 0, stream>>>(
          device_ptr<const T>(grad_out), device_ptr<const T>(x), R, D, f64(mean), f64(rstd), device_ptr<double>(gw),
          device_ptr<double>(gb));
      EMBER_CUDA_LAUNCH_CHECK("layer_norm_backward");
    }
  });
  if (params) {
    store_param(grad_weight, gw);
    store_param(grad_bias, gb);
  }
}

GnShape gn_shape(const Tensor& x, int64_t groups) {
  const int64_t N = x.size(0), C = x.size(1);
  return {N, C, groups, C / groups, x.numel() / std::max<int64_t>(1, N * C)};
}

void group_norm_kernel(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x,
                       const Tensor& weight, const Tensor& bias, const Tensor&, const Tensor&, const NormArgs& args) {
  check_contiguous("group_norm", {&out, &stat0, &stat1, &x});
  const GnShape s = gn_shape(x, args.groups);
  Tensor w = as_f64(weight), b = as_f64(bias);
  DeviceGuard guard(x.device().index);
  visit_floating(x.dtype(), "group_norm", [&]<class E>() {
    using T = CudaType<E>;
    using S = StatOf<Acc<T>>;
    group_norm_fwd_kernel<T><<<grid_for(s.N * s.G), kThreads, 0, stream_of(x)>>>(
        device_ptr<const T>(x), device_ptr<T>(out), s, args.eps, f64(w), f64(b), device_ptr<S>(stat0),
        device_ptr<S>(stat1));
    EMBER_CUDA_LAUNCH_CHECK("group_norm");
  });
}

void group_norm_backward_kernel(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& stat0,
                                const Tensor& stat1, const NormArgs& args) {
  check_contiguous("group_norm_backward", {&grad_x, &grad_out, &x});
  const GnShape s = gn_shape(x, args.groups);
  Tensor w = as_f64(weight), mean = as_f64(stat0), rstd = as_f64(stat1);
  const bool params = grad_weight.defined() || grad_bias.defined();
  Tensor gw = params ? f64_buffer(s.C, x) : Tensor(), gb = params ? f64_buffer(s.C, x) : Tensor();
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  visit_floating(x.dtype(), "group_norm_backward", [&]<class E>() {
    using T = CudaType<E>;
    group_norm_grad_x_bwd_kernel<T><<<grid_for(s.N * s.G), kThreads, 0, stream>>>(
        device_ptr<const T>(grad_out), device_ptr<const T>(x), device_ptr<T>(grad_x), s, f64(w), f64(mean), f64(rstd));
    EMBER_CUDA_LAUNCH_CHECK("group_norm_backward");
    if (params) {
      group_norm_params_bwd_kernel<T><<<grid_for(s.C), kThreads, 0, stream>>>(
          device_ptr<const T>(grad_out), device_ptr<const T>(x), s, f64(mean), f64(rstd), device_ptr<double>(gw),
          device_ptr<double>(gb));
      EMBER_CUDA_LAUNCH_CHECK("group_norm_backward");
    }
  });
  if (params) {
    store_param(grad_weight, gw);
    store_param(grad_bias, gb);
  }
}

}  // namespace

void register_layer_group_norm_kernels(KernelTable& t) {
  t.layer_norm = layer_norm_kernel;
  t.layer_norm_backward = layer_norm_backward_kernel;
  t.group_norm = group_norm_kernel;
  t.group_norm_backward = group_norm_backward_kernel;
}

}  // namespace ember::cuda
