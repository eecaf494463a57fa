// The naive strided GEMM kernel behind integer mm/bmm on CUDA (see gemm.hpp).
// Ceilings: 2*M*N*K integer ops, each thread re-reads a row of a and a column
// of b from cache: far from peak, there for completeness, not speed.
#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/gemm.hpp>

namespace ember::cuda {
namespace {

struct GemmShape {
  int64_t batch, m, n, k;
  int64_t sa[3], sb[3];  // element strides (batch, row, col)
};

template <class T>
__global__ void gemm_naive_fwd_kernel(T* out, const T* a, const T* b, GemmShape s) {
  // Integers accumulate unsigned, as the CPU's kernel: wrap-around modulo 2^64 is defined, signed overflow is not.
  using A = std::conditional_t<std::is_floating_point_v<Acc<T>>, double, uint64_t>;
  const int64_t total = s.batch * s.m * s.n;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total; idx += stride) {
    const int64_t j = idx % s.n, i = (idx / s.n) % s.m, bi = idx / (s.n * s.m);
    const T* pa = a + bi * s.sa[0] + i * s.sa[1];
    const T* pb = b + bi * s.sb[0] + j * s.sb[2];
    A acc = 0;
    for (int64_t p = 0; p < s.k; ++p) acc += static_cast<A>(to_acc(pa[p * s.sa[2]])) * static_cast<A>(to_acc(pb[p * s.sb[1]]));
    out[idx] = from_acc<T>(acc);
  }
}

}  // namespace

void gemm_naive(const char* op, const Tensor& out, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(out.dim() == 3 && a.dim() == 3 && b.dim() == 3 && out.is_contiguous(), op,
              ": gemm_naive expects 3-D operands and a contiguous output, got out ", out.describe());
  EMBER_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), op, ": dtypes differ: ", a.describe(), ", ",
              b.describe());
  GemmShape s{out.size(0), out.size(1), out.size(2), a.size(2),
              {a.stride(0), a.stride(1), a.stride(2)}, {b.stride(0), b.stride(1), b.stride(2)}};
  const int64_t total = out.numel();
  if (total == 0) return;
  DeviceGuard guard(out.device().index);
  visit_numeric(out.dtype(), op, [&]<class T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      using C = CudaType<T>;
      gemm_naive_fwd_kernel<C><<<blocks_for(total), kThreads, 0, stream_of(out)>>>(
          device_ptr<C>(out), device_ptr<const C>(a), device_ptr<const C>(b), s);
      EMBER_CUDA_LAUNCH_CHECK(op);
    }
  });
}

}  // namespace ember::cuda
