// CPU kernels for random fills and dropout, following Note [philox streams]
// (tensor/philox.hpp): output i depends only on (seed, offset, i), so any
// split of the work, and the CUDA kernels, give the same numbers.
//
// Outputs are written in logical (row-major) order of out's shape; the meta
// functions pass contiguous outputs.
#include <ember/kernels/cpu/elementwise.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/tensor/philox.hpp>

namespace ember::cpu {
namespace {

// Calls f(i, block, lane) for i in [0, n), one Philox block per `per_block` outputs.
template <class F>
void philox_for(int64_t n, const RandomArgs& args, int per_block, F f) {
  parallel_range(0, (n + per_block - 1) / per_block, kGrain / 4, [&](int64_t lo, int64_t hi) {
    for (int64_t blk = lo; blk < hi; ++blk) {
      philox::Block b = philox::generate(args.seed, args.offset + static_cast<uint64_t>(blk));
      for (int lane = 0; lane < per_block; ++lane) {
        int64_t i = blk * per_block + lane;
        if (i < n) f(i, b, lane);
      }
    }
  });
}

void uniform_kernel(const Tensor& out, const RandomArgs& args) {
  visit_floating(out.dtype(), "uniform", [&]<class T>() {
    T* o = static_cast<T*>(out.data_ptr());
    if constexpr (std::is_same_v<T, double>) {
      philox_for(out.numel(), args, 2, [&](int64_t i, const philox::Block& b, int lane) {
        o[i] = args.a + (args.b - args.a) * philox::uniform_double(b.v[2 * lane], b.v[2 * lane + 1]);
      });
    } else {
      float lo = static_cast<float>(args.a), span = static_cast<float>(args.b - args.a);
      philox_for(out.numel(), args, 4, [&](int64_t i, const philox::Block& b, int lane) {
        o[i] = static_cast<T>(lo + span * philox::uniform_float(b.v[lane]));
      });
    }
  });
}

void normal_kernel(const Tensor& out, const RandomArgs& args) {
  visit_floating(out.dtype(), "normal", [&]<class T>() {
    T* o = static_cast<T*>(out.data_ptr());
    philox_for(out.numel(), args, 4, [&](int64_t i, const philox::Block& b, int lane) {
      o[i] = static_cast<T>(static_cast<OpMath<T>>(args.a + args.b * philox::normal_from_block(b, lane)));
    });
  });
}

// Integers in [a, b): 64 random bits from two lanes, reduced modulo the range.
void randint_kernel(const Tensor& out, const RandomArgs& args) {
  visit_numeric(out.dtype(), "randint", [&]<class T>() {
    T* o = static_cast<T*>(out.data_ptr());
    const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(args.b) - static_cast<int64_t>(args.a));
    const int64_t low = static_cast<int64_t>(args.a);
    philox_for(out.numel(), args, 2, [&](int64_t i, const philox::Block& b, int lane) {
      uint64_t bits = static_cast<uint64_t>(b.v[2 * lane + 1]) << 32 | b.v[2 * lane];
      o[i] = static_cast<T>(low + static_cast<int64_t>(bits % range));
    });
  });
}

// mask[i] = (u_i >= p) / (1 - p); out = x * mask. x and mask are contiguous, same shape.
void dropout_kernel(const Tensor& out, const Tensor& mask, const Tensor& x, const RandomArgs& args) {
  visit_floating(x.dtype(), "dropout", [&]<class T>() {
    using M = OpMath<T>;
    T* o = static_cast<T*>(out.data_ptr());
    T* m = static_cast<T*>(mask.data_ptr());
    const T* in = static_cast<const T*>(x.data_ptr());
    const float p = static_cast<float>(args.a);
    const M scale = static_cast<M>(1.0 / (1.0 - args.a));
    philox_for(x.numel(), args, 4, [&](int64_t i, const philox::Block& b, int lane) {
      M keep = philox::uniform_float(b.v[lane]) >= p ? scale : M(0);
      m[i] = static_cast<T>(keep);
      o[i] = static_cast<T>(static_cast<M>(in[i]) * keep);
    });
  });
}

}  // namespace

void register_random_kernels(KernelTable& t) {
  t.uniform = uniform_kernel;
  t.normal = normal_kernel;
  t.randint = randint_kernel;
  t.dropout = dropout_kernel;
}

}  // namespace ember::cpu
