// Fused Adam/AdamW step on the GPU, many parameters per launch: one pass over
// param, grad and the moment buffers (PyTorch's update rule, bias-corrected),
// the same arithmetic as kernels/cpu/optim.cpp in the compute type (float for
// 16-bit params).
//
// Multi-tensor launch: up to kMaxTensors parameters travel in the kernel's
// argument (their pointers, sizes and the prefix sums of their chunk counts,
// about 14 KiB; CUDA 12.1+ allows 32 KiB of arguments from Volta on, and nvcc
// rejects the kernel at compile time if the struct outgrows that). Each block
// takes one chunk of kChunk elements, finds its parameter by binary search over
// the prefix sums, and strides through the chunk. So a model's step is
// ceil(parameters / 256) launches, not one per parameter; the single-parameter
// op is the same kernel with a list of one.
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

inline constexpr int kMaxTensors = 256;
inline constexpr int64_t kChunk = 16384;  // elements per block

// The parameters of one launch. vmax entries are null unless amsgrad.
template <class T>
struct AdamTensorTable {
  T* p[kMaxTensors];
  const T* g[kMaxTensors];
  T* m[kMaxTensors];
  T* v[kMaxTensors];
  T* vmax[kMaxTensors];
  int64_t n[kMaxTensors];
  int32_t chunk_begin[kMaxTensors + 1];  // prefix sums of ceil(n / kChunk): block b works on tensor t
                                         // where chunk_begin[t] <= b < chunk_begin[t + 1]
  int32_t count;
};

template <class T>
__global__ void adam_fwd_kernel(const __grid_constant__ AdamTensorTable<T> table, const AdamConsts<Acc<T>> k) {
  using M = Acc<T>;
  const int32_t block = static_cast<int32_t>(blockIdx.x);
  int lo = 0, hi = table.count - 1;  // the last t with chunk_begin[t] <= block
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table.chunk_begin[mid] <= block) lo = mid;
    else hi = mid - 1;
  }
  const int t = lo;
  const int64_t begin = static_cast<int64_t>(block - table.chunk_begin[t]) * kChunk;
  const int64_t end = begin + kChunk < table.n[t] ? begin + kChunk : table.n[t];
  T* p = table.p[t];
  const T* g = table.g[t];
  T* m = table.m[t];
  T* v = table.v[t];
  T* vmax = table.vmax[t];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const M p0 = to_acc(p[i]);
    const M param = p0 * k.decay;
    const M grad = k.sign * to_acc(g[i]) + k.l2 * p0;
    const M mi = k.b1 * to_acc(m[i]) + (M(1) - k.b1) * grad;
    const M vi = k.b2 * to_acc(v[i]) + (M(1) - k.b2) * grad * grad;
    M vden = vi;
    if (vmax != nullptr) {
      const M old = to_acc(vmax[i]);
      vden = old < vi ? vi : old;  // std::max(old, vi) as on the CPU: a NaN vi keeps the old maximum
      vmax[i] = from_acc<T>(vden);
    }
    const M denom = dmath::sqrt(vden) * k.inv_bc2_sqrt + k.eps;
    p[i] = from_acc<T>(param - k.step_size * mi / denom);
    m[i] = from_acc<T>(mi);
    v[i] = from_acc<T>(vi);
  }
}

void adam_step_kernel(const AdamTensorLists& t, const AdamArgs& a) {
  const Tensor& first = t.params.at(0);
  EMBER_CHECK(first.is_cuda(), "adam_step: CUDA kernel got a parameter on ", first.device().str());
  visit_floating(first.dtype(), "adam_step", [&]<class T>() {
    using C = CudaType<T>;
    using M = OpMath<T>;
    const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
    const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
    const M lr = static_cast<M>(a.lr), wd = static_cast<M>(a.weight_decay);
    const AdamConsts<M> k{static_cast<M>(a.beta1),
                          static_cast<M>(a.beta2),
                          static_cast<M>(a.eps),
                          static_cast<M>(a.lr / bc1),
                          static_cast<M>(1.0 / std::sqrt(bc2)),
                          a.decoupled_weight_decay ? M(1) - lr * wd : M(1),
                          a.decoupled_weight_decay ? M(0) : wd,
                          a.maximize ? M(-1) : M(1)};
    DeviceGuard guard(first.device().index);
    const cudaStream_t stream = stream_of(first);
    AdamTensorTable<C> table{};
    auto launch = [&] {
      if (table.count == 0) return;
      adam_fwd_kernel<C><<<static_cast<unsigned>(table.chunk_begin[table.count]), kThreads, 0, stream>>>(table, k);
      EMBER_CUDA_LAUNCH_CHECK("adam_step");
      table.count = 0;
    };
    // A launch's grid stays well inside the 2^31 - 1 blocks a grid may have.
    constexpr int64_t kMaxChunks = int64_t{1} << 30;
    for (size_t i = 0; i < t.params.size(); ++i) {
      const int64_t n = t.params[i].numel();
      if (n == 0) continue;
      EMBER_CHECK(t.params[i].is_contiguous() && t.grads[i].is_contiguous() && t.exp_avgs[i].is_contiguous() &&
                      t.exp_avg_sqs[i].is_contiguous() && (!a.amsgrad || t.max_exp_avg_sqs[i].is_contiguous()),
                  "adam_step: CUDA kernel expects contiguous tensors, got param ", t.params[i].describe());
      // A parameter of more than kMaxChunks chunks takes launches of its own, kMaxChunks chunks each.
      for (int64_t offset = 0; offset < n; offset += kMaxChunks * kChunk) {
        const int64_t len = std::min(n - offset, kMaxChunks * kChunk);
        const int64_t chunks = (len + kChunk - 1) / kChunk;
        if (table.count == kMaxTensors || table.chunk_begin[table.count] + chunks > kMaxChunks) launch();
        const int c = table.count;
        table.p[c] = device_ptr<C>(t.params[i]) + offset;
        table.g[c] = device_ptr<const C>(t.grads[i]) + offset;
        table.m[c] = device_ptr<C>(t.exp_avgs[i]) + offset;
        table.v[c] = device_ptr<C>(t.exp_avg_sqs[i]) + offset;
        table.vmax[c] = a.amsgrad ? device_ptr<C>(t.max_exp_avg_sqs[i]) + offset : nullptr;
        table.n[c] = len;
        table.chunk_begin[c + 1] = static_cast<int32_t>(table.chunk_begin[c] + chunks);
        table.count = c + 1;
      }
    }
    launch();
  });
}

}  // namespace

void register_optim_kernels(KernelTable& t) { t.adam_step = adam_step_kernel; }

}  // namespace ember::cuda
