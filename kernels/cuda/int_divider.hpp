// Division by a divisor fixed before a kernel runs, without a divide
// instruction: the CUDA kernels that turn a flat element index into
// coordinates (the elementwise engine's strided path, the index kernels'
// geometry) divide by the same sizes for every element, and a GPU has no
// integer divider: a 32-bit `/` costs about twenty instructions, a 64-bit one
// several times that. A multiply-high, an add and a shift do it instead.
//
// For a divisor 1 <= d <= 2^31 let s = ceil(log2 d), so 2^(s-1) < d <= 2^s, and
// m = floor(2^32 * (2^s - d) / d) + 1 (below 2^32). Then for every n < 2^31
//   n / d == (mulhi(n, m) + n) >> s,
// where mulhi is the high word of the 64-bit product; n < 2^31 keeps the sum
// below 2^32. unravel() uses it to turn a flat index into coordinates when
// every index is below 2^31 (make_dividers) and plain 64-bit division otherwise.
//
// Plain C++ on the host and __device__ code under nvcc, so the arithmetic is
// tested on machines without a GPU (tests/kernels/test_int_divider.cpp).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif

namespace ember::cuda {

struct IntDivider {
  uint32_t divisor = 1;
  uint32_t magic = 0;
  uint32_t shift = 0;

  IntDivider() = default;
  // d in [1, 2^31].
  explicit IntDivider(uint32_t d) : divisor(d) {
    while ((uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }

  // Whether an index bound (the largest index plus one) is small enough for the quotient formula.
  static constexpr bool fits32(int64_t bound) { return bound >= 0 && bound <= (int64_t{1} << 31); }

  // n / divisor, for n < 2^31.
  EMBER_HOST_DEVICE uint32_t div(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t hi = __umulhi(n, magic);
#else
    const uint32_t hi = static_cast<uint32_t>((static_cast<uint64_t>(n) * magic) >> 32);
#endif
    return (hi + n) >> shift;
  }

  // q = n / divisor and r = n % divisor, for n < 2^31.
  EMBER_HOST_DEVICE void divmod(uint32_t n, uint32_t& q, uint32_t& r) const {
    q = div(n);
    r = n - q * divisor;
  }
};

// Fills divs[0..ndim) with the dividers of sizes[0..ndim) and returns true when every row-major
// position over those sizes is below 2^31 (so unravel may use them); else returns false and leaves
// divs alone.
inline bool make_dividers(int ndim, const int64_t* sizes, IntDivider* divs) {
  int64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    if (sizes[d] == 0) return false;  // nothing to visit
    count *= sizes[d];
    if (!IntDivider::fits32(count)) return false;
  }
  for (int d = 0; d < ndim; ++d) divs[d] = IntDivider(static_cast<uint32_t>(sizes[d]));
  return true;
}

// The coordinates of row-major position `flat` over sizes[0..ndim) (innermost dim last), visited
// innermost first as f(dim, coordinate). With use32 (make_dividers' answer for these sizes) no
// divide instruction runs; otherwise 64-bit `/` and `%`.
template <class F>
EMBER_HOST_DEVICE inline void unravel(int64_t flat, int ndim, const int64_t* sizes, const IntDivider* divs, bool use32,
                                      F&& f) {
  if (use32) {
    uint32_t rest = static_cast<uint32_t>(flat);
    for (int d = ndim - 1; d >= 0; --d) {
      uint32_t q = 0, c = 0;
      divs[d].divmod(rest, q, c);
      rest = q;
      f(d, static_cast<int64_t>(c));
    }
    return;
  }
  for (int d = ndim - 1; d >= 0; --d) {
    const int64_t c = flat % sizes[d];
    flat /= sizes[d];
    f(d, c);
  }
}

}  // namespace ember::cuda
