// The float32 row reductions (vec_kernels.hpp: sum_f32, max_f32, dot_f32),
// written once with Vf and compiled per ISA by reduce_avx2.cpp and
// reduce_avx512.cpp. reduce.cpp calls them for sum, mean and amax over the
// last dims or all elements of a contiguous float32 tensor; the softmax, loss
// and norm kernels use them on rows.
//
// sum/dot widen every term to double and add in double chains (vec_loop.hpp),
// as accurate as the reference's double accumulation. max keeps 4 chains and a
// sticky NaN mask (vec_loop.hpp: max_of), so a NaN anywhere gives NaN (as the
// reference and PyTorch).
//
// Ceilings: 4 bytes read per element (8 for dot), 1 FLOP (2): bandwidth-bound;
// sum reaches ~90% of the copy bandwidth (benchmarks/RESULTS.md).
#pragma once

#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/kernels/cpu/vec_loop.hpp>

namespace ember::cpu::EMBER_ISA_NS {

double sum_f32(const float* x, int64_t n) {
  return block_sum(n, [&](int64_t i, auto... k) { return ld(x + i, k...); });
}

double dot_f32(const float* a, const float* b, int64_t n) {
  return block_sum(n, [&](int64_t i, auto... k) { return ld(a + i, k...) * ld(b + i, k...); });
}

float max_f32(const float* x, int64_t n) { return max_of(x, n); }

}  // namespace ember::cpu::EMBER_ISA_NS
