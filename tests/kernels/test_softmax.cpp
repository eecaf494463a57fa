// Tests of softmax, log_softmax, their backward passes, nll_loss and
// cross_entropy (tensor/ops_softmax.cpp, kernels/cpu/softmax*.cpp) against
// naive references over std::vector<double>, and of every backward pass
// against central finite differences of the forward in float64.
//
// Tolerances: float64 1e-12 relative (1e-6 absolute against finite
// differences with step 1e-6); float32 1e-5 relative with 1e-6 absolute;
// float16/bfloat16 1e-2 relative with 1e-3 absolute.
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

EMBER_OP_TESTED(softmax);
EMBER_OP_TESTED(log_softmax);
EMBER_OP_TESTED(softmax_backward);
EMBER_OP_TESTED(log_softmax_backward);
EMBER_OP_TESTED(nll_loss);
EMBER_OP_TESTED(nll_loss_backward);
EMBER_OP_TESTED(cross_entropy);
EMBER_OP_TESTED(cross_entropy_backward);

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double atol_for(DType dt) { return dt == kFloat64 ? 1e-12 : dt == kFloat32 ? 1e-6 : 1e-3; }
double rtol_for(DType dt) { return dt == kFloat64 ? 1e-12 : dt == kFloat32 ? 1e-5 : 1e-2; }

// Calls f(base, stride, n) for every 1-D line of `shape` along dim (flat offsets).
void for_each_line(const std::vector<int64_t>& shape, int64_t dim, const std::function<void(int64_t, int64_t, int64_t)>& f) {
  int64_t inner = 1, outer = 1;
  for (size_t d = static_cast<size_t>(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  for (size_t d = 0; d < static_cast<size_t>(dim); ++d) outer *= shape[d];
  const int64_t n = shape[static_cast<size_t>(dim)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) f(o * n * inner + i, inner, n);
}

// Naive (log_)softmax in double along dim.
Tensor ref_softmax(const Tensor& x, int64_t dim, bool log) {
  std::vector<double> v = to_vector(x), out(v.size());
  const std::vector<int64_t> shape = x.shape().vec();
  if (dim < 0) dim += x.dim();
  for_each_line(shape, dim, [&](int64_t b, int64_t s, int64_t n) {
    double m = -kInf;
    for (int64_t k = 0; k < n; ++k) m = std::max(m, v[static_cast<size_t>(b + k * s)]);
    double sum = 0;
    for (int64_t k = 0; k < n; ++k) sum += std::exp(v[static_cast<size_t>(b + k * s)] - m);
    for (int64_t k = 0; k < n; ++k) {
      double e = v[static_cast<size_t>(b + k * s)] - m;
      out[static_cast<size_t>(b + k * s)] = log ? e - std::log(sum) : std::exp(e) / sum;
    }
  });
  return from_values(out, shape);
}

// Naive backward from y along dim.
Tensor ref_softmax_backward(const Tensor& g, const Tensor& y, int64_t dim, bool log) {
  std::vector<double> gv = to_vector(g), yv = to_vector(y), out(gv.size());
  const std::vector<int64_t> shape = y.shape().vec();
  if (dim < 0) dim += y.dim();
  for_each_line(shape, dim, [&](int64_t b, int64_t s, int64_t n) {
    double dot = 0;
    for (int64_t k = 0; k < n; ++k) {
      size_t a = static_cast<size_t>(b + k * s);
      dot += log ? gv[a] : gv[a] * yv[a];
    }
    for (int64_t k = 0; k < n; ++k) {
      size_t a = static_cast<size_t>(b + k * s);
      out[a] = log ? gv[a] - std::exp(yv[a]) * dot : yv[a] * (gv[a] - dot);
    }
  });
  return from_values(out, shape);
}

// Central finite differences of sum(g * f(x)) with respect to x (float64, contiguous x).
Tensor numeric_grad(const Tensor& x, const std::function<Tensor(const Tensor&)>& f, const Tensor& g) {
  std::vector<double> xv = to_vector(x), gv = to_vector(g), out(xv.size());
  const double h = 1e-6;
  for (size_t i = 0; i < xv.size(); ++i) {
    auto eval = [&](double delta) {
      std::vector<double> p = xv;
      p[i] += delta;
      std::vector<double> fv = to_vector(f(from_values(p, x.shape())));
      double s = 0;
      for (size_t k = 0; k < fv.size(); ++k) s += gv[k] * fv[k];
      return s;
    };
    out[i] = (eval(h) - eval(-h)) / (2 * h);
  }
  return from_values(out, x.shape());
}

// ---- softmax / log_softmax ---------------------------------------------------------------

TEST(Softmax, ForwardMatchesReference) {
  manual_seed(21);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    Tensor x = ops::to(ops::mul(randn({3, 4, 70}), full({}, 3.0)), dt);
    for (int64_t dim : {0, 1, 2, -1}) {
      for (const Tensor& in : {x, non_contiguous(x)}) {
        Tensor s = ops::softmax(in, dim), l = ops::log_softmax(in, dim);
        EXPECT_EQ(s.dtype(), dt);
        EXPECT_TRUE(all_close(s, ref_softmax(x, dim, false), atol_for(dt), rtol_for(dt))) << dt << " dim " << dim;
        EXPECT_TRUE(all_close(l, ref_softmax(x, dim, true), atol_for(dt) * 10, rtol_for(dt))) << dt << " dim " << dim;
      }
    }
  }
}

TEST(Softmax, WideColumnsSpanSeveralTiles) {
  manual_seed(25);
  Tensor x = randn({3, 1030}, kFloat64), g = randn({3, 1030}, kFloat64);
  Tensor y = ops::softmax(x, 0), ly = ops::log_softmax(x, 0);
  EXPECT_TRUE(all_close(y, ref_softmax(x, 0, false), 1e-15, 1e-12));
  EXPECT_TRUE(all_close(ly, ref_softmax(x, 0, true), 1e-15, 1e-12));
  EXPECT_TRUE(all_close(ops::softmax_backward(g, y, 0), ref_softmax_backward(g, y, 0, false), 1e-15, 1e-12));
  EXPECT_TRUE(all_close(ops::log_softmax_backward(g, ly, 0), ref_softmax_backward(g, ly, 0, true), 1e-15, 1e-12));
}

TEST(Softmax, KnownValuesAndStability) {
  // softmax([1, 2, 3]) = [0.09003057317038048, 0.2447284710547977, 0.665240955774822].
  Tensor want = tensor({0.09003057317038048, 0.2447284710547977, 0.665240955774822}, kFloat64);
  EXPECT_TRUE(all_close(ops::softmax(tensor({1.0, 2.0, 3.0}, kFloat64), 0), want, 1e-15, 1e-14));
  // Shifted by 1000 (exp would overflow without the max subtraction).
  EXPECT_TRUE(all_close(ops::softmax(tensor({1001.0, 1002.0, 1003.0}), 0), ops::to(want, kFloat32), 1e-6, 1e-5));
  EXPECT_TRUE(all_close(ops::log_softmax(tensor({-1000.0, 0.0}), 0), tensor({-1000.0, 0.0}), 1e-6, 1e-6));
  // -inf entries are masked out; a row of only -inf, or one holding NaN, is NaN.
  Tensor m = tensor({{-kInf, 0.0, 0.0}, {-kInf, -kInf, -kInf}, {1.0, kNaN, 2.0}});
  EXPECT_TRUE(all_close(ops::softmax(m, 1), tensor({{0.0, 0.5, 0.5}, {kNaN, kNaN, kNaN}, {kNaN, kNaN, kNaN}}), 1e-7, 0));
  EXPECT_TRUE(all_close(ops::log_softmax(m, 1).select(0, 0), tensor({-kInf, -std::log(2.0), -std::log(2.0)}), 1e-6, 0));
}

TEST(Softmax, EdgeShapesAndErrors) {
  EXPECT_EQ(ops::softmax(scalar_tensor(3.0), 0).item<double>(), 1.0);
  EXPECT_EQ(ops::log_softmax(scalar_tensor(3.0), -1).item<double>(), 0.0);
  EXPECT_EQ(ops::softmax(zeros({0, 4}), 1).shape(), Dims({0, 4}));
  EXPECT_EQ(ops::softmax(zeros({4, 0}), 1).shape(), Dims({4, 0}));
  EXPECT_TRUE(all_close(ops::softmax(zeros({3, 1}), 1), ones({3, 1}), 0, 0));
  expect_error([] { ops::softmax(tensor({1, 2}), 0); }, {"softmax", "floating", "[2] int64 cpu"});
  expect_error([] { ops::log_softmax(zeros({2, 3}), 2); }, {"log_softmax", "dim 2"});
  expect_error([] { ops::softmax_backward(zeros({2, 3}), zeros({3, 2}), 1); },
               {"softmax_backward", "[2, 3] float32 cpu", "[3, 2] float32 cpu"});
}

TEST(Softmax, BackwardMatchesReferenceAndFiniteDifferences) {
  manual_seed(22);
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    Tensor x = ops::to(randn({3, 4, 5}), dt), g = ops::to(randn({3, 4, 5}), dt);
    for (int64_t dim : {0, 1, -1}) {
      Tensor y = ops::softmax(x, dim), ly = ops::log_softmax(x, dim);
      for (const Tensor& gin : {g, non_contiguous(g)}) {
        EXPECT_TRUE(all_close(ops::softmax_backward(gin, non_contiguous(y), dim), ref_softmax_backward(g, y, dim, false),
                              atol_for(dt) * 10, rtol_for(dt)))
            << dt << " dim " << dim;
        EXPECT_TRUE(all_close(ops::log_softmax_backward(gin, ly, dim), ref_softmax_backward(g, ly, dim, true),
                              atol_for(dt) * 10, rtol_for(dt)))
            << dt << " dim " << dim;
      }
    }
  }
  // Finite differences of the forward (float64).
  Tensor x = randn({2, 3, 4}, kFloat64), g = randn({2, 3, 4}, kFloat64);
  for (int64_t dim : {0, 1, 2}) {
    auto sm = [dim](const Tensor& t) { return ops::softmax(t, dim); };
    auto lsm = [dim](const Tensor& t) { return ops::log_softmax(t, dim); };
    EXPECT_TRUE(all_close(ops::softmax_backward(g, sm(x), dim), numeric_grad(x, sm, g), 1e-6, 1e-5)) << dim;
    EXPECT_TRUE(all_close(ops::log_softmax_backward(g, lsm(x), dim), numeric_grad(x, lsm, g), 1e-6, 1e-5)) << dim;
  }
}

// ---- losses ----------------------------------------------------------------------------------

// Naive loss: input (N, C, D...) as doubles, target (N, D...), optional weight; Reduction as args.
// CrossEntropy = true applies log_softmax over the class dim and label smoothing.
Tensor ref_loss(const Tensor& input, const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args,
                bool cross_entropy) {
  Tensor in = input.dim() == 1 ? input.reshape({1, input.size(0)}) : input;
  std::vector<double> x = to_vector(cross_entropy ? ref_softmax(in, 1, true) : in);
  std::vector<double> t = to_vector(target);
  const int64_t N = in.size(0), C = in.size(1), D = in.numel() / std::max<int64_t>(1, N * C);
  std::vector<double> w = weight.defined() ? to_vector(weight) : std::vector<double>(static_cast<size_t>(C), 1.0);
  const double eps = args.label_smoothing;
  std::vector<double> loss;
  double total = 0, wsum = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t d = 0; d < D; ++d) {
      int64_t tr = static_cast<int64_t>(t[static_cast<size_t>(n * D + d)]);
      if (tr == args.ignore_index) {
        loss.push_back(0.0);
        continue;
      }
      auto logp = [&](int64_t c) { return x[static_cast<size_t>((n * C + c) * D + d)]; };
      double l = -w[static_cast<size_t>(tr)] * logp(tr);
      if (cross_entropy && eps > 0) {
        double smooth = 0;
        for (int64_t c = 0; c < C; ++c) smooth -= w[static_cast<size_t>(c)] * logp(c);
        l = (1 - eps) * l + eps / static_cast<double>(C) * smooth;
      }
      loss.push_back(l);
      total += l;
      wsum += w[static_cast<size_t>(tr)];
    }
  }
  if (args.reduction == Reduction::None) return from_values(loss, target.shape());
  return from_values({args.reduction == Reduction::Mean ? total / wsum : total}, {});
}

CrossEntropyArgs make_args(Reduction r, int64_t ignore = -100, double eps = 0.0) {
  CrossEntropyArgs a;
  a.reduction = r;
  a.ignore_index = ignore;
  a.label_smoothing = eps;
  return a;
}

// Targets in [0, C) with some set to `ignore` when it is a valid class or -100.
Tensor random_targets(IntList shape, int64_t C, int64_t ignore) {
  Tensor t = randint(0, C, shape);
  if (ignore == -100 && t.numel() > 1) {
    std::vector<double> v = to_vector(t);
    v[1] = -100;
    t = ops::to(from_values(v, shape), kInt64);
  }
  return t;
}

struct LossCase {
  std::vector<int64_t> input_shape;
  std::vector<int64_t> target_shape;
};
const std::vector<LossCase> kLossCases = {
    {{6, 5}, {6}}, {{4, 3, 2, 3}, {4, 2, 3}}, {{2, 4, 7}, {2, 7}}, {{5}, {}}, {{1, 1}, {1}}};

TEST(Loss, NllAndCrossEntropyMatchReference) {
  manual_seed(23);
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    for (const LossCase& lc : kLossCases) {
      const int64_t C = lc.input_shape.size() == 1 ? lc.input_shape[0] : lc.input_shape[1];
      Tensor x = ops::to(randn(lc.input_shape), dt);
      for (int64_t ignore : {int64_t{-100}, int64_t{0}}) {
        Tensor target = random_targets(lc.target_shape, C, ignore);
        for (bool weighted : {false, true}) {
          Tensor w = weighted ? ops::to(ops::add(rand({C}), full({}, 0.5)), dt) : Tensor();
          for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
            for (double eps : {0.0, 0.1, 1.0}) {
              CrossEntropyArgs a = make_args(r, ignore, eps);
              Tensor ce = ops::cross_entropy(x, target, w, a);
              EXPECT_EQ(ce.dtype(), dt);
              // Sum and mean of bfloat16 inputs are compared to the output's rounding.
              EXPECT_TRUE(all_close(ce, ref_loss(x, target, w, a, true), atol_for(dt) * 10, rtol_for(dt)))
                  << dt << " input " << IntList(lc.input_shape) << " ignore " << ignore << " weighted " << weighted
                  << " reduction " << static_cast<int>(r) << " eps " << eps;
              if (eps != 0.0) continue;
              Tensor logp = ops::log_softmax(x, lc.input_shape.size() == 1 ? 0 : 1);
              Tensor nll = ops::nll_loss(logp, target, w, a);
              EXPECT_TRUE(all_close(nll, ref_loss(logp, target, w, a, false), atol_for(dt) * 10, rtol_for(dt)))
                  << dt << " input " << IntList(lc.input_shape) << " reduction " << static_cast<int>(r);
            }
          }
        }
      }
    }
  }
}

TEST(Loss, KnownValues) {
  // cross_entropy([[1, 2, 3]], [0]) = log(e + e^2 + e^3) - 1 = 2.40760596444438.
  Tensor x = tensor({{1.0, 2.0, 3.0}}, kFloat64);
  Tensor t = tensor({0});
  EXPECT_NEAR(ops::cross_entropy(x, t).item<double>(), 2.40760596444438, 1e-12);
  // With label smoothing 0.1: 0.9 * 2.4076... + 0.1 / 3 * sum_c (lse - x_c) = 2.30760596444438.
  EXPECT_NEAR(ops::cross_entropy(x, t, {}, make_args(Reduction::Mean, -100, 0.1)).item<double>(), 2.30760596444438,
              1e-12);
  // Weighted mean with an ignored row divides by the weights of the kept rows:
  // rows 0 and 1 both have -logp = 0.40760596444438 at their targets, weights 3 and 0.2.
  Tensor x3 = tensor({{1.0, 2.0, 3.0}, {1.0, 0.0, -1.0}, {0.0, 0.0, 0.0}}, kFloat64);
  Tensor t3 = tensor({2, 0, 1});
  Tensor w = tensor({0.2, 1.0, 3.0}, kFloat64);
  EXPECT_NEAR(ops::cross_entropy(x3, t3, w, make_args(Reduction::Mean, 1)).item<double>(), 0.40760596444438, 1e-12);
  EXPECT_NEAR(ops::cross_entropy(x3, t3, w, make_args(Reduction::Sum, 1)).item<double>(), 3.2 * 0.40760596444438,
              1e-12);
  // nll_loss picks -x[t] per row.
  Tensor lp = tensor({{-1.0, -2.0}, {-3.0, -4.0}}, kFloat64);
  EXPECT_TRUE(all_close(ops::nll_loss(lp, tensor({1, 0}), {}, make_args(Reduction::None)), tensor({2.0, 3.0}, kFloat64)));
  EXPECT_NEAR(ops::nll_loss(lp, tensor({1, 0})).item<double>(), 2.5, 1e-12);
}

TEST(Loss, EdgeCases) {
  // Every target ignored: mean is 0 / 0 = NaN, sum is 0.
  Tensor x = zeros({2, 3});
  Tensor t = tensor({-100, -100});
  EXPECT_TRUE(std::isnan(ops::cross_entropy(x, t).item<double>()));
  EXPECT_EQ(ops::cross_entropy(x, t, {}, make_args(Reduction::Sum)).item<double>(), 0.0);
  // Empty batch.
  Tensor e = zeros({0, 3});
  Tensor te = zeros({0}, kInt64);
  EXPECT_TRUE(std::isnan(ops::nll_loss(e, te).item<double>()));
  EXPECT_EQ(ops::cross_entropy(e, te, {}, make_args(Reduction::Sum)).item<double>(), 0.0);
  EXPECT_EQ(ops::cross_entropy(e, te, {}, make_args(Reduction::None)).shape(), Dims({0}));
  EXPECT_EQ(ops::cross_entropy_backward(zeros({0}), e, te, {}, make_args(Reduction::None)).shape(), Dims({0, 3}));
  // 1-D input with a 0-dim target gives a 0-dim loss even with reduction none.
  Tensor one = ops::cross_entropy(tensor({1.0, 2.0, 3.0}), scalar_tensor(2, kInt64), {}, make_args(Reduction::None));
  EXPECT_EQ(one.dim(), 0);
  EXPECT_NEAR(one.item<double>(), 0.40760596444438, 1e-6);
  // Stability: huge logits.
  EXPECT_NEAR(ops::cross_entropy(tensor({{1000.0, 0.0}}), tensor({1})).item<double>(), 1000.0, 1e-3);
}

TEST(Loss, ErrorsNameValuesAndShapes) {
  Tensor x = zeros({2, 3});
  expect_error([&] { ops::cross_entropy(x, tensor({0, 3})); }, {"cross_entropy", "target 3", "out of bounds", "3 classes"});
  expect_error([&] { ops::nll_loss(x, tensor({-1, 0})); }, {"nll_loss", "target -1", "3 classes"});
  expect_error([&] { ops::nll_loss_backward(scalar_tensor(1.0, kFloat32), x, tensor({0, 7}), {}, {}); },
               {"nll_loss_backward", "target 7", "3 classes"});
  expect_error([&] { ops::cross_entropy(x, tensor({0, 1, 2})); },
               {"cross_entropy", "target of shape [2]", "[2, 3] float32 cpu", "[3] int64 cpu"});
  expect_error([&] { ops::cross_entropy(x, zeros({2})); }, {"cross_entropy", "integer", "[2] float32 cpu"});
  expect_error([&] { ops::cross_entropy(tensor({1, 2}), tensor({0, 1})); }, {"cross_entropy", "floating", "int64"});
  expect_error([&] { ops::cross_entropy(x, tensor({0, 1}), ones({2})); }, {"cross_entropy", "weight", "3 classes", "[2]"});
  expect_error([&] { ops::cross_entropy(x, tensor({0, 1}), {}, make_args(Reduction::Mean, -100, 1.5)); },
               {"cross_entropy", "label_smoothing", "1.5"});
  expect_error([&] { ops::nll_loss(x, tensor({0, 1}), {}, make_args(Reduction::Mean, -100, 0.1)); },
               {"nll_loss", "label_smoothing"});
  expect_error([&] { ops::cross_entropy(tensor({1.0, 2.0}), tensor({0})); }, {"cross_entropy", "0-dim target", "[1]"});
  expect_error([&] { ops::cross_entropy_backward(zeros({2}), x, tensor({0, 1}), {}, {}); },
               {"cross_entropy_backward", "one-element grad", "[2] float32 cpu"});
}

TEST(Loss, BackwardMatchesFiniteDifferences) {
  manual_seed(24);
  for (const LossCase& lc : kLossCases) {
    const int64_t C = lc.input_shape.size() == 1 ? lc.input_shape[0] : lc.input_shape[1];
    Tensor x = randn(lc.input_shape, kFloat64);
    Tensor target = random_targets(lc.target_shape, C, -100);
    for (bool weighted : {false, true}) {
      Tensor w = weighted ? ops::add(rand({C}, kFloat64), full({}, 0.5, kFloat64)) : Tensor();
      for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
        Tensor g = r == Reduction::None ? randn(lc.target_shape, kFloat64) : full({}, 1.7, kFloat64);
        for (double eps : {0.0, 0.2}) {
          CrossEntropyArgs a = make_args(r, -100, eps);
          auto ce = [&](const Tensor& t) { return ops::cross_entropy(t, target, w, a); };
          Tensor got = ops::cross_entropy_backward(g, x, target, w, a);
          EXPECT_TRUE(all_close(got, numeric_grad(x, ce, g), 1e-6, 1e-5))
              << "input " << IntList(lc.input_shape) << " weighted " << weighted << " reduction "
              << static_cast<int>(r) << " eps " << eps;
          // float32 agrees with float64.
          Tensor got32 = ops::cross_entropy_backward(ops::to(g, kFloat32), ops::to(x, kFloat32), target,
                                                     w.defined() ? ops::to(w, kFloat32) : w, a);
          EXPECT_TRUE(all_close(got32, got, 1e-6, 1e-4));
        }
        CrossEntropyArgs a = make_args(r, -100, 0.0);
        auto nll = [&](const Tensor& t) { return ops::nll_loss(t, target, w, a); };
        EXPECT_TRUE(all_close(ops::nll_loss_backward(g, x, target, w, a), numeric_grad(x, nll, g), 1e-6, 1e-5))
            << "input " << IntList(lc.input_shape) << " weighted " << weighted << " reduction " << static_cast<int>(r);
        // Non-contiguous logits give the same gradient.
        if (x.dim() >= 2) {
          EXPECT_TRUE(all_close(ops::cross_entropy_backward(g, non_contiguous(x), target, w, a),
                                ops::cross_entropy_backward(g, x, target, w, a), 0, 0));
        }
      }
    }
  }
}

}  // namespace
}  // namespace ember
