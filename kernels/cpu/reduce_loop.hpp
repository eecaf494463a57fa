// The loop engine under the CPU reduction, arg-reduction, scan and softmax kernels.
//
// Every such op sees its input as a contiguous (outer, n, inner) block and
// works along the middle extent n:
//   inner == 1  each of the `outer` rows is a contiguous run (reducing the
//               last dims, or all dims, of a contiguous tensor);
//   inner > 1   columns: the kernels walk n with a tile of up to kBlock
//               accumulators side by side, so memory is read in order.
// reduce_layout() finds that form for a set of reduced dims without copying
// when the input already has it (contiguous with one run of reduced dims, or
// a permutation of a contiguous tensor with the kept dims first), and
// otherwise copies the input once with the kept dims first. run_reduce also
// takes a transposed view in its memory order and reorders only the output.
// The output, in keepdim shape and contiguous, is indexed o * inner + i.
//
// Reducers (see run_reduce) are small structs with an accumulator type Acc:
//   Acc init(); void update(Acc&, M v); void combine(Acc&, const Acc&) (a is
//   earlier than b); Out finish(const Acc&, int64_t n).
// Very long reductions with few outputs are cut into fixed chunks whose partial
// accumulators are combined in order, so the result does not depend on the
// number of threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cpu {

// Accumulator type of sums: double for every floating dtype, int64 for the others.
template <class T>
using SumAcc = std::conditional_t<std::is_floating_point_v<OpMath<T>>, double, int64_t>;

template <class T>
inline OpMath<T> load(T v) {
  return static_cast<OpMath<T>>(v);
}

template <class T, class V>
inline T store(V v) {
  if constexpr (std::is_same_v<T, bool>) return v != V(0);
  else return static_cast<T>(static_cast<OpMath<T>>(v));
}

template <class V>
inline bool is_nan(V v) {
  if constexpr (std::is_floating_point_v<V>) return std::isnan(v);
  else return false;
}

// a += v, wrapping around on integer overflow as PyTorch does (no signed-overflow UB).
template <class A, class V>
inline void add_to(A& a, V v) {
  if constexpr (std::is_integral_v<A>) a = static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(v));
  else a += static_cast<A>(v);
}

struct ReduceLayout {
  Tensor src;  // contiguous: x itself, or a copy when one was needed
  int64_t outer = 1, n = 1, inner = 1;
};

// x viewed as (outer, n, inner) with `dims` (sorted, unique) reduced into n.
inline ReduceLayout reduce_layout(const Tensor& x, IntList dims) {
  const int64_t nd = x.dim();
  std::vector<bool> reduced(static_cast<size_t>(nd), false);
  for (int64_t d : dims) reduced[static_cast<size_t>(d)] = true;
  if (x.is_contiguous()) {
    // Coalesce runs of kept / reduced dims (size-1 dims belong to either).
    struct Group {
      bool reduced;
      int64_t size;
    };
    std::vector<Group> groups;
    for (int64_t d = 0; d < nd; ++d) {
      int64_t s = x.size(d);
      if (s == 1) continue;
      bool r = reduced[static_cast<size_t>(d)];
      if (!groups.empty() && groups.back().reduced == r) groups.back().size *= s;
      else groups.push_back({r, s});
    }
    int nred = 0;
    for (const Group& g : groups) nred += g.reduced ? 1 : 0;
    if (nred <= 1) {
      ReduceLayout L;
      L.src = x;
      bool after = false;
      for (const Group& g : groups) {
        if (g.reduced) {
          L.n = g.size;
          after = true;
        } else if (after) {
          L.inner *= g.size;
        } else {
          L.outer *= g.size;
        }
      }
      return L;
    }
  }
  // Kept dims first, reduced dims last; contiguous() copies only when needed.
  Dims perm;
  ReduceLayout L;
  for (int64_t d = 0; d < nd; ++d)
    if (!reduced[static_cast<size_t>(d)]) {
      perm.push_back(d);
      L.outer *= x.size(d);
    }
  for (int64_t d : dims) {
    perm.push_back(d);
    L.n *= x.size(d);
  }
  L.src = ops::contiguous(ops::permute(x, perm));
  return L;
}

// x viewed as (outer, n, inner) around one dim; x is made contiguous.
inline ReduceLayout dim_layout(const Tensor& x, int64_t dim) {
  ReduceLayout L;
  L.src = ops::contiguous(x);
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) L.outer *= x.size(d);
    else if (d == dim) L.n = x.size(d);
    else L.inner *= x.size(d);
  }
  return L;
}

// Columns handled side by side by one task in the inner > 1 case: a tile reads
// kBlock consecutive elements of each of its n rows, so memory is walked in
// long runs (whole pages) rather than a few cache lines per row.
inline constexpr int64_t kBlock = 1024;

// The split of an (outer, n, inner) layout into tasks: task t covers slab t / per_slab,
// columns [col0(t), col0(t) + cols(t)). With inner == 1 a task is one row.
struct Tiles {
  int64_t n, inner, width, per_slab, count;
  explicit Tiles(const ReduceLayout& L)
      : n(L.n), inner(L.inner), width(std::min(L.inner, kBlock)), per_slab((L.inner + kBlock - 1) / kBlock),
        count(L.outer * per_slab) {}
  int64_t col0(int64_t t) const { return (t % per_slab) * kBlock; }
  int64_t cols(int64_t t) const { return std::min(kBlock, inner - col0(t)); }
  int64_t in_offset(int64_t t) const { return (t / per_slab) * n * inner + col0(t); }  // element (o, 0, col0)
  int64_t out_offset(int64_t t) const { return (t / per_slab) * inner + col0(t); }     // element (o, col0) of a keepdim output
  // Tasks per parallel chunk: about kGrain elements each.
  int64_t grain() const { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n * width)); }
};

// Per-task scratch (an array, since V may be bool).
template <class V>
std::unique_ptr<V[]> scratch(int64_t n) {
  return std::unique_ptr<V[]>(new V[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// out (contiguous) or a contiguous stand-in that finish_output copies back.
inline Tensor contiguous_output(const Tensor& out) {
  return out.is_contiguous() ? out : empty(out.shape(), out.options());
}
inline void finish_output(const Tensor& out, const Tensor& dst) {
  if (dst.is_same(out)) return;
  Tensor o = out;
  ops::copy_(o, dst);
}

// The permutation that makes x contiguous when x is a transposed view of a dense
// buffer (strides a permutation of contiguous ones); empty when x is contiguous or
// not dense.
inline Dims dense_permutation(const Tensor& x) {
  if (x.is_contiguous()) return {};
  std::vector<int64_t> perm(static_cast<size_t>(x.dim()));
  for (size_t d = 0; d < perm.size(); ++d) perm[d] = static_cast<int64_t>(d);
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return x.stride(a) > x.stride(b); });
  if (!ops::permute(x, perm).is_contiguous()) return {};
  return Dims(perm);
}

// Accumulates rows [k0, k1) of columns [0, w) of a slab (n, inner) into acc[0..w).
template <class T, class R>
void accumulate(const R& r, const T* slab, int64_t inner, int64_t k0, int64_t k1, int64_t w,
                typename R::Acc* acc) {
  using Acc = typename R::Acc;
  if constexpr (std::is_same_v<T, BFloat16> && requires { R::kPlainSum; }) {
    // A contiguous run of bfloat16 summed: widened a block at a time by the
    // ISA's vector conversion and summed in double by its sum kernel. The
    // terms are exact in double (8 significant bits each), so the order of
    // the additions does not change the sum short of a 2^45 range of values.
    if (const VecKernels* vk = inner == 1 ? vec_kernels() : nullptr) {
      constexpr int64_t kBlock = 1024;
      float block[kBlock];
      for (int64_t k = k0; k < k1; k += kBlock) {
        const int64_t len = std::min(kBlock, k1 - k);
        vk->bf16_to_f32(block, &slab[k].bits, len);
        r.combine(acc[0], vk->sum_f32(block, len));
      }
      return;
    }
  }
  if (inner == 1) {
    // Four interleaved accumulators give the CPU independent chains.
    constexpr int kLanes = 4;
    Acc lane[kLanes] = {r.init(), r.init(), r.init(), r.init()};
    int64_t k = k0;
    for (; k + kLanes <= k1; k += kLanes)
      for (int l = 0; l < kLanes; ++l) r.update(lane[l], load(slab[k + l]));
    for (; k < k1; ++k) r.update(lane[0], load(slab[k]));
    for (int l = 1; l < kLanes; ++l) r.combine(lane[0], lane[l]);
    r.combine(acc[0], lane[0]);
    return;
  }
  for (int64_t k = k0; k < k1; ++k) {
    const T* row = slab + k * inner;
    for (int64_t i = 0; i < w; ++i) r.update(acc[i], load(row[i]));
  }
}

// Runs reducer r over x's `dims` into out (keepdim shape); T is x's element type, O out's.
template <class T, class O, class R>
void run_reduce(const Tensor& out, const Tensor& x, IntList dims, const R& r) {
  using Acc = typename R::Acc;
  // A transposed input is reduced in its memory order; only the (smaller) output is reordered.
  if (Dims perm = dense_permutation(x); !perm.empty()) {
    Dims pdims;
    for (size_t j = 0; j < perm.size(); ++j)
      if (std::find(dims.begin(), dims.end(), perm[j]) != dims.end()) pdims.push_back(static_cast<int64_t>(j));
    run_reduce<T, O>(ops::permute(out, perm), ops::permute(x, perm), pdims, r);
    return;
  }
  const ReduceLayout L = reduce_layout(x, dims);
  const Tiles tiles(L);
  Tensor dst = contiguous_output(out);
  O* po = dst.data_ptr<O>();
  const T* px = L.n == 0 ? nullptr : static_cast<const T*>(L.src.data_ptr());
  const int64_t n = L.n, width = tiles.width;
  auto slab = [&](int64_t t) { return px == nullptr ? px : px + tiles.in_offset(t); };
  // Few tasks over a long extent: cut n into at most 64 chunks of >= 4 kGrain elements.
  int64_t chunk_rows = n;
  if (tiles.count < 16 && n * width > 4 * kGrain)
    chunk_rows = std::max({int64_t{1}, 4 * kGrain / width, (n + 63) / 64});
  const int64_t chunks = n == 0 ? 1 : (n + chunk_rows - 1) / chunk_rows;
  if (chunks == 1) {
    parallel_range(0, tiles.count, tiles.grain(), [&](int64_t lo, int64_t hi) {
      auto acc = scratch<Acc>(width);
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t w = tiles.cols(t);
        for (int64_t i = 0; i < w; ++i) acc[i] = r.init();
        if (n > 0) accumulate(r, slab(t), L.inner, 0, n, w, acc.get());
        O* dst_row = po + tiles.out_offset(t);
        for (int64_t i = 0; i < w; ++i) dst_row[i] = r.finish(acc[i], n);
      }
    });
  } else {
    auto partial = scratch<Acc>(tiles.count * chunks * width);
    parallel_range(0, tiles.count * chunks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t tc = lo; tc < hi; ++tc) {
        const int64_t t = tc / chunks, c = tc % chunks, w = tiles.cols(t);
        Acc* acc = partial.get() + tc * width;
        for (int64_t i = 0; i < w; ++i) acc[i] = r.init();
        accumulate(r, slab(t), L.inner, c * chunk_rows, std::min(n, (c + 1) * chunk_rows), w, acc);
      }
    });
    for (int64_t t = 0; t < tiles.count; ++t) {
      const int64_t w = tiles.cols(t);
      Acc* first = partial.get() + t * chunks * width;
      for (int64_t c = 1; c < chunks; ++c)
        for (int64_t i = 0; i < w; ++i) r.combine(first[i], first[c * width + i]);
      O* dst_row = po + tiles.out_offset(t);
      for (int64_t i = 0; i < w; ++i) dst_row[i] = r.finish(first[i], n);
    }
  }
  finish_output(out, dst);
}

// Registration of the kernels that live beside reduce.cpp and softmax.cpp.
void register_arg_reduce_kernels(KernelTable& t);  // reduce_arg.cpp: max_dim, min_dim, argmax, argmin, cumsum
void register_loss_kernels(KernelTable& t);        // softmax_loss.cpp: nll_loss, cross_entropy and backward

}  // namespace ember::cpu
