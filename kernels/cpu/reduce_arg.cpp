// CPU kernels of the arg-reductions (max_dim, min_dim, argmax, argmin) and of
// cumsum, all along one dim of an input viewed as (outer, n, inner).
//
// max/min return the first index of the extreme value; a NaN counts as the
// extreme and the first NaN wins, as in PyTorch. cumsum accumulates in double
// for floating dtypes and in int64 (wrapping) otherwise; the meta function has
// already widened integer inputs to int64.
//
// Ceilings: one read of x and one write of the outputs (values + 8-byte
// indices, or x-sized for cumsum); one compare or add per element, so these
// are bandwidth-bound.
#include <ember/kernels/cpu/reduce_loop.hpp>
#include <ember/kernels/cpu/register.hpp>

namespace ember::cpu {
namespace {

// Max = true: max/argmax; false: min/argmin. values may be undefined.
template <class T, bool Max>
void arg_extremum(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  using M = OpMath<T>;
  const ReduceLayout L = dim_layout(x, dim);
  const int64_t n = L.n, inner = L.inner;
  Tensor vdst = values.defined() ? contiguous_output(values) : Tensor();
  Tensor idst = contiguous_output(indices);
  T* pv = vdst.defined() ? vdst.data_ptr<T>() : nullptr;
  int64_t* pi = idst.data_ptr<int64_t>();
  const T* px = static_cast<const T*>(L.src.data_ptr());
  auto update = [](M v, int64_t k, M& best, int64_t& at) {
    if (is_nan(best)) return;
    if ((Max ? v > best : v < best) || is_nan(v)) {
      best = v;
      at = k;
    }
  };
  const Tiles tiles(L);
  parallel_range(0, tiles.count, tiles.grain(), [&](int64_t lo, int64_t hi) {
    auto best = scratch<M>(tiles.width);
    auto at = scratch<int64_t>(tiles.width);
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t w = tiles.cols(t);
      const T* slab = px + tiles.in_offset(t);
      for (int64_t i = 0; i < w; ++i) {
        best[i] = load(slab[i]);
        at[i] = 0;
      }
      if (inner == 1) {
        for (int64_t k = 1; k < n; ++k) update(load(slab[k]), k, best[0], at[0]);
      } else {
        for (int64_t k = 1; k < n; ++k) {
          const T* row = slab + k * inner;
          for (int64_t i = 0; i < w; ++i) update(load(row[i]), k, best[i], at[i]);
        }
      }
      const int64_t base = tiles.out_offset(t);
      for (int64_t i = 0; i < w; ++i) {
        pi[base + i] = at[i];
        if (pv != nullptr) pv[base + i] = store<T>(best[i]);
      }
    }
  });
  if (vdst.defined()) finish_output(values, vdst);
  finish_output(indices, idst);
}

template <bool Max>
void arg_extremum_any(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  visit_dtype(x.dtype(), [&]<class T>() { arg_extremum<T, Max>(values, indices, x, dim); });
}

void max_dim_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  arg_extremum_any<true>(values, indices, x, dim);
}
void min_dim_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  arg_extremum_any<false>(values, indices, x, dim);
}
void argmax_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  arg_extremum_any<true>(values, indices, x, dim);
}
void argmin_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim) {
  arg_extremum_any<false>(values, indices, x, dim);
}

// out[.., k, ..] = sum of x[.., 0..k, ..] along dim.
void cumsum_kernel(const Tensor& out, const Tensor& x, int64_t dim) {
  visit_dtype(x.dtype(), [&]<class T>() {
    using Acc = SumAcc<T>;
    const ReduceLayout L = dim_layout(x, dim);
    const int64_t n = L.n, inner = L.inner;
    Tensor dst = contiguous_output(out);
    T* po = dst.data_ptr<T>();
    const T* px = static_cast<const T*>(L.src.data_ptr());
    const Tiles tiles(L);
    parallel_range(0, tiles.count, tiles.grain(), [&](int64_t lo, int64_t hi) {
      if (inner == 1) {
        for (int64_t t = lo; t < hi; ++t) {
          const T* xs = px + t * n;
          T* ys = po + t * n;
          Acc acc = 0;
          for (int64_t k = 0; k < n; ++k) {
            add_to(acc, load(xs[k]));
            ys[k] = store<T>(acc);
          }
        }
        return;
      }
      auto acc = scratch<Acc>(tiles.width);
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t w = tiles.cols(t), off = tiles.in_offset(t);
        for (int64_t i = 0; i < w; ++i) acc[i] = 0;
        for (int64_t k = 0; k < n; ++k) {
          const T* xs = px + off + k * inner;
          T* ys = po + off + k * inner;
          for (int64_t i = 0; i < w; ++i) {
            add_to(acc[i], load(xs[i]));
            ys[i] = store<T>(acc[i]);
          }
        }
      }
    });
    finish_output(out, dst);
  });
}

}  // namespace

void register_arg_reduce_kernels(KernelTable& t) {
  t.max_dim = max_dim_kernel;
  t.min_dim = min_dim_kernel;
  t.argmax = argmax_kernel;
  t.argmin = argmin_kernel;
  t.cumsum = cumsum_kernel;
}

}  // namespace ember::cpu
