// CPU kernels of mm, bmm and linear, all on the blocked GEMM core (gemm.hpp).
//
//   mm:     out (n, m) = a (n, k) @ b (k, m)
//   bmm:    out (B, n, m) = a (B, n, k) @ b (B, k, m)
//   linear: out (M, N) = x (M, K) @ w (N, K)^T + bias (N)
// Inputs may have any strides (transposed, expanded batch): the GEMM packs
// them. out is contiguous (allocated by the meta function).
// Ceilings: 2*n*m*k FLOPs per matrix; bytes (n*k + k*m + n*m) * itemsize at
// best. Compute-bound above ~32^3; the GEMM core reaches about half of the
// baseline-SSE2 peak per core (see gemm.cpp).
#include <algorithm>

#include <ember/kernels/cpu/gemm.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::cpu {
namespace {

template <class T>
ConstMatrix<T> const_matrix(const Tensor& t, const T* base, int64_t d0, int64_t d1) {
  return {base, t.stride(d0), t.stride(d1)};
}

template <class F>
void visit_matmul(DType dt, const char* op, F&& f) {
  switch (dt.kind) {
    case DType::Float32: f.template operator()<float>(); return;
    case DType::Float64: f.template operator()<double>(); return;
    case DType::Float16: f.template operator()<Half>(); return;
    case DType::BFloat16: f.template operator()<BFloat16>(); return;
    case DType::Int64: f.template operator()<int64_t>(); return;
    case DType::Int32: f.template operator()<int32_t>(); return;
    default: EMBER_FAIL(op, ": dtype ", dt.name(), " is not supported");
  }
}

// out: (n, m), a: (n, k), b: (k, m)
void mm_kernel(const Tensor& out, const Tensor& a, const Tensor& b) {
  visit_matmul(out.dtype(), "mm", [&]<class T>() {
    gemm<T>(a.size(0), b.size(1), a.size(1), const_matrix<T>(a, a.data_ptr<T>(), 0, 1),
            const_matrix<T>(b, b.data_ptr<T>(), 0, 1), Matrix<T>{out.data_ptr<T>(), out.stride(0), out.stride(1)},
            false);
  });
}

// out: (B, n, m), a: (B, n, k), b: (B, k, m)
void bmm_kernel(const Tensor& out, const Tensor& a, const Tensor& b) {
  visit_matmul(out.dtype(), "bmm", [&]<class T>() {
    const int64_t batch = a.size(0), n = a.size(1), k = a.size(2), m = b.size(2);
    const T* pa = a.data_ptr<T>();
    const T* pb = b.data_ptr<T>();
    T* po = out.data_ptr<T>();
    // Small matrices: one task per group of matrices; large ones parallelise inside gemm.
    const int64_t work = std::max<int64_t>(1, n * m * std::max<int64_t>(k, 1));
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / work);
    parallel_range(0, batch, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        gemm<T>(n, m, k, ConstMatrix<T>{pa + i * a.stride(0), a.stride(1), a.stride(2)},
                ConstMatrix<T>{pb + i * b.stride(0), b.stride(1), b.stride(2)},
                Matrix<T>{po + i * out.stride(0), out.stride(1), out.stride(2)}, false);
      }
    });
  });
}

// out: (M, N), x: (M, K), w: (N, K), bias: (N) or undefined; act applied after the GEMM
// (one vectorised pass over out, which is still in cache for layer-sized outputs).
void linear_kernel(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
  visit_floating(out.dtype(), "linear", [&]<class T>() {
    const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
    T* po = out.data_ptr<T>();
    const int64_t rs = out.stride(0), cs = out.stride(1);
    if (bias.defined()) {
      const T* pb = bias.data_ptr<T>();
      const int64_t bs = bias.stride(0);
      parallel_range(0, M, std::max<int64_t>(1, kGrain / std::max<int64_t>(N, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          for (int64_t j = 0; j < N; ++j) po[i * rs + j * cs] = pb[j * bs];
      });
    }
    // w^T as a (K, N) view: element (p, j) = w[j, p].
    gemm<T>(M, N, K, const_matrix<T>(x, x.data_ptr<T>(), 0, 1), ConstMatrix<T>{w.data_ptr<T>(), w.stride(1), w.stride(0)},
            Matrix<T>{po, rs, cs}, bias.defined());
  });
  ops::apply_activation_(out, act);
}

}  // namespace

void register_linalg_kernels(KernelTable& t) {
  t.mm = mm_kernel;
  t.bmm = bmm_kernel;
  t.linear = linear_kernel;
}

}  // namespace ember::cpu
