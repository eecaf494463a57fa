// Tests of the indexing and shape ops (tensor/ops_index.cpp, kernels/cpu/index*.cpp,
// kernels/cpu/sort.cpp) against naive references written with plain loops over
// std::vector<double>. Data movement ops (index_select, gather, cat, pad, flip,
// sort) must match exactly (atol = rtol = 0); index_add/scatter_add accumulate
// in a different order than the reference, so they use 1e-5 relative for float32
// and 1e-12 for float64.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(index_select);
EMBER_OP_TESTED(index_add);
EMBER_OP_TESTED(gather);
EMBER_OP_TESTED(scatter_add);
EMBER_OP_TESTED(one_hot);
EMBER_OP_TESTED(cat);
EMBER_OP_TESTED(pad);
EMBER_OP_TESTED(flip);
EMBER_OP_TESTED(topk);
EMBER_OP_TESTED(sort);

const DType kAllDtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool};

// ---- naive index arithmetic ----------------------------------------------------------------
std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> c(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    c[d] = flat % shape[d];
    flat /= shape[d];
  }
  return c;
}
int64_t ravel(const std::vector<int64_t>& c, const std::vector<int64_t>& shape) {
  int64_t f = 0;
  for (size_t d = 0; d < shape.size(); ++d) f = f * shape[d] + c[d];
  return f;
}
int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// Random values that every dtype represents exactly (small integers; 0/1 for bool).
Tensor exact_values(IntList shape, DType dtype) {
  int64_t high = dtype == kBool ? 2 : 50;
  int64_t low = dtype == kBool || dtype == kUInt8 ? 0 : -50;
  return ops::to(randint(low, high, shape), dtype);
}

Tensor index_tensor(const std::vector<int64_t>& v, DType dtype = kInt64) {
  return ops::to(ember::tensor(v), dtype);
}

// ---- index_select ---------------------------------------------------------------------------

std::vector<double> ref_index_select(const std::vector<double>& x, const std::vector<int64_t>& shape, int64_t dim,
                                     const std::vector<int64_t>& idx) {
  std::vector<int64_t> oshape = shape;
  oshape[static_cast<size_t>(dim)] = static_cast<int64_t>(idx.size());
  std::vector<double> out(static_cast<size_t>(numel_of(oshape)));
  for (int64_t f = 0; f < numel_of(oshape); ++f) {
    auto c = unravel(f, oshape);
    c[static_cast<size_t>(dim)] = idx[static_cast<size_t>(c[static_cast<size_t>(dim)])];
    out[static_cast<size_t>(f)] = x[static_cast<size_t>(ravel(c, shape))];
  }
  return out;
}

TEST(IndexSelect, MatchesReferenceAllDims) {
  manual_seed(1);
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = randn({4, 5, 6}, dt);
    for (int64_t dim = 0; dim < 3; ++dim) {
      int64_t size = x.size(dim);
      std::vector<int64_t> idx = {size - 1, 0, 2, 2, 1, size - 1, 0};
      Tensor out = ops::index_select(x, dim, index_tensor(idx));
      std::vector<int64_t> oshape = x.shape().vec();
      oshape[static_cast<size_t>(dim)] = 7;
      EXPECT_EQ(out.shape(), IntList(oshape));
      EXPECT_EQ(out.dtype(), dt);
      EXPECT_TRUE(all_close(out, from_values(ref_index_select(to_vector(x), x.shape().vec(), dim, idx), oshape, dt), 0, 0));
      // Negative dim, int32 index, non-contiguous input: same answer.
      Tensor out2 = ops::index_select(non_contiguous(x), dim - 3, index_tensor(idx, kInt32));
      EXPECT_TRUE(all_close(out2, out, 0, 0));
    }
  }
}

TEST(IndexSelect, AllDtypes) {
  manual_seed(2);
  for (DType dt : kAllDtypes) {
    Tensor x = exact_values({3, 4}, dt);
    std::vector<int64_t> idx = {3, 1, 1};
    Tensor out = ops::index_select(x, 1, index_tensor(idx));
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_TRUE(all_close(out, from_values(ref_index_select(to_vector(x), {3, 4}, 1, idx), {3, 3}, dt), 0, 0))
        << dt;
  }
}

TEST(IndexSelect, EdgeShapes) {
  manual_seed(3);
  Tensor x = randn({3, 4});
  // Empty index: size-0 result dim.
  Tensor e = ops::index_select(x, 0, ember::tensor(std::vector<int64_t>{}));
  EXPECT_EQ(e.shape(), IntList({0, 4}));
  // 0-dim index behaves as a one-element index.
  Tensor s = ops::index_select(x, 1, ember::tensor(std::vector<int64_t>{2}).reshape({}));
  EXPECT_EQ(s.shape(), IntList({3, 1}));
  EXPECT_TRUE(all_close(s.squeeze(1), x.select(1, 2), 0, 0));
  // Size-0 non-indexed dim.
  Tensor z = ops::index_select(zeros({0, 5}), 1, index_tensor({4, 0}));
  EXPECT_EQ(z.shape(), IntList({0, 2}));
  // Size-1 dim.
  Tensor one = randn({1, 3});
  EXPECT_TRUE(all_close(ops::index_select(one, 0, index_tensor({0, 0})), ops::cat({one, one}, 0), 0, 0));
  // 0-dim input.
  Tensor scalar = full({}, 2.5);
  Tensor r = ops::index_select(scalar, 0, index_tensor({0}));
  EXPECT_EQ(r.dim(), 0);
  EXPECT_EQ(r.item<float>(), 2.5f);
}

TEST(IndexSelect, Errors) {
  Tensor x = randn({3, 4});
  expect_error([&] { ops::index_select(x, 1, index_tensor({0, 4})); }, {"index_select", "index 4", "size 4"});
  expect_error([&] { ops::index_select(x, 0, index_tensor({-1})); }, {"index_select", "index -1", "size 3"});
  expect_error([&] { ops::index_select(x, 0, ember::tensor({0.f})); }, {"index_select", "int64", "float32"});
  expect_error([&] { ops::index_select(x, 0, zeros({2, 2}, kInt64)); }, {"index_select", "[2, 2]"});
  expect_error([&] { ops::index_select(x, 2, index_tensor({0})); }, {"index_select", "dim 2", "2 dims"});
  // An index into a size-0 dim is out of range even though the result would be empty.
  expect_error([&] { ops::index_select(zeros({0, 2}), 0, index_tensor({0})); }, {"index 0", "size 0"});
}

// ---- embedding ------------------------------------------------------------------------------

TEST(Embedding, RowsOfTheTable) {
  manual_seed(4);
  Tensor w = randn({10, 4});
  Tensor idx = ember::tensor({{1, 9, 0}, {3, 3, 7}});
  Tensor out = ops::embedding(w, idx);
  ASSERT_EQ(out.shape(), IntList({2, 3, 4}));
  auto wv = to_vector(w), ov = to_vector(out), iv = to_vector(idx);
  for (size_t t = 0; t < 6; ++t)
    for (size_t j = 0; j < 4; ++j) EXPECT_EQ(ov[t * 4 + j], wv[static_cast<size_t>(iv[t]) * 4 + j]);
  // int32 indices and a 0-dim index.
  EXPECT_TRUE(all_close(ops::embedding(w, ops::to(idx, kInt32)), out, 0, 0));
  EXPECT_EQ(ops::embedding(w, full({}, 3, kInt64)).shape(), IntList({4}));
}

TEST(Embedding, Errors) {
  Tensor w = randn({10, 4});
  expect_error([&] { ops::embedding(w, index_tensor({2, 12})); }, {"embedding", "index 12", "10 rows"});
  expect_error([&] { ops::embedding(w, index_tensor({-3})); }, {"embedding", "index -3", "10 rows"});
  expect_error([&] { ops::embedding(randn({10}), index_tensor({1})); }, {"embedding", "2-D", "[10] float32"});
  expect_error([&] { ops::embedding(w, ember::tensor({1.f})); }, {"embedding", "int64"});
}

// ---- index_add ------------------------------------------------------------------------------

std::vector<double> ref_index_add(std::vector<double> self, const std::vector<int64_t>& shape, int64_t dim,
                                  const std::vector<int64_t>& idx, const std::vector<double>& src) {
  std::vector<int64_t> sshape = shape;
  sshape[static_cast<size_t>(dim)] = static_cast<int64_t>(idx.size());
  for (int64_t f = 0; f < numel_of(sshape); ++f) {
    auto c = unravel(f, sshape);
    double v = src[static_cast<size_t>(f)];
    c[static_cast<size_t>(dim)] = idx[static_cast<size_t>(c[static_cast<size_t>(dim)])];
    self[static_cast<size_t>(ravel(c, shape))] += v;
  }
  return self;
}

TEST(IndexAdd, AccumulatesDuplicates) {
  manual_seed(5);
  for (DType dt : {kFloat32, kFloat64}) {
    double tol = dt == kFloat32 ? 1e-5 : 1e-12;
    for (int64_t dim = 0; dim < 3; ++dim) {
      Tensor self = randn({4, 5, 3}, dt);
      std::vector<int64_t> sshape = self.shape().vec();
      sshape[static_cast<size_t>(dim)] = 6;
      Tensor src = randn(sshape, dt);
      int64_t size = self.size(dim);
      std::vector<int64_t> idx = {0, size - 1, 1, 0, 0, size - 1};
      Tensor out = ops::index_add(self, dim, index_tensor(idx), src);
      auto ref = ref_index_add(to_vector(self), self.shape().vec(), dim, idx, to_vector(src));
      EXPECT_TRUE(all_close(out, from_values(ref, self.shape(), dt), tol, tol));
      // self is unchanged; non-contiguous inputs and int32 index give the same result.
      Tensor again = ops::index_add(non_contiguous(self), dim, index_tensor(idx, kInt32), non_contiguous(src));
      EXPECT_TRUE(all_close(again, out, tol, tol));
    }
  }
}

TEST(IndexAdd, IntegerAndHalf) {
  Tensor self = zeros({3, 2}, kInt64);
  Tensor src = ember::tensor({{1, 2}, {3, 4}, {5, 6}});
  Tensor out = ops::index_add(self, 0, index_tensor({2, 0, 2}), src);
  EXPECT_EQ(to_vector(out), (std::vector<double>{3, 4, 0, 0, 6, 8}));
  Tensor h = ops::index_add(zeros({2}, kFloat16), 0, index_tensor({1, 1}), ember::tensor({0.5, 0.25}, kFloat16));
  EXPECT_EQ(to_vector(h), (std::vector<double>{0, 0.75}));
  // bool adds as logical or.
  Tensor b = ops::index_add(ember::tensor({false, false, true}), 0, index_tensor({0, 0}), ember::tensor({true, false}));
  EXPECT_EQ(b.dtype(), kBool);
  EXPECT_EQ(to_vector(b), (std::vector<double>{1, 0, 1}));
  // Empty index: a copy of self.
  Tensor c = ops::index_add(ones({2, 2}), 1, index_tensor({}), zeros({2, 0}));
  EXPECT_TRUE(all_close(c, ones({2, 2}), 0, 0));
}

TEST(IndexAdd, Errors) {
  Tensor self = zeros({3, 2});
  expect_error([&] { ops::index_add(self, 0, index_tensor({3}), ones({1, 2})); }, {"index_add", "index 3", "size 3"});
  expect_error([&] { ops::index_add(self, 0, index_tensor({0}), ones({1, 2}, kFloat64)); },
               {"index_add", "same dtype", "[3, 2] float32", "[1, 2] float64"});
  expect_error([&] { ops::index_add(self, 0, index_tensor({0, 1}), ones({1, 2})); }, {"index_add", "[2] int64", "[1, 2]"});
  expect_error([&] { ops::index_add(self, 0, index_tensor({0}), ones({1, 3})); }, {"index_add", "[1, 3]", "[3, 2]"});
}

// ---- gather / scatter_add ---------------------------------------------------------------------

TEST(Gather, MatchesReference) {
  manual_seed(6);
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = randn({3, 4, 5}, dt);
    for (int64_t dim = 0; dim < 3; ++dim) {
      // The index may be smaller than x in every dim, and longer than x along dim.
      std::vector<int64_t> ishape = {2, 3, 4};
      ishape[static_cast<size_t>(dim)] = 7;
      Tensor index = randint(0, x.size(dim), ishape);
      Tensor out = ops::gather(x, dim, index);
      ASSERT_EQ(out.shape(), IntList(ishape));
      auto xv = to_vector(x), iv = to_vector(index);
      std::vector<double> ref(iv.size());
      for (int64_t f = 0; f < numel_of(ishape); ++f) {
        auto c = unravel(f, ishape);
        c[static_cast<size_t>(dim)] = static_cast<int64_t>(iv[static_cast<size_t>(f)]);
        ref[static_cast<size_t>(f)] = xv[static_cast<size_t>(ravel(c, x.shape().vec()))];
      }
      EXPECT_TRUE(all_close(out, from_values(ref, ishape, dt), 0, 0));
      EXPECT_TRUE(all_close(ops::gather(non_contiguous(x), dim, non_contiguous(index)), out, 0, 0));
    }
  }
}

TEST(Gather, AllDtypesAndEdges) {
  manual_seed(7);
  for (DType dt : kAllDtypes) {
    Tensor x = exact_values({2, 3}, dt);
    Tensor out = ops::gather(x, 1, ember::tensor({{2, 0}, {1, 1}}));
    auto xv = to_vector(x);
    EXPECT_EQ(to_vector(out), (std::vector<double>{xv[2], xv[0], xv[4], xv[4]})) << dt;
    EXPECT_EQ(out.dtype(), dt);
  }
  Tensor x = randn({3, 4});
  EXPECT_EQ(ops::gather(x, 0, zeros({0, 4}, kInt64)).shape(), IntList({0, 4}));
  Tensor s = ops::gather(full({}, 7.0), 0, full({}, 0, kInt64));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<double>(), 7.0);
  // Broadcast-free expand of an index (stride 0) works.
  Tensor idx = ember::tensor({{1}}).expand({3, 4});
  EXPECT_TRUE(all_close(ops::gather(x, 0, idx), x.select(0, 1).unsqueeze(0).expand({3, 4}), 0, 0));
}

TEST(Gather, Errors) {
  Tensor x = randn({3, 4});
  expect_error([&] { ops::gather(x, 1, ember::tensor({{0, 4}})); }, {"gather", "index 4", "size 4"});
  expect_error([&] { ops::gather(x, 1, ops::to(ember::tensor({{0}}), kInt32)); }, {"gather", "int64", "int32"});
  expect_error([&] { ops::gather(x, 1, ember::tensor({0})); }, {"gather", "[1] int64", "[3, 4] float32"});
  expect_error([&] { ops::gather(x, 1, zeros({4, 1}, kInt64)); }, {"gather", "dim 0", "4 > 3"});
}

TEST(ScatterAdd, MatchesReference) {
  manual_seed(8);
  for (DType dt : {kFloat32, kFloat64}) {
    double tol = dt == kFloat32 ? 1e-5 : 1e-12;
    for (int64_t dim = 0; dim < 3; ++dim) {
      Tensor self = randn({3, 4, 5}, dt);
      std::vector<int64_t> ishape = {2, 3, 4};
      ishape[static_cast<size_t>(dim)] = 6;
      std::vector<int64_t> sshape = {3, 4, 5};
      sshape[static_cast<size_t>(dim)] = 7;
      Tensor src = randn(sshape, dt);
      Tensor index = randint(0, self.size(dim), ishape);
      Tensor out = ops::scatter_add(self, dim, index, src);
      auto ref = to_vector(self);
      auto iv = to_vector(index), sv = to_vector(src);
      for (int64_t f = 0; f < numel_of(ishape); ++f) {
        auto c = unravel(f, ishape);
        double v = sv[static_cast<size_t>(ravel(c, sshape))];
        c[static_cast<size_t>(dim)] = static_cast<int64_t>(iv[static_cast<size_t>(f)]);
        ref[static_cast<size_t>(ravel(c, {3, 4, 5}))] += v;
      }
      EXPECT_TRUE(all_close(out, from_values(ref, {3, 4, 5}, dt), tol, tol));
      Tensor again = ops::scatter_add(non_contiguous(self), dim, non_contiguous(index), non_contiguous(src));
      EXPECT_TRUE(all_close(again, out, tol, tol));
    }
  }
}

TEST(ScatterAdd, IntegersAndErrors) {
  Tensor out = ops::scatter_add(zeros({2, 3}, kInt32), 1, ember::tensor({{0, 0, 2}, {1, 1, 1}}),
                                ops::to(ember::tensor({{1, 2, 3}, {4, 5, 6}}), kInt32));
  EXPECT_EQ(to_vector(out), (std::vector<double>{3, 0, 3, 0, 15, 0}));
  EXPECT_EQ(out.dtype(), kInt32);
  Tensor b = ops::scatter_add(zeros({3}, kBool), 0, ember::tensor({2, 2, 0}), ember::tensor({false, true, false}));
  EXPECT_EQ(to_vector(b), (std::vector<double>{0, 0, 1}));
  Tensor self = zeros({2, 3});
  expect_error([&] { ops::scatter_add(self, 1, ember::tensor({{3}}), ones({1, 1})); }, {"scatter_add", "index 3", "size 3"});
  expect_error([&] { ops::scatter_add(self, 1, ember::tensor({{0}}), ones({1, 1}, kFloat64)); },
               {"scatter_add", "same dtype", "float64"});
  expect_error([&] { ops::scatter_add(self, 1, ember::tensor({{0, 1}}), ones({1, 1})); }, {"scatter_add", "larger than src"});
  expect_error([&] { ops::scatter_add(self, 1, zeros({3, 1}, kInt64), ones({3, 1})); }, {"scatter_add", "larger than self"});
}

// ---- one_hot --------------------------------------------------------------------------------

TEST(OneHot, ValuesAndInferredClasses) {
  Tensor idx = ember::tensor({{0, 3}, {2, 2}});
  Tensor out = ops::one_hot(idx);
  ASSERT_EQ(out.shape(), IntList({2, 2, 4}));
  EXPECT_EQ(out.dtype(), kInt64);
  EXPECT_EQ(to_vector(out), (std::vector<double>{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0}));
  Tensor six = ops::one_hot(ember::tensor({1}), 6);
  EXPECT_EQ(to_vector(six), (std::vector<double>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(ops::one_hot(zeros({0}, kInt64), 3).shape(), IntList({0, 3}));
  EXPECT_TRUE(all_close(ops::one_hot(non_contiguous(idx)), out, 0, 0));
}

TEST(OneHot, Errors) {
  expect_error([&] { ops::one_hot(ember::tensor({0, 5}), 5); }, {"one_hot", "5", "num_classes"});
  expect_error([&] { ops::one_hot(ember::tensor({-1, 0})); }, {"one_hot", "non-negative", "-1"});
  expect_error([&] { ops::one_hot(zeros({0}, kInt64)); }, {"one_hot", "empty"});
  expect_error([&] { ops::one_hot(ember::tensor({1.f})); }, {"one_hot", "int64", "float32"});
}

// ---- cat / stack ------------------------------------------------------------------------------

std::vector<double> ref_cat(const std::vector<Tensor>& ts, int64_t dim) {
  std::vector<int64_t> oshape = ts[0].shape().vec();
  oshape[static_cast<size_t>(dim)] = 0;
  for (const Tensor& t : ts) oshape[static_cast<size_t>(dim)] += t.size(dim);
  std::vector<double> out(static_cast<size_t>(numel_of(oshape)));
  for (int64_t f = 0; f < numel_of(oshape); ++f) {
    auto c = unravel(f, oshape);
    int64_t pos = c[static_cast<size_t>(dim)];
    for (const Tensor& t : ts) {
      if (pos < t.size(dim)) {
        c[static_cast<size_t>(dim)] = pos;
        out[static_cast<size_t>(f)] = to_vector(t)[static_cast<size_t>(ravel(c, t.shape().vec()))];
        break;
      }
      pos -= t.size(dim);
    }
  }
  return out;
}

TEST(Cat, MatchesReferenceAllDims) {
  manual_seed(9);
  for (int64_t dim = 0; dim < 3; ++dim) {
    std::vector<int64_t> s1 = {2, 3, 4}, s2 = {2, 3, 4}, s3 = {2, 3, 4};
    s2[static_cast<size_t>(dim)] = 1;
    s3[static_cast<size_t>(dim)] = 0;
    std::vector<Tensor> ts = {randn(s1), non_contiguous(randn(s2)), randn(s3), randn(s1)};
    Tensor out = ops::cat(ts, dim - 3);
    std::vector<int64_t> oshape = s1;
    oshape[static_cast<size_t>(dim)] = 2 * s1[static_cast<size_t>(dim)] + 1;
    ASSERT_EQ(out.shape(), IntList(oshape));
    EXPECT_TRUE(all_close(out, from_values(ref_cat(ts, dim), oshape, kFloat32), 0, 0));
  }
  // A single tensor is copied.
  Tensor a = randn({2, 2});
  Tensor c = ops::cat({a}, 1);
  EXPECT_TRUE(all_close(c, a, 0, 0));
  EXPECT_FALSE(c.is_alias_of(a));
}

TEST(Cat, AllDtypesAndPromotion) {
  manual_seed(10);
  for (DType dt : kAllDtypes) {
    Tensor a = exact_values({2, 3}, dt), b = exact_values({1, 3}, dt);
    Tensor out = ops::cat({a, b});
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_TRUE(all_close(out, from_values(ref_cat({a, b}, 0), {3, 3}, dt), 0, 0)) << dt;
  }
  EXPECT_EQ(ops::cat({ones({2}, kInt32), ones({2}, kFloat32)}).dtype(), kFloat32);
  EXPECT_EQ(ops::cat({ones({2}, kFloat16), ones({2}, kBFloat16)}).dtype(), kFloat32);
  EXPECT_EQ(ops::cat({ones({2}, kBool), ones({2}, kUInt8)}).dtype(), kUInt8);
  Tensor mixed = ops::cat({ember::tensor({1, 2}), ember::tensor({0.5})});
  EXPECT_EQ(to_vector(mixed), (std::vector<double>{1, 2, 0.5}));
  // Legacy rule: a 1-D empty tensor is skipped whatever the other shapes.
  Tensor x = randn({2, 3});
  EXPECT_TRUE(all_close(ops::cat({zeros({0}), x, zeros({0})}, 1), x, 0, 0));
  EXPECT_EQ(ops::cat({zeros({0}), zeros({0})}).shape(), IntList({0}));
}

TEST(Cat, Errors) {
  expect_error([] { ops::cat({}); }, {"cat", "non-empty"});
  expect_error([] { ops::cat({zeros({2, 3}), zeros({2, 4})}, 0); }, {"cat", "[2, 3] float32", "[2, 4] float32", "dim 0"});
  expect_error([] { ops::cat({zeros({2, 3}), zeros({2, 3, 1})}, 0); }, {"cat", "same number of dims", "[2, 3, 1]"});
  expect_error([] { ops::cat({zeros({2}), full({}, 1.0)}); }, {"cat", "zero-dimensional", "position 1"});
  expect_error([] { ops::cat({zeros({2, 3}), zeros({2, 3})}, 2); }, {"cat", "dim 2"});
}

TEST(Stack, NewDim) {
  manual_seed(11);
  Tensor a = randn({2, 3}), b = randn({2, 3}), c = non_contiguous(randn({2, 3}));
  for (int64_t dim : {0, 1, 2, -1, -3}) {
    Tensor s = ops::stack({a, b, c}, dim);
    int64_t d = dim < 0 ? dim + 3 : dim;
    std::vector<int64_t> shape = {2, 3};
    shape.insert(shape.begin() + d, 3);
    ASSERT_EQ(s.shape(), IntList(shape));
    EXPECT_TRUE(all_close(s.select(d, 0), a, 0, 0));
    EXPECT_TRUE(all_close(s.select(d, 1), b, 0, 0));
    EXPECT_TRUE(all_close(s.select(d, 2), c, 0, 0));
  }
  // 0-dim tensors stack into a vector.
  Tensor v = ops::stack({full({}, 1.0), full({}, 2.0)});
  EXPECT_EQ(to_vector(v), (std::vector<double>{1, 2}));
  expect_error([&] { ops::stack({a, randn({2, 4})}); }, {"stack", "[2, 3] float32", "[2, 4] float32", "entry 1"});
  expect_error([] { ops::stack({}); }, {"stack", "non-empty"});
  expect_error([&] { ops::stack({a, b}, 3); }, {"stack", "dim 3"});
}

// ---- pad ------------------------------------------------------------------------------------

std::vector<double> ref_pad(const Tensor& x, const std::vector<int64_t>& pads, double value, std::vector<int64_t>& oshape) {
  std::vector<int64_t> shape = x.shape().vec();
  oshape = shape;
  std::vector<int64_t> left(shape.size(), 0);
  for (size_t k = 0; 2 * k < pads.size(); ++k) {
    size_t d = shape.size() - 1 - k;
    left[d] = pads[2 * k];
    oshape[d] += pads[2 * k] + pads[2 * k + 1];
  }
  auto xv = to_vector(x);
  std::vector<double> out(static_cast<size_t>(numel_of(oshape)), value);
  for (int64_t f = 0; f < numel_of(oshape); ++f) {
    auto c = unravel(f, oshape);
    bool inside = true;
    for (size_t d = 0; d < c.size(); ++d) {
      c[d] -= left[d];
      inside = inside && c[d] >= 0 && c[d] < shape[d];
    }
    if (inside) out[static_cast<size_t>(f)] = xv[static_cast<size_t>(ravel(c, shape))];
  }
  return out;
}

TEST(Pad, MatchesReference) {
  manual_seed(12);
  Tensor x = randn({2, 3, 4});
  const std::vector<std::vector<int64_t>> cases = {
      {1, 2}, {0, 0}, {2, 0, 1, 1}, {-1, 2}, {-1, -2, 1, 0}, {1, 1, 1, 1, 1, 1}, {0, -4}, {-2, -2, 0, 0, -1, 0}};
  for (const auto& pads : cases) {
    std::vector<int64_t> oshape;
    auto ref = ref_pad(x, pads, -7.5, oshape);
    Tensor out = ops::pad(x, pads, -7.5);
    ASSERT_EQ(out.shape(), IntList(oshape)) << ::testing::PrintToString(pads);
    EXPECT_TRUE(all_close(out, from_values(ref, oshape, kFloat32), 0, 0)) << ::testing::PrintToString(pads);
    EXPECT_TRUE(all_close(ops::pad(non_contiguous(x), pads, -7.5), out, 0, 0));
  }
}

TEST(Pad, DtypesAndEdges) {
  manual_seed(13);
  for (DType dt : kAllDtypes) {
    Tensor x = exact_values({2, 2}, dt);
    std::vector<int64_t> oshape;
    double value = dt == kBool ? 1 : 3;
    auto ref = ref_pad(x, {1, 0, 0, 1}, value, oshape);
    Tensor out = ops::pad(x, {1, 0, 0, 1}, dt == kBool ? Scalar(true) : Scalar(3));
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_TRUE(all_close(out, from_values(ref, oshape, dt), 0, 0)) << dt;
  }
  // Padding an empty tensor gives all value; the default value is 0.
  Tensor e = ops::pad(zeros({0, 2}), {0, 0, 1, 1}, 4.0);
  EXPECT_EQ(to_vector(e), (std::vector<double>(4, 4.0)));
  EXPECT_EQ(to_vector(ops::pad(ones({1}), {1, 1})), (std::vector<double>{0, 1, 0}));
  // Cropping everything gives a size-0 dim.
  EXPECT_EQ(ops::pad(ones({2, 3}), {-3, 0}).shape(), IntList({2, 0}));
}

TEST(Pad, Errors) {
  Tensor x = zeros({2, 3});
  expect_error([&] { ops::pad(x, {1}); }, {"pad", "odd"});
  expect_error([&] { ops::pad(x, {1, 1, 1, 1, 1, 1}); }, {"pad", "[2, 3] float32"});
  expect_error([&] { ops::pad(x, {-2, -2}); }, {"pad", "dim 1", "size 3", "negative size -1"});
}

// ---- flip -------------------------------------------------------------------------------------

TEST(Flip, MatchesReference) {
  manual_seed(14);
  Tensor x = randn({3, 4, 5});
  const std::vector<std::vector<int64_t>> cases = {{0}, {1}, {2}, {-1}, {0, 2}, {2, 0, 1}, {}};
  for (const auto& dims : cases) {
    auto xv = to_vector(x);
    std::vector<int64_t> shape = {3, 4, 5};
    std::vector<double> ref(xv.size());
    for (int64_t f = 0; f < 60; ++f) {
      auto c = unravel(f, shape);
      for (int64_t d : dims) {
        size_t dd = static_cast<size_t>(d < 0 ? d + 3 : d);
        c[dd] = shape[dd] - 1 - c[dd];
      }
      ref[static_cast<size_t>(f)] = xv[static_cast<size_t>(ravel(c, shape))];
    }
    Tensor out = ops::flip(x, dims);
    EXPECT_TRUE(all_close(out, from_values(ref, shape, kFloat32), 0, 0)) << ::testing::PrintToString(dims);
    EXPECT_TRUE(all_close(ops::flip(non_contiguous(x), dims), out, 0, 0));
    EXPECT_TRUE(out.is_contiguous());
  }
}

TEST(Flip, DtypesEdgesErrors) {
  manual_seed(15);
  for (DType dt : kAllDtypes) {
    Tensor x = exact_values({5}, dt);
    auto xv = to_vector(x);
    std::reverse(xv.begin(), xv.end());
    EXPECT_EQ(to_vector(ops::flip(x, {0})), xv) << dt;
  }
  EXPECT_EQ(ops::flip(zeros({0, 3}), {0, 1}).shape(), IntList({0, 3}));
  EXPECT_EQ(ops::flip(full({}, 2.0), {0}).item<double>(), 2.0);
  // A flipped stride-0 view.
  Tensor row = ember::tensor({1.f, 2.f, 3.f}).unsqueeze(0).expand({2, 3});
  EXPECT_EQ(to_vector(ops::flip(row, {0, 1})), (std::vector<double>{3, 2, 1, 3, 2, 1}));
  expect_error([] { ops::flip(zeros({2, 2}), {0, -2}); }, {"flip", "dim 0", "multiple"});
  expect_error([] { ops::flip(zeros({2, 2}), {2}); }, {"flip", "dim 2"});
}

// ---- sort / topk ------------------------------------------------------------------------------

// Reference order of one slice: NaN above everything, ties by original position.
std::vector<int64_t> ref_order(const std::vector<double>& v, bool descending) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto key = [&](int64_t i) { return std::isnan(v[static_cast<size_t>(i)]) ? std::numeric_limits<double>::infinity() : v[static_cast<size_t>(i)]; };
  auto rank = [&](int64_t i) { return std::isnan(v[static_cast<size_t>(i)]) ? 1 : 0; };
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
    if (descending) return rank(a) != rank(b) ? rank(a) > rank(b) : key(a) > key(b);
    return rank(a) != rank(b) ? rank(a) < rank(b) : key(a) < key(b);
  });
  return idx;
}

// Checks (values, indices) of sorting/topk x (2-D) along dim against ref_order, first k entries.
void check_sorted(const Tensor& x, int64_t dim, bool descending, int64_t k, const Tensor& values, const Tensor& indices) {
  ASSERT_EQ(indices.dtype(), kInt64);
  ASSERT_EQ(values.dtype(), x.dtype());
  Tensor xt = dim == 0 ? x.t() : x;  // slices along the last dim
  Tensor vt = dim == 0 ? values.t() : values, it = dim == 0 ? indices.t() : indices;
  auto xv = to_vector(xt), vv = to_vector(vt), iv = to_vector(it);
  const int64_t rows = xt.size(0), n = xt.size(1);
  ASSERT_EQ(vt.size(1), k);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> slice(xv.begin() + r * n, xv.begin() + (r + 1) * n);
    auto order = ref_order(slice, descending);
    for (int64_t j = 0; j < k; ++j) {
      size_t o = static_cast<size_t>(r * k + j);
      EXPECT_EQ(iv[o], static_cast<double>(order[static_cast<size_t>(j)])) << "row " << r << " rank " << j;
      double want = slice[static_cast<size_t>(order[static_cast<size_t>(j)])];
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(vv[o]));
      else EXPECT_EQ(vv[o], want);
    }
  }
}

TEST(Sort, MatchesReference) {
  manual_seed(16);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8}) {
    Tensor x = dt.is_floating() ? ops::to(randn({5, 9}), dt) : exact_values({5, 9}, dt);
    for (int64_t dim : {0, 1}) {
      for (bool desc : {false, true}) {
        auto [v, i] = ops::sort(x, dim, desc, true);
        check_sorted(x, dim, desc, x.size(dim), v, i);
        auto [v2, i2] = ops::sort(non_contiguous(x), dim - 2, desc);
        EXPECT_TRUE(all_close(v2, v, 0, 0));
        EXPECT_TRUE(all_close(i2, i, 0, 0));
      }
    }
  }
}

TEST(Sort, StableWithTiesAndNaN) {
  manual_seed(17);
  // Many ties: a stable sort keeps the original order of equal elements, in both directions.
  Tensor x = ops::to(randint(0, 3, {4, 40}), kFloat32);
  for (bool desc : {false, true}) {
    auto [v, i] = ops::sort(x, 1, desc, true);
    check_sorted(x, 1, desc, 40, v, i);
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor y = from_values({3, nan, -1, nan, 2, -INFINITY, INFINITY}, {1, 7}, kFloat32);
  auto [va, ia] = ops::sort(y, 1);
  EXPECT_EQ(to_vector(ia), (std::vector<double>{5, 2, 4, 0, 6, 1, 3}));
  auto [vd, id] = ops::sort(y, 1, true, true);
  EXPECT_EQ(to_vector(id), (std::vector<double>{1, 3, 6, 0, 4, 2, 5}));
  EXPECT_TRUE(std::isnan(to_vector(vd)[0]));
  // bool sorts too.
  auto [vb, ib] = ops::sort(ember::tensor({true, false, true, false}));
  EXPECT_EQ(to_vector(vb), (std::vector<double>{0, 0, 1, 1}));
  EXPECT_EQ(to_vector(ib), (std::vector<double>{1, 3, 0, 2}));
}

TEST(Sort, Edges) {
  auto [v, i] = ops::sort(zeros({3, 0}), 1);
  EXPECT_EQ(v.shape(), IntList({3, 0}));
  EXPECT_EQ(i.shape(), IntList({3, 0}));
  auto [s, si] = ops::sort(full({}, 4.0));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(si.item<int64_t>(), 0);
  auto [one, oi] = ops::sort(ember::tensor({{5.f}, {2.f}}), 1);
  EXPECT_EQ(to_vector(one), (std::vector<double>{5, 2}));
  expect_error([] { ops::sort(zeros({2}), 1); }, {"sort", "dim 1"});
}

TEST(Topk, MatchesReference) {
  manual_seed(18);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kInt64, kInt32}) {
    Tensor x = dt.is_floating() ? ops::to(randn({6, 11}), dt) : exact_values({6, 11}, dt);
    for (int64_t dim : {0, 1}) {
      for (bool largest : {true, false}) {
        for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{3}, x.size(dim)}) {
          auto [v, i] = ops::topk(x, k, dim, largest);
          std::vector<int64_t> shape = {6, 11};
          shape[static_cast<size_t>(dim)] = k;
          ASSERT_EQ(v.shape(), IntList(shape));
          check_sorted(x, dim, largest, k, v, i);
          auto [v2, i2] = ops::topk(non_contiguous(x), k, dim, largest, false);
          EXPECT_TRUE(all_close(v2, v, 0, 0));
        }
      }
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto [v, i] = ops::topk(from_values({1, nan, 5, 3}, {4}, kFloat32), 2);
  EXPECT_TRUE(std::isnan(to_vector(v)[0]));
  EXPECT_EQ(to_vector(i), (std::vector<double>{1, 2}));
  auto [vs, is] = ops::topk(from_values({1, nan, 5, 3}, {4}, kFloat32), 2, -1, false);
  EXPECT_EQ(to_vector(vs), (std::vector<double>{1, 3}));
}

TEST(Topk, Errors) {
  expect_error([] { ops::topk(zeros({2, 3}), 4, 1); }, {"topk", "k (4)", "dim 1", "size 3"});
  expect_error([] { ops::topk(zeros({2, 3}), -1); }, {"topk", "k (-1)"});
  expect_error([] { ops::topk(zeros({2}, kBool), 1); }, {"topk", "bool"});
  expect_error([] { ops::topk(zeros({2}), 1, 2); }, {"topk", "dim 2"});
}

// Inputs big enough that the kernels split their work over the thread pool
// (more than kGrain = 32768 elements); duplicate indices make races visible.
TEST(IndexLarge, ParallelKernelsMatchReference) {
  manual_seed(19);
  const int64_t rows = 40000;
  Tensor x = randn({rows, 3}, kFloat64);
  auto xv = to_vector(x);
  Tensor idx = randint(0, rows, {rows});
  auto iv = to_vector(idx);
  // index_select along dim 0 and dim 1.
  Tensor sel = ops::index_select(x, 0, idx);
  auto sv = to_vector(sel);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < 3; ++j)
      ASSERT_EQ(sv[static_cast<size_t>(r * 3 + j)], xv[static_cast<size_t>(static_cast<int64_t>(iv[static_cast<size_t>(r)]) * 3 + j)]);
  // index_add / scatter_add with heavy duplication (every index in [0, 7)).
  Tensor small = randint(0, 7, {rows});
  auto smv = to_vector(small);
  Tensor acc = ops::index_add(zeros({7, 3}, kFloat64), 0, small, x);
  std::vector<double> ref(21, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < 3; ++j) ref[static_cast<size_t>(smv[static_cast<size_t>(r)] * 3 + static_cast<double>(j))] += xv[static_cast<size_t>(r * 3 + j)];
  EXPECT_TRUE(all_close(acc, from_values(ref, {7, 3}), 1e-9, 1e-9));
  Tensor wide = randn({3, rows}, kFloat64);
  Tensor sidx = randint(0, 5, {3, rows});
  Tensor sc = ops::scatter_add(zeros({3, 5}, kFloat64), 1, sidx, wide);
  auto wv = to_vector(wide), siv = to_vector(sidx);
  std::vector<double> sref(15, 0.0);
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t j = 0; j < rows; ++j) {
      size_t k = static_cast<size_t>(r * rows + j);
      sref[static_cast<size_t>(r * 5 + static_cast<int64_t>(siv[k]))] += wv[k];
    }
  EXPECT_TRUE(all_close(sc, from_values(sref, {3, 5}), 1e-9, 1e-9));
  Tensor sc0 = ops::scatter_add(zeros({7, 3}, kFloat64), 0, small.unsqueeze(1).expand({rows, 3}).contiguous(), x);
  EXPECT_TRUE(all_close(sc0, acc, 1e-9, 1e-9));
  // gather back the selected rows.
  Tensor g = ops::gather(x, 0, idx.unsqueeze(1).expand({rows, 3}));
  EXPECT_TRUE(all_close(g, sel, 0, 0));
  // cat, flip, pad and sort on the large tensor.
  Tensor c = ops::cat({x, sel}, 1);
  EXPECT_TRUE(all_close(c.narrow(1, 3, 3), sel, 0, 0));
  EXPECT_TRUE(all_close(ops::flip(ops::flip(x, {0, 1}), {1, 0}), x, 0, 0));
  EXPECT_TRUE(all_close(ops::flip(x, {0}).select(0, 0), x.select(0, rows - 1), 0, 0));
  Tensor p = ops::pad(x, {1, 1, 2, 0}, -1.0);
  EXPECT_EQ(p.shape(), IntList({rows + 2, 5}));
  EXPECT_TRUE(all_close(p.narrow(0, 2, rows).narrow(1, 1, 3), x, 0, 0));
  auto [vals, inds] = ops::sort(x, 0);
  auto vv = to_vector(vals.select(1, 1));
  EXPECT_TRUE(std::is_sorted(vv.begin(), vv.end()));
  EXPECT_TRUE(all_close(ops::gather(x, 0, inds), vals, 0, 0));
  auto oh = ops::one_hot(small, 7);
  EXPECT_TRUE(all_close(ops::argmax(oh, 1), small, 0, 0));
}

}  // namespace
}  // namespace ember
