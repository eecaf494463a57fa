// CPU kernels for topk and sort along one dim.
//
// Each slice along the dim is copied into a (value, index) buffer and ordered
// with a comparator that puts NaN above every number (as PyTorch) and breaks
// ties by the original index, so the result is deterministic and sort is
// stable in both directions. topk partially sorts and always returns its k
// values in order (PyTorch leaves the order unspecified when sorted=false).
// Ceilings: O(n log n) comparisons per slice of n (O(n log k) for topk);
// bytes: the input once, the outputs (values + int64 indices) once.
#include <algorithm>
#include <utility>

#include <ember/kernels/cpu/index_common.hpp>
#include <ember/kernels/cpu/register.hpp>

namespace ember::cpu {
namespace {

template <class M>
bool is_nan(M v) {
  return v != v;  // NOLINT: false for integers and bool
}

// Strict "comes before" for the requested direction: NaN is the largest value.
template <class M>
struct Before {
  bool descending;
  bool operator()(const std::pair<M, int64_t>& a, const std::pair<M, int64_t>& b) const {
    const bool an = is_nan(a.first), bn = is_nan(b.first);
    if (an || bn) {
      if (an && bn) return a.second < b.second;
      return descending ? an : bn;  // NaN first when descending, last when ascending
    }
    if (a.first != b.first) return descending ? a.first > b.first : a.first < b.first;
    return a.second < b.second;
  }
};

// values/indices: (outer, k, inner) contiguous; x: (outer, size, inner) contiguous.
void order_slices(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim, int64_t k,
                  bool descending) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (i < dim) outer *= x.size(i);
    else if (i > dim) inner *= x.size(i);
  }
  const int64_t size = x.dim() == 0 ? 1 : x.size(dim);
  visit_dtype(x.dtype(), [&]<class T>() {
    using M = OpMath<T>;
    const T* src = static_cast<const T*>(x.data_ptr());
    T* vout = static_cast<T*>(values.data_ptr());
    int64_t* iout = indices.data_ptr<int64_t>();
    const Before<M> before{descending};
    parallel_range(0, outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(size, 1)), [&](int64_t lo, int64_t hi) {
      std::vector<std::pair<M, int64_t>> buf(static_cast<size_t>(size));
      for (int64_t slice = lo; slice < hi; ++slice) {
        const int64_t o = slice / inner, j = slice % inner;
        const T* s = src + o * size * inner + j;
        for (int64_t i = 0; i < size; ++i) buf[static_cast<size_t>(i)] = {static_cast<M>(s[i * inner]), i};
        if (k < size) {
          std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), before);
        } else {
          std::sort(buf.begin(), buf.end(), before);
        }
        T* vo = vout + o * k * inner + j;
        int64_t* io = iout + o * k * inner + j;
        for (int64_t r = 0; r < k; ++r) {
          vo[r * inner] = s[buf[static_cast<size_t>(r)].second * inner];  // the original element, bit for bit
          io[r * inner] = buf[static_cast<size_t>(r)].second;
        }
      }
    });
  });
}

void topk_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const TopkArgs& args) {
  order_slices(values, indices, x, args.dim, args.k, args.largest);
}

void sort_kernel(const Tensor& values, const Tensor& indices, const Tensor& x, const TopkArgs& args) {
  const int64_t size = x.dim() == 0 ? 1 : x.size(args.dim);
  order_slices(values, indices, x, args.dim, size, args.descending);
}

}  // namespace

void register_sort_kernels(KernelTable& t) {
  t.topk = topk_kernel;
  t.sort = sort_kernel;
}

}  // namespace ember::cpu
