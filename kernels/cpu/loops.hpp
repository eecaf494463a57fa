// Strided loops over N operands: the engine under every CPU elementwise kernel.
//
// make_loop() takes operands (operand 0 is the output) and the iteration shape,
// broadcasts each operand's strides to that shape (stride 0 where it is
// broadcast), converts them to bytes, drops size-1 dims and merges dims that are
// contiguous in every operand. for_each_range() then calls
//   fn(char* ptrs[N], const int64_t strides[N], int64_t n)
// for runs of the innermost dim; a run where every stride equals the element
// size is a plain contiguous array, which the inner lambdas test for so the
// compiler can vectorise it. Ranges are in flat element indices, so a parallel
// split can cut anywhere (kernels split with parallel_for over [0, numel)).
#pragma once

#include <array>
#include <cstdint>

#include <ember/tensor/tensor.hpp>

namespace ember::cpu {

template <int N>
struct Loop {
  Dims shape;                    // coalesced iteration shape, innermost last
  std::array<Dims, N> strides;   // byte strides per operand, same length as shape
  std::array<char*, N> base;
  int64_t numel = 0;
};

template <int N>
Loop<N> make_loop(const std::array<const Tensor*, N>& operands, IntList shape) {
  Loop<N> loop;
  const size_t nd = shape.size();
  loop.numel = product(shape);
  // Broadcast strides (in bytes), aligned to the right.
  std::array<Dims, N> full;
  for (int k = 0; k < N; ++k) {
    const Tensor& t = *operands[k];
    loop.base[k] = static_cast<char*>(t.data_ptr());
    full[k] = Dims(nd, 0);
    const int64_t tnd = t.dim();
    const int64_t item = static_cast<int64_t>(t.itemsize());
    for (int64_t i = 0; i < tnd; ++i) {
      size_t d = nd - static_cast<size_t>(tnd) + static_cast<size_t>(i);
      full[k][d] = t.size(i) == 1 ? 0 : t.strides()[static_cast<size_t>(i)] * item;
    }
  }
  // Keep dims of size != 1, merging into the previous kept dim when contiguous for all operands.
  for (size_t d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    bool merge = !loop.shape.empty();
    for (int k = 0; k < N && merge; ++k) merge = loop.strides[k].back() == full[k][d] * shape[d];
    if (merge) {
      loop.shape.back() *= shape[d];
      for (int k = 0; k < N; ++k) loop.strides[k].back() = full[k][d];
    } else {
      loop.shape.push_back(shape[d]);
      for (int k = 0; k < N; ++k) loop.strides[k].push_back(full[k][d]);
    }
  }
  if (loop.shape.empty()) {  // scalar iteration
    loop.shape.push_back(1);
    for (int k = 0; k < N; ++k) loop.strides[k].push_back(0);
  }
  return loop;
}

// Calls fn(ptrs, inner_strides, n) for the runs covering flat indices [begin, end).
template <int N, class Fn>
void for_each_range(const Loop<N>& loop, int64_t begin, int64_t end, Fn&& fn) {
  if (begin >= end) return;
  const size_t nd = loop.shape.size();
  const int64_t inner = loop.shape[nd - 1];
  // Multi-index of `begin`.
  Dims idx(nd, 0);
  int64_t rem = begin;
  for (size_t d = nd; d-- > 0;) {
    idx[d] = rem % loop.shape[d];
    rem /= loop.shape[d];
  }
  std::array<int64_t, N> inner_strides;
  for (int k = 0; k < N; ++k) inner_strides[k] = loop.strides[k][nd - 1];
  int64_t pos = begin;
  while (pos < end) {
    std::array<char*, N> ptrs;
    for (int k = 0; k < N; ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < nd; ++d) off += idx[d] * loop.strides[k][d];
      ptrs[k] = loop.base[k] + off;
    }
    int64_t n = std::min(inner - idx[nd - 1], end - pos);
    fn(ptrs.data(), inner_strides.data(), n);
    pos += n;
    // Advance the odometer past this run.
    idx[nd - 1] += n;
    for (size_t d = nd - 1; d > 0 && idx[d] == loop.shape[d]; --d) {
      idx[d] = 0;
      ++idx[d - 1];
    }
  }
}

template <int N, class Fn>
void for_each(const Loop<N>& loop, Fn&& fn) {
  for_each_range(loop, 0, loop.numel, std::forward<Fn>(fn));
}

// Element-wise map: out[i] = f(in0[i], in1[i], ...) with T the element types.
// The loop runs serially here; parallel_map() in parallel.hpp splits it over the pool.
template <class Out, class... In, class F>
void map_range(const Loop<1 + sizeof...(In)>& loop, int64_t begin, int64_t end, F&& f) {
  constexpr int N = 1 + sizeof...(In);
  for_each_range(loop, begin, end, [&](char** p, const int64_t* s, int64_t n) {
    bool contiguous = s[0] == static_cast<int64_t>(sizeof(Out));
    int k = 1;
    ((contiguous = contiguous && s[k++] == static_cast<int64_t>(sizeof(In))), ...);
    if (contiguous) {
      Out* out = reinterpret_cast<Out*>(p[0]);
      auto run = [&]<size_t... I>(std::index_sequence<I...>) {
        for (int64_t i = 0; i < n; ++i) out[i] = f(reinterpret_cast<const In*>(p[I + 1])[i]...);
      };
      run(std::index_sequence_for<In...>{});
    } else {
      auto run = [&]<size_t... I>(std::index_sequence<I...>) {
        for (int64_t i = 0; i < n; ++i)
          *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const In*>(p[I + 1] + i * s[I + 1])...);
      };
      run(std::index_sequence_for<In...>{});
    }
  });
  (void)N;
}

}  // namespace ember::cpu
