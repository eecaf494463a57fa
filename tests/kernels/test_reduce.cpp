// Tests of the reductions, arg-reductions and cumsum (tensor/ops_reduce.cpp,
// kernels/cpu/reduce*.cpp) against naive references: plain loops over
// std::vector<double> that gather each output's elements in row-major order.
//
// Tolerances: the kernels accumulate in double in another order than the
// reference, so float64 results match to 1e-12 relative and float32 results to
// the float32 rounding of the output (rtol 1e-6, 1e-5 for var/std/logsumexp/
// norm); float16/bfloat16 outputs to their own rounding (rtol 1e-2). Integer
// results, max/min values and all indices must match exactly.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(sum);
EMBER_OP_TESTED(mean);
EMBER_OP_TESTED(prod);
EMBER_OP_TESTED(amax);
EMBER_OP_TESTED(amin);
EMBER_OP_TESTED(var);
EMBER_OP_TESTED(std);
EMBER_OP_TESTED(logsumexp);
EMBER_OP_TESTED(norm);
EMBER_OP_TESTED(max_dim);
EMBER_OP_TESTED(min_dim);
EMBER_OP_TESTED(argmax);
EMBER_OP_TESTED(argmin);
EMBER_OP_TESTED(cumsum);

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Group = std::vector<double>;
using GroupFn = std::function<double(const Group&)>;

struct Ref {
  std::vector<double> values;
  std::vector<int64_t> shape;
  Tensor tensor() const { return from_values(values, shape); }
};

// Applies f to the elements of each output position (reduced dims in row-major order).
Ref reduce_ref(const Tensor& x, std::vector<int64_t> dims, bool keepdim, const GroupFn& f) {
  const std::vector<double> v = to_vector(x);
  const std::vector<int64_t> shape = x.shape().vec();
  const int64_t nd = x.dim();
  std::vector<bool> red(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) red[static_cast<size_t>(d < 0 ? d + nd : d)] = true;
  Ref r;
  std::vector<int64_t> kept;
  for (int64_t d = 0; d < nd; ++d) {
    if (!red[static_cast<size_t>(d)]) kept.push_back(shape[static_cast<size_t>(d)]);
    if (!red[static_cast<size_t>(d)]) r.shape.push_back(shape[static_cast<size_t>(d)]);
    else if (keepdim) r.shape.push_back(1);
  }
  int64_t outs = 1;
  for (int64_t s : kept) outs *= s;
  std::vector<Group> groups(static_cast<size_t>(outs));
  for (size_t flat = 0; flat < v.size(); ++flat) {
    int64_t rem = static_cast<int64_t>(flat), o = 0, mul = 1;
    for (int64_t d = nd - 1; d >= 0; --d) {
      int64_t c = rem % shape[static_cast<size_t>(d)];
      rem /= shape[static_cast<size_t>(d)];
      if (!red[static_cast<size_t>(d)]) {
        o += c * mul;
        mul *= shape[static_cast<size_t>(d)];
      }
    }
    groups[static_cast<size_t>(o)].push_back(v[flat]);
  }
  for (const Group& g : groups) r.values.push_back(f(g));
  return r;
}

double ref_sum(const Group& g) {
  double s = 0;
  for (double v : g) s += v;
  return s;
}
double ref_mean(const Group& g) { return ref_sum(g) / static_cast<double>(g.size()); }
double ref_prod(const Group& g) {
  double p = 1;
  for (double v : g) p *= v;
  return p;
}
double ref_max(const Group& g) {
  double m = -kInf;
  for (double v : g) {
    if (std::isnan(v)) return v;
    m = std::max(m, v);
  }
  return m;
}
double ref_min(const Group& g) {
  double m = kInf;
  for (double v : g) {
    if (std::isnan(v)) return v;
    m = std::min(m, v);
  }
  return m;
}
GroupFn ref_var(double correction, bool take_sqrt) {
  return [=](const Group& g) {
    double mean = ref_mean(g), ss = 0;
    for (double v : g) ss += (v - mean) * (v - mean);
    double var = ss / std::max(0.0, static_cast<double>(g.size()) - correction);
    return take_sqrt ? std::sqrt(var) : var;
  };
}
double ref_logsumexp(const Group& g) {
  double m = ref_max(g);
  if (std::isnan(m) || std::isinf(m)) return m;
  double s = 0;
  for (double v : g) s += std::exp(v - m);
  return m + std::log(s);
}
GroupFn ref_norm(double p) {
  return [=](const Group& g) {
    if (std::isinf(p)) {
      double m = p > 0 ? 0.0 : kInf;
      for (double v : g) m = p > 0 ? std::max(m, std::fabs(v)) : std::min(m, std::fabs(v));
      return m;
    }
    double s = 0;
    for (double v : g) s += p == 0 ? (v != 0 ? 1.0 : 0.0) : std::pow(std::fabs(v), p);
    return p == 0 ? s : std::pow(s, 1.0 / p);
  };
}
// Index of the first max (Max) / min, or of the first NaN.
GroupFn ref_argext(bool is_max) {
  return [=](const Group& g) {
    size_t best = 0;
    for (size_t i = 0; i < g.size(); ++i) {
      if (std::isnan(g[i])) return static_cast<double>(i);
      if (is_max ? g[i] > g[best] : g[i] < g[best]) best = i;
    }
    return static_cast<double>(best);
  };
}

// The dim lists every 3-D case runs over.
const std::vector<std::vector<int64_t>> kDims3 = {{}, {0}, {1}, {2}, {-1}, {0, 2}, {0, 1}, {1, 2}, {2, 0}, {0, 1, 2}};

double rtol_for(DType dt, double f32 = 1e-6) {
  return dt == kFloat64 ? 1e-12 : dt == kFloat32 ? f32 : 1e-2;
}

// The same values as t in a view whose last dim has stride 2.
Tensor stepped(const Tensor& t) {
  Dims shape = t.shape();
  shape.back() *= 2;
  Tensor big = zeros(shape, t.options());
  Tensor v = big.slice(-1, 0, {}, 2);
  v.copy_(t);
  return v;
}

using TensorOp = std::function<Tensor(const Tensor&, IntList, bool)>;

// Runs op vs reference over every dim list, keepdim, contiguous and non-contiguous layout.
void check_against_ref(const Tensor& x, const TensorOp& op, const GroupFn& ref, double atol, double rtol) {
  for (const auto& dims : kDims3) {
    for (bool keepdim : {false, true}) {
      Ref r = reduce_ref(x, dims, keepdim, ref);
      for (const Tensor& in : {x, non_contiguous(x), stepped(x), x.permute({2, 0, 1}).contiguous().permute({1, 2, 0})}) {
        Tensor got = op(in, dims, keepdim);
        EXPECT_TRUE(all_close(got, r.tensor(), atol, rtol))
            << "input " << x.describe() << " dims " << IntList(dims) << " keepdim " << keepdim
            << (in.is_contiguous() ? "" : " (non-contiguous)");
      }
    }
  }
}

// ---- sum / mean / prod ---------------------------------------------------------------------

TEST(Reduce, SumMatchesReference) {
  manual_seed(1);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Tensor x = ops::to(randn({3, 4, 5}), dt);
    check_against_ref(x, [](const Tensor& t, IntList d, bool k) { return ops::sum(t, d, k); }, ref_sum, 1e-6,
                      rtol_for(dt) * 10);
    EXPECT_EQ(ops::sum(x).dtype(), dt);
  }
}

TEST(Reduce, SumOfIntegersAndBoolIsInt64) {
  manual_seed(2);
  for (DType dt : {kInt64, kInt32, kUInt8, kBool}) {
    Tensor x = ops::to(randint(0, dt == kBool ? 2 : 200, {4, 3, 6}), dt);
    Tensor s = ops::sum(x, {1});
    EXPECT_EQ(s.dtype(), kInt64) << dt;
    EXPECT_TRUE(all_close(s, reduce_ref(x, {1}, false, ref_sum).tensor(), 0, 0)) << dt;
    EXPECT_TRUE(all_close(ops::sum(x), reduce_ref(x, {}, false, ref_sum).tensor(), 0, 0)) << dt;
  }
  // uint8 values summing past 255 do not wrap.
  EXPECT_EQ(ops::sum(full({10}, 200, kUInt8)).item<int64_t>(), 2000);
  // An explicit dtype converts first.
  Tensor f = ops::sum(tensor({1, 2, 3}), {}, false, kFloat64);
  EXPECT_EQ(f.dtype(), kFloat64);
  EXPECT_EQ(f.item<double>(), 6.0);
  Tensor i32 = ops::sum(tensor({1.7, 2.9}, kFloat32), {}, false, kInt32);
  EXPECT_EQ(i32.dtype(), kInt32);
  EXPECT_EQ(i32.item<int64_t>(), 3);  // 1 + 2 after truncation
}

TEST(Reduce, SumLongRowsAndColumnsUseChunksExactly) {
  manual_seed(3);
  // Rows longer than the chunk threshold, columns with few outputs, and a full reduction.
  // (The chunked path starts at n * min(inner, 64) > 4 * kGrain = 131072 with fewer than 16 tasks.)
  for (auto shape : {std::vector<int64_t>{2, 140000}, std::vector<int64_t>{70000, 3}}) {
    Tensor x = randn(shape, kFloat32);
    for (std::vector<int64_t> dims : {std::vector<int64_t>{shape[0] == 2 ? 1 : 0}, {}}) {
      Ref r = reduce_ref(x, dims, false, ref_sum);
      EXPECT_TRUE(all_close(ops::sum(x, dims), r.tensor(), 1e-4, 1e-6)) << IntList(shape) << " " << IntList(dims);
      Ref m = reduce_ref(x, dims, false, ref_var(1.0, false));
      EXPECT_TRUE(all_close(ops::var(x, dims), m.tensor(), 1e-6, 1e-5)) << IntList(shape) << " " << IntList(dims);
      Ref l = reduce_ref(x, dims, false, ref_logsumexp);
      EXPECT_TRUE(all_close(ops::logsumexp(x, dims), l.tensor(), 1e-6, 1e-5)) << IntList(shape) << " " << IntList(dims);
      Ref a = reduce_ref(x, dims, false, ref_max);
      EXPECT_TRUE(all_close(ops::amax(x, dims), a.tensor(), 0, 0)) << IntList(shape) << " " << IntList(dims);
    }
  }
  // A chunked reduction of bool (any) and of a NaN far from the start.
  Tensor b = zeros({100000, 3}, kBool);
  b.select(0, 90000).fill_(true);
  EXPECT_TRUE(all_close(ops::amax(b, {0}), ones({3}, kBool), 0, 0));
  Tensor withnan = zeros({400000});
  withnan.select(0, 390000).fill_(kNaN);
  EXPECT_TRUE(std::isnan(ops::amin(withnan).item<double>()));
  EXPECT_TRUE(std::isnan(ops::sum(withnan).item<double>()));
  // float32 accumulation in double: 1e6 copies of 0.1f sum to 1e6 * 0.1f to float precision.
  Tensor ones_tenth = full({1000000}, 0.1, kFloat32);
  EXPECT_NEAR(ops::sum(ones_tenth).item<double>(), 1e6 * static_cast<double>(0.1f), 0.01);
}

TEST(Reduce, WideColumnsSpanSeveralTiles) {
  // inner > 1024 columns: two tiles per slab, the second one partial.
  manual_seed(14);
  Tensor x = randn({3, 4, 1100});
  for (std::vector<int64_t> dims : {std::vector<int64_t>{1}, {0}, {0, 1}}) {
    EXPECT_TRUE(all_close(ops::sum(x, dims), reduce_ref(x, dims, false, ref_sum).tensor(), 1e-6, 1e-6));
    EXPECT_TRUE(all_close(ops::var(x, dims), reduce_ref(x, dims, false, ref_var(1.0, false)).tensor(), 1e-6, 1e-5));
    EXPECT_TRUE(all_close(ops::amin(x, dims), reduce_ref(x, dims, false, ref_min).tensor(), 0, 0));
  }
  auto [v, i] = ops::max(x, 1);
  EXPECT_TRUE(all_close(v, reduce_ref(x, {1}, false, ref_max).tensor(), 0, 0));
  EXPECT_TRUE(all_close(i, reduce_ref(x, {1}, false, ref_argext(true)).tensor(), 0, 0));
  EXPECT_TRUE(all_close(ops::argmin(x, 0), reduce_ref(x, {0}, false, ref_argext(false)).tensor(), 0, 0));
}

TEST(Reduce, MeanMatchesReferenceAndNeedsFloat) {
  manual_seed(4);
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    Tensor x = ops::to(randn({3, 4, 5}), dt);
    check_against_ref(x, [](const Tensor& t, IntList d, bool k) { return ops::mean(t, d, k); }, ref_mean, 1e-6,
                      rtol_for(dt) * 10);
  }
  expect_error([] { ops::mean(tensor({1, 2, 3})); }, {"mean", "floating", "[3] int64 cpu"});
}

TEST(Reduce, ProdMatchesReference) {
  manual_seed(5);
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = ops::to(rand({3, 4, 5}), dt);
    x = ops::add(x, full({}, 0.5, dt));  // values in [0.5, 1.5)
    check_against_ref(x, [](const Tensor& t, IntList d, bool k) { return ops::prod(t, d, k); }, ref_prod, 1e-12,
                      rtol_for(dt) * 10);
  }
  Tensor xi = ops::to(randint(-3, 4, {4, 5}), kInt32);
  Tensor p = ops::prod(xi, {1});
  EXPECT_EQ(p.dtype(), kInt64);
  EXPECT_TRUE(all_close(p, reduce_ref(xi, {1}, false, ref_prod).tensor(), 0, 0));
  EXPECT_EQ(ops::prod(tensor({true, true, false})).dtype(), kInt64);
  EXPECT_EQ(ops::prod(tensor({true, true, false})).item<int64_t>(), 0);
}

TEST(Reduce, EmptyAndSizeOneReductions) {
  Tensor e = zeros({0, 3});
  EXPECT_TRUE(all_close(ops::sum(e, {0}), zeros({3})));
  EXPECT_TRUE(all_close(ops::prod(e, {0}), ones({3})));
  EXPECT_TRUE(all_close(ops::mean(e, {0}), full({3}, kNaN)));
  EXPECT_TRUE(all_close(ops::var(e, {0}), full({3}, kNaN)));
  EXPECT_TRUE(all_close(ops::logsumexp(e, {0}), full({3}, -kInf)));
  EXPECT_TRUE(all_close(ops::norm(e, 2.0, {0}), zeros({3})));
  EXPECT_TRUE(std::isnan(ops::mean(zeros({0})).item<double>()));
  EXPECT_EQ(ops::sum(zeros({0}, kInt32)).item<int64_t>(), 0);
  // Reducing the non-empty dim of an empty tensor gives an empty result.
  EXPECT_EQ(ops::sum(e, {1}).shape(), Dims({0}));
  EXPECT_EQ(ops::amax(e, {1}).shape(), Dims({0}));
  EXPECT_EQ(ops::sum(e, {1}, true).shape(), Dims({0, 1}));
  EXPECT_EQ(ops::sum(zeros({2, 0, 3}), {0, 2}).shape(), Dims({0}));
  // Size-1 dims and 0-dim tensors.
  manual_seed(6);
  Tensor x = randn({1, 5, 1});
  check_against_ref(randn({1, 5, 1}), [](const Tensor& t, IntList d, bool k) { return ops::sum(t, d, k); }, ref_sum,
                    1e-6, 1e-6);
  Tensor s = scalar_tensor(2.5);
  EXPECT_EQ(ops::sum(s).dim(), 0);
  EXPECT_EQ(ops::sum(s).item<double>(), 2.5);
  EXPECT_EQ(ops::sum(s, {0}).item<double>(), 2.5);
  EXPECT_EQ(ops::amax(s, {-1}, true).dim(), 0);
  EXPECT_EQ(ops::max(x).item<double>(), ref_max(to_vector(x)));
}

// ---- amax / amin / max / min ---------------------------------------------------------------------

TEST(Reduce, AmaxAminMatchReferenceAllDtypes) {
  manual_seed(7);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool}) {
    Tensor x = ops::to(randint(dt == kBool || dt == kUInt8 ? 0 : -20, dt == kBool ? 2 : 20, {3, 4, 5}), dt);
    check_against_ref(x, [](const Tensor& t, IntList d, bool k) { return ops::amax(t, d, k); }, ref_max, 0, 0);
    check_against_ref(x, [](const Tensor& t, IntList d, bool k) { return ops::amin(t, d, k); }, ref_min, 0, 0);
    EXPECT_EQ(ops::amax(x, {1}).dtype(), dt);
  }
}

TEST(Reduce, AmaxPropagatesNaNAndInf) {
  Tensor x = tensor({{1.0, kNaN, 3.0}, {-kInf, -kInf, -kInf}, {2.0, kInf, 5.0}}, kFloat32);
  EXPECT_TRUE(all_close(ops::amax(x, {1}), tensor({kNaN, -kInf, kInf}, kFloat32), 0, 0));
  EXPECT_TRUE(all_close(ops::amin(x, {1}), tensor({kNaN, -kInf, 2.0}, kFloat32), 0, 0));
  EXPECT_TRUE(std::isnan(ops::max(x).item<double>()));
  EXPECT_TRUE(std::isnan(ops::min(x).item<double>()));
  // NaN as the last element, and a NaN in a column reduction.
  EXPECT_TRUE(std::isnan(ops::amax(tensor({1.0, 2.0, kNaN}), {0}).item<double>()));
  EXPECT_TRUE(all_close(ops::amax(x, {0}), tensor({2.0, kNaN, 5.0}, kFloat32), 0, 0));
}

TEST(Reduce, MaxMinOfEmptyAreErrors) {
  expect_error([] { ops::max(zeros({0, 3})); }, {"max", "[0, 3] float32 cpu"});
  expect_error([] { ops::min(zeros({0})); }, {"min", "[0] float32 cpu"});
  expect_error([] { ops::amax(zeros({2, 0}), {1}); }, {"amax", "dim 1", "non-zero size", "[2, 0] float32 cpu"});
  expect_error([] { ops::amin(zeros({2, 0})); }, {"amin", "dim 1", "[2, 0]"});
  expect_error([] { ops::max(zeros({2, 0}), 1); }, {"max:", "dim 1", "[2, 0]"});
  expect_error([] { ops::min(zeros({2, 0}), -1); }, {"min:", "dim 1", "[2, 0]"});
  expect_error([] { ops::argmax(zeros({0})); }, {"argmax", "[0] float32 cpu"});
}

TEST(Reduce, DimErrorsNameTheOpAndShape) {
  Tensor x = zeros({2, 3});
  expect_error([&] { ops::sum(x, {2}); }, {"sum", "dim 2", "out of range"});
  expect_error([&] { ops::mean(x, {-3}); }, {"mean", "dim -3"});
  expect_error([&] { ops::sum(x, {1, -1}); }, {"sum", "dim 1", "multiple times", "[2, 3] float32 cpu"});
  expect_error([&] { ops::var(zeros({3}, kInt64)); }, {"var", "floating", "[3] int64 cpu"});
  expect_error([&] { ops::std(zeros({3}, kBool)); }, {"std", "floating"});
  expect_error([&] { ops::norm(zeros({3}, kInt32)); }, {"norm", "floating", "[3] int32 cpu"});
  expect_error([&] { ops::norm(zeros({0}), kInf); }, {"norm", "empty", "[0] float32 cpu"});
  expect_error([&] { ops::cumsum(x, 2); }, {"cumsum", "dim 2"});
  expect_error([&] { ops::argmin(x, 5); }, {"argmin", "dim 5"});
}

// ---- var / std ------------------------------------------------------------------------------

TEST(Reduce, VarStdMatchReference) {
  manual_seed(8);
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    Tensor x = ops::to(randn({3, 4, 5}), dt);
    for (double c : {1.0, 0.0, 2.5}) {
      check_against_ref(x, [c](const Tensor& t, IntList d, bool k) { return ops::var(t, d, c, k); },
                        ref_var(c, false), 1e-6, rtol_for(dt, 1e-5) * 10);
      check_against_ref(x, [c](const Tensor& t, IntList d, bool k) { return ops::std(t, d, c, k); },
                        ref_var(c, true), 1e-6, rtol_for(dt, 1e-5) * 10);
    }
  }
}

TEST(Reduce, VarIsStableAndHandlesSmallCounts) {
  // Known values: var([1, 2, 3, 4]) = 5/3 (unbiased), std = 1.2909944487358056.
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0});
  EXPECT_NEAR(ops::var(x).item<double>(), 5.0 / 3.0, 1e-6);
  EXPECT_NEAR(ops::std(x).item<double>(), 1.2909944487358056, 1e-6);
  EXPECT_NEAR(ops::var(x, {}, 0.0).item<double>(), 1.25, 1e-6);
  // A large offset does not swamp the spread (a one-pass sum of squares would).
  Tensor x64 = tensor({1.0, 2.0, 3.0, 4.0}, kFloat64);
  Tensor big = ops::add(ops::mul(x64, full({}, 1e-3, kFloat64)), full({}, 1e6, kFloat64));
  EXPECT_NEAR(ops::var(big).item<double>(), 5.0 / 3.0 * 1e-6, 1e-12);
  // n - correction <= 0: 0 / 0 = NaN for one element; inf when the spread is positive.
  EXPECT_TRUE(std::isnan(ops::var(tensor({3.0})).item<double>()));
  EXPECT_TRUE(std::isinf(ops::var(tensor({1.0, 2.0}), {}, 2.0).item<double>()));
}

// ---- logsumexp / norm ------------------------------------------------------------------------

TEST(Reduce, LogSumExpMatchesReferenceAndIsStable) {
  manual_seed(9);
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    Tensor x = ops::to(ops::mul(randn({3, 4, 5}), full({}, 3.0)), dt);
    check_against_ref(x, [](const Tensor& t, IntList d, bool k) { return ops::logsumexp(t, d, k); }, ref_logsumexp,
                      1e-6, rtol_for(dt, 1e-5) * 10);
  }
  // log(e + e^2 + e^3) = 3.40760596444438; shifting by 1000 must not overflow.
  EXPECT_NEAR(ops::logsumexp(tensor({1.0, 2.0, 3.0}), {0}).item<double>(), 3.40760596444438, 1e-6);
  EXPECT_NEAR(ops::logsumexp(tensor({1001.0, 1002.0, 1003.0}), {0}).item<double>(), 1003.40760596444438, 1e-3);
  EXPECT_NEAR(ops::logsumexp(tensor({-1001.0, -1002.0}), {0}).item<double>(), -1001.0 + std::log1p(std::exp(-1.0)),
              1e-3);
  Tensor special = tensor({{-kInf, -kInf}, {kInf, 1.0}, {kInf, kInf}, {kNaN, kInf}, {-kInf, 2.0}});
  EXPECT_TRUE(all_close(ops::logsumexp(special, {1}), tensor({-kInf, kInf, kInf, kNaN, 2.0}), 0, 1e-6));
  // Integers are promoted to float32.
  Tensor li = ops::logsumexp(tensor({0, 0}), {0});
  EXPECT_EQ(li.dtype(), kFloat32);
  EXPECT_NEAR(li.item<double>(), std::log(2.0), 1e-6);
}

TEST(Reduce, NormMatchesReferenceForEveryP) {
  manual_seed(10);
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = ops::to(randn({3, 4, 5}), dt);
    for (double p : {2.0, 1.0, kInf, -kInf, 0.0, 3.0, 0.5, -1.0}) {
      check_against_ref(x, [p](const Tensor& t, IntList d, bool k) { return ops::norm(t, p, d, k); }, ref_norm(p),
                        1e-6, rtol_for(dt, 1e-5) * 10);
    }
  }
  EXPECT_NEAR(ops::norm(tensor({3.0, -4.0})).item<double>(), 5.0, 1e-6);
  EXPECT_NEAR(ops::norm(tensor({3.0, -4.0}), 1.0).item<double>(), 7.0, 1e-6);
  EXPECT_NEAR(ops::norm(tensor({3.0, -4.0}), kInf).item<double>(), 4.0, 1e-6);
  EXPECT_NEAR(ops::norm(tensor({3.0, 0.0, -4.0}), 0.0).item<double>(), 2.0, 1e-6);
  EXPECT_NEAR(ops::norm(tensor({1.0, 0.0}), -1.0).item<double>(), 0.0, 1e-6);
}

// ---- max / min over a dim, argmax / argmin ----------------------------------------------------

TEST(Reduce, MaxMinDimReturnValuesAndFirstIndices) {
  manual_seed(11);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kInt64, kInt32, kUInt8, kBool}) {
    // Few distinct values, so ties are common.
    Tensor x = ops::to(randint(0, dt == kBool ? 2 : 4, {4, 5, 6}), dt);
    for (int64_t dim : {0, 1, 2, -1}) {
      for (bool keepdim : {false, true}) {
        for (const Tensor& in : {x, non_contiguous(x)}) {
          auto [vmax, imax] = ops::max(in, dim, keepdim);
          auto [vmin, imin] = ops::min(in, dim, keepdim);
          EXPECT_EQ(vmax.dtype(), dt);
          EXPECT_EQ(imax.dtype(), kInt64);
          std::vector<int64_t> dims{dim};
          EXPECT_TRUE(all_close(vmax, reduce_ref(x, dims, keepdim, ref_max).tensor(), 0, 0)) << dt << " dim " << dim;
          EXPECT_TRUE(all_close(vmin, reduce_ref(x, dims, keepdim, ref_min).tensor(), 0, 0)) << dt << " dim " << dim;
          EXPECT_TRUE(all_close(imax, reduce_ref(x, dims, keepdim, ref_argext(true)).tensor(), 0, 0)) << dt;
          EXPECT_TRUE(all_close(imin, reduce_ref(x, dims, keepdim, ref_argext(false)).tensor(), 0, 0)) << dt;
          EXPECT_TRUE(all_close(ops::argmax(in, dim, keepdim), imax, 0, 0));
          EXPECT_TRUE(all_close(ops::argmin(in, dim, keepdim), imin, 0, 0));
        }
      }
    }
  }
  // Known: max([[1, 5, 5], [7, 0, 7]], dim 1) = ([5, 7], [1, 0]).
  auto [v, i] = ops::max(tensor({{1, 5, 5}, {7, 0, 7}}), 1);
  EXPECT_TRUE(all_close(v, tensor({5, 7}), 0, 0));
  EXPECT_TRUE(all_close(i, tensor({1, 0}), 0, 0));
}

TEST(Reduce, MaxDimNaNWinsAtItsFirstIndex) {
  Tensor x = tensor({{1.0, kNaN, 9.0, kNaN}, {kNaN, 2.0, 3.0, 4.0}, {1.0, 2.0, 3.0, kNaN}});
  auto [v, i] = ops::max(x, 1);
  EXPECT_TRUE(all_close(v, tensor({kNaN, kNaN, kNaN}, kFloat32), 0, 0));
  EXPECT_TRUE(all_close(i, tensor({1, 0, 3}), 0, 0));
  auto [vn, in] = ops::min(x, 0);
  EXPECT_TRUE(all_close(vn, tensor({kNaN, kNaN, 3.0, kNaN}, kFloat32), 0, 0));
  EXPECT_TRUE(all_close(in, tensor({1, 0, 1, 0}), 0, 0));
}

TEST(Reduce, ArgmaxWithoutDimUsesTheFlatIndex) {
  manual_seed(12);
  Tensor x = ops::to(randint(0, 5, {3, 4, 5}), kFloat32);
  for (const Tensor& in : {x, non_contiguous(x)}) {
    Tensor a = ops::argmax(in);
    EXPECT_EQ(a.dim(), 0);
    EXPECT_EQ(a.item<int64_t>(), static_cast<int64_t>(ref_argext(true)(to_vector(x))));
    EXPECT_EQ(ops::argmin(in).item<int64_t>(), static_cast<int64_t>(ref_argext(false)(to_vector(x))));
  }
  Tensor k = ops::argmax(x, {}, true);
  EXPECT_EQ(k.shape(), Dims({1, 1, 1}));
  EXPECT_EQ(ops::argmax(tensor({3, 9, 9, 1})).item<int64_t>(), 1);
  EXPECT_EQ(ops::argmin(scalar_tensor(4.0)).item<int64_t>(), 0);
  auto [v0, i0] = ops::max(scalar_tensor(4.0), 0);
  EXPECT_EQ(v0.dim(), 0);
  EXPECT_EQ(i0.item<int64_t>(), 0);
  // A dim of size 0 is fine when it is not the reduced one.
  auto [ve, ie] = ops::max(zeros({0, 3}), 1);
  EXPECT_EQ(ie.shape(), Dims({0}));
}

// ---- cumsum ------------------------------------------------------------------------------------

// Reference cumsum along dim.
Tensor ref_cumsum(const Tensor& x, int64_t dim) {
  std::vector<double> v = to_vector(x), out(v.size());
  const std::vector<int64_t> shape = x.shape().vec();
  const int64_t nd = x.dim(), d = dim < 0 ? dim + nd : dim;
  int64_t inner = 1;
  for (int64_t k = d + 1; k < nd; ++k) inner *= shape[static_cast<size_t>(k)];
  const int64_t n = shape[static_cast<size_t>(d)];
  for (size_t flat = 0; flat < v.size(); ++flat) {
    int64_t k = (static_cast<int64_t>(flat) / inner) % n;
    out[flat] = v[flat] + (k > 0 ? out[flat - static_cast<size_t>(inner)] : 0.0);
  }
  return from_values(out, shape);
}

TEST(Reduce, CumsumMatchesReference) {
  manual_seed(13);
  Tensor wide = randn({4, 1500});
  EXPECT_TRUE(all_close(ops::cumsum(wide, 0), ref_cumsum(wide, 0), 1e-5, 1e-5));
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    Tensor x = ops::to(randn({4, 5, 70}), dt);  // 70 > one column block
    for (int64_t dim : {0, 1, 2, -1}) {
      for (const Tensor& in : {x, non_contiguous(x)}) {
        Tensor c = ops::cumsum(in, dim);
        EXPECT_EQ(c.dtype(), dt);
        EXPECT_TRUE(all_close(c, ref_cumsum(x, dim), 1e-5, rtol_for(dt) * 20)) << dt << " dim " << dim;
      }
    }
  }
  for (DType dt : {kInt32, kUInt8, kBool}) {
    Tensor x = ops::to(randint(0, 2, {3, 7}), dt);
    Tensor c = ops::cumsum(x, 1);
    EXPECT_EQ(c.dtype(), kInt64);
    EXPECT_TRUE(all_close(c, ref_cumsum(x, 1), 0, 0));
  }
  EXPECT_TRUE(all_close(ops::cumsum(tensor({1, 2, 3, 4}), 0), tensor({1, 3, 6, 10}), 0, 0));
  EXPECT_EQ(ops::cumsum(zeros({0, 3}), 0).shape(), Dims({0, 3}));
  EXPECT_EQ(ops::cumsum(scalar_tensor(5.0), 0).item<double>(), 5.0);
}

}  // namespace
}  // namespace ember
