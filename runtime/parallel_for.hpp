// parallel_for / parallel_reduce: data-parallel loops on the executor, used by
// every CPU kernel.
//
// parallel_for(ex, begin, end, grain, fn) calls fn(lo, hi) on disjoint
// subranges covering [begin, end), each at least `grain` long (except the
// last). It runs inline — no atomics, no allocation — when the range is at most
// `grain` or the executor has one thread; otherwise the calling thread takes
// part: it offers one helper job per other thread and all of them claim chunks
// from a shared counter, so a loop nested inside a task (or issued while every
// worker is busy) simply runs on its caller and never deadlocks. The first
// exception thrown by fn is rethrown to the caller after the loop stops.
//
// parallel_reduce combines per-chunk results in chunk order with chunks that
// depend only on (range, grain, thread count): results are reproducible for a
// fixed thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include <ember/runtime/executor.hpp>

namespace ember::runtime {

namespace detail {

void parallel_for_impl(Executor& ex, int64_t begin, int64_t end, int64_t grain,
                       FunctionRef<void(int64_t, int64_t)> fn);

// Chunk length of parallel_reduce: at least grain, about 4 chunks per thread.
inline int64_t reduce_chunk_size(int64_t n, int64_t grain, int threads) {
  const int64_t target = 4 * static_cast<int64_t>(threads);
  return std::max(grain, (n + target - 1) / target);
}

}  // namespace detail

template <class F>
void parallel_for(Executor& ex, int64_t begin, int64_t end, int64_t grain, F&& fn) {
  if (end <= begin) return;
  if (grain < 1) grain = 1;
  if (end - begin <= grain || ex.num_threads() == 1) {
    fn(begin, end);
    return;
  }
  detail::parallel_for_impl(ex, begin, end, grain, detail::FunctionRef<void(int64_t, int64_t)>(fn));
}

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& fn) {
  parallel_for(default_executor(), begin, end, grain, std::forward<F>(fn));
}

// map(lo, hi) -> T reduces one chunk; combine(T, T) -> T must be associative.
template <class T, class Map, class Combine>
T parallel_reduce(Executor& ex, int64_t begin, int64_t end, int64_t grain, T identity, Map&& map,
                  Combine&& combine) {
  if (end <= begin) return identity;
  if (grain < 1) grain = 1;
  const int threads = ex.num_threads();
  if (end - begin <= grain || threads == 1) return combine(std::move(identity), map(begin, end));
  const int64_t chunk = detail::reduce_chunk_size(end - begin, grain, threads);
  const int64_t num_chunks = (end - begin + chunk - 1) / chunk;
  struct alignas(64) Partial {  // own cache line; never std::vector<bool>
    T value;
  };
  std::vector<Partial> partials(static_cast<size_t>(num_chunks), Partial{identity});
  parallel_for(ex, 0, num_chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t lo = begin + c * chunk;
      const int64_t hi = end - lo > chunk ? lo + chunk : end;
      partials[static_cast<size_t>(c)].value = map(lo, hi);
    }
  });
  T result = std::move(identity);
  for (Partial& p : partials) result = combine(std::move(result), std::move(p.value));
  return result;
}

template <class T, class Map, class Combine>
T parallel_reduce(int64_t begin, int64_t end, int64_t grain, T identity, Map&& map, Combine&& combine) {
  return parallel_reduce(default_executor(), begin, end, grain, std::move(identity),
                         std::forward<Map>(map), std::forward<Combine>(combine));
}

}  // namespace ember::runtime
