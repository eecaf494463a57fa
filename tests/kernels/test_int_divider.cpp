// IntDivider and FlatShape (kernels/cuda/int_divider.hpp), the CUDA kernels' division by a
// fixed divisor through multiply-high and shift, against the `/` and `%`
// operators on the host: every divisor up to 2^12 over the numerators around
// each of its multiples, powers of two and their neighbours, large divisors,
// random pairs over the whole range, and the edges (n = 0, n = 2^31 - 1);
// FlatShape's 2^31 bound, and its coordinates with and without the
// dividers. Runs in every build: the header needs no CUDA.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include <ember/kernels/cuda/int_divider.hpp>

namespace {

using ember::cuda::IntDivider;
using ember::cuda::FlatShape;

constexpr uint32_t kMaxN = (uint32_t{1} << 31) - 1;

::testing::AssertionResult divides(const IntDivider& div, uint32_t n) {
  uint32_t q = 0, r = 0;
  div.divmod(n, q, r);
  if (q == n / div.divisor && r == n % div.divisor && div.div(n) == q) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << n << " / " << div.divisor << ": got q " << q << " r " << r << ", want "
                                       << n / div.divisor << " r " << n % div.divisor;
}

// Numerators where a quotient formula goes wrong first: next to multiples of d, and the range's ends.
void check_divisor(uint32_t d, std::mt19937& rng) {
  const IntDivider div(d);
  std::vector<uint32_t> ns = {0, 1, d - 1, d, d + 1, kMaxN, kMaxN - 1, kMaxN - kMaxN % d, kMaxN - kMaxN % d - 1};
  std::uniform_int_distribution<uint32_t> q_of(0, kMaxN / d);
  for (int i = 0; i < 64; ++i) {
    const uint64_t base = static_cast<uint64_t>(q_of(rng)) * d;
    for (int64_t delta : {int64_t{-1}, int64_t{0}, int64_t{1}, static_cast<int64_t>(d) - 1})
      if (static_cast<int64_t>(base) + delta >= 0 && static_cast<int64_t>(base) + delta <= kMaxN)
        ns.push_back(static_cast<uint32_t>(static_cast<int64_t>(base) + delta));
  }
  for (uint32_t n : ns) ASSERT_TRUE(divides(div, n)) << "divisor " << d;
}

TEST(IntDivider, SmallDivisorsNearEveryMultipleAndRangeEnds) {
  std::mt19937 rng(1);
  for (uint32_t d = 1; d <= 4096; ++d) check_divisor(d, rng);
  // Exhaustive over the first 2^16 numerators for a few divisors.
  for (uint32_t d : {1u, 3u, 7u, 10u, 25u, 224u, 1000u, 4095u})
    for (uint32_t n = 0; n < (1u << 16); ++n) ASSERT_TRUE(divides(IntDivider(d), n));
}

TEST(IntDivider, PowersOfTwoTheirNeighboursAndLargeDivisors) {
  std::mt19937 rng(2);
  for (int k = 0; k <= 31; ++k) {
    const uint64_t p = uint64_t{1} << k;
    for (int64_t delta : {int64_t{-1}, int64_t{0}, int64_t{1}}) {
      const int64_t d = static_cast<int64_t>(p) + delta;
      if (d >= 1 && d <= (int64_t{1} << 31)) check_divisor(static_cast<uint32_t>(d), rng);
    }
  }
  for (uint32_t d : {kMaxN, kMaxN - 1, 3u * (1u << 29), 1u << 31, 65537u, 1000003u, 123456789u})
    check_divisor(d, rng);
}

TEST(IntDivider, RandomPairsOverTheWholeRange) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<uint32_t> any_n(0, kMaxN);
  std::uniform_int_distribution<int> bits(0, 31);
  for (int i = 0; i < 200000; ++i) {
    // Divisors spread over magnitudes, not just near 2^31.
    const uint32_t top = static_cast<uint32_t>((uint64_t{1} << bits(rng)));
    const uint32_t d = std::max<uint32_t>(1, std::uniform_int_distribution<uint32_t>(top / 2, top)(rng));
    ASSERT_TRUE(divides(IntDivider(d), any_n(rng)));
  }
}

TEST(IntDivider, Fits32Bounds) {
  EXPECT_TRUE(IntDivider::fits32(0));
  EXPECT_TRUE(IntDivider::fits32(int64_t{1} << 31));
  EXPECT_FALSE(IntDivider::fits32((int64_t{1} << 31) + 1));
  EXPECT_FALSE(IntDivider::fits32(-1));
}

TEST(FlatShape, DividersOnlyWhenEveryPositionFits) {
  const FlatShape<3> fits{1 << 10, 1 << 11, 1 << 10};  // exactly 2^31 positions
  EXPECT_TRUE(fits.use32);
  EXPECT_EQ(fits.divs[1].divisor, 1u << 11);
  EXPECT_FALSE((FlatShape<3>{(1 << 10) + 1, 1 << 11, 1 << 10}.use32));
  EXPECT_FALSE((FlatShape<1>{int64_t{1} << 40}.use32));
  EXPECT_FALSE((FlatShape<3>{int64_t{1} << 40, int64_t{1} << 40, 2}.use32));  // no overflow in the count
  EXPECT_FALSE((FlatShape<3>{5, 0, 7}.use32));                                   // nothing to visit
  EXPECT_THROW((FlatShape<2>{1, 2, 3}), std::length_error);
}

// unravel's coordinates, through the dividers and through `/` and `%`, against row-major order.
TEST(FlatShape, UnravelGivesRowMajorCoordinates) {
  std::mt19937 rng(4);
  const std::vector<std::vector<int64_t>> shapes = {
      {7}, {3, 5}, {2, 3, 4}, {1000, 3, 7, 1}, {11, 13, 17, 19, 3}, {46341, 46340}, {65536, 32768}};
  for (const auto& sizes : shapes) {
    FlatShape<8> shape(sizes.data(), sizes.size());
    ASSERT_TRUE(shape.use32);
    const int nd = shape.ndim;
    int64_t count = 1;
    for (int64_t v : sizes) count *= v;
    std::uniform_int_distribution<int64_t> any(0, count - 1);
    std::vector<int64_t> flats = {0, count - 1};
    for (int i = 0; i < 2000; ++i) flats.push_back(any(rng));
    for (int64_t flat : flats) {
      std::vector<int64_t> want(sizes.size());
      int64_t rest = flat;
      for (int d = nd - 1; d >= 0; --d) {
        want[static_cast<size_t>(d)] = rest % sizes[static_cast<size_t>(d)];
        rest /= sizes[static_cast<size_t>(d)];
      }
      for (bool use32 : {true, false}) {
        shape.use32 = use32;
        std::vector<int64_t> got(sizes.size(), -1);
        int expected_dim = nd - 1;
        shape.unravel(flat, [&](int d, int64_t c) {
          EXPECT_EQ(d, expected_dim--) << "innermost first";
          got[static_cast<size_t>(d)] = c;
        });
        ASSERT_EQ(got, want) << "flat " << flat << (use32 ? " with" : " without") << " dividers";
        for (int d = 0; d < nd; ++d) ASSERT_EQ(shape.coordinate(flat, d), want[static_cast<size_t>(d)]);
      }
    }
  }
}

}  // namespace
