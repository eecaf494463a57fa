// Helpers for the tests of the float32 fast kernels (test_*_simd.cpp): the
// reference result (the scalar ISA path, which runs the reference kernels),
// lengths that exercise every vector tail, float32 data with special values,
// and a distance in ulps.
//
// The pattern: compute the reference once under Isa::scalar, then, inside
// for_each_cpu_isa, run the op on every path the machine has and compare.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "test_util.hpp"

namespace ember::testing {

// Lengths around the vector widths (8 and 16 floats), the 2- and 4-vector
// unrolls, a 64-vector summation block (512 / 1024 floats) and beyond.
inline const std::vector<int64_t> kTailSizes = {1,   2,   3,   7,   8,    9,    15,   16,   17,   31,  32,
                                                33,  63,  64,  65,  127,  129,  255,  257,  511,  513, 1000,
                                                1023, 1024, 1025, 2047, 2049, 4097};

// fn() with the scalar path (the reference kernels) forced.
template <class F>
auto on_scalar(F&& fn) {
  cpu::CpuIsaGuard guard(cpu::Isa::scalar);
  return fn();
}

// Distance in ulps between two floats (adjacent floats are 1 apart, across
// zero and subnormals too); 0 when both are NaN, huge when only one is.
inline int64_t ulp_distance(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : std::numeric_limits<int64_t>::max();
  auto ordered = [](float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i < 0 ? -static_cast<int64_t>(i & 0x7fffffff) : static_cast<int64_t>(i);
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

// A float32 tensor of randn * scale + shift.
inline Tensor randf(IntList shape, double scale = 1.0, double shift = 0.0) {
  return ops::add(ops::mul(randn(shape), full({}, scale)), full({}, shift));
}

// x with NaN, +inf and -inf written at flat positions (in range) of a contiguous float32 tensor.
inline Tensor with_specials(Tensor x, const std::vector<int64_t>& nan_at, const std::vector<int64_t>& inf_at = {},
                            const std::vector<int64_t>& ninf_at = {}) {
  x = ops::contiguous(x);
  float* p = x.data_ptr<float>();
  for (int64_t i : nan_at) p[i] = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i : inf_at) p[i] = std::numeric_limits<float>::infinity();
  for (int64_t i : ninf_at) p[i] = -std::numeric_limits<float>::infinity();
  return x;
}

}  // namespace ember::testing
