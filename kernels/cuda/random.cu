// CUDA kernels for random fills and dropout, following Note [philox streams]
// (tensor/philox.hpp) exactly: output i depends only on (seed, offset, i), so
// these kernels and the CPU ones (kernels/cpu/random.cpp) give the same numbers
// from the same seed. One thread per Philox block (4 lanes; 2 for float64 and
// randint). Float arithmetic uses explicitly rounded intrinsics (__fmul_rn,
// __fadd_rn, ...) so nvcc cannot contract it into an FMA: uniform, randint and
// dropout are bit-identical to the CPU; normal goes through device log/sin/cos
// (within an ulp or two of the host libm).
//
// Outputs are written in logical (row-major) order; the meta functions pass
// contiguous outputs. Ceilings: one write per output (dropout: 2 writes + 1
// read); Philox is ~100 integer ops per 4 outputs, so these are compute-light
// but not free: about 1/3 of HBM bandwidth in float32 on an H100.
#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/philox.hpp>

namespace ember::cuda {
namespace {

// Calls f(i, block, lane) for the outputs of Philox block `blk` (per_block lanes each).
template <int PerBlock, class F>
__device__ __forceinline__ void philox_block(int64_t blk, int64_t n, uint64_t seed, uint64_t offset, F& f) {
  const philox::Block b = philox::generate(seed, offset + static_cast<uint64_t>(blk));
#pragma unroll
  for (int lane = 0; lane < PerBlock; ++lane) {
    const int64_t i = blk * PerBlock + lane;
    if (i < n) f(i, b, lane);
  }
}

template <int PerBlock, class F>
__global__ void philox_fwd_kernel(int64_t n, uint64_t seed, uint64_t offset, F f) {
  const int64_t blocks = (n + PerBlock - 1) / PerBlock;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t blk = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; blk < blocks; blk += stride)
    philox_block<PerBlock>(blk, n, seed, offset, f);
}

template <int PerBlock, class F>
void launch_philox(const char* op, const Tensor& out, const RandomArgs& args, const F& f) {
  EMBER_CHECK(out.is_cuda() && out.is_contiguous(), op, ": CUDA kernel expects a contiguous CUDA output, got ",
              out.describe());
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(out.device().index);
  philox_fwd_kernel<PerBlock><<<blocks_for((n + PerBlock - 1) / PerBlock), kThreads, 0, stream_of(out)>>>(
      n, args.seed, args.offset, f);
  EMBER_CUDA_LAUNCH_CHECK(op);
}

// float32/16-bit: lo + span * u in float, u from one lane.
template <class T>
struct UniformFloatFn {
  T* out;
  float lo, span;
  __device__ __forceinline__ void operator()(int64_t i, const philox::Block& b, int lane) const {
    out[i] = from_acc<T>(__fadd_rn(lo, __fmul_rn(span, philox::uniform_float(b.v[lane]))));
  }
};
// float64: a + (b - a) * u in double, u from two lanes.
struct UniformDoubleFn {
  double* out;
  double lo, span;
  __device__ __forceinline__ void operator()(int64_t i, const philox::Block& b, int lane) const {
    out[i] = __dadd_rn(lo, __dmul_rn(span, philox::uniform_double(b.v[2 * lane], b.v[2 * lane + 1])));
  }
};

void uniform_kernel(const Tensor& out, const RandomArgs& args) {
  visit_floating(out.dtype(), "uniform", [&]<class T>() {
    using C = CudaType<T>;
    if constexpr (std::is_same_v<T, double>) {
      launch_philox<2>("uniform", out, args, UniformDoubleFn{device_ptr<double>(out), args.a, args.b - args.a});
    } else {
      launch_philox<4>("uniform", out, args,
                       UniformFloatFn<C>{device_ptr<C>(out), static_cast<float>(args.a),
                                         static_cast<float>(args.b - args.a)});
    }
  });
}

template <class T>
struct NormalFn {
  T* out;
  double mean, std;
  __device__ __forceinline__ void operator()(int64_t i, const philox::Block& b, int lane) const {
    const double z = __dadd_rn(mean, __dmul_rn(std, philox::normal_from_block(b, lane)));
    out[i] = from_acc<T>(static_cast<Acc<T>>(z));
  }
};

void normal_kernel(const Tensor& out, const RandomArgs& args) {
  visit_floating(out.dtype(), "normal", [&]<class T>() {
    using C = CudaType<T>;
    launch_philox<4>("normal", out, args, NormalFn<C>{device_ptr<C>(out), args.a, args.b});
  });
}

// Integers in [low, low + range): 64 bits from two lanes, reduced modulo the range.
template <class T>
struct RandintFn {
  T* out;
  int64_t low;
  uint64_t range;
  __device__ __forceinline__ void operator()(int64_t i, const philox::Block& b, int lane) const {
    const uint64_t bits = static_cast<uint64_t>(b.v[2 * lane + 1]) << 32 | b.v[2 * lane];
    out[i] = from_acc<T>(low + static_cast<int64_t>(bits % range));
  }
};

void randint_kernel(const Tensor& out, const RandomArgs& args) {
  visit_numeric(out.dtype(), "randint", [&]<class T>() {
    if constexpr (!std::is_same_v<T, bool>) {
      using C = CudaType<T>;
      const int64_t low = static_cast<int64_t>(args.a);
      const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(args.b) - low);
      EMBER_CHECK(range > 0, "randint: empty range [", args.a, ", ", args.b, ")");
      launch_philox<2>("randint", out, args, RandintFn<C>{device_ptr<C>(out), low, range});
    }
  });
}

// mask[i] = (u_i >= p) / (1 - p); out = x * mask (in the compute type).
template <class T>
struct DropoutFn {
  T* out;
  T* mask;
  const T* x;
  float p;
  Acc<T> scale;
  __device__ __forceinline__ void operator()(int64_t i, const philox::Block& b, int lane) const {
    const Acc<T> keep = philox::uniform_float(b.v[lane]) >= p ? scale : Acc<T>(0);
    mask[i] = from_acc<T>(keep);
    out[i] = from_acc<T>(to_acc(x[i]) * keep);
  }
};

void dropout_kernel(const Tensor& out, const Tensor& mask, const Tensor& x, const RandomArgs& args) {
  EMBER_CHECK(x.is_contiguous() && mask.is_contiguous(), "dropout: CUDA kernel expects contiguous x and mask, got ",
              x.describe(), " and ", mask.describe());
  visit_floating(x.dtype(), "dropout", [&]<class T>() {
    using C = CudaType<T>;
    using M = OpMath<T>;
    launch_philox<4>("dropout", out, args,
                     DropoutFn<C>{device_ptr<C>(out), device_ptr<C>(mask), device_ptr<const C>(x),
                                  static_cast<float>(args.a), static_cast<M>(1.0 / (1.0 - args.a))});
  });
}

}  // namespace

void register_random_kernels(KernelTable& t) {
  t.uniform = uniform_kernel;
  t.normal = normal_kernel;
  t.randint = randint_kernel;
  t.dropout = dropout_kernel;
}

}  // namespace ember::cuda
