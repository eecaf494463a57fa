// Fused Adam/AdamW step on the CPU: one pass over param, grad and the two
// moment buffers (PyTorch's update rule, bias-corrected).
//
// float32 parameters take the per-ISA fast path (optim_kernel.hpp) with the
// constants computed here exactly as the reference loop computes them.
//
// Ceilings: 4 reads + 3 writes per element (5 reads + 4 writes with amsgrad),
// about 12 flops and one sqrt and one division: memory-bound. The reference
// loop is compiled for baseline x86-64 (SSE2, where sqrt and division are
// slow) and reaches about 1/2 of the copy bandwidth; the fast path 80-95%
// (benchmarks/RESULTS.md, "CPU memory-bound kernels").
#include <cmath>

#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::cpu {
namespace {

template <class T>
void adam_range(T* p, const T* g, T* m, T* v, T* vmax, int64_t lo, int64_t hi, const AdamArgs& a) {
  using M = OpMath<T>;
  const M lr = static_cast<M>(a.lr), b1 = static_cast<M>(a.beta1), b2 = static_cast<M>(a.beta2);
  const M eps = static_cast<M>(a.eps), wd = static_cast<M>(a.weight_decay);
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  const M step_size = static_cast<M>(a.lr / bc1);
  const M inv_bc2_sqrt = static_cast<M>(1.0 / std::sqrt(bc2));
  const M decay = a.decoupled_weight_decay ? M(1) - lr * wd : M(1);
  const M l2 = a.decoupled_weight_decay ? M(0) : wd;
  const M sign = a.maximize ? M(-1) : M(1);
  for (int64_t i = lo; i < hi; ++i) {
    M param = static_cast<M>(p[i]) * decay;
    M grad = sign * static_cast<M>(g[i]) + l2 * static_cast<M>(p[i]);
    M mi = b1 * static_cast<M>(m[i]) + (M(1) - b1) * grad;
    M vi = b2 * static_cast<M>(v[i]) + (M(1) - b2) * grad * grad;
    M vden = vi;
    if (vmax != nullptr) {
      vden = std::max(static_cast<M>(vmax[i]), vi);
      vmax[i] = static_cast<T>(vden);
    }
    M denom = std::sqrt(vden) * inv_bc2_sqrt + eps;
    p[i] = static_cast<T>(param - step_size * mi / denom);
    m[i] = static_cast<T>(mi);
    v[i] = static_cast<T>(vi);
  }
}

// The float32 fast path; false (run the reference) on the scalar ISA path or another dtype.
bool vec_adam(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
              const Tensor& max_exp_avg_sq, const AdamArgs& a) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr || param.dtype() != kFloat32) return false;
  // The same float constants as adam_range<float>.
  const float lr = static_cast<float>(a.lr), wd = static_cast<float>(a.weight_decay);
  AdamConsts c;
  c.b1 = static_cast<float>(a.beta1);
  c.b2 = static_cast<float>(a.beta2);
  c.eps = static_cast<float>(a.eps);
  c.step_size = static_cast<float>(a.lr / (1.0 - std::pow(a.beta1, static_cast<double>(a.step))));
  c.inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(a.beta2, static_cast<double>(a.step))));
  c.decay = a.decoupled_weight_decay ? 1.0f - lr * wd : 1.0f;
  c.l2 = a.decoupled_weight_decay ? 0.0f : wd;
  c.sign = a.maximize ? -1.0f : 1.0f;
  float* p = param.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  float* vmax = a.amsgrad ? max_exp_avg_sq.data_ptr<float>() : nullptr;
  parallel_range(0, param.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    vk->adam_f32(p + lo, g + lo, m + lo, v + lo, vmax ? vmax + lo : nullptr, hi - lo, c);
  });
  return true;
}

void adam_step_one(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const Tensor& max_exp_avg_sq, const AdamArgs& args) {
  if (vec_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, args)) return;
  visit_floating(param.dtype(), "adam_step", [&]<class T>() {
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* m = exp_avg.data_ptr<T>();
    T* v = exp_avg_sq.data_ptr<T>();
    T* vmax = args.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    parallel_range(0, param.numel(), kGrain, [&](int64_t lo, int64_t hi) { adam_range(p, g, m, v, vmax, lo, hi, args); });
  });
}

// Parameter by parameter: on the CPU a call costs far less than a kernel launch, and each
// parameter's pass is already split over the threads.
void adam_step_kernel(const AdamTensorLists& t, const AdamArgs& args) {
  const Tensor none;
  for (size_t i = 0; i < t.params.size(); ++i) {
    if (t.params[i].numel() == 0) continue;
    adam_step_one(t.params[i], t.grads[i], t.exp_avgs[i], t.exp_avg_sqs[i],
                  args.amsgrad ? t.max_exp_avg_sqs[i] : none, args);
  }
}

}  // namespace

void register_optim_kernels(KernelTable& t) { t.adam_step = adam_step_kernel; }

}  // namespace ember::cpu
