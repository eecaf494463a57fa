// Tests of batch, layer and group normalisation and their backward ops
// (tensor/ops_norm.cpp, kernels/cpu/norm.cpp).
//
// Forward references are the textbook formulas over std::vector<double>:
// mean, biased variance, y = (x - mean) / sqrt(var + eps) * w + b, and for
// batch_norm the running-stat update with the unbiased variance. Backward ops
// are checked against central finite differences (h = 1e-6, float64) of
// L = sum(grad_out * forward(x, w, b)), which share no code with the kernels.
//
// Tolerances: float64 forward 1e-10; finite differences 1e-6 (their own error is
// ~h^2 * |f'''| plus 1e-16 / h rounding); float32 1e-5; float16/bfloat16 the
// output rounding (rtol 4e-3 / 2e-2, atol the same).
#include <cmath>
#include <functional>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(batch_norm);
EMBER_OP_TESTED(batch_norm_backward);
EMBER_OP_TESTED(layer_norm);
EMBER_OP_TESTED(layer_norm_backward);
EMBER_OP_TESTED(group_norm);
EMBER_OP_TESTED(group_norm_backward);

using Vec = std::vector<double>;

// Normalises x in groups: group_of(i) names element i's group, affine_of(i) its weight/bias entry.
struct NormRef {
  Vec y, mean, invstd, unbiased_var;
};
NormRef ref_normalize(const Vec& x, int64_t groups, const std::function<int64_t(int64_t)>& group_of,
                      const std::function<int64_t(int64_t)>& affine_of, const Vec& w, const Vec& b, double eps) {
  NormRef r;
  r.mean.assign(static_cast<size_t>(groups), 0.0);
  Vec count(static_cast<size_t>(groups), 0.0), sq(static_cast<size_t>(groups), 0.0);
  const int64_t n = static_cast<int64_t>(x.size());
  for (int64_t i = 0; i < n; ++i) r.mean[static_cast<size_t>(group_of(i))] += x[static_cast<size_t>(i)], count[static_cast<size_t>(group_of(i))] += 1;
  for (int64_t g = 0; g < groups; ++g) r.mean[static_cast<size_t>(g)] /= count[static_cast<size_t>(g)];
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[static_cast<size_t>(i)] - r.mean[static_cast<size_t>(group_of(i))];
    sq[static_cast<size_t>(group_of(i))] += d * d;
  }
  for (int64_t g = 0; g < groups; ++g) {
    const size_t gi = static_cast<size_t>(g);
    r.invstd.push_back(1.0 / std::sqrt(sq[gi] / count[gi] + eps));
    r.unbiased_var.push_back(sq[gi] / (count[gi] - 1));
  }
  for (int64_t i = 0; i < n; ++i) {
    const size_t g = static_cast<size_t>(group_of(i)), a = static_cast<size_t>(affine_of(i));
    double v = (x[static_cast<size_t>(i)] - r.mean[g]) * r.invstd[g];
    if (!w.empty()) v *= w[a];
    if (!b.empty()) v += b[a];
    r.y.push_back(v);
  }
  return r;
}

// Central differences of f at v.
Vec numeric_grad(const std::function<double(const Vec&)>& f, Vec v, double h = 1e-6) {
  Vec g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    v[i] = keep + h;
    const double up = f(v);
    v[i] = keep - h;
    const double down = f(v);
    v[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

double dot(const Tensor& a, const Vec& b) {
  Vec va = to_vector(a);
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += va[i] * b[i];
  return s;
}

Vec values(const Tensor& t) { return t.defined() ? to_vector(t) : Vec{}; }

// ---- batch norm ---------------------------------------------------------------------------------

NormRef ref_batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  auto channel = [=](int64_t i) { return (i / S) % C; };
  return ref_normalize(to_vector(x), C, channel, channel, values(w), values(b), eps);
}

TEST(BatchNorm, TrainingForwardAndRunningStats) {
  manual_seed(30);
  const std::vector<std::vector<int64_t>> shapes = {{6, 3}, {4, 3, 5}, {2, 4, 3, 3}, {3, 1, 2, 2}};
  for (DType dt : {kFloat64, kFloat32}) {
    for (const auto& shape : shapes) {
      for (bool affine : {true, false}) {
        SCOPED_TRACE(::testing::Message() << IntList(shape) << " " << dt << " affine " << affine);
        const int64_t C = shape[1];
        Tensor x = ops::add(ops::mul(randn(shape, dt), scalar_tensor(3.0, dt)), scalar_tensor(2.0, dt));
        Tensor w = affine ? randn({C}, dt) : Tensor(), b = affine ? randn({C}, dt) : Tensor();
        Tensor rm = randn({C}, dt), rv = ops::add(rand({C}, dt), scalar_tensor(0.5, dt));
        const Vec rm0 = to_vector(rm), rv0 = to_vector(rv);
        const uint32_t v0 = rm.version();
        NormArgs args;
        args.momentum = 0.3;
        args.eps = 1e-3;
        auto [y, mean, invstd] = ops::batch_norm(x, w, b, rm, rv, args);
        const NormRef r = ref_batch_norm(x, w, b, args.eps);
        const double tol = dt == kFloat64 ? 1e-10 : 1e-5;
        EXPECT_TRUE(all_close(y, from_values(r.y, x.shape()), tol, tol));
        EXPECT_EQ(mean.dtype(), dt);
        EXPECT_TRUE(all_close(mean, from_values(r.mean, {C}), tol, tol));
        EXPECT_TRUE(all_close(invstd, from_values(r.invstd, {C}), tol, tol));
        Vec rm1(rm0.size()), rv1(rv0.size());
        for (size_t c = 0; c < rm0.size(); ++c) {
          rm1[c] = 0.7 * rm0[c] + 0.3 * r.mean[c];
          rv1[c] = 0.7 * rv0[c] + 0.3 * r.unbiased_var[c];
        }
        EXPECT_TRUE(all_close(rm, from_values(rm1, {C}), tol, tol));
        EXPECT_TRUE(all_close(rv, from_values(rv1, {C}), tol, tol));
        EXPECT_GT(rm.version(), v0);
      }
    }
  }
  // Without running stats, and with a non-contiguous input.
  Tensor x = randn({4, 3, 2, 5}, kFloat64);
  auto [y, m, s] = ops::batch_norm(non_contiguous(x), {}, {}, {}, {}, NormArgs{});
  EXPECT_TRUE(all_close(y, from_values(ref_batch_norm(x, {}, {}, 1e-5).y, x.shape()), 1e-10, 1e-10));
}

TEST(BatchNorm, EvalUsesRunningStats) {
  manual_seed(31);
  Tensor x = randn({3, 4, 2, 2}, kFloat64), w = randn({4}, kFloat64), b = randn({4}, kFloat64);
  Tensor rm = randn({4}, kFloat64), rv = ops::add(rand({4}, kFloat64), scalar_tensor(0.5, kFloat64));
  const Vec rm0 = to_vector(rm), rv0 = to_vector(rv);
  const uint32_t v0 = rm.version();
  NormArgs args;
  args.training = false;
  auto [y, mean, invstd] = ops::batch_norm(x, w, b, rm, rv, args);
  Vec ref, vx = to_vector(x), vw = to_vector(w), vb = to_vector(b);
  for (size_t i = 0; i < vx.size(); ++i) {
    const size_t c = (i / 4) % 4;
    ref.push_back((vx[i] - rm0[c]) / std::sqrt(rv0[c] + args.eps) * vw[c] + vb[c]);
  }
  EXPECT_TRUE(all_close(y, from_values(ref, x.shape()), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(mean, rm, 0.0, 0.0));
  Vec inv;
  for (double v : rv0) inv.push_back(1.0 / std::sqrt(v + args.eps));
  EXPECT_TRUE(all_close(invstd, from_values(inv, {4}), 1e-12, 1e-12));
  EXPECT_EQ(to_vector(rm), rm0);
  EXPECT_EQ(to_vector(rv), rv0);
  EXPECT_EQ(rm.version(), v0);
}

TEST(BatchNorm, ReducedPrecisionWithFloatParameters) {
  manual_seed(32);
  for (DType dt : {kFloat16, kBFloat16}) {
    Tensor x = randn({4, 3, 3, 3}, dt), w = randn({3}), b = randn({3}), rm = zeros({3}), rv = ones({3});
    auto [y, mean, invstd] = ops::batch_norm(x, w, b, rm, rv, NormArgs{});
    EXPECT_EQ(y.dtype(), dt);
    EXPECT_EQ(mean.dtype(), kFloat32);
    const double tol = dt == kFloat16 ? 4e-3 : 2e-2;
    EXPECT_TRUE(all_close(y, from_values(ref_batch_norm(x, w, b, 1e-5).y, x.shape()), tol, tol)) << dt;
    Vec rm_ref = ref_batch_norm(x, {}, {}, 1e-5).mean;
    for (double& v : rm_ref) v *= 0.1;  // momentum 0.1 from zero
    EXPECT_TRUE(all_close(rm, from_values(rm_ref, {3}), 1e-6, 1e-5)) << dt;
  }
}

void check_batch_norm_backward(bool training, bool affine) {
  SCOPED_TRACE(::testing::Message() << "training " << training << " affine " << affine);
  manual_seed(33);
  const std::vector<int64_t> shape = {3, 2, 2, 3};
  Tensor x = randn(shape, kFloat64), go = randn(shape, kFloat64);
  Tensor w = affine ? randn({2}, kFloat64) : Tensor(), b = affine ? randn({2}, kFloat64) : Tensor();
  Tensor rm = randn({2}, kFloat64), rv = ops::add(rand({2}, kFloat64), scalar_tensor(0.5, kFloat64));
  NormArgs args;
  args.training = training;
  auto forward = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
    Tensor m = ops::clone(rm), v = ops::clone(rv);  // keep the running stats fixed across evaluations
    return std::get<0>(ops::batch_norm(xx, ww, bb, m, v, args));
  };
  auto [y, mean, invstd] = ops::batch_norm(x, w, b, ops::clone(rm), ops::clone(rv), args);
  auto [gx, gw, gb] = ops::batch_norm_backward(go, x, w, mean, invstd, args);
  const Vec vgo = to_vector(go);
  Vec ngx = numeric_grad([&](const Vec& v) { return dot(forward(from_values(v, shape), w, b), vgo); }, to_vector(x));
  EXPECT_TRUE(all_close(gx, from_values(ngx, shape), 1e-6, 1e-6));
  Vec ngb(2, 0.0);
  for (size_t i = 0; i < vgo.size(); ++i) ngb[(i / 6) % 2] += vgo[i];
  EXPECT_TRUE(all_close(gb, from_values(ngb, {2}), 1e-10, 1e-10));
  if (affine) {
    Vec ngw = numeric_grad([&](const Vec& v) { return dot(forward(x, from_values(v, {2}), b), vgo); }, to_vector(w));
    EXPECT_TRUE(all_close(gw, from_values(ngw, {2}), 1e-6, 1e-6));
  } else {
    EXPECT_FALSE(gw.defined());
  }
}

TEST(BatchNorm, BackwardMatchesFiniteDifferences) {
  for (bool training : {true, false})
    for (bool affine : {true, false}) check_batch_norm_backward(training, affine);
  // float32 backward agrees with float64.
  manual_seed(34);
  Tensor x = randn({5, 3, 4}), go = randn({5, 3, 4}), w = randn({3});
  auto [y, m, s] = ops::batch_norm(x, w, {}, {}, {}, NormArgs{});
  auto [gx, gw, gb] = ops::batch_norm_backward(non_contiguous(go), x, w, m, s, NormArgs{});
  auto [y64, m64, s64] = ops::batch_norm(ops::to(x, kFloat64), ops::to(w, kFloat64), {}, {}, {}, NormArgs{});
  auto [gx64, gw64, gb64] =
      ops::batch_norm_backward(ops::to(go, kFloat64), ops::to(x, kFloat64), ops::to(w, kFloat64), m64, s64, NormArgs{});
  EXPECT_TRUE(all_close(gx, gx64, 1e-5, 1e-4));
  EXPECT_TRUE(all_close(gw, gw64, 1e-5, 1e-4));
  EXPECT_TRUE(all_close(gb, gb64, 1e-5, 1e-4));
}

TEST(BatchNorm, EmptyBatchAndErrors) {
  Tensor rm = zeros({3}), rv = ones({3});
  auto [y, m, s] = ops::batch_norm(ones({0, 3, 4}), {}, {}, rm, rv, NormArgs{});
  EXPECT_EQ(y.shape(), Dims({0, 3, 4}));
  EXPECT_EQ(m.shape(), Dims({3}));
  EXPECT_EQ(to_vector(rm), Vec({0, 0, 0}));
  auto [gx, gw, gb] = ops::batch_norm_backward(ones({0, 3, 4}), ones({0, 3, 4}), ones({3}), m, s, NormArgs{});
  EXPECT_EQ(gx.shape(), Dims({0, 3, 4}));
  EXPECT_TRUE(all_close(gw, zeros({3}), 0, 0));
  EXPECT_TRUE(all_close(gb, zeros({3}), 0, 0));

  expect_error([&] { ops::batch_norm(ones({4, 3}), ones({4}), {}, {}, {}, NormArgs{}); },
               {"batch_norm:", "weight", "[3]", "[4] float32 cpu"});
  expect_error([&] { ops::batch_norm(ones({1, 3}), {}, {}, {}, {}, NormArgs{}); },
               {"batch_norm:", "more than 1 value per channel", "[1, 3]"});
  NormArgs eval;
  eval.training = false;
  expect_error([&] { ops::batch_norm(ones({4, 3}), {}, {}, {}, {}, eval); }, {"batch_norm:", "running_mean", "evaluation"});
  expect_error([&] { ops::batch_norm(ones({4, 3}, kInt64), {}, {}, {}, {}, NormArgs{}); }, {"batch_norm:", "floating", "int64"});
  expect_error([&] { ops::batch_norm(ones({4}), {}, {}, {}, {}, NormArgs{}); }, {"batch_norm:", "(N, C, *)", "[4]"});
  expect_error([&] { ops::batch_norm_backward(ones({4, 2}), ones({4, 3}), {}, ones({3}), ones({3}), NormArgs{}); },
               {"batch_norm_backward:", "grad_out", "[4, 2]", "[4, 3]"});
}

// ---- layer norm ---------------------------------------------------------------------------------

NormRef ref_layer_norm(const Tensor& x, int64_t D, const Tensor& w, const Tensor& b, double eps) {
  return ref_normalize(to_vector(x), x.numel() / D, [=](int64_t i) { return i / D; }, [=](int64_t i) { return i % D; },
                       values(w), values(b), eps);
}

TEST(LayerNorm, ForwardOverTrailingDims) {
  manual_seed(40);
  struct C {
    std::vector<int64_t> shape, norm;
  };
  const C cases[] = {{{4, 7}, {7}}, {{2, 3, 4, 5}, {4, 5}}, {{3, 1}, {1}}, {{6}, {6}}, {{2, 3, 16}, {3, 16}}};
  for (const C& c : cases) {
    for (DType dt : {kFloat64, kFloat32, kBFloat16}) {
      for (bool affine : {true, false}) {
        SCOPED_TRACE(::testing::Message() << IntList(c.shape) << " over " << IntList(c.norm) << " " << dt << " " << affine);
        Tensor x = ops::add(randn(c.shape, dt), scalar_tensor(5.0, dt));
        Tensor w = affine ? randn(c.norm, dt) : Tensor(), b = affine ? randn(c.norm, dt) : Tensor();
        auto [y, mean, rstd] = ops::layer_norm(non_contiguous(x), c.norm, w, b, 1e-5);
        const int64_t D = product(c.norm);
        const NormRef r = ref_layer_norm(x, D, w, b, 1e-5);
        const double tol = dt == kFloat64 ? 1e-10 : dt == kFloat32 ? 1e-5 : 2e-2;
        EXPECT_TRUE(all_close(y, from_values(r.y, x.shape()), tol, tol));
        Dims stat(c.shape);
        for (size_t i = c.shape.size() - c.norm.size(); i < c.shape.size(); ++i) stat[i] = 1;
        ASSERT_EQ(mean.shape(), stat);
        EXPECT_EQ(mean.dtype(), dt == kFloat64 ? kFloat64 : kFloat32);
        EXPECT_TRUE(all_close(mean, from_values(r.mean, stat), tol, tol));
        EXPECT_TRUE(all_close(rstd, from_values(r.invstd, stat), tol, dt == kBFloat16 ? 1e-5 : tol));
      }
    }
  }
}

TEST(LayerNorm, BackwardMatchesFiniteDifferences) {
  manual_seed(41);
  const std::vector<int64_t> shape = {3, 2, 4}, norm = {2, 4};
  for (bool affine : {true, false}) {
    Tensor x = randn(shape, kFloat64), go = randn(shape, kFloat64);
    Tensor w = affine ? randn(norm, kFloat64) : Tensor(), b = affine ? randn(norm, kFloat64) : Tensor();
    auto [y, mean, rstd] = ops::layer_norm(x, norm, w, b, 1e-5);
    auto [gx, gw, gb] = ops::layer_norm_backward(non_contiguous(go), x, norm, w, mean, rstd);
    const Vec vgo = to_vector(go);
    auto loss = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
      return dot(std::get<0>(ops::layer_norm(xx, norm, ww, bb, 1e-5)), vgo);
    };
    Vec ngx = numeric_grad([&](const Vec& v) { return loss(from_values(v, shape), w, b); }, to_vector(x));
    EXPECT_TRUE(all_close(gx, from_values(ngx, shape), 1e-6, 1e-6)) << affine;
    Vec ngb(8, 0.0);
    for (size_t i = 0; i < vgo.size(); ++i) ngb[i % 8] += vgo[i];
    EXPECT_TRUE(all_close(gb, from_values(ngb, norm), 1e-10, 1e-10));
    if (affine) {
      Vec ngw = numeric_grad([&](const Vec& v) { return loss(x, from_values(v, norm), b); }, to_vector(w));
      EXPECT_TRUE(all_close(gw, from_values(ngw, norm), 1e-6, 1e-6));
    } else {
      EXPECT_FALSE(gw.defined());
    }
  }
  // A wide row (several column chunks for grad_w) in float32 against float64.
  Tensor x = randn({33, 300}), go = randn({33, 300}), w = randn({300}), b = randn({300});
  auto [y, m, r] = ops::layer_norm(x, {300}, w, b, 1e-5);
  auto [gx, gw, gb] = ops::layer_norm_backward(go, x, {300}, w, m, r);
  Tensor x64 = ops::to(x, kFloat64), w64 = ops::to(w, kFloat64);
  auto [y64, m64, r64] = ops::layer_norm(x64, {300}, w64, ops::to(b, kFloat64), 1e-5);
  auto [gx64, gw64, gb64] = ops::layer_norm_backward(ops::to(go, kFloat64), x64, {300}, w64, m64, r64);
  EXPECT_TRUE(all_close(gx, gx64, 1e-4, 1e-4));
  EXPECT_TRUE(all_close(gw, gw64, 1e-4, 1e-4));
  EXPECT_TRUE(all_close(gb, gb64, 1e-4, 1e-4));
}

TEST(LayerNorm, EmptyAndErrors) {
  auto [y, m, r] = ops::layer_norm(ones({0, 4}), {4}, ones({4}), {}, 1e-5);
  EXPECT_EQ(y.shape(), Dims({0, 4}));
  EXPECT_EQ(m.shape(), Dims({0, 1}));
  auto [gx, gw, gb] = ops::layer_norm_backward(ones({0, 4}), ones({0, 4}), {4}, ones({4}), m, r);
  EXPECT_EQ(gx.shape(), Dims({0, 4}));
  EXPECT_TRUE(all_close(gw, zeros({4}), 0, 0));
  expect_error([] { ops::layer_norm(ones({2, 3, 4}), {4, 5}, {}, {}, 1e-5); },
               {"layer_norm:", "normalized_shape [4, 5]", "[2, 3, 4] float32 cpu"});
  expect_error([] { ops::layer_norm(ones({2, 4}), {4}, ones({5}), {}, 1e-5); }, {"layer_norm:", "weight", "[4]", "[5]"});
  expect_error([] { ops::layer_norm(ones({2, 4}), {}, {}, {}, 1e-5); }, {"layer_norm:", "normalized_shape"});
  expect_error([] { ops::layer_norm_backward(ones({2, 4}), ones({2, 4}), {4}, {}, ones({3, 1}), ones({3, 1})); },
               {"layer_norm_backward:", "mean", "[2, 1]", "[3, 1]"});
}

// ---- group norm ---------------------------------------------------------------------------------

NormRef ref_group_norm(const Tensor& x, int64_t G, const Tensor& w, const Tensor& b, double eps) {
  const int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C), Cg = C / G;
  return ref_normalize(to_vector(x), N * G, [=](int64_t i) { return (i / (S * C)) * G + ((i / S) % C) / Cg; },
                       [=](int64_t i) { return (i / S) % C; }, values(w), values(b), eps);
}

TEST(GroupNorm, Forward) {
  manual_seed(50);
  struct C {
    std::vector<int64_t> shape;
    int64_t groups;
  };
  const C cases[] = {{{2, 6, 3, 3}, 2}, {{2, 6, 3, 3}, 1}, {{2, 6, 3, 3}, 6}, {{3, 4}, 2}, {{1, 4, 5}, 4}, {{2, 2, 1, 1}, 1}};
  for (const C& c : cases) {
    for (DType dt : {kFloat64, kFloat32, kFloat16}) {
      SCOPED_TRACE(::testing::Message() << IntList(c.shape) << " groups " << c.groups << " " << dt);
      const int64_t Cn = c.shape[1];
      Tensor x = randn(c.shape, dt), w = randn({Cn}, dt), b = randn({Cn}, dt);
      auto [y, mean, rstd] = ops::group_norm(non_contiguous(x), c.groups, w, b, 1e-5);
      const NormRef r = ref_group_norm(x, c.groups, w, b, 1e-5);
      const double tol = dt == kFloat64 ? 1e-10 : dt == kFloat32 ? 1e-5 : 4e-3;
      EXPECT_TRUE(all_close(y, from_values(r.y, x.shape()), tol, tol));
      ASSERT_EQ(mean.shape(), Dims({c.shape[0], c.groups}));
      EXPECT_TRUE(all_close(mean, from_values(r.mean, mean.shape()), tol, tol));
      EXPECT_TRUE(all_close(rstd, from_values(r.invstd, rstd.shape()), tol, dt == kFloat16 ? 1e-4 : tol));
    }
  }
  Tensor x = randn({2, 4, 3}, kFloat64);
  auto [y, m, r] = ops::group_norm(x, 2, {}, {}, 1e-5);
  EXPECT_TRUE(all_close(y, from_values(ref_group_norm(x, 2, {}, {}, 1e-5).y, x.shape()), 1e-10, 1e-10));
}

TEST(GroupNorm, BackwardMatchesFiniteDifferences) {
  manual_seed(51);
  const std::vector<int64_t> shape = {2, 4, 2, 2};
  for (int64_t groups : {1, 2}) {
    for (bool affine : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "groups " << groups << " affine " << affine);
      Tensor x = randn(shape, kFloat64), go = randn(shape, kFloat64);
      Tensor w = affine ? randn({4}, kFloat64) : Tensor(), b = affine ? randn({4}, kFloat64) : Tensor();
      auto [y, mean, rstd] = ops::group_norm(x, groups, w, b, 1e-5);
      auto [gx, gw, gb] = ops::group_norm_backward(non_contiguous(go), x, groups, w, mean, rstd);
      const Vec vgo = to_vector(go);
      auto loss = [&](const Tensor& xx, const Tensor& ww, const Tensor& bb) {
        return dot(std::get<0>(ops::group_norm(xx, groups, ww, bb, 1e-5)), vgo);
      };
      Vec ngx = numeric_grad([&](const Vec& v) { return loss(from_values(v, shape), w, b); }, to_vector(x));
      EXPECT_TRUE(all_close(gx, from_values(ngx, shape), 1e-6, 1e-6));
      Vec ngb(4, 0.0);
      for (size_t i = 0; i < vgo.size(); ++i) ngb[(i / 4) % 4] += vgo[i];
      EXPECT_TRUE(all_close(gb, from_values(ngb, {4}), 1e-10, 1e-10));
      if (affine) {
        Vec ngw = numeric_grad([&](const Vec& v) { return loss(x, from_values(v, {4}), b); }, to_vector(w));
        EXPECT_TRUE(all_close(gw, from_values(ngw, {4}), 1e-6, 1e-6));
      } else {
        EXPECT_FALSE(gw.defined());
      }
    }
  }
}

TEST(GroupNorm, EmptyAndErrors) {
  auto [y, m, r] = ops::group_norm(ones({0, 4, 2}), 2, {}, {}, 1e-5);
  EXPECT_EQ(y.shape(), Dims({0, 4, 2}));
  EXPECT_EQ(m.shape(), Dims({0, 2}));
  auto [gx, gw, gb] = ops::group_norm_backward(ones({0, 4, 2}), ones({0, 4, 2}), 2, ones({4}), m, r);
  EXPECT_TRUE(all_close(gb, zeros({4}), 0, 0));
  expect_error([] { ops::group_norm(ones({2, 6, 3}), 4, {}, {}, 1e-5); }, {"group_norm:", "divisible", "groups=4", "[2, 6, 3]"});
  expect_error([] { ops::group_norm(ones({2, 6, 3}), 0, {}, {}, 1e-5); }, {"group_norm:", "groups=0"});
  expect_error([] { ops::group_norm(ones({2, 6, 3}), 3, ones({3}), {}, 1e-5); }, {"group_norm:", "weight", "[6]", "[3]"});
  expect_error([] { ops::group_norm_backward(ones({2, 6, 3}), ones({2, 6, 3}), 3, {}, ones({2, 2}), ones({2, 3})); },
               {"group_norm_backward:", "mean", "[2, 3]", "[2, 2]"});
}

}  // namespace
}  // namespace ember
