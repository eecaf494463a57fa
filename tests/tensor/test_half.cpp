// float16 / bfloat16 conversions (tensor/half.hpp) against an independent
// reference: every finite 16-bit value is decoded with std::ldexp, and
// float -> 16-bit rounding picks the nearest such value, ties to the even bit
// pattern, overflowing to infinity past the midpoint above the largest finite.
// All checks are exact (bit patterns).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::to_vector;

float from_bits32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Format {
  int man_bits;   // 10 for float16, 7 for bfloat16
  int bias;       // 15, 127
  int exp_max;    // all-ones exponent: 31, 255
  double decode(uint16_t bits) const {
    const bool neg = bits >> 15;
    const int e = (bits >> man_bits) & exp_max;
    const int m = bits & ((1 << man_bits) - 1);
    double v;
    if (e == exp_max) v = m ? std::numeric_limits<double>::quiet_NaN() : INFINITY;
    else if (e == 0) v = std::ldexp(m, 1 - bias - man_bits);
    else v = std::ldexp((1 << man_bits) + m, e - bias - man_bits);
    return neg ? -v : v;
  }
  uint16_t max_finite() const { return static_cast<uint16_t>(((exp_max - 1) << man_bits) | ((1 << man_bits) - 1)); }
  uint16_t inf() const { return static_cast<uint16_t>(exp_max << man_bits); }
  // Nearest representable value to f, ties to even; NaN is reported as 0xffff.
  uint16_t round(float f) const {
    if (std::isnan(f)) return 0xffff;
    const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
    const double a = std::fabs(static_cast<double>(f));
    const double top = decode(max_finite());
    const double overflow_mid = top + (std::ldexp(1.0, exp_max - 1 - bias + 1) - top) / 2;  // halfway to 2^(emax+1)
    if (a >= overflow_mid) return sign | inf();
    uint16_t lo = 0, hi = max_finite();  // largest bits with decode(bits) <= a
    while (lo < hi) {
      uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
      if (decode(mid) <= a) lo = mid;
      else hi = static_cast<uint16_t>(mid - 1);
    }
    if (decode(lo) == a || lo == max_finite()) return sign | lo;
    const double dlo = a - decode(lo), dhi = decode(static_cast<uint16_t>(lo + 1)) - a;
    uint16_t pick = dlo < dhi ? lo : dhi < dlo ? static_cast<uint16_t>(lo + 1) : (lo % 2 == 0 ? lo : static_cast<uint16_t>(lo + 1));
    return sign | pick;
  }
};
const Format kHalfFmt{10, 15, 31};
const Format kBFloatFmt{7, 127, 255};

template <class H>
uint16_t bits_of(float f) {
  H h(f);
  if (std::isnan(static_cast<float>(h))) return 0xffff;
  return h.bits;
}

template <class H>
void check_exhaustive(const Format& fmt) {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const uint16_t bits = static_cast<uint16_t>(b);
    const double want = fmt.decode(bits);
    const float got = static_cast<float>(H::from_bits(bits));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(static_cast<double>(got), want) << std::hex << bits;
    ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << bits;
    // Round trip: 16 bits -> float -> 16 bits is the identity.
    ASSERT_EQ(H(got).bits, bits) << std::hex << bits;
  }
}

// Every midpoint between adjacent finite values (and one float ulp either side)
// must round to the even neighbour (and to the nearer one).
template <class H>
void check_midpoints(const Format& fmt) {
  for (uint16_t b = 0; b < fmt.max_finite(); ++b) {
    for (uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
      const double mid = (fmt.decode(b) + fmt.decode(static_cast<uint16_t>(b + 1))) / 2;
      const float m = static_cast<float>(sign ? -mid : mid);
      ASSERT_EQ(static_cast<double>(std::fabs(m)), mid) << "midpoint not representable";
      const uint16_t even = static_cast<uint16_t>(b % 2 == 0 ? b : b + 1);
      ASSERT_EQ(bits_of<H>(m), sign | even) << std::hex << b;
      ASSERT_EQ(bits_of<H>(std::nextafter(m, 0.0f)), sign | b) << std::hex << b;
      ASSERT_EQ(bits_of<H>(std::nextafter(m, sign ? -INFINITY : INFINITY)), sign | (b + 1)) << std::hex << b;
    }
  }
}

template <class H>
void check_random(const Format& fmt, uint32_t exp_lo, uint32_t exp_hi) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<uint32_t> exp(exp_lo, exp_hi), man(0, (1u << 23) - 1), sign(0, 1);
  for (int i = 0; i < 200000; ++i) {
    const float f = from_bits32(sign(rng) << 31 | exp(rng) << 23 | man(rng));
    ASSERT_EQ(bits_of<H>(f), fmt.round(f)) << f;
  }
}

TEST(Half, DecodesEveryBitPattern) { check_exhaustive<Half>(kHalfFmt); }
TEST(Half, RoundsMidpointsToEven) { check_midpoints<Half>(kHalfFmt); }
TEST(Half, RoundsRandomFloatsToNearest) { check_random<Half>(kHalfFmt, 90, 160); }
TEST(BFloat16, DecodesEveryBitPattern) { check_exhaustive<BFloat16>(kBFloatFmt); }
TEST(BFloat16, RoundsMidpointsToEven) { check_midpoints<BFloat16>(kBFloatFmt); }
TEST(BFloat16, RoundsRandomFloatsToNearest) { check_random<BFloat16>(kBFloatFmt, 0, 254); }

TEST(Half, SpecialValues) {
  EXPECT_EQ(Half(1.0f).bits, 0x3C00);
  EXPECT_EQ(Half(-2.0f).bits, 0xC000);
  EXPECT_EQ(Half(65504.0f).bits, 0x7BFF);       // largest finite
  EXPECT_EQ(Half(65519.0f).bits, 0x7BFF);       // below the overflow midpoint
  EXPECT_EQ(Half(65520.0f).bits, 0x7C00);       // the midpoint rounds to even: infinity
  EXPECT_EQ(Half(1e6f).bits, 0x7C00);
  EXPECT_EQ(Half(-INFINITY).bits, 0xFC00);
  EXPECT_TRUE(std::isnan(static_cast<float>(Half(std::nanf("")))));
  EXPECT_EQ(Half(-0.0f).bits, 0x8000);
  EXPECT_EQ(Half(1.0f + std::ldexp(1.0f, -11)).bits, 0x3C00);      // tie -> even (down)
  EXPECT_EQ(Half(1.0f + 3 * std::ldexp(1.0f, -11)).bits, 0x3C02);  // tie -> even (up)
  EXPECT_EQ(Half(std::ldexp(1.0f, -14)).bits, 0x0400);             // smallest normal
  EXPECT_EQ(Half(std::ldexp(1.0f, -24)).bits, 0x0001);             // smallest subnormal
  EXPECT_EQ(Half(std::ldexp(1.0f, -25)).bits, 0x0000);             // tie with 0 -> 0
  EXPECT_EQ(Half(3 * std::ldexp(1.0f, -25)).bits, 0x0002);         // tie -> even
  EXPECT_EQ(Half(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)).bits, 0x0400);  // largest subnormal tie -> normal
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x0001)), std::ldexp(1.0f, -24));
  EXPECT_EQ(static_cast<float>(Half::from_bits(0x03FF)), 1023 * std::ldexp(1.0f, -24));
}

TEST(BFloat16, SpecialValues) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3F80);
  EXPECT_EQ(BFloat16(from_bits32(0x3F808000)).bits, 0x3F80);  // tie -> even (down)
  EXPECT_EQ(BFloat16(from_bits32(0x3F818000)).bits, 0x3F82);  // tie -> even (up)
  EXPECT_EQ(BFloat16(from_bits32(0x3F808001)).bits, 0x3F81);
  EXPECT_EQ(BFloat16(std::numeric_limits<float>::max()).bits, 0x7F80);  // rounds to infinity
  EXPECT_EQ(BFloat16(INFINITY).bits, 0x7F80);
  EXPECT_EQ(BFloat16(-INFINITY).bits, 0xFF80);
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(static_cast<float>(BFloat16(from_bits32(0x7F800001)))));  // a NaN that truncates to inf
  EXPECT_EQ(BFloat16(from_bits32(0x00008000)).bits, 0x0000);  // subnormal tie -> 0
  EXPECT_EQ(BFloat16(from_bits32(0x00018000)).bits, 0x0002);
  EXPECT_EQ(BFloat16(-0.0f).bits, 0x8000);
}

TEST(HalfTensors, ConversionsMatchScalarRounding) {
  const std::vector<float> vals = {1.0f, 0.1f, -3.14159f, 65519.0f, 65520.0f, 1e-7f, -1e-8f, 1e30f, -0.0f, 2.5e-5f};
  Tensor f = ember::tensor(std::vector<float>(vals), kFloat32);
  Tensor h = ops::to(f, kFloat16), b = ops::to(f, kBFloat16);
  const Half* hp = h.data_ptr<Half>();
  const BFloat16* bp = b.data_ptr<BFloat16>();
  for (size_t i = 0; i < vals.size(); ++i) {
    EXPECT_EQ(hp[i].bits, kHalfFmt.round(vals[i])) << vals[i];
    EXPECT_EQ(bp[i].bits, kBFloatFmt.round(vals[i])) << vals[i];
  }
  // 16-bit -> float32 is exact, and -> float64 too.
  auto back = to_vector(ops::to(h, kFloat32));
  for (size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(back[i], kHalfFmt.decode(hp[i].bits));
  auto back64 = to_vector(ops::to(b, kFloat64));
  for (size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(back64[i], kBFloatFmt.decode(bp[i].bits));
  // float16 <-> bfloat16 goes through float.
  Tensor hb = ops::to(h, kBFloat16);
  const BFloat16* hbp = hb.data_ptr<BFloat16>();
  for (size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(hbp[i].bits, kBFloatFmt.round(static_cast<float>(hp[i])));
}

}  // namespace
}  // namespace ember
