// Fused Adam/AdamW step on the GPU: one pass over param, grad and the moment
// buffers (PyTorch's update rule, bias-corrected), the same arithmetic as
// kernels/cpu/optim.cpp in the compute type (float for 16-bit params).
//
// Ceilings: 4 reads + 3 writes per element (5 + 4 with amsgrad), ~12 FLOPs, a
// sqrt and a division: memory-bound.
#include <cmath>

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/math.cuh>
#include <ember/kernels/cuda/register.hpp>

namespace ember::cuda {
namespace {

template <class M>
struct AdamConsts {
  M b1, b2, eps, step_size, inv_bc2_sqrt, decay, l2, sign;
};

template <class T>
__global__ void adam_fwd_kernel(int64_t n, T* p, const T* g, T* m, T* v, T* vmax, AdamConsts<Acc<T>> k) {
  using M = Acc<T>;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const M p0 = to_acc(p[i]);
    const M param = p0 * k.decay;
    const M grad = k.sign * to_acc(g[i]) + k.l2 * p0;
    const M mi = k.b1 * to_acc(m[i]) + (M(1) - k.b1) * grad;
    const M vi = k.b2 * to_acc(v[i]) + (M(1) - k.b2) * grad * grad;
    M vden = vi;
    if (vmax != nullptr) {
      const M old = to_acc(vmax[i]);
      vden = old > vi ? old : vi;
      vmax[i] = from_acc<T>(vden);
    }
    const M denom = dmath::sqrt(vden) * k.inv_bc2_sqrt + k.eps;
    p[i] = from_acc<T>(param - k.step_size * mi / denom);
    m[i] = from_acc<T>(mi);
    v[i] = from_acc<T>(vi);
  }
}

void adam_step_kernel(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                      const Tensor& max_exp_avg_sq, const AdamArgs& a) {
  EMBER_CHECK(param.is_cuda() && param.is_contiguous() && grad.is_contiguous() && exp_avg.is_contiguous() &&
                  exp_avg_sq.is_contiguous() && (!a.amsgrad || max_exp_avg_sq.is_contiguous()),
              "adam_step: CUDA kernel expects contiguous CUDA tensors, got param ", param.describe());
  const int64_t n = param.numel();
  if (n == 0) return;
  visit_floating(param.dtype(), "adam_step", [&]<class T>() {
    using C = CudaType<T>;
    using M = OpMath<T>;
    const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
    const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
    const M lr = static_cast<M>(a.lr), wd = static_cast<M>(a.weight_decay);
    AdamConsts<M> k{static_cast<M>(a.beta1),
                    static_cast<M>(a.beta2),
                    static_cast<M>(a.eps),
                    static_cast<M>(a.lr / bc1),
                    static_cast<M>(1.0 / std::sqrt(bc2)),
                    a.decoupled_weight_decay ? M(1) - lr * wd : M(1),
                    a.decoupled_weight_decay ? M(0) : wd,
                    a.maximize ? M(-1) : M(1)};
    DeviceGuard guard(param.device().index);
    adam_fwd_kernel<C><<<blocks_for(n), kThreads, 0, stream_of(param)>>>(
        n, device_ptr<C>(param), device_ptr<const C>(grad), device_ptr<C>(exp_avg), device_ptr<C>(exp_avg_sq),
        a.amsgrad ? device_ptr<C>(max_exp_avg_sq) : nullptr, k);
    EMBER_CUDA_LAUNCH_CHECK("adam_step");
  });
}

}  // namespace

void register_optim_kernels(KernelTable& t) { t.adam_step = adam_step_kernel; }

}  // namespace ember::cuda
