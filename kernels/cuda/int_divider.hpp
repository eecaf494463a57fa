// Division by a divisor fixed before a kernel runs, without a divide
// instruction: the CUDA kernels that turn a flat element index into
// coordinates (the elementwise engine's strided path, the index, flip and cat
// kernels, batch norm's channel of an element and its statistics' strips)
// divide by the same sizes for every element, and a GPU has no
// integer divider: a 32-bit `/` costs about twenty instructions, a 64-bit one
// several times that. A multiply-high, an add and a shift do it instead.
//
// For a divisor 1 <= d <= 2^31 let s = ceil(log2 d), so 2^(s-1) < d <= 2^s, and
// m = floor(2^32 * (2^s - d) / d) + 1 (below 2^32). Then for every n < 2^31
//   n / d == (mulhi(n, m) + n) >> s,
// where mulhi is the high word of the 64-bit product; n < 2^31 keeps the sum
// below 2^32. FlatShape uses it to turn a flat index into coordinates when
// every index is below 2^31, and plain 64-bit division otherwise.
//
// Plain C++ on the host and __device__ code under nvcc, so the arithmetic is
// tested on machines without a GPU (tests/kernels/test_int_divider.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>

#include <ember/runtime/host_device.hpp>

namespace ember::cuda {

struct IntDivider {
  uint32_t divisor = 1;
  uint32_t magic = 0;
  uint32_t shift = 0;

  IntDivider() = default;
  // d in [1, 2^31].
  EMBER_HOST_DEVICE explicit IntDivider(uint32_t d) : divisor(d) {
    while ((uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }

  // Whether an index bound (the largest index plus one) is small enough for the quotient formula.
  EMBER_HOST_DEVICE static constexpr bool fits32(int64_t bound) { return bound >= 0 && bound <= (int64_t{1} << 31); }

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

// A row-major shape of up to K dims (innermost last) with the dividers of its sizes, for kernel
// arguments: unravel() turns a flat position into coordinates. When every position is below 2^31
// (use32) it divides by multiply-high and shift; otherwise by 64-bit `/` and `%`.
template <int K>
struct FlatShape {
  int ndim = 0;
  bool use32 = false;
  int64_t sizes[K];
  IntDivider divs[K];

  FlatShape() = default;
  // Host: the n sizes at `s` (n <= K, each >= 0).
  FlatShape(const int64_t* s, size_t n) : ndim(static_cast<int>(n)) {
    if (n > static_cast<size_t>(K)) throw std::length_error("FlatShape: more dims than it holds");
    int64_t count = 1;  // positions so far, at most 2^31 while use32 holds
    use32 = true;
    for (int d = 0; d < ndim; ++d) {
      sizes[d] = s[d];
      if (!IntDivider::fits32(s[d]) || s[d] == 0) use32 = false;  // too large, or nothing to visit
      if (use32) {
        count *= s[d];
        use32 = IntDivider::fits32(count);
      }
    }
    if (use32)
      for (int d = 0; d < ndim; ++d) divs[d] = IntDivider(static_cast<uint32_t>(sizes[d]));
  }
  FlatShape(std::initializer_list<int64_t> s) : FlatShape(s.begin(), s.size()) {}

  // The coordinates of row-major position `flat` (below the product of the sizes), visited
  // innermost first as f(dim, coordinate).
  template <class F>
  EMBER_HOST_DEVICE void unravel(int64_t flat, F&& f) const {
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

  // Coordinate `dim` of row-major position `flat`.
  EMBER_HOST_DEVICE int64_t coordinate(int64_t flat, int dim) const {
    int64_t at = 0;
    unravel(flat, [&](int d, int64_t c) {
      if (d == dim) at = c;
    });
    return at;
  }
};

}  // namespace ember::cuda
