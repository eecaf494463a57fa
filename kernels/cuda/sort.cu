// CUDA kernels of topk and sort along one dim, on CUB (the toolkit's CCCL), with
// the ordering of kernels/cpu/sort.cpp: NaN above every number, ties broken by
// the original index (stable in both directions), topk's k values in order.
//
// Each slice along the dim becomes one segment of (key, index) pairs: keys are
// unsigned integers (order_key) whose order is the CPU comparator's (NaN made
// one value above +inf, -0.0 tied with +0.0); indices are 0..n-1.
// One slice goes through cub::DeviceRadixSort, several through
// cub::DeviceSegmentedSort (both stable; descending keeps equal keys in input
// order). The first k indices of each sorted segment then gather the original
// elements, bit for bit, into (outer, k, inner). Scratch comes from the caching
// allocator on the current stream.
// Ceilings: O(n * key bits / radix digit) passes over keys and indices per
// segment (O(n log n) for the small-segment merge path); bytes: the input
// once, keys and indices a few times, the outputs once. Memory-bound.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_segmented_sort.cuh>

#include <type_traits>

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/register.hpp>

namespace ember::cuda {
namespace {

#define EMBER_GRID_STRIDE(i, n)                                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// The sort key of an element type: an unsigned integer of the element's width (float for 16-bit
// floats) whose unsigned order is the CPU comparator's order. Unsigned keys order the same way in
// CUB's radix passes and in the merge sort DeviceSegmentedSort uses for short segments (which
// compares keys with <, where a floating NaN would compare equal to everything).
template <class T> struct SortKeyT { using type = std::make_unsigned_t<T>; };
template <> struct SortKeyT<float> { using type = uint32_t; };
template <> struct SortKeyT<double> { using type = uint64_t; };
template <> struct SortKeyT<__half> { using type = uint32_t; };
template <> struct SortKeyT<__nv_bfloat16> { using type = uint32_t; };
template <> struct SortKeyT<bool> { using type = uint8_t; };
template <class T> using SortKey = typename SortKeyT<T>::type;

// Integers: the sign bit flipped. Floats: every NaN made the positive quiet NaN (above +inf),
// -0.0 made +0.0 (ties, as in the CPU's comparison), then negative values' bits inverted and
// non-negative values' sign bit set, so unsigned order is numeric order.
template <class T>
__device__ __forceinline__ SortKey<T> order_key(T v) {
  using K = SortKey<T>;
  constexpr K kSign = K(1) << (sizeof(K) * 8 - 1);
  if constexpr (std::is_same_v<T, bool>) {
    return v ? K(1) : K(0);
  } else if constexpr (std::is_integral_v<T>) {
    const K u = static_cast<K>(v);
    return std::is_signed_v<T> ? K(u ^ kSign) : u;
  } else {
    using F = std::conditional_t<std::is_same_v<T, double>, double, float>;
    F f = static_cast<F>(to_acc(v));
    if (f != f) f = F(NAN);
    else if (f == F(0)) f = F(0);
    K u;
    if constexpr (std::is_same_v<F, double>) u = static_cast<K>(__double_as_longlong(f));
    else u = static_cast<K>(__float_as_uint(f));
    return (u & kSign) ? K(~u) : K(u | kSign);
  }
}

struct SliceShape {
  int64_t outer, size, inner, k;
};

// keys[s * size + j] and idx[s * size + j] = j for segment s = (o, i) of x (outer, size, inner).
template <class T>
__global__ void sort_keys_fwd_kernel(const T* x, SortKey<T>* keys, int64_t* idx, SliceShape s) {
  EMBER_GRID_STRIDE(e, s.outer * s.size * s.inner) {
    const int64_t seg = e / s.size, j = e % s.size;
    const int64_t o = seg / s.inner, i = seg % s.inner;
    keys[e] = order_key(x[(o * s.size + j) * s.inner + i]);
    idx[e] = j;
  }
}

__global__ void segment_offsets_fwd_kernel(int64_t* offsets, int64_t segments, int64_t size) {
  EMBER_GRID_STRIDE(s, segments + 1) { offsets[s] = s * size; }
}

// values/indices (outer, k, inner) from the first k sorted indices of each segment.
template <class T>
__global__ void sort_gather_fwd_kernel(const T* x, const int64_t* sorted_idx, T* values, int64_t* indices, SliceShape s) {
  EMBER_GRID_STRIDE(e, s.outer * s.k * s.inner) {
    const int64_t i = e % s.inner, r = (e / s.inner) % s.k, o = e / (s.inner * s.k);
    const int64_t j = sorted_idx[(o * s.inner + i) * s.size + r];
    values[e] = x[(o * s.size + j) * s.inner + i];
    indices[e] = j;
  }
}
#undef EMBER_GRID_STRIDE

#define EMBER_CUB_CHECK(call, op) EMBER_CUDA_CHECK((call), (op))

// Sorts `segments` segments of `size` (keys, idx) pairs into (keys_out, idx_out); two calls: size, then sort.
template <class K>
void sort_segments(const char* op, const K* keys, K* keys_out, const int64_t* idx, int64_t* idx_out, int64_t segments,
                   int64_t size, bool descending, const Tensor& like) {
  cudaStream_t stream = stream_of(like);
  const int64_t n = segments * size;
  const TensorOptions bytes(kUInt8, like.device());
  size_t temp = 0;
  if (segments == 1) {
    auto run = [&](void* ws) {
      if (descending)
        return cub::DeviceRadixSort::SortPairsDescending(ws, temp, keys, keys_out, idx, idx_out, n, 0,
                                                         static_cast<int>(sizeof(K) * 8), stream);
      return cub::DeviceRadixSort::SortPairs(ws, temp, keys, keys_out, idx, idx_out, n, 0,
                                             static_cast<int>(sizeof(K) * 8), stream);
    };
    EMBER_CUB_CHECK(run(nullptr), op);
    Tensor ws = empty({static_cast<int64_t>(std::max<size_t>(temp, 1))}, bytes);
    EMBER_CUB_CHECK(run(ws.data_ptr()), op);
    return;
  }
  Tensor offsets = empty({segments + 1}, TensorOptions(kInt64, like.device()));
  segment_offsets_fwd_kernel<<<blocks_for(segments + 1), kThreads, 0, stream>>>(device_ptr<int64_t>(offsets), segments,
                                                                                size);
  EMBER_CUDA_LAUNCH_CHECK(op);
  const int64_t* begin = device_ptr<const int64_t>(offsets);
  auto run = [&](void* ws) {
    if (descending)
      return cub::DeviceSegmentedSort::StableSortPairsDescending(ws, temp, keys, keys_out, idx, idx_out, n, segments,
                                                                 begin, begin + 1, stream);
    return cub::DeviceSegmentedSort::StableSortPairs(ws, temp, keys, keys_out, idx, idx_out, n, segments, begin,
                                                     begin + 1, stream);
  };
  EMBER_CUB_CHECK(run(nullptr), op);
  Tensor ws = empty({static_cast<int64_t>(std::max<size_t>(temp, 1))}, bytes);
  EMBER_CUB_CHECK(run(ws.data_ptr()), op);
}

// values/indices: (outer, k, inner) contiguous; x: (outer, size, inner) contiguous.
void order_slices(const char* op, const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim, int64_t k,
                  bool descending) {
  EMBER_CHECK(x.is_contiguous() && values.is_contiguous() && indices.is_contiguous(), op,
              ": CUDA kernel expects contiguous operands, got x ", x.describe(), ", values ", values.describe());
  SliceShape s{1, x.size(dim), 1, k};
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) s.outer *= x.size(d);
    else if (d > dim) s.inner *= x.size(d);
  }
  const int64_t n = x.numel(), segments = s.outer * s.inner;
  if (values.numel() == 0) return;
  DeviceGuard guard(x.device().index);
  cudaStream_t stream = stream_of(x);
  visit_dtype(x.dtype(), [&]<class E>() {
    using T = CudaType<E>;
    using K = SortKey<T>;
    // Keys in and out, as raw bytes (ember has no dtype for every unsigned key width).
    Tensor keys = empty({2 * n * static_cast<int64_t>(sizeof(K))}, TensorOptions(kUInt8, x.device()));
    Tensor idx = empty({2 * n}, TensorOptions(kInt64, x.device()));
    K* pk = static_cast<K*>(keys.data_ptr());
    int64_t* pi = device_ptr<int64_t>(idx);
    sort_keys_fwd_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(device_ptr<const T>(x), pk, pi, s);
    EMBER_CUDA_LAUNCH_CHECK(op);
    sort_segments<K>(op, pk, pk + n, pi, pi + n, segments, s.size, descending, x);
    sort_gather_fwd_kernel<T><<<blocks_for(values.numel()), kThreads, 0, stream>>>(
        device_ptr<const T>(x), pi + n, device_ptr<T>(values), device_ptr<int64_t>(indices), s);
    EMBER_CUDA_LAUNCH_CHECK(op);
  });
}

void topk_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const TopkArgs& args) {
  order_slices("topk", values, indices, x, args.dim, args.k, args.largest);
}

void sort_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const TopkArgs& args) {
  order_slices("sort", values, indices, x, args.dim, x.size(args.dim), args.descending);
}

}  // namespace

void register_sort_kernels(KernelTable& t) {
  t.topk = topk_kernel;
  t.sort = sort_kernel;
}

}  // namespace ember::cuda
