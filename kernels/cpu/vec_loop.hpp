// vec_loop: the two loop shapes under the float32 fast kernels, written once
// with Vf (include only from per-ISA kernel headers; see vec.hpp, Note
// [per-ISA namespaces]).
//
//   map_out(out, n, stream, f)   out[i] = f(i) for full vectors, then one masked
//                                tail f(i, k); optionally non-temporal stores
//   block_sum(n, f)              sum of f(i), each lane widened to double and
//                                added in 8 double chains
//   block_sum_short(n, f)        the same over a short, bounded block: float
//                                chains, totalled in double (and *2 variants)
//   block_sum_blocked(n, f)      any length, costly terms: four float chains
//                                per block of 2048, totalled in double (and
//                                block_sum2_blocked)
//   max_of(x, n)                 max with a sticky NaN mask (NaN anywhere wins)
//
// f is a generic lambda `[&](int64_t i, auto... k)`: called with i alone it
// returns the full vector at element i; with (i, k) the first k lanes, and
// block_sum needs the other lanes to be 0 (load with ld(p, k), or
// load_partial with a fill that makes the term vanish). So a kernel never has
// a scalar tail loop: the tail runs the same vector code.
//
// Summation: every float term is widened (exactly) and added in double, as
// the reference kernels accumulate, at a cost of two conversions per vector
// that stays below the memory bandwidth. The order depends only on n, so
// results do not depend on the thread count.
#pragma once

#include <cstdint>

#include <ember/kernels/cpu/vec.hpp>

namespace ember::cpu::EMBER_ISA_NS {

inline constexpr int kW = Vf::size;

inline Vf ld(const float* p) { return Vf::load(p); }
inline Vf ld(const float* p, int k) { return Vf::load(p, k); }
// With a fill value for the lanes past k (ignored for a full vector).
inline Vf ld_or(const float* p, float) { return Vf::load(p); }
inline Vf ld_or(const float* p, float fill, int k) { return load_partial(p, k, fill); }

template <class F>
inline void map_out(float* out, int64_t n, bool stream, F&& f) {
  int64_t i = 0;
  if (stream) {
    // A partial vector up to the first vector-aligned element, then aligned streams.
    const int64_t mis = static_cast<int64_t>((reinterpret_cast<uintptr_t>(out) / sizeof(float)) % kW);
    if (mis != 0 && n > 0) {
      const int head = static_cast<int>(kW - mis < n ? kW - mis : n);
      f(i, head).store(out, head);
      i = head;
    }
    for (; i + 2 * kW <= n; i += 2 * kW) {
      const Vf a = f(i), b = f(i + kW);
      a.stream(out + i);
      b.stream(out + i + kW);
    }
    for (; i + kW <= n; i += kW) f(i).stream(out + i);
    stream_fence();
  } else {
    for (; i + 2 * kW <= n; i += 2 * kW) {
      const Vf a = f(i), b = f(i + kW);
      a.store(out + i);
      b.store(out + i + kW);
    }
    for (; i + kW <= n; i += kW) f(i).store(out + i);
  }
  if (i < n) f(i, static_cast<int>(n - i)).store(out + i, static_cast<int>(n - i));
}

// v's lanes, widened to double, added to *a (low half) and *b (high half).
inline void add_wide(Vf v, Vd* a, Vd* b) {
  Vd lo, hi;
  widen(v, &lo, &hi);
  *a = *a + lo;
  *b = *b + hi;
}

template <class F>
inline double block_sum(int64_t n, F&& f) {
  Vd a0 = Vd::zero(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  int64_t i = 0;
  for (; i + 4 * kW <= n; i += 4 * kW) {
    add_wide(f(i), &a0, &a1);
    add_wide(f(i + kW), &a2, &a3);
    add_wide(f(i + 2 * kW), &a4, &a5);
    add_wide(f(i + 3 * kW), &a6, &a7);
  }
  for (; i + kW <= n; i += kW) add_wide(f(i), &a0, &a1);
  if (i < n) add_wide(f(i, static_cast<int>(n - i)), &a2, &a3);
  return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))).reduce_add();
}

// v's lanes summed in double.
inline double wide_total(Vf v) {
  Vd lo, hi;
  widen(v, &lo, &hi);
  return (lo + hi).reduce_add();
}

// block_sum and block_sum2 for short runs (a caller-bounded block of a few
// thousand terms, as moments_f32 uses) where the two conversions per vector
// would cost more than the data: float chains (four per sum), totalled in
// double at the end. Each chain adds n / (4 * kW) terms or fewer, so its
// rounding error stays within a few ulp of the block's magnitude.
template <class F>
inline double block_sum_short(int64_t n, F&& f) {
  Vf a0 = Vf::zero(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 4 * kW <= n; i += 4 * kW) {
    a0 = a0 + f(i);
    a1 = a1 + f(i + kW);
    a2 = a2 + f(i + 2 * kW);
    a3 = a3 + f(i + 3 * kW);
  }
  for (; i + kW <= n; i += kW) a0 = a0 + f(i);
  if (i < n) a1 = a1 + f(i, static_cast<int>(n - i));
  return wide_total(a0) + wide_total(a1) + (wide_total(a2) + wide_total(a3));
}

template <class F>
inline void block_sum2_short(int64_t n, F&& f, double* sum_a, double* sum_b) {
  Vf a0 = Vf::zero(), a1 = a0, b0 = a0, b1 = a0;
  int64_t i = 0;
  Vf ta, tb;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    f(i, &ta, &tb);
    a0 = a0 + ta;
    b0 = b0 + tb;
    f(i + kW, &ta, &tb);
    a1 = a1 + ta;
    b1 = b1 + tb;
  }
  if (i + kW <= n) {
    f(i, &ta, &tb);
    a0 = a0 + ta;
    b0 = b0 + tb;
    i += kW;
  }
  if (i < n) {
    f(i, &ta, &tb, static_cast<int>(n - i));
    a1 = a1 + ta;
    b1 = b1 + tb;
  }
  *sum_a += wide_total(a0) + wide_total(a1);
  *sum_b += wide_total(b0) + wide_total(b1);
}

// A sum of any length in four float chains per block of kShortBlock terms,
// each block totalled in double: no chain ever grows long. For sums whose term
// is costly to compute (an exp): four independent terms per step keep several
// of the term's long dependency chains in flight (one or two per step leave
// the out-of-order window mostly waiting), and float chains leave registers
// for the term's constants (block_sum's eight double chains spill beside them).
inline constexpr int64_t kShortBlock = 2048;
template <class F>
inline double block_sum_blocked(int64_t n, F&& f) {
  double total = 0.0;
  for (int64_t i0 = 0; i0 < n; i0 += kShortBlock) {
    const int64_t nb = n - i0 < kShortBlock ? n - i0 : kShortBlock;
    total += block_sum_short(nb, [&](int64_t i, auto... k) { return f(i0 + i, k...); });
  }
  return total;
}

// block_sum2_short over blocks of kShortBlock terms, each totalled in double.
template <class F>
inline void block_sum2_blocked(int64_t n, F&& f, double* sum_a, double* sum_b) {
  for (int64_t i0 = 0; i0 < n; i0 += kShortBlock) {
    const int64_t nb = n - i0 < kShortBlock ? n - i0 : kShortBlock;
    block_sum2_short(nb, [&](int64_t i, Vf* a, Vf* b, auto... k) { f(i0 + i, a, b, k...); }, sum_a, sum_b);
  }
}

// Two sums in one pass: f(i, &a, &b, k...) sets the two terms; adds them to *sum_a, *sum_b.
template <class F>
inline void block_sum2(int64_t n, F&& f, double* sum_a, double* sum_b) {
  Vd a0 = Vd::zero(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int64_t i = 0;
  Vf ta, tb;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    f(i, &ta, &tb);
    add_wide(ta, &a0, &a1);
    add_wide(tb, &b0, &b1);
    f(i + kW, &ta, &tb);
    add_wide(ta, &a2, &a3);
    add_wide(tb, &b2, &b3);
  }
  if (i + kW <= n) {
    f(i, &ta, &tb);
    add_wide(ta, &a0, &a1);
    add_wide(tb, &b0, &b1);
    i += kW;
  }
  if (i < n) {
    f(i, &ta, &tb, static_cast<int>(n - i));
    add_wide(ta, &a2, &a3);
    add_wide(tb, &b2, &b3);
  }
  *sum_a += ((a0 + a1) + (a2 + a3)).reduce_add();
  *sum_b += ((b0 + b1) + (b2 + b3)).reduce_add();
}

// acc[0, kW) (or the first k) += v's lanes, in double.
inline void add_to_wide(double* acc, Vf v) {
  Vd lo, hi;
  widen(v, &lo, &hi);
  (Vd::load(acc) + lo).store(acc);
  if constexpr (Vf::size > Vd::size) (Vd::load(acc + Vd::size) + hi).store(acc + Vd::size);
}
inline void add_to_wide(double* acc, Vf v, int k) {
  Vd lo, hi;
  widen(v, &lo, &hi);
  const int klo = k < Vd::size ? k : Vd::size;
  (Vd::load(acc, klo) + lo).store(acc, klo);
  if constexpr (Vf::size > Vd::size) {
    if (k > Vd::size) (Vd::load(acc + Vd::size, k - Vd::size) + hi).store(acc + Vd::size, k - Vd::size);
  }
}

// Max of x[0, n) (n >= 1); NaN when any element is NaN.
inline float max_of(const float* x, int64_t n) {
  const float ninf = -__builtin_inff();
  Vf m0 = Vf::broadcast(ninf), m1 = m0, m2 = m0, m3 = m0;
  Mf nan = is_nan(Vf::zero());  // all false
  int64_t i = 0;
  // max(m, v) returns v when either is NaN; the mask remembers NaNs the next step would drop.
  for (; i + 4 * kW <= n; i += 4 * kW) {
    const Vf v0 = ld(x + i), v1 = ld(x + i + kW), v2 = ld(x + i + 2 * kW), v3 = ld(x + i + 3 * kW);
    nan = nan | (is_nan(v0) | is_nan(v1)) | (is_nan(v2) | is_nan(v3));
    m0 = max(m0, v0);
    m1 = max(m1, v1);
    m2 = max(m2, v2);
    m3 = max(m3, v3);
  }
  for (; i + kW <= n; i += kW) {
    const Vf v = ld(x + i);
    nan = nan | is_nan(v);
    m0 = max(m0, v);
  }
  if (i < n) {
    const Vf v = load_partial(x + i, static_cast<int>(n - i), ninf);
    nan = nan | is_nan(v);
    m1 = max(m1, v);
  }
  if (any(nan)) return __builtin_nanf("");
  return max(max(m0, m1), max(m2, m3)).reduce_max();
}

}  // namespace ember::cpu::EMBER_ISA_NS
