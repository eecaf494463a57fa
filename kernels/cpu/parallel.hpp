// parallel_range: how CPU kernels split flat work across the runtime's pool.
//
// Every CPU kernel that loops over many elements goes through here, so the
// grain size policy lives in one place. Below kGrain elements the call runs
// inline on the caller.
#pragma once

#include <cstdint>

#include <ember/runtime/parallel_for.hpp>


namespace ember::cpu {

// Elements per task for cheap element-wise work (about 10-30 us of work per task).
inline constexpr int64_t kGrain = 32768;

template <class Fn>
void parallel_range(int64_t begin, int64_t end, int64_t grain, Fn&& fn) {
  if (end - begin <= grain) {
    fn(begin, end);
    return;
  }
  runtime::parallel_for(begin, end, grain, fn);
}

}  // namespace ember::cpu
