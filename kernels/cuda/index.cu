// CUDA kernels of the index ops index_select, index_add, gather, scatter_add
// and one_hot, and the registration of the indexing-and-shape family
// (cat/pad/flip in index_shape.cu, topk/sort in sort.cu), as kernels/cpu/index.cpp.
//
// One thread per element moved: index_select/gather per output element,
// index_add/scatter_add per source element with atomic adds (index_common.cuh),
// so duplicate indices accumulate; float sums may then differ from the CPU's
// sequential order in the last bits, integers are exact. Indices are checked on
// the device and a bad one raises the CPU's error (Note [index checks on CUDA]).
// Ceilings: no FLOPs to speak of; each op moves its output once plus the indices
// and the elements it reads: memory-bound.
#include <ember/kernels/cuda/index_check.cuh>
#include <ember/kernels/cuda/index_common.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {

void register_index_shape_kernels(KernelTable& t);  // index_shape.cu
void register_sort_kernels(KernelTable& t);         // sort.cu

namespace {

#define EMBER_GRID_STRIDE(i, n)                                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// x viewed as (outer, size, inner) around dim.
struct Rows {
  int64_t outer = 1, size = 1, inner = 1;
};
Rows rows_around(IntList shape, int64_t d) {
  Rows r;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    const int64_t s = shape[static_cast<size_t>(i)];
    if (i < d) r.outer *= s;
    else if (i == d) r.size = s;
    else r.inner *= s;
  }
  return r;
}

// Coordinates (o, i, j) of flat position e over `oni` = (outer, n, inner).
__device__ __forceinline__ void row_coordinates(const FlatShape<3>& oni, int64_t e, int64_t& o, int64_t& i,
                                                int64_t& j) {
  oni.unravel(e, [&](int d, int64_t c) { (d == 0 ? o : d == 1 ? i : j) = c; });
}

// out: (outer, n, inner) = x: (outer, size, inner) rows picked by index (n); I: int32 or int64.
template <class U, class I>
__global__ void index_select_fwd_kernel(const U* x, U* out, const I* index, Rows r,
                                        const __grid_constant__ FlatShape<3> oni, unsigned long long* flag) {
  EMBER_GRID_STRIDE(e, r.outer * oni.sizes[1] * r.inner) {
    int64_t o = 0, i = 0, j = 0;
    row_coordinates(oni, e, o, i, j);
    const int64_t idx = static_cast<int64_t>(index[i]);
    if (idx < 0 || idx >= r.size) {
      flag_bad_index(flag, i);
      continue;
    }
    out[e] = x[(o * r.size + idx) * r.inner + j];
  }
}

// out: (outer, size, inner) += src: (outer, n, inner) at rows index (n).
template <class T, class I>
__global__ void index_add_fwd_kernel(T* out, const T* src, const I* index, Rows r,
                                     const __grid_constant__ FlatShape<3> oni, unsigned long long* flag) {
  EMBER_GRID_STRIDE(e, r.outer * oni.sizes[1] * r.inner) {
    int64_t o = 0, i = 0, j = 0;
    row_coordinates(oni, e, o, i, j);
    const int64_t idx = static_cast<int64_t>(index[i]);
    if (idx < 0 || idx >= r.size) {
      flag_bad_index(flag, i);
      continue;
    }
    atomic_add_any(out + (o * r.size + idx) * r.inner + j, src[e]);
  }
}

// Calls f.template operator()<I>() with I the C++ type of an int32/int64 index.
template <class F>
void visit_index(const Tensor& index, F&& f) {
  if (index.dtype() == kInt32) f.template operator()<int32_t>();
  else f.template operator()<int64_t>();
}

// Flags the first index outside [0, size), moving nothing: for index_select/index_add when no
// element moves (a zero-size outer or inner block), where the kernels above would read no index,
// so a bad index still raises the CPU's error.
template <class I>
__global__ void check_rows_fwd_kernel(const I* index, int64_t n, int64_t size, unsigned long long* flag) {
  EMBER_GRID_STRIDE(i, n) {
    const int64_t idx = static_cast<int64_t>(index[i]);
    if (idx < 0 || idx >= size) flag_bad_index(flag, i);
  }
}

// Runs check_rows_fwd_kernel when no element moves; true when it did (the caller launches nothing else).
bool check_rows_only(const char* op, const Tensor& index, const Rows& r, const IndexFlag& flag, cudaStream_t stream) {
  if (r.outer * r.inner != 0) return false;
  const int64_t n = index.numel();
  visit_index(index, [&]<class I>() {
    check_rows_fwd_kernel<I><<<blocks_for(n), kThreads, 0, stream>>>(device_ptr<const I>(index), n, r.size,
                                                                       flag.device());
    EMBER_CUDA_LAUNCH_CHECK(op);
  });
  return true;
}

// out (contiguous, index's shape) = x at index along dim. geom: a = x strides, b = index strides.
template <class U>
__global__ void gather_fwd_kernel(const U* x, U* out, const int64_t* index, IndexGeom g, int dim, int64_t x_dim_stride,
                                  int64_t x_dim_size, int64_t n, unsigned long long* flag) {
  EMBER_GRID_STRIDE(e, n) {
    int64_t xo, io, c;
    g.offsets(e, dim, xo, io, c);
    const int64_t idx = index[io + c * g.stride_b[dim]];
    if (idx < 0 || idx >= x_dim_size) {
      flag_bad_index(flag, e);
      continue;
    }
    out[e] = x[xo + idx * x_dim_stride];
  }
}

// out (contiguous) += src at index along dim, over index's shape. geom: a = src strides, b = index
// strides; out_geom: a = out strides (same sizes).
template <class T>
__global__ void scatter_add_fwd_kernel(T* out, const T* src, const int64_t* index, IndexGeom g, int dim,
                                       IndexGeom out_geom, int64_t out_dim_size, int64_t n, unsigned long long* flag) {
  EMBER_GRID_STRIDE(e, n) {
    int64_t so, io, c, oo, unused, c2;
    g.offsets(e, dim, so, io, c);
    out_geom.offsets(e, dim, oo, unused, c2);
    const int64_t idx = index[io + c * g.stride_b[dim]];
    if (idx < 0 || idx >= out_dim_size) {
      flag_bad_index(flag, e);
      continue;
    }
    atomic_add_any(out + oo + idx * out_geom.stride_a[dim], src[so + c * g.stride_a[dim]]);
  }
}

// out: (n, classes) int64, zeroed; out[i, x[i]] = 1.
__global__ void one_hot_fwd_kernel(const int64_t* x, int64_t* out, int64_t n, int64_t classes,
                                   unsigned long long* flag) {
  EMBER_GRID_STRIDE(i, n) {
    const int64_t v = x[i];
    if (v < 0 || v >= classes) {
      flag_bad_index(flag, i);
      continue;
    }
    out[i * classes + v] = 1;
  }
}
#undef EMBER_GRID_STRIDE

// Throws the CPU's out-of-range error when the flag recorded a bad index.
void check_flag(const char* op, const IndexFlag& flag, const Tensor& index, int64_t dim, int64_t size) {
  const int64_t bad = flag.first_bad(op);
  if (bad < 0) return;
  const int64_t v = read_index_value(index, bad);
  EMBER_FAIL(op, ": index ", v, " is out of range for dim ", dim, " of size ", size, " (expected an index in [0, ",
             size, "))");
}

void index_select_kernel(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "index_select";
  EMBER_CHECK(x.is_contiguous() && out.is_contiguous() && index.is_contiguous(), op,
              ": CUDA kernel expects contiguous operands, got x ", x.describe(), ", index ", index.describe());
  const Rows r = rows_around(x.shape(), dim);
  const int64_t n = index.numel();
  DeviceGuard guard(x.device().index);
  IndexFlag flag(x);
  if (!check_rows_only(op, index, r, flag, stream_of(x))) visit_itemsize(x.itemsize(), [&]<class U>() {
    visit_index(index, [&]<class I>() {
      index_select_fwd_kernel<U, I><<<blocks_for(out.numel()), kThreads, 0, stream_of(x)>>>(
          device_ptr<const U>(x), device_ptr<U>(out), device_ptr<const I>(index), r, FlatShape<3>{r.outer, n, r.inner},
          flag.device());
      EMBER_CUDA_LAUNCH_CHECK(op);
    });
  });
  check_flag(op, flag, index, dim, r.size);
}

void index_add_kernel(const Tensor& out, const Tensor& src, int64_t dim, const Tensor& index) {
  const char* op = "index_add";
  EMBER_CHECK(src.is_contiguous() && out.is_contiguous() && index.is_contiguous() && src.dtype() == out.dtype(), op,
              ": CUDA kernel expects contiguous operands of one dtype, got out ", out.describe(), ", src ",
              src.describe());
  const Rows r = rows_around(out.shape(), dim);
  const int64_t n = index.numel();
  DeviceGuard guard(out.device().index);
  IndexFlag flag(out);
  if (!check_rows_only(op, index, r, flag, stream_of(out))) visit_dtype(out.dtype(), [&]<class E>() {
    using T = CudaType<E>;
    visit_index(index, [&]<class I>() {
      index_add_fwd_kernel<T, I><<<blocks_for(src.numel()), kThreads, 0, stream_of(out)>>>(
          device_ptr<T>(out), device_ptr<const T>(src), device_ptr<const I>(index), r,
          FlatShape<3>{r.outer, n, r.inner}, flag.device());
      EMBER_CUDA_LAUNCH_CHECK(op);
    });
  });
  check_flag(op, flag, index, dim, r.size);
}

void gather_kernel(const Tensor& out, const Tensor& x, int64_t dim, const Tensor& index) {
  const char* op = "gather";
  EMBER_CHECK(out.is_contiguous() && index.dtype() == kInt64, op, ": CUDA kernel expects a contiguous output and an ",
              "int64 index, got out ", out.describe(), ", index ", index.describe());
  const IndexGeom g = make_geom(op, index.shape(), x.strides(), index.strides());
  DeviceGuard guard(x.device().index);
  IndexFlag flag(x);
  visit_itemsize(x.itemsize(), [&]<class U>() {
    gather_fwd_kernel<U><<<blocks_for(out.numel()), kThreads, 0, stream_of(x)>>>(
        device_ptr<const U>(x), device_ptr<U>(out), device_ptr<const int64_t>(index), g, static_cast<int>(dim),
        x.stride(dim), x.size(dim), out.numel(), flag.device());
    EMBER_CUDA_LAUNCH_CHECK(op);
  });
  check_flag(op, flag, index, dim, x.size(dim));
}

void scatter_add_kernel(const Tensor& out, const Tensor& src, int64_t dim, const Tensor& index) {
  const char* op = "scatter_add";
  EMBER_CHECK(index.dtype() == kInt64 && src.dtype() == out.dtype(), op,
              ": CUDA kernel expects an int64 index and src of out's dtype, got out ", out.describe(), ", src ",
              src.describe(), ", index ", index.describe());
  const IndexGeom g = make_geom(op, index.shape(), src.strides(), index.strides());
  const IndexGeom og = make_geom(op, index.shape(), out.strides(), out.strides());
  DeviceGuard guard(out.device().index);
  IndexFlag flag(out);
  const int64_t n = index.numel();
  visit_dtype(out.dtype(), [&]<class E>() {
    using T = CudaType<E>;
    scatter_add_fwd_kernel<T><<<blocks_for(n), kThreads, 0, stream_of(out)>>>(
        device_ptr<T>(out), device_ptr<const T>(src), device_ptr<const int64_t>(index), g, static_cast<int>(dim), og,
        out.size(dim), n, flag.device());
    EMBER_CUDA_LAUNCH_CHECK(op);
  });
  check_flag(op, flag, index, dim, out.size(dim));
}

void one_hot_kernel(const Tensor& out, const Tensor& x, const UnaryArgs& args) {
  const char* op = "one_hot";
  EMBER_CHECK(x.is_contiguous() && out.is_contiguous() && x.dtype() == kInt64 && out.dtype() == kInt64, op,
              ": CUDA kernel expects contiguous int64 operands, got x ", x.describe(), ", out ", out.describe());
  const int64_t classes = static_cast<int64_t>(args.a), n = x.numel();
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  IndexFlag flag(x);
  EMBER_CUDA_CHECK(cudaMemsetAsync(out.data_ptr(), 0, out.nbytes(), stream), op);
  one_hot_fwd_kernel<<<blocks_for(n), kThreads, 0, stream>>>(device_ptr<const int64_t>(x), device_ptr<int64_t>(out), n,
                                                              classes, flag.device());
  EMBER_CUDA_LAUNCH_CHECK(op);
  const int64_t bad = flag.first_bad(op);
  if (bad < 0) return;
  const int64_t v = read_index_value(x, bad);
  EMBER_CHECK(v >= 0, "one_hot: class values must be non-negative, got ", v);
  EMBER_FAIL("one_hot: class value ", v, " must be smaller than num_classes (", classes, ")");
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

}  // namespace ember::cuda
