// Tests of the float32 sum/mean/amax fast path (kernels/cpu/reduce_kernel.hpp
// through reduce.cpp) on every CPU ISA path this machine has: last dims and
// all elements of contiguous tensors, every tail length, rows cut into chunks,
// NaN/inf, and strided inputs (which take the reference path).
//
// Tolerances: sums are compared with a reference in double: |got - ref| <=
// 2e-7 * sum(|x|) + 1e-30 (a few float roundings of the magnitude; the
// reference kernel's double accumulation is within the same bound). amax is
// exact. Strided inputs take the reference kernel: bit-exact with the scalar path.
#include <cmath>
#include <string>

#include "fast_path_util.hpp"

namespace ember {
namespace {

using testing::all_close;
using testing::for_each_cpu_isa;
using testing::kTailSizes;
using testing::non_contiguous;
using testing::on_scalar;
using testing::randf;
using testing::to_vector;
using testing::with_specials;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Per row of the last dim of x (rows, n): the double sum, the sum of |x| and the max.
struct RowRef {
  std::vector<double> sum, abs_sum, max;
};
RowRef row_ref(const Tensor& x, int64_t n) {
  const std::vector<double> v = to_vector(x);
  RowRef r;
  for (size_t base = 0; base + static_cast<size_t>(n) <= v.size(); base += static_cast<size_t>(n)) {
    double s = 0, a = 0, m = -kInf;
    for (int64_t k = 0; k < n; ++k) {
      const double e = v[base + static_cast<size_t>(k)];
      s += e;
      a += std::fabs(e);
      m = (std::isnan(e) || std::isnan(m)) ? kNaN : std::max(m, e);
    }
    r.sum.push_back(s);
    r.abs_sum.push_back(a);
    r.max.push_back(m);
  }
  return r;
}

::testing::AssertionResult sums_match(const Tensor& got, const std::vector<double>& want,
                                      const std::vector<double>& scale, double divisor = 1.0) {
  const std::vector<double> g = to_vector(got);
  if (g.size() != want.size()) return ::testing::AssertionFailure() << g.size() << " results, want " << want.size();
  for (size_t i = 0; i < g.size(); ++i) {
    const double w = want[i] / divisor;
    if (std::isnan(w) || std::isnan(g[i])) {
      if (std::isnan(w) && std::isnan(g[i])) continue;
      return ::testing::AssertionFailure() << "row " << i << ": " << g[i] << " vs " << w;
    }
    if (std::fabs(g[i] - w) > 2e-7 * scale[i] / divisor + 1e-30 && g[i] != w)
      return ::testing::AssertionFailure() << "row " << i << ": " << g[i] << " vs " << w;
  }
  return ::testing::AssertionSuccess();
}

void check_rows(const Tensor& x, const std::string& what) {
  const int64_t n = x.size(-1);
  const RowRef r = row_ref(x, n);
  for_each_cpu_isa([&] {
    EXPECT_TRUE(sums_match(ops::sum(x, {-1}), r.sum, r.abs_sum)) << "sum " << what;
    EXPECT_TRUE(sums_match(ops::mean(x, {-1}), r.sum, r.abs_sum, static_cast<double>(n))) << "mean " << what;
    EXPECT_TRUE(all_close(ops::amax(x, {-1}), ember::testing::from_values(r.max, {static_cast<int64_t>(r.max.size())}), 0, 0))
        << "amax " << what;
  });
}

TEST(SimdReduce, LastDimEveryTailLength) {
  manual_seed(301);
  for (int64_t n : kTailSizes) check_rows(randf({5, n}, 2.0, 0.5), "n=" + std::to_string(n));
}

TEST(SimdReduce, AllElementsAndLongRowsInChunks) {
  manual_seed(302);
  // Rows longer than the 131072-element chunk, a full reduction of one, many short rows (parallel).
  check_rows(randf({3, 300001}, 1.0, 0.25), "3 x 300001");
  check_rows(randf({20000, 7}), "20000 x 7");
  const Tensor x = randf({2, 3, 100003}, 1.0, 1.0);
  const RowRef all = row_ref(x.reshape({-1}), x.numel());
  for_each_cpu_isa([&] {
    EXPECT_TRUE(sums_match(ops::sum(x), all.sum, all.abs_sum));
    EXPECT_TRUE(sums_match(ops::mean(x), all.sum, all.abs_sum, static_cast<double>(x.numel())));
    EXPECT_EQ(ops::amax(x).item<double>(), all.max[0]);
    // Reducing the last two dims of (2, 3, n) is rows of 3n.
    const RowRef r = row_ref(x, 3 * 100003);
    EXPECT_TRUE(sums_match(ops::sum(x, {1, 2}), r.sum, r.abs_sum));
    // Deterministic: the same bits every time.
    EXPECT_EQ(ops::sum(x).item<double>(), ops::sum(x).item<double>());
  });
  // 1e6 copies of 0.1f sum to 1e6 * 0.1f to float precision (no float drift).
  const Tensor tenths = full({1000000}, 0.1, kFloat32);
  for_each_cpu_isa([&] { EXPECT_NEAR(ops::sum(tenths).item<double>(), 1e6 * static_cast<double>(0.1f), 0.01); });
}

TEST(SimdReduce, NaNAndInfinities) {
  for (int64_t n : {5, 8, 9, 33, 1000, 300000}) {
    // NaN first, in a vector body, in the tail, and last; an all -inf row; +inf with -inf.
    Tensor x = randf({6, n});
    x = with_specials(x, {0, n + n / 2, 2 * n + n - 1, 3 * n + (n > 8 ? n - 3 : 0)}, {5 * n}, {5 * n + n - 1});
    float* p = x.data_ptr<float>();
    for (int64_t k = 0; k < n; ++k) p[4 * n + k] = -std::numeric_limits<float>::infinity();
    check_rows(x, "specials n=" + std::to_string(n));
    for_each_cpu_isa([&] {
      const auto s = to_vector(ops::sum(x, {-1})), m = to_vector(ops::amax(x, {-1}));
      for (int r = 0; r < 4; ++r) EXPECT_TRUE(std::isnan(s[r]) && std::isnan(m[r])) << "row " << r << " n=" << n;
      EXPECT_EQ(s[4], -kInf);
      EXPECT_EQ(m[4], -kInf);
      EXPECT_TRUE(std::isnan(s[5]));  // inf + -inf
      EXPECT_EQ(m[5], kInf);
    });
  }
}

TEST(SimdReduce, StridedInputsAndOtherDimsTakeTheReferencePath) {
  manual_seed(303);
  const Tensor x = randf({33, 47});
  for (const Tensor& in : {non_contiguous(x), x.slice(1, 1, 40), x.t()}) {
    const Tensor s = on_scalar([&] { return ops::sum(in, {-1}); });
    const Tensor m = on_scalar([&] { return ops::amax(in, {-1}); });
    for_each_cpu_isa([&] {
      EXPECT_TRUE(all_close(ops::sum(in, {-1}), s, 0, 0));
      EXPECT_TRUE(all_close(ops::amax(in, {-1}), m, 0, 0));
    });
  }
  const Tensor cols = on_scalar([&] { return ops::sum(x, {0}); });
  for_each_cpu_isa([&] { EXPECT_TRUE(all_close(ops::sum(x, {0}), cols, 0, 0)); });
}

TEST(SimdReduce, EmptyAndSizeOne) {
  for_each_cpu_isa([&] {
    EXPECT_EQ(ops::sum(zeros({0})).item<double>(), 0.0);
    EXPECT_TRUE(std::isnan(ops::mean(zeros({0})).item<double>()));
    EXPECT_EQ(ops::sum(zeros({4, 0}), {-1}).shape(), Dims({4}));
    EXPECT_EQ(ops::sum(zeros({0, 4}), {-1}).shape(), Dims({0}));
    EXPECT_EQ(ops::sum(tensor({2.5}, kFloat32)).item<double>(), 2.5);
    EXPECT_EQ(ops::amax(tensor({{-3.0}, {4.0}}, kFloat32), {-1}).shape(), Dims({2}));
    EXPECT_EQ(ops::mean(tensor({{1.0, 2.0}, {4.0, 8.0}}, kFloat32), {-1}, true).shape(), Dims({2, 1}));
  });
}

}  // namespace
}  // namespace ember
