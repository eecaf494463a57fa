// CPU kernels for the index ops: index_select, index_add, gather, scatter_add,
// one_hot; and the registration of the whole indexing-and-shape family
// (cat/pad/flip live in index_shape.cpp, topk/sort in sort.cpp).
//
// The meta functions (tensor/ops_index.cpp) have checked shapes and dtypes and
// allocated contiguous outputs; indices are checked here (Note [index bounds]).
// Ceilings: no FLOPs to speak of (index_add/scatter_add do one add per source
// element); each op moves its output once plus the indices and the elements it
// reads, so all are memory-bound. index_select/index_add copy whole rows of
// `inner` elements; gather/scatter_add touch one element per index.
#include <algorithm>
#include <cstring>

#include <ember/kernels/cpu/index_common.hpp>
#include <ember/kernels/cpu/register.hpp>

namespace ember::cpu {

// Defined in index_shape.cpp and sort.cpp; called from register_index_kernels.
void register_index_shape_kernels(KernelTable& t);
void register_sort_kernels(KernelTable& t);

namespace {

// x viewed as (outer, size, inner) around dim d.
struct Rows {
  int64_t outer = 1, size = 1, inner = 1;
};
Rows rows_around(IntList shape, int64_t d) {
  Rows r;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    int64_t s = shape[static_cast<size_t>(i)];
    if (i < d) r.outer *= s;
    else if (i == d) r.size = s;
    else r.inner *= s;
  }
  return r;
}

// out: (outer, n, inner) = x: (outer, size, inner) rows picked by index (n). x, index contiguous.
void index_select_kernel(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const Rows r = rows_around(x.shape(), dim);
  const std::vector<int64_t> idx = load_index(index, r.size, dim, "index_select");
  const int64_t n = static_cast<int64_t>(idx.size());
  if (out.numel() == 0) return;
  visit_itemsize(x.itemsize(), [&]<class U>() {
    const U* src = static_cast<const U*>(x.data_ptr());
    U* dst = static_cast<U*>(out.data_ptr());
    // One task item per output row (o, i); rows are disjoint.
    parallel_range(0, r.outer * n, std::max<int64_t>(1, kGrain / r.inner), [&](int64_t lo, int64_t hi) {
      for (int64_t row = lo; row < hi; ++row) {
        const int64_t o = row / n, i = row % n;
        const U* s = src + (o * r.size + idx[static_cast<size_t>(i)]) * r.inner;
        std::copy(s, s + r.inner, dst + row * r.inner);
      }
    });
  });
}

// out: (outer, size, inner), already a copy of self; out[o, index[i], :] += src[o, i, :].
// Work is split over (o, column) pairs, so duplicate indices never race.
void index_add_kernel(const Tensor& out, const Tensor& src, int64_t dim, const Tensor& index) {
  const Rows r = rows_around(out.shape(), dim);
  const std::vector<int64_t> idx = load_index(index, r.size, dim, "index_add");
  const int64_t n = static_cast<int64_t>(idx.size());
  if (out.numel() == 0 || n == 0) return;
  visit_dtype(out.dtype(), [&]<class T>() {  // bool adds as logical or, as PyTorch
    using M = OpMath<T>;
    const T* s = static_cast<const T*>(src.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    parallel_range(0, r.outer * r.inner, std::max<int64_t>(1, kGrain / n), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi;) {
        const int64_t b = c / r.inner, j0 = c % r.inner;
        const int64_t j1 = std::min(r.inner, j0 + (hi - c));
        for (int64_t i = 0; i < n; ++i) {
          T* orow = o + (b * r.size + idx[static_cast<size_t>(i)]) * r.inner;
          const T* srow = s + (b * n + i) * r.inner;
          for (int64_t j = j0; j < j1; ++j) orow[j] = static_cast<T>(static_cast<M>(orow[j]) + static_cast<M>(srow[j]));
        }
        c += j1 - j0;
      }
    });
  });
}

// out[c] = x[c with c[dim] = index[c]] over index's shape; x and index any strides, out contiguous.
// The loop runs over index's shape without dim; each element walks the dim.
void gather_kernel(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_range(index, x.size(dim), dim, "gather");
  const int64_t n = index.size(dim);
  Tensor out_r = drop_dim(out, dim), idx_r = drop_dim(index, dim);
  Dims xsizes = out_r.shape(), xstrides = x.strides();
  xstrides.erase(static_cast<size_t>(dim));
  Tensor x_r = restride(x, std::move(xsizes), std::move(xstrides), x.storage_offset());
  auto loop = make_loop<3>({&out_r, &idx_r, &x_r}, out_r.shape());
  const int64_t so = out.stride(dim), si = index.stride(dim), sx = x.stride(dim);
  visit_itemsize(x.itemsize(), [&]<class U>() {
    parallel_range(0, loop.numel, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
      for_each_range(loop, lo, hi, [&](char** p, const int64_t* s, int64_t m) {
        for (int64_t e = 0; e < m; ++e) {
          U* o = reinterpret_cast<U*>(p[0] + e * s[0]);
          const int64_t* ix = reinterpret_cast<const int64_t*>(p[1] + e * s[1]);
          const U* xs = reinterpret_cast<const U*>(p[2] + e * s[2]);
          for (int64_t j = 0; j < n; ++j) o[j * so] = xs[ix[j * si] * sx];
        }
      });
    });
  });
}

// out (a contiguous copy of self): out[c with c[dim] = index[c]] += src[c] over index's shape.
// Each loop element owns one line of out along dim, so chunks never write the same element.
void scatter_add_kernel(const Tensor& out, const Tensor& src, int64_t dim, const Tensor& index) {
  check_index_range(index, out.size(dim), dim, "scatter_add");
  const int64_t n = index.size(dim);
  Tensor idx_r = drop_dim(index, dim);
  Dims rsizes = idx_r.shape();
  Dims ostrides = out.strides(), sstrides = src.strides();
  ostrides.erase(static_cast<size_t>(dim));
  sstrides.erase(static_cast<size_t>(dim));
  Tensor out_r = restride(out, rsizes, std::move(ostrides), out.storage_offset());
  Tensor src_r = restride(src, rsizes, std::move(sstrides), src.storage_offset());
  auto loop = make_loop<3>({&out_r, &idx_r, &src_r}, rsizes);
  const int64_t so = out.stride(dim), si = index.stride(dim), ss = src.stride(dim);
  visit_dtype(out.dtype(), [&]<class T>() {
    using M = OpMath<T>;
    parallel_range(0, loop.numel, std::max<int64_t>(1, kGrain / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
      for_each_range(loop, lo, hi, [&](char** p, const int64_t* s, int64_t m) {
        for (int64_t e = 0; e < m; ++e) {
          T* o = reinterpret_cast<T*>(p[0] + e * s[0]);
          const int64_t* ix = reinterpret_cast<const int64_t*>(p[1] + e * s[1]);
          const T* sv = reinterpret_cast<const T*>(p[2] + e * s[2]);
          for (int64_t j = 0; j < n; ++j) {
            T& dst = o[ix[j * si] * so];
            dst = static_cast<T>(static_cast<M>(dst) + static_cast<M>(sv[j * ss]));
          }
        }
      });
    });
  });
}

// out: (..., C) int64 zeros with a 1 at each index; x: contiguous int64; args.a = C.
void one_hot_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {
  const int64_t classes = static_cast<int64_t>(args.a);
  const int64_t n = x.numel();
  const int64_t* idx = x.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    EMBER_CHECK(idx[i] >= 0, "one_hot: class values must be non-negative, got ", idx[i]);
    EMBER_CHECK(idx[i] < classes, "one_hot: class value ", idx[i], " must be smaller than num_classes (", classes, ")");
  }
  int64_t* o = out.data_ptr<int64_t>();
  parallel_range(0, n, std::max<int64_t>(1, kGrain / std::max<int64_t>(classes, 1)), [&](int64_t lo, int64_t hi) {
    std::fill(o + lo * classes, o + hi * classes, int64_t{0});
    for (int64_t i = lo; i < hi; ++i) o[i * classes + idx[i]] = 1;
  });
}

}  // namespace

void register_index_kernels(KernelTable& t) {
  t.index_select = index_select_kernel;
  t.index_add = index_add_kernel;
  t.gather = gather_kernel;
  t.scatter_add = scatter_add_kernel;
  t.one_hot = one_hot_kernel;
  register_index_shape_kernels(t);
  register_sort_kernels(t);
}

}  // namespace ember::cpu
