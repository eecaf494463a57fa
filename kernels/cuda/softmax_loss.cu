// CUDA kernels of the classification losses and their backward passes, with
// the semantics of kernels/cpu/softmax_loss.cpp:
//   nll_loss        loss_r = -w[t_r] * x[r, t_r]           (x holds log-probabilities)
//   cross_entropy   fused log_softmax + nll with label smoothing eps:
//                   loss_r = (1 - eps) * -w[t] logp[r, t] + eps / C * -sum_c w[c] logp[r, c]
// Input is (N, C, D) contiguous (D = 1 for (N, C)); row r = (n, d) reads its C
// classes at stride D; target is (N * D) int64. Ignored rows add 0 to the loss
// and to the weight total; Mean divides by the total weight (NaN when it is 0).
// Backward: nll puts -w[t] * g_r at (r, t); cross_entropy writes, with
// p = softmax(x) and W = sum_c w[c],
//   g_r * ((1 - eps) * w[t] * (p_c - [c == t]) + eps / C * (p_c * W - w[c])).
// Rows with D = 1 are handled by a warp (C <= 1024) or a 256-thread block;
// with D > 1 by one thread each (neighbouring rows are neighbouring addresses).
// Everything is computed in double, as the CPU. Per-row losses go to a
// workspace that a single block sums (deterministic). Targets are checked on
// the device (Note [index checks on CUDA]).
// Ceilings: nll touches one element per row; cross_entropy reads each row
// twice forward (three times with smoothing) and three times backward, with
// one exp per element per pass: bound by exp throughput for large C.
#include <math_constants.h>

#include <ember/kernels/cuda/block_reduce.cuh>
#include <ember/kernels/cuda/index_check.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

struct LossShape {
  int64_t rows, C, D, ignore;
  double eps;
  __device__ __forceinline__ int64_t class_offset(int64_t r) const { return (r / D) * C * D + r % D; }
};

struct MaxNanCombine {
  __device__ __forceinline__ double operator()(double a, double b) const {
    if (isnan(a)) return a;
    if (isnan(b)) return b;
    return b > a ? b : a;
  }
};

// Combine over the threads of one row: blockDim.x is 1 (a thread per row), 32 or 256.
template <class A, class Op>
__device__ __forceinline__ A row_allreduce(A v, Op op, A* smem) {
  return blockDim.x == 1 ? v : block_allreduce(v, op, smem);
}

// log(sum_c exp(x_c)) of one row (C values at stride D), as the CPU's row_logsumexp.
template <class T>
__device__ double row_logsumexp(const T* x, const LossShape& s, bool valid, double* smem) {
  double m = -CUDART_INF;
  if (valid)
    for (int64_t c = threadIdx.x; c < s.C; c += blockDim.x) m = MaxNanCombine{}(m, static_cast<double>(to_acc(x[c * s.D])));
  m = row_allreduce(m, MaxNanCombine{}, smem);
  if (isnan(m) || isinf(m)) return m;  // row-uniform: every thread of the row returns here
  double sum = 0.0;
  if (valid)
    for (int64_t c = threadIdx.x; c < s.C; c += blockDim.x) sum += exp(static_cast<double>(to_acc(x[c * s.D])) - m);
  sum = row_allreduce(sum, SumCombine{}, smem);
  return m + log(sum);
}

// The target of row r, or -1 when the row is ignored or its target is out of range (then flagged).
__device__ __forceinline__ int64_t row_target(const int64_t* target, int64_t r, const LossShape& s,
                                              unsigned long long* flag) {
  const int64_t t = target[r];
  if (t == s.ignore) return -1;
  if (t < 0 || t >= s.C) {
    if (threadIdx.x == 0) flag_bad_index(flag, r);
    return -1;
  }
  return t;
}

#define EMBER_FOR_EACH_ROW(rows)                                                                              \
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.y; base < (rows);                          \
       base += static_cast<int64_t>(gridDim.x) * blockDim.y)

// Per-row losses: out_none[r] (reduction None) or loss[r], wt[r] (doubles) for the final sum.
template <class T, bool CrossEntropy>
__global__ void loss_rows_fwd_kernel(const T* x, const int64_t* target, const T* weight, LossShape s,
                                     unsigned long long* flag, T* out_none, double* loss, double* wt) {
  __shared__ double smem[32];
  __shared__ Sum2 smem2[32];
  EMBER_FOR_EACH_ROW(s.rows) {
    const int64_t r = base + threadIdx.y;
    const bool valid = r < s.rows;
    const T* xr = x + (valid ? s.class_offset(r) : 0);
    const int64_t t = valid ? row_target(target, r, s, flag) : -1;
    double value = 0.0, w = 0.0;
    if constexpr (CrossEntropy) {
      const double lse = row_logsumexp(xr, s, valid && t >= 0, smem);
      Sum2 smooth{0.0, 0.0};  // (sum_c w_c x_c, sum_c w_c) for label smoothing
      if (s.eps > 0.0) {
        if (valid && t >= 0)
          for (int64_t c = threadIdx.x; c < s.C; c += blockDim.x) {
            const double wc = weight ? static_cast<double>(to_acc(weight[c])) : 1.0;
            smooth.a += wc * static_cast<double>(to_acc(xr[c * s.D]));
            smooth.b += wc;
          }
        smooth = row_allreduce(smooth, Sum2Combine{}, smem2);
      }
      if (t >= 0) {
        w = weight ? static_cast<double>(to_acc(weight[t])) : 1.0;
        value = -w * (static_cast<double>(to_acc(xr[t * s.D])) - lse);
        if (s.eps > 0.0) {
          const double sm = -(smooth.a - lse * smooth.b);
          value = (1.0 - s.eps) * value + s.eps / static_cast<double>(s.C) * sm;
        }
      }
    } else if (t >= 0) {
      w = weight ? static_cast<double>(to_acc(weight[t])) : 1.0;
      value = -w * static_cast<double>(to_acc(xr[t * s.D]));
    }
    if (valid && threadIdx.x == 0) {
      if (out_none != nullptr) {
        out_none[r] = from_acc<T>(value);
      } else {
        loss[r] = value;
        wt[r] = w;
      }
    }
  }
}

// out[0] = sum(loss) / sum(wt) (mean) or sum(loss); one block.
template <class T>
__global__ void __launch_bounds__(1024)
    loss_total_fwd_kernel(const double* loss, const double* wt, int64_t rows, bool mean, T* out) {
  __shared__ Sum2 smem[32];
  Sum2 acc{0.0, 0.0};
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    acc.a += loss[r];
    acc.b += wt[r];
  }
  acc = block_allreduce(acc, Sum2Combine{}, smem);
  if (threadIdx.x == 0) *out = from_acc<T>(mean ? acc.a / acc.b : acc.a);
}

// sums[0] = total target weight of the non-ignored rows, sums[1] = sum_c w[c] (C without weight); one block.
template <class T>
__global__ void __launch_bounds__(1024)
    loss_weight_sums_bwd_kernel(const int64_t* target, const T* weight, LossShape s, double* sums) {
  __shared__ Sum2 smem[32];
  Sum2 acc{0.0, 0.0};
  for (int64_t r = threadIdx.x; r < s.rows; r += blockDim.x) {
    const int64_t t = target[r];
    if (t != s.ignore && t >= 0 && t < s.C) acc.a += weight ? static_cast<double>(to_acc(weight[t])) : 1.0;
  }
  for (int64_t c = threadIdx.x; c < s.C; c += blockDim.x) acc.b += weight ? static_cast<double>(to_acc(weight[c])) : 1.0;
  acc = block_allreduce(acc, Sum2Combine{}, smem);
  if (threadIdx.x == 0) {
    sums[0] = acc.a;
    sums[1] = acc.b;
  }
}

// grad_x rows from grad_out (g[r] for None, g[0] otherwise, divided by sums[0] for Mean).
template <class T, bool CrossEntropy>
__global__ void loss_rows_bwd_kernel(T* gx, const T* g, const T* x, const int64_t* target, const T* weight,
                                     LossShape s, Reduction reduction, const double* sums, unsigned long long* flag) {
  __shared__ double smem[32];
  EMBER_FOR_EACH_ROW(s.rows) {
    const int64_t r = base + threadIdx.y;
    const bool valid = r < s.rows;
    const int64_t off = valid ? s.class_offset(r) : 0;
    const int64_t t = valid ? row_target(target, r, s, flag) : -1;
    double scale = 0.0;
    if (t >= 0) {
      scale = static_cast<double>(to_acc(g[reduction == Reduction::None ? r : 0]));
      if (reduction == Reduction::Mean) scale *= 1.0 / sums[0];
    }
    const double wt = t >= 0 && weight ? static_cast<double>(to_acc(weight[t])) : 1.0;
    if constexpr (CrossEntropy) {
      const double lse = row_logsumexp(x + off, s, valid && t >= 0, smem);
      if (valid)
        for (int64_t c = threadIdx.x; c < s.C; c += blockDim.x) {
          double v = 0.0;
          if (t >= 0) {
            const double p = exp(static_cast<double>(to_acc(x[off + c * s.D])) - lse);
            const double wc = weight ? static_cast<double>(to_acc(weight[c])) : 1.0;
            double gc = (1.0 - s.eps) * wt * (p - (c == t ? 1.0 : 0.0));
            if (s.eps > 0.0) gc += s.eps / static_cast<double>(s.C) * (p * sums[1] - wc);
            v = scale * gc;
          }
          gx[off + c * s.D] = from_acc<T>(v);
        }
    } else if (valid && t >= 0 && threadIdx.x == 0) {
      gx[off + t * s.D] = from_acc<T>(-wt * scale);  // the rest was zeroed
    }
  }
}
#undef EMBER_FOR_EACH_ROW

struct LossLaunch {
  LossShape s;
  dim3 block, grid;
};

LossLaunch loss_launch(const Tensor& input, const CrossEntropyArgs& args) {
  LossLaunch l;
  l.s.C = input.size(1);
  l.s.D = 1;
  for (int64_t d = 2; d < input.dim(); ++d) l.s.D *= input.size(d);
  l.s.rows = input.size(0) * l.s.D;
  l.s.ignore = args.ignore_index;
  l.s.eps = args.label_smoothing;
  l.block = l.s.D > 1 ? dim3(1, kThreads) : l.s.C <= 1024 ? dim3(32, kThreads / 32) : dim3(kThreads, 1);
  l.grid = dim3(static_cast<unsigned>(std::clamp<int64_t>((l.s.rows + l.block.y - 1) / l.block.y, 1, 65535)));
  return l;
}

void check_targets(const char* op, const IndexFlag& flag, const Tensor& input, const Tensor& target,
                   const CrossEntropyArgs& args) {
  const int64_t bad = flag.first_bad(op);
  if (bad < 0) return;
  const int64_t t = read_index_value(target, bad), C = input.size(1);
  EMBER_FAIL(op, ": target ", t, " is out of bounds for ", C, " classes (expected a class index in [0, ", C,
             ") or ignore_index ", args.ignore_index, "; input ", input.describe(), ")");
}

template <bool CrossEntropy>
void loss_forward(const char* op, const Tensor& out, const Tensor& input, const Tensor& target, const Tensor& weight,
                  const CrossEntropyArgs& args) {
  EMBER_CHECK(input.is_contiguous() && target.is_contiguous() && target.dtype() == kInt64 &&
                  (!weight.defined() || (weight.is_contiguous() && weight.dtype() == input.dtype())),
              op, ": CUDA kernel expects contiguous input, int64 target and weight of the input's dtype, got input ",
              input.describe(), ", target ", target.describe());
  const LossLaunch l = loss_launch(input, args);
  const bool none = args.reduction == Reduction::None;
  DeviceGuard guard(input.device().index);
  cudaStream_t stream = stream_of(input);
  IndexFlag flag(input);
  visit_floating(input.dtype(), op, [&]<class E>() {
    using T = CudaType<E>;
    const T* pw = weight.defined() ? device_ptr<const T>(weight) : nullptr;
    Tensor dst = contiguous_output(out);
    Tensor ws = none ? Tensor() : empty({2 * std::max<int64_t>(l.s.rows, 1)}, TensorOptions(kFloat64, input.device()));
    double* loss = none ? nullptr : device_ptr<double>(ws);
    loss_rows_fwd_kernel<T, CrossEntropy><<<l.grid, l.block, 0, stream>>>(
        device_ptr<const T>(input), device_ptr<const int64_t>(target), pw, l.s, flag.device(),
        none ? device_ptr<T>(dst) : nullptr, loss, none ? nullptr : loss + l.s.rows);
    EMBER_CUDA_LAUNCH_CHECK(op);
    if (!none) {
      loss_total_fwd_kernel<T><<<1, 1024, 0, stream>>>(loss, loss + l.s.rows, l.s.rows,
                                                       args.reduction == Reduction::Mean, device_ptr<T>(dst));
      EMBER_CUDA_LAUNCH_CHECK(op);
    }
    finish_output(out, dst);
  });
  check_targets(op, flag, input, target, args);
}

template <bool CrossEntropy>
void loss_backward(const char* op, const Tensor& grad_input, const Tensor& grad_out, const Tensor& input,
                   const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) {
  EMBER_CHECK(input.is_contiguous() && target.is_contiguous() && target.dtype() == kInt64 &&
                  grad_out.dtype() == input.dtype() &&
                  (!weight.defined() || (weight.is_contiguous() && weight.dtype() == input.dtype())),
              op, ": CUDA kernel expects contiguous input, int64 target, grad and weight of the input's dtype, got input ",
              input.describe(), ", target ", target.describe(), ", grad ", grad_out.describe());
  const LossLaunch l = loss_launch(input, args);
  DeviceGuard guard(input.device().index);
  cudaStream_t stream = stream_of(input);
  IndexFlag flag(input);
  Tensor g = ops::contiguous(grad_out);
  visit_floating(input.dtype(), op, [&]<class E>() {
    using T = CudaType<E>;
    const T* pw = weight.defined() ? device_ptr<const T>(weight) : nullptr;
    Tensor dst = contiguous_output(grad_input);
    if (!CrossEntropy) EMBER_CUDA_CHECK(cudaMemsetAsync(dst.data_ptr(), 0, dst.nbytes(), stream), op);  // 0 bits = +0.0
    Tensor sums = empty({2}, TensorOptions(kFloat64, input.device()));
    loss_weight_sums_bwd_kernel<T><<<1, 1024, 0, stream>>>(device_ptr<const int64_t>(target), pw, l.s,
                                                            device_ptr<double>(sums));
    EMBER_CUDA_LAUNCH_CHECK(op);
    loss_rows_bwd_kernel<T, CrossEntropy><<<l.grid, l.block, 0, stream>>>(
        device_ptr<T>(dst), device_ptr<const T>(g), device_ptr<const T>(input), device_ptr<const int64_t>(target), pw,
        l.s, args.reduction, device_ptr<const double>(sums), flag.device());
    EMBER_CUDA_LAUNCH_CHECK(op);
    finish_output(grad_input, dst);
  });
  check_targets(op, flag, input, target, args);
}

void nll_loss_kernel(const Tensor& out, const Tensor& input, const Tensor& target, const Tensor& weight,
                     const CrossEntropyArgs& args) {
  loss_forward<false>("nll_loss", out, input, target, weight, args);
}
void nll_loss_backward_kernel(const Tensor& gi, const Tensor& g, const Tensor& input, const Tensor& target,
                              const Tensor& weight, const CrossEntropyArgs& args) {
  loss_backward<false>("nll_loss_backward", gi, g, input, target, weight, args);
}
void cross_entropy_kernel(const Tensor& out, const Tensor& input, const Tensor& target, const Tensor& weight,
                          const CrossEntropyArgs& args) {
  loss_forward<true>("cross_entropy", out, input, target, weight, args);
}
void cross_entropy_backward_kernel(const Tensor& gi, const Tensor& g, const Tensor& input, const Tensor& target,
                                   const Tensor& weight, const CrossEntropyArgs& args) {
  loss_backward<true>("cross_entropy_backward", gi, g, input, target, weight, args);
}

}  // namespace

void register_loss_kernels(KernelTable& t) {
  t.nll_loss = nll_loss_kernel;
  t.nll_loss_backward = nll_loss_backward_kernel;
  t.cross_entropy = cross_entropy_kernel;
  t.cross_entropy_backward = cross_entropy_backward_kernel;
}

}  // namespace ember::cuda
