// CUDA kernels of batch, layer and group normalisation and their backward
// ops, with the arithmetic of kernels/cpu/norm.cpp (batch norm in training
// goes to cuDNN first, norm_cudnn.cpp, and runs here when cuDNN declines):
//   batch_norm (N, C, *): per channel c, the N strips of S = prod(*) elements at (n, c)
//   layer_norm (*, D):    per row, the D trailing elements
//   group_norm (N, C, *): per (n, g), the (C / G) * S contiguous elements
// y = (x - mean) * invstd * w + b. Statistics in double, two passes (mean,
// then squared deviations); elements in the compute type. Backward, with
// xhat = (x - mean) * invstd, g = grad_out * w and means over the group:
//   grad_x = invstd * (g - mean(g) - xhat * mean(g * xhat))   (batch_norm eval: g * invstd)
//   grad_w = sum grad_out * xhat, grad_b = sum grad_out
// One block per channel / group, or a warp (D <= 1024) or block per
// layer_norm row, reduces with warp shuffles and shared memory: no atomics,
// deterministic. Weight, bias, running and saved statistics may be of any
// floating dtype and layout: they are read as contiguous float64 copies (a few
// KB) and results are written back through the copy kernel.
// Ceilings: ~8 FLOPs per element forward, ~12 backward; memory-bound: forward
// reads x twice (three times for batch norm) and writes y; backward reads x
// and grad_out twice and writes grad_x.
#include <ember/kernels/cuda/block_reduce.cuh>
#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/int_divider.hpp>
#include <ember/kernels/cuda/norm_common.cuh>
#include <ember/kernels/cuda/norm_cudnn.hpp>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

using namespace norm;

// Calls f(i) for this thread's elements of the strips: segs strips of len at base + k * stride.
// Below 2^31 elements the strip of element k comes from multiply-high and shift (int_divider.hpp).
template <class F>
__device__ __forceinline__ void for_strips(int64_t segs, int64_t len, int64_t stride, F f) {
  const int64_t count = segs * len;
  if (count > 0 && IntDivider::fits32(count)) {
    const IntDivider strip(static_cast<uint32_t>(len));
    for (int64_t k = threadIdx.x; k < count; k += blockDim.x) {
      uint32_t q = 0, r = 0;
      strip.divmod(static_cast<uint32_t>(k), q, r);
      f(static_cast<int64_t>(q) * stride + r);
    }
    return;
  }
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) f((k / len) * stride + k % len);
}

// Block-wide (mean, biased variance) of the strips' elements, two passes in double.
template <class T>
__device__ void strip_moments(const T* x, int64_t segs, int64_t len, int64_t stride, double& mean, double& var,
                              double* smem) {
  const double n = static_cast<double>(segs * len);
  double sum = 0.0;
  for_strips(segs, len, stride, [&](int64_t i) { sum += static_cast<double>(to_acc(x[i])); });
  mean = block_allreduce(sum, SumCombine{}, smem) / n;
  double sq = 0.0;
  for_strips(segs, len, stride, [&](int64_t i) {
    const double d = static_cast<double>(to_acc(x[i])) - mean;
    sq += d * d;
  });
  var = block_allreduce(sq, SumCombine{}, smem) / n;
}

// ---- batch norm ---------------------------------------------------------------------------

struct BnShape {
  int64_t N, C, S;
  double eps, momentum;
  bool training;
};

// Per channel: statistics (training) or running stats (eval), saved mean/invstd, the
// running-stat update (into rm_new/rv_new), and the compute-type coefficients m, scale, shift.
template <class T>
__global__ void __launch_bounds__(512) batch_norm_stats_fwd_kernel(const T* x, BnShape s, const double* w, const double* b, const double* rm,
                                            const double* rv, StatOf<Acc<T>>* save_mean, StatOf<Acc<T>>* save_invstd,
                                            double* rm_new, double* rv_new, Acc<T>* coef) {
  using M = Acc<T>;
  __shared__ double smem[32];
  for (int64_t c = blockIdx.x; c < s.C; c += gridDim.x) {
    double mean, var;
    if (s.training) {
      strip_moments(x + c * s.S, s.N, s.S, s.C * s.S, mean, var, smem);
    } else {
      mean = rm[c];
      var = rv[c];
    }
    if (threadIdx.x == 0) {
      const double invstd = 1.0 / sqrt(var + s.eps);
      save_mean[c] = static_cast<StatOf<M>>(mean);
      save_invstd[c] = static_cast<StatOf<M>>(invstd);
      coef[3 * c] = static_cast<M>(mean);
      coef[3 * c + 1] = static_cast<M>(invstd * (w ? w[c] : 1.0));
      coef[3 * c + 2] = static_cast<M>(b ? b[c] : 0.0);
      if (s.training && rm_new != nullptr) {
        const double count = static_cast<double>(s.N * s.S);
        const double unbiased = count > 1 ? var * count / (count - 1) : var;
        rm_new[c] = (1.0 - s.momentum) * rm[c] + s.momentum * mean;
        rv_new[c] = (1.0 - s.momentum) * rv[c] + s.momentum * unbiased;
      }
    }
  }
}

// y = (x - m[c]) * scale[c] + shift[c] over (N, C, S).
template <class T>
__global__ void channel_affine_fwd_kernel(const T* x, T* y, int64_t n, const __grid_constant__ FlatShape<3> ncs,
                                          const Acc<T>* coef) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const int64_t c = ncs.coordinate(i, 1);
    y[i] = from_acc<T>((to_acc(x[i]) - coef[3 * c]) * coef[3 * c + 1] + coef[3 * c + 2]);
  }
}

// Per channel: grad sums (gb, gw as double) and the grad_x coefficients k, mean_g, proj, m.
template <class T>
__global__ void __launch_bounds__(512) batch_norm_sums_bwd_kernel(const T* g, const T* x, BnShape s, const double* w, const double* mean,
                                           const double* invstd, double* gw, double* gb, Acc<T>* coef) {
  using M = Acc<T>;
  __shared__ Sum2 smem[32];
  for (int64_t c = blockIdx.x; c < s.C; c += gridDim.x) {
    Sum2 acc{0.0, 0.0};
    const double mc = mean[c];
    for_strips(s.N, s.S, s.C * s.S, [&](int64_t i) {
      const int64_t at = c * s.S + i;
      const double gv = static_cast<double>(to_acc(g[at]));
      acc.a += gv;
      acc.b += gv * (static_cast<double>(to_acc(x[at])) - mc);
    });
    acc = block_allreduce(acc, Sum2Combine{}, smem);
    if (threadIdx.x == 0) {
      const double count = static_cast<double>(s.N * s.S), inv = invstd[c];
      gb[c] = acc.a;
      gw[c] = acc.b * inv;
      coef[4 * c] = static_cast<M>((w ? w[c] : 1.0) * inv);
      coef[4 * c + 1] = s.training ? static_cast<M>(acc.a / count) : M(0);
      coef[4 * c + 2] = s.training ? static_cast<M>(acc.b * inv * inv / count) : M(0);
      coef[4 * c + 3] = static_cast<M>(mc);
    }
  }
}

// grad_x = k * (g - mean_g - (x - m) * proj) over (N, C, S).
template <class T>
__global__ void batch_norm_grad_x_bwd_kernel(const T* g, const T* x, T* gx, int64_t n,
                                             const __grid_constant__ FlatShape<3> ncs, const Acc<T>* coef) {
  using M = Acc<T>;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const M* k = coef + 4 * ncs.coordinate(i, 1);
    gx[i] = from_acc<T>(k[0] * (to_acc(g[i]) - k[1] - (to_acc(x[i]) - k[3]) * k[2]));
  }
}


void batch_norm_kernel(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x,
                       const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var,
                       const NormArgs& args) {
  if (cudnn_batch_norm_forward(out, stat0, stat1, x, weight, bias, running_mean, running_var, args)) return;
  check_contiguous("batch_norm", {&out, &stat0, &stat1, &x});
  const BnShape s{x.size(0), x.size(1), x.numel() / std::max<int64_t>(1, x.size(0) * x.size(1)), args.eps,
                  args.momentum, args.training};
  Tensor w = as_f64(weight), b = as_f64(bias), rm = as_f64(running_mean), rv = as_f64(running_var);
  const bool update = args.training && running_mean.defined();
  Tensor rm_new = update ? f64_buffer(s.C, x) : Tensor(), rv_new = update ? f64_buffer(s.C, x) : Tensor();
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  visit_floating(x.dtype(), "batch_norm", [&]<class E>() {
    using T = CudaType<E>;
    using M = Acc<T>;
    Tensor coef = empty({3 * s.C}, TensorOptions(dtype_of_v<M>, x.device()));
    batch_norm_stats_fwd_kernel<T><<<grid_for(s.C), 512, 0, stream>>>(
        device_ptr<const T>(x), s, f64(w), f64(b), f64(rm), f64(rv), device_ptr<StatOf<M>>(stat0),
        device_ptr<StatOf<M>>(stat1), update ? device_ptr<double>(rm_new) : nullptr,
        update ? device_ptr<double>(rv_new) : nullptr, device_ptr<M>(coef));
    EMBER_CUDA_LAUNCH_CHECK("batch_norm");
    channel_affine_fwd_kernel<T><<<blocks_for(x.numel()), kThreads, 0, stream>>>(
        device_ptr<const T>(x), device_ptr<T>(out), x.numel(), FlatShape<3>{s.N, s.C, s.S},
        device_ptr<const M>(coef));
    EMBER_CUDA_LAUNCH_CHECK("batch_norm");
  });
  if (update) {
    store_param(running_mean, rm_new);
    store_param(running_var, rv_new);
  }
}

void batch_norm_backward_kernel(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& stat0,
                                const Tensor& stat1, const NormArgs& args) {
  if (cudnn_batch_norm_backward(grad_x, grad_weight, grad_bias, grad_out, x, weight, stat0, stat1, args)) return;
  check_contiguous("batch_norm_backward", {&grad_x, &grad_out, &x});
  const BnShape s{x.size(0), x.size(1), x.numel() / std::max<int64_t>(1, x.size(0) * x.size(1)), args.eps,
                  args.momentum, args.training};
  Tensor w = as_f64(weight), mean = as_f64(stat0), invstd = as_f64(stat1);
  Tensor gw = f64_buffer(s.C, x), gb = f64_buffer(s.C, x);
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  visit_floating(x.dtype(), "batch_norm_backward", [&]<class E>() {
    using T = CudaType<E>;
    using M = Acc<T>;
    Tensor coef = empty({4 * s.C}, TensorOptions(dtype_of_v<M>, x.device()));
    batch_norm_sums_bwd_kernel<T><<<grid_for(s.C), 512, 0, stream>>>(
        device_ptr<const T>(grad_out), device_ptr<const T>(x), s, f64(w), f64(mean), f64(invstd),
        device_ptr<double>(gw), device_ptr<double>(gb), device_ptr<M>(coef));
    EMBER_CUDA_LAUNCH_CHECK("batch_norm_backward");
    batch_norm_grad_x_bwd_kernel<T><<<blocks_for(x.numel()), kThreads, 0, stream>>>(
        device_ptr<const T>(grad_out), device_ptr<const T>(x), device_ptr<T>(grad_x), x.numel(),
        FlatShape<3>{s.N, s.C, s.S}, device_ptr<const M>(coef));
    EMBER_CUDA_LAUNCH_CHECK("batch_norm_backward");
  });
  store_param(grad_weight, gw);
  store_param(grad_bias, gb);
}

}  // namespace

// layer_norm and group_norm live in norm_layer.cu; registration of the whole family here.
void register_layer_group_norm_kernels(KernelTable& t);

void register_norm_kernels(KernelTable& t) {
  t.batch_norm = batch_norm_kernel;
  t.batch_norm_backward = batch_norm_backward_kernel;
  register_layer_group_norm_kernels(t);
}

}  // namespace ember::cuda
