// Tests of the element-wise core: unary, binary and ternary ops, copies, fills,
// ranges and random fills (tensor/ops_unary.cpp, ops_binary.cpp, ops_copy.cpp,
// factory.cpp, random.cpp; kernels/cpu/unary.cpp, binary.cpp, copy.cpp,
// random.cpp). Each op is checked against a naive std:: reference computed in
// double from the very input values the op saw (after rounding to its dtype).
//
// Tolerances (|got - ref| <= atol + rtol |ref|):
//   float64  atol 1e-12, rtol 1e-12   (same libm functions, other association)
//   float32  atol 1e-6,  rtol 1e-5    (computed in float)
//   float16  atol 1e-3,  rtol 2e-3    (half an ulp is 2^-11 relative)
//   bfloat16 atol 8e-3,  rtol 8e-3    (half an ulp is 2^-9 relative)
//   integers and comparisons: exact.
// Random fills are checked with bounds of about 5 standard errors of the
// statistic for 1e5 samples, so a correct generator fails with probability < 1e-6.
#include <cmath>
#include <functional>
#include <numeric>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(neg);
EMBER_OP_TESTED(abs);
EMBER_OP_TESTED(sign);
EMBER_OP_TESTED(exp);
EMBER_OP_TESTED(log);
EMBER_OP_TESTED(log1p);
EMBER_OP_TESTED(sqrt);
EMBER_OP_TESTED(rsqrt);
EMBER_OP_TESTED(sin);
EMBER_OP_TESTED(cos);
EMBER_OP_TESTED(tanh);
EMBER_OP_TESTED(sigmoid);
EMBER_OP_TESTED(relu);
EMBER_OP_TESTED(leaky_relu);
EMBER_OP_TESTED(gelu);
EMBER_OP_TESTED(silu);
EMBER_OP_TESTED(softplus);
EMBER_OP_TESTED(pow_scalar);
EMBER_OP_TESTED(clamp);
EMBER_OP_TESTED(reciprocal);
EMBER_OP_TESTED(logical_not);
EMBER_OP_TESTED(add);
EMBER_OP_TESTED(sub);
EMBER_OP_TESTED(mul);
EMBER_OP_TESTED(div);
EMBER_OP_TESTED(pow);
EMBER_OP_TESTED(maximum);
EMBER_OP_TESTED(minimum);
EMBER_OP_TESTED(eq);
EMBER_OP_TESTED(ne);
EMBER_OP_TESTED(lt);
EMBER_OP_TESTED(le);
EMBER_OP_TESTED(gt);
EMBER_OP_TESTED(ge);
EMBER_OP_TESTED(logical_and);
EMBER_OP_TESTED(logical_or);
EMBER_OP_TESTED(gelu_backward);
EMBER_OP_TESTED(relu_backward);
EMBER_OP_TESTED(where);
EMBER_OP_TESTED(masked_fill);
EMBER_OP_TESTED(addcmul);
EMBER_OP_TESTED(addcdiv);
EMBER_OP_TESTED(copy);
EMBER_OP_TESTED(fill);
EMBER_OP_TESTED(arange);
EMBER_OP_TESTED(linspace);
EMBER_OP_TESTED(eye);
EMBER_OP_TESTED(uniform);
EMBER_OP_TESTED(normal);
EMBER_OP_TESTED(randint);
EMBER_OP_TESTED(dropout);

const DType kAllDtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool};

struct Tol {
  double atol, rtol;
};
Tol tol_for(DType dt) {
  switch (dt.kind) {
    case DType::Float64: return {1e-12, 1e-12};
    case DType::Float32: return {1e-6, 1e-5};
    case DType::Float16: return {1e-3, 2e-3};
    case DType::BFloat16: return {8e-3, 8e-3};
    default: return {0, 0};
  }
}

// Values uniform in [lo, hi), rounded to dtype (whole numbers when `whole`).
Tensor uniform_input(IntList shape, double lo, double hi, DType dt, bool whole = false) {
  std::vector<double> v = to_vector(rand(shape, kFloat64));
  for (double& x : v) {
    x = lo + (hi - lo) * x;
    if (whole) x = std::floor(x);
  }
  return from_values(v, shape, dt);
}

// f applied to every element of x, as a float64 tensor.
Tensor map_ref(const Tensor& x, const std::function<double(double)>& f) {
  std::vector<double> v = to_vector(x);
  for (double& e : v) e = f(e);
  return from_values(v, x.shape(), kFloat64);
}

// f(a, b) under broadcasting, as a float64 tensor of the broadcast shape.
Tensor map_ref2(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  const size_t nd = static_cast<size_t>(std::max(a.dim(), b.dim()));
  std::vector<int64_t> shape(nd);
  auto size_at = [&](const Tensor& t, size_t d) {
    size_t off = nd - static_cast<size_t>(t.dim());
    return d < off ? int64_t{1} : t.shape()[d - off];
  };
  for (size_t d = 0; d < nd; ++d) shape[d] = std::max(size_at(a, d), size_at(b, d));
  for (size_t d = 0; d < nd; ++d)
    if (size_at(a, d) == 0 || size_at(b, d) == 0) shape[d] = 0;
  auto av = to_vector(a), bv = to_vector(b);
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t flat = 0; flat < n; ++flat) {
    int64_t rem = flat, ia = 0, ib = 0, sa = 1, sb = 1;
    for (size_t d = nd; d-- > 0;) {
      int64_t c = rem % shape[d];
      rem /= shape[d];
      int64_t da = size_at(a, d), db = size_at(b, d);
      ia += (da == 1 ? 0 : c) * sa;
      ib += (db == 1 ? 0 : c) * sb;
      sa *= da;
      sb *= db;
    }
    out[static_cast<size_t>(flat)] = f(av[static_cast<size_t>(ia)], bv[static_cast<size_t>(ib)]);
  }
  return from_values(out, shape, kFloat64);
}


double sigmoid_ref(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double gelu_erf_ref(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }
double gelu_tanh_ref(double v) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return 0.5 * v * (1.0 + std::tanh(k * (v + 0.044715 * v * v * v)));
}
double gelu_erf_grad_ref(double v) {
  return 0.5 * (1.0 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * 3.14159265358979323846);
}
double gelu_tanh_grad_ref(double v) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846), c = 0.044715;
  const double th = std::tanh(k * (v + c * v * v * v));
  return 0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * k * (1.0 + 3.0 * c * v * v);
}
double softplus_ref(double v, double beta, double threshold) {
  return v * beta > threshold ? v : std::log1p(std::exp(beta * v)) / beta;
}

// ---- unary ----------------------------------------------------------------------------------

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
  std::function<double(double)> ref;
  double lo, hi;  // input domain
};

std::vector<UnaryCase> float_unary_cases() {
  using T = const Tensor&;
  return {
      {"neg", [](T x) { return ops::neg(x); }, [](double v) { return -v; }, -3, 3},
      {"abs", [](T x) { return ops::abs(x); }, [](double v) { return std::fabs(v); }, -3, 3},
      {"sign", [](T x) { return ops::sign(x); }, [](double v) { return double((v > 0) - (v < 0)); }, -3, 3},
      {"exp", [](T x) { return ops::exp(x); }, [](double v) { return std::exp(v); }, -3, 3},
      {"log", [](T x) { return ops::log(x); }, [](double v) { return std::log(v); }, 0.05, 5},
      {"log1p", [](T x) { return ops::log1p(x); }, [](double v) { return std::log1p(v); }, -0.9, 3},
      {"sqrt", [](T x) { return ops::sqrt(x); }, [](double v) { return std::sqrt(v); }, 0, 5},
      {"rsqrt", [](T x) { return ops::rsqrt(x); }, [](double v) { return 1.0 / std::sqrt(v); }, 0.05, 5},
      {"sin", [](T x) { return ops::sin(x); }, [](double v) { return std::sin(v); }, -4, 4},
      {"cos", [](T x) { return ops::cos(x); }, [](double v) { return std::cos(v); }, -4, 4},
      {"tanh", [](T x) { return ops::tanh(x); }, [](double v) { return std::tanh(v); }, -3, 3},
      {"sigmoid", [](T x) { return ops::sigmoid(x); }, sigmoid_ref, -6, 6},
      {"relu", [](T x) { return ops::relu(x); }, [](double v) { return v > 0 ? v : 0.0; }, -3, 3},
      {"leaky_relu", [](T x) { return ops::leaky_relu(x, 0.2); }, [](double v) { return v > 0 ? v : 0.2 * v; }, -3, 3},
      {"leaky_relu_default", [](T x) { return ops::leaky_relu(x); }, [](double v) { return v > 0 ? v : 0.01 * v; }, -3, 3},
      {"gelu", [](T x) { return ops::gelu(x); }, gelu_erf_ref, -4, 4},
      {"gelu_tanh", [](T x) { return ops::gelu(x, "tanh"); }, gelu_tanh_ref, -4, 4},
      {"silu", [](T x) { return ops::silu(x); }, [](double v) { return v * sigmoid_ref(v); }, -4, 4},
      {"softplus", [](T x) { return ops::softplus(x); }, [](double v) { return softplus_ref(v, 1, 20); }, -5, 5},
      {"softplus_beta", [](T x) { return ops::softplus(x, 2.0, 3.0); }, [](double v) { return softplus_ref(v, 2, 3); }, -3, 3},
      {"pow2", [](T x) { return ops::pow(x, 2); }, [](double v) { return v * v; }, -3, 3},
      {"pow3", [](T x) { return ops::pow(x, 3.0); }, [](double v) { return v * v * v; }, -2, 2},
      {"pow_half", [](T x) { return ops::pow(x, 0.5); }, [](double v) { return std::sqrt(v); }, 0, 4},
      {"pow_neg", [](T x) { return ops::pow(x, -1.5); }, [](double v) { return std::pow(v, -1.5); }, 0.25, 4},
      {"clamp", [](T x) { return ops::clamp(x, -0.5, 0.75); }, [](double v) { return std::min(std::max(v, -0.5), 0.75); }, -2, 2},
      {"clamp_min", [](T x) { return ops::clamp(x, 0.25, std::nullopt); }, [](double v) { return std::max(v, 0.25); }, -2, 2},
      {"clamp_max", [](T x) { return ops::clamp(x, std::nullopt, -0.25); }, [](double v) { return std::min(v, -0.25); }, -2, 2},
      {"reciprocal", [](T x) { return ops::reciprocal(x); }, [](double v) { return 1.0 / v; }, 0.25, 4},
      {"reciprocal_neg", [](T x) { return ops::reciprocal(x); }, [](double v) { return 1.0 / v; }, -4, -0.25},
  };
}

TEST(Unary, FloatOpsMatchReference) {
  manual_seed(100);
  const std::vector<std::vector<int64_t>> shapes = {{3, 7}, {1, 1, 5}, {0, 3}, {}, {300}};
  for (const auto& c : float_unary_cases()) {
    for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
      const Tol t = tol_for(dt);
      for (const auto& shape : shapes) {
        Tensor x = uniform_input(shape, c.lo, c.hi, dt);
        Tensor y = c.fn(x);
        ASSERT_EQ(y.shape(), x.shape()) << c.name;
        EXPECT_EQ(y.dtype(), dt) << c.name;
        EXPECT_TRUE(all_close(y, map_ref(x, c.ref), t.atol, t.rtol)) << c.name << " on " << x.describe();
      }
      // Non-contiguous (transposed), strided (step 2) and broadcast (stride 0) inputs.
      Tensor nc = non_contiguous(uniform_input({4, 6}, c.lo, c.hi, dt));
      EXPECT_FALSE(nc.is_contiguous());
      EXPECT_TRUE(all_close(c.fn(nc), map_ref(nc, c.ref), t.atol, t.rtol)) << c.name << " transposed " << dt;
      Tensor sl = uniform_input({8, 3}, c.lo, c.hi, dt).slice(0, 1, {}, 2);
      EXPECT_TRUE(all_close(c.fn(sl), map_ref(sl, c.ref), t.atol, t.rtol)) << c.name << " sliced " << dt;
      Tensor ex = uniform_input({1, 3}, c.lo, c.hi, dt).expand({4, 3});
      EXPECT_TRUE(all_close(c.fn(ex), map_ref(ex, c.ref), t.atol, t.rtol)) << c.name << " expanded " << dt;
    }
  }
}

TEST(Unary, IntegerOpsKeepDtype) {
  manual_seed(101);
  for (DType dt : {kInt64, kInt32}) {
    Tensor x = uniform_input({5, 4}, -10, 10, dt, true);
    auto exact = [&](const Tensor& y, const std::function<double(double)>& f, const char* what) {
      EXPECT_EQ(y.dtype(), dt) << what;
      EXPECT_TRUE(all_close(y, map_ref(x, f), 0, 0)) << what << " " << dt;
    };
    exact(ops::neg(x), [](double v) { return -v; }, "neg");
    exact(ops::abs(x), [](double v) { return std::fabs(v); }, "abs");
    exact(ops::sign(x), [](double v) { return double((v > 0) - (v < 0)); }, "sign");
    exact(ops::relu(x), [](double v) { return std::max(v, 0.0); }, "relu");
    exact(ops::clamp(x, -3, 4), [](double v) { return std::min(std::max(v, -3.0), 4.0); }, "clamp");
    exact(ops::pow(x, 3), [](double v) { return v * v * v; }, "pow3");
    exact(ops::pow(x, 0), [](double) { return 1.0; }, "pow0");
  }
  Tensor u = ops::to(ember::tensor({0, 7, 255}), kUInt8);
  EXPECT_EQ(to_vector(ops::abs(u)), (std::vector<double>{0, 7, 255}));
  EXPECT_EQ(to_vector(ops::clamp(u, 5, 200)), (std::vector<double>{5, 7, 200}));
  EXPECT_EQ(ops::relu(u).dtype(), kUInt8);
}

TEST(Unary, IntegerInputsPromoteToFloat) {
  Tensor x = ember::tensor({1, 2, 4});
  const Tol t = tol_for(kFloat32);
  const std::vector<std::pair<Tensor, std::function<double(double)>>> cases = {
      {ops::exp(x), [](double v) { return std::exp(v); }},   {ops::log(x), [](double v) { return std::log(v); }},
      {ops::sqrt(x), [](double v) { return std::sqrt(v); }}, {ops::sin(x), [](double v) { return std::sin(v); }},
      {ops::tanh(x), [](double v) { return std::tanh(v); }}, {ops::sigmoid(x), sigmoid_ref},
      {ops::reciprocal(x), [](double v) { return 1 / v; }},  {ops::pow(x, 0.5), [](double v) { return std::sqrt(v); }},
      {ops::clamp(x, 1.5, {}), [](double v) { return std::max(v, 1.5); }},
  };
  for (const auto& [y, f] : cases) {
    EXPECT_EQ(y.dtype(), kFloat32);
    EXPECT_TRUE(all_close(y, map_ref(x, f), t.atol, t.rtol));
  }
}

TEST(Unary, NaNAndSpecialValues) {
  const double nan = std::nan("");
  Tensor x = from_values({nan, -INFINITY, INFINITY, -0.0, 2.0}, {5}, kFloat32);
  auto r = to_vector(ops::relu(x));
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 0.0);
  EXPECT_EQ(r[2], INFINITY);
  auto c = to_vector(ops::clamp(x, -1.0, 1.0));
  EXPECT_TRUE(std::isnan(c[0]));
  EXPECT_EQ(c[1], -1.0);
  EXPECT_EQ(c[2], 1.0);
  auto s = to_vector(ops::sigmoid(x));
  EXPECT_EQ(s[1], 0.0);
  EXPECT_EQ(s[2], 1.0);
  EXPECT_EQ(to_vector(ops::exp(x))[1], 0.0);
  EXPECT_TRUE(std::isnan(to_vector(ops::log(from_values({-1.0}, {1}, kFloat32)))[0]));
}

TEST(Unary, LogicalNotAllDtypes) {
  for (DType dt : kAllDtypes) {
    Tensor x = from_values({0, 1, 0, 3, 0, 1}, {2, 3}, dt);
    Tensor y = ops::logical_not(non_contiguous(x));
    EXPECT_EQ(y.dtype(), kBool);
    EXPECT_EQ(to_vector(y), (std::vector<double>{1, 0, 1, 0, 1, 0})) << dt;
  }
  EXPECT_EQ(ops::logical_not(zeros({0})).shape(), IntList({0}));
}

TEST(Unary, Errors) {
  Tensor i = ember::tensor({1, 2, 3});
  expect_error([&] { ops::gelu(i); }, {"gelu", "floating", "[3] int64 cpu"});
  expect_error([&] { ops::silu(i); }, {"silu", "floating", "[3] int64"});
  expect_error([&] { ops::leaky_relu(i); }, {"leaky_relu", "floating"});
  expect_error([&] { ops::softplus(i); }, {"softplus", "floating"});
  expect_error([&] { ops::softplus(ones({2}), 0.0); }, {"softplus", "beta"});
  expect_error([&] { ops::gelu(ones({2}), "fast"); }, {"gelu", "'fast'"});
  expect_error([&] { ops::pow(i, -1); }, {"pow", "negative integer powers", "[3] int64"});
  expect_error([&] { ops::clamp(ones({2}), std::nullopt, std::nullopt); }, {"clamp", "min", "max"});
  expect_error([&] { ops::neg(ones({2}, kBool)); }, {"neg", "bool"});
  expect_error([&] { ops::relu(ones({2}, kBool)); }, {"relu", "bool"});
  expect_error([&] { ops::exp(Tensor()); }, {"exp", "undefined"});
}

// ---- binary ---------------------------------------------------------------------------------

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  std::function<double(double, double)> ref;
  double alo, ahi, blo, bhi;  // input domains
  bool whole;                 // whole-number inputs, so comparisons meet ties
  bool predicate;             // bool output
  bool reduced;               // also run in float16/bfloat16
};

std::vector<BinaryCase> binary_cases() {
  using T = const Tensor&;
  auto b2d = [](bool v) { return v ? 1.0 : 0.0; };
  return {
      {"add", [](T a, T b) { return ops::add(a, b); }, [](double x, double y) { return x + y; }, -3, 3, -3, 3, false, false, true},
      {"add_alpha", [](T a, T b) { return ops::add(a, b, 2.5); }, [](double x, double y) { return x + 2.5 * y; }, -3, 3, -3, 3, false, false, true},
      {"sub", [](T a, T b) { return ops::sub(a, b); }, [](double x, double y) { return x - y; }, -3, 3, -3, 3, false, false, true},
      {"sub_alpha", [](T a, T b) { return ops::sub(a, b, -0.5); }, [](double x, double y) { return x + 0.5 * y; }, -3, 3, -3, 3, false, false, true},
      {"mul", [](T a, T b) { return ops::mul(a, b); }, [](double x, double y) { return x * y; }, -3, 3, -3, 3, false, false, true},
      {"div", [](T a, T b) { return ops::div(a, b); }, [](double x, double y) { return x / y; }, -3, 3, 0.5, 3, false, false, true},
      {"pow", [](T a, T b) { return ops::pow(a, b); }, [](double x, double y) { return std::pow(x, y); }, 0.5, 2, -2, 2, false, false, true},
      {"maximum", [](T a, T b) { return ops::maximum(a, b); }, [](double x, double y) { return std::max(x, y); }, -3, 3, -3, 3, false, false, true},
      {"minimum", [](T a, T b) { return ops::minimum(a, b); }, [](double x, double y) { return std::min(x, y); }, -3, 3, -3, 3, false, false, true},
      {"eq", [](T a, T b) { return ops::eq(a, b); }, [=](double x, double y) { return b2d(x == y); }, -2, 3, -2, 3, true, true, true},
      {"ne", [](T a, T b) { return ops::ne(a, b); }, [=](double x, double y) { return b2d(x != y); }, -2, 3, -2, 3, true, true, true},
      {"lt", [](T a, T b) { return ops::lt(a, b); }, [=](double x, double y) { return b2d(x < y); }, -2, 3, -2, 3, true, true, true},
      {"le", [](T a, T b) { return ops::le(a, b); }, [=](double x, double y) { return b2d(x <= y); }, -2, 3, -2, 3, true, true, true},
      {"gt", [](T a, T b) { return ops::gt(a, b); }, [=](double x, double y) { return b2d(x > y); }, -2, 3, -2, 3, true, true, true},
      {"ge", [](T a, T b) { return ops::ge(a, b); }, [=](double x, double y) { return b2d(x >= y); }, -2, 3, -2, 3, true, true, true},
      {"logical_and", [](T a, T b) { return ops::logical_and(a, b); }, [=](double x, double y) { return b2d(x != 0 && y != 0); }, -1, 2, -1, 2, true, true, true},
      {"logical_or", [](T a, T b) { return ops::logical_or(a, b); }, [=](double x, double y) { return b2d(x != 0 || y != 0); }, -1, 2, -1, 2, true, true, true},
      {"relu_backward", [](T g, T y) { return ops::relu_backward(g, y); }, [](double g, double y) { return y <= 0 ? 0.0 : g; }, -2, 2, -2, 2, false, false, true},
      {"gelu_backward", [](T g, T x) { return ops::gelu_backward(g, x); }, [](double g, double x) { return g * gelu_erf_grad_ref(x); }, -2, 2, -4, 4, false, false, true},
      {"gelu_backward_tanh", [](T g, T x) { return ops::gelu_backward(g, x, "tanh"); }, [](double g, double x) { return g * gelu_tanh_grad_ref(x); }, -2, 2, -4, 4, false, false, true},
  };
}

TEST(Binary, FloatOpsMatchReferenceWithBroadcasting) {
  manual_seed(200);
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> shapes = {
      {{4, 1, 5}, {3, 1}}, {{2, 3}, {2, 3}}, {{5}, {}}, {{}, {4}}, {{}, {}},
      {{0, 3}, {3}},       {{2, 1}, {1, 0}}, {{1}, {1, 1}}, {{1, 6}, {5, 1}}, {{257}, {257}}};
  for (const auto& c : binary_cases()) {
    std::vector<DType> dtypes = {kFloat32, kFloat64};
    if (c.reduced) dtypes.insert(dtypes.end(), {kFloat16, kBFloat16});
    for (DType dt : dtypes) {
      const Tol t = c.predicate ? Tol{0, 0} : tol_for(dt);
      for (const auto& [sa, sb] : shapes) {
        Tensor a = uniform_input(sa, c.alo, c.ahi, dt, c.whole), b = uniform_input(sb, c.blo, c.bhi, dt, c.whole);
        Tensor ref = map_ref2(a, b, c.ref);
        for (bool nc : {false, true}) {
          Tensor y = nc ? c.fn(non_contiguous(a), non_contiguous(b)) : c.fn(a, b);
          ASSERT_EQ(y.shape(), ref.shape()) << c.name << " " << a.describe() << " , " << b.describe();
          EXPECT_EQ(y.dtype(), c.predicate ? kBool : dt) << c.name;
          EXPECT_TRUE(all_close(y, ref, t.atol, t.rtol)) << c.name << " " << a.describe() << " , " << b.describe()
                                                          << (nc ? " non-contiguous" : "");
        }
      }
    }
  }
}

TEST(Binary, IntegerOps) {
  manual_seed(201);
  for (DType dt : {kInt64, kInt32}) {
    Tensor a = uniform_input({3, 4}, -20, 20, dt, true), b = uniform_input({4}, 1, 9, dt, true);
    auto exact = [&](const Tensor& y, const std::function<double(double, double)>& f, DType want, const char* what) {
      EXPECT_EQ(y.dtype(), want) << what;
      EXPECT_TRUE(all_close(y, map_ref2(a, b, f), 0, 0)) << what << " " << dt;
    };
    exact(ops::add(a, b), [](double x, double y) { return x + y; }, dt, "add");
    exact(ops::add(a, b, 3), [](double x, double y) { return x + 3 * y; }, dt, "add alpha");
    exact(ops::sub(a, b), [](double x, double y) { return x - y; }, dt, "sub");
    exact(ops::mul(a, b), [](double x, double y) { return x * y; }, dt, "mul");
    exact(ops::maximum(a, b), [](double x, double y) { return std::max(x, y); }, dt, "maximum");
    exact(ops::minimum(a, b), [](double x, double y) { return std::min(x, y); }, dt, "minimum");
    exact(ops::lt(a, b), [](double x, double y) { return double(x < y); }, kBool, "lt");
    exact(ops::pow(a, ops::clamp(b, 0, 3)), [](double x, double y) { return std::pow(x, std::min(y, 3.0)); }, dt, "pow");
    // int / int is true division in float32.
    Tensor q = ops::div(a, b);
    EXPECT_EQ(q.dtype(), kFloat32);
    EXPECT_TRUE(all_close(q, map_ref2(a, b, [](double x, double y) { return x / y; }), 1e-6, 1e-6));
  }
  // Integer powers with negative exponents follow PyTorch: 1 -> 1, -1 -> +-1, otherwise 0.
  Tensor base = ember::tensor({2, 1, -1, -1, 0, 3});
  Tensor ex = ember::tensor({-1, -5, -3, -2, 2, 0});
  EXPECT_EQ(to_vector(ops::pow(base, ex)), (std::vector<double>{0, 1, -1, 1, 0, 1}));
  // uint8 wraps around like C.
  Tensor u = ops::add(ops::to(ember::tensor({250}), kUInt8), ops::to(ember::tensor({10}), kUInt8));
  EXPECT_EQ(to_vector(u), (std::vector<double>{4}));
  // bool + bool stays bool (logical or); bool - bool is an error.
  EXPECT_EQ(ops::add(ember::tensor({true, false}), ember::tensor({true, false})).dtype(), kBool);
  expect_error([] { ops::sub(ember::tensor({true}), ember::tensor({false})); }, {"sub", "bool"});
}

// relu_backward: the gradient passes where y > 0 or y is NaN (PyTorch's
// threshold_backward), and stops at 0 and -0; on every CPU path, and 64 long so
// the vector loop runs too.
TEST(Binary, ReluBackwardPassesNaNAndStopsAtZero) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> y8 = {nan, 0.0, -0.0, 1e-40, -1.0, 2.0, -1e-40, 3.0};
  const std::vector<double> want8 = {1, 0, 0, 1, 0, 1, 0, 1};
  std::vector<double> y, want;
  for (int r = 0; r < 8; ++r) y.insert(y.end(), y8.begin(), y8.end()), want.insert(want.end(), want8.begin(), want8.end());
  ember::testing::for_each_cpu_isa([&] {
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor g = ones({64}, dt), yt = from_values(y, {64}, dt);
      EXPECT_EQ(to_vector(ops::relu_backward(g, yt)), want) << dt;
    }
  });
}

TEST(Binary, NaNPropagation) {
  const double nan = std::nan("");
  Tensor a = from_values({nan, 1, nan, 2}, {4}, kFloat32), b = from_values({1, nan, nan, 3}, {4}, kFloat32);
  for (const Tensor& y : {ops::maximum(a, b), ops::minimum(a, b)}) {
    auto v = to_vector(y);
    EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[1]) && std::isnan(v[2]));
  }
  EXPECT_EQ(to_vector(ops::maximum(a, b))[3], 3.0);
  EXPECT_EQ(to_vector(ops::eq(a, a)), (std::vector<double>{0, 1, 0, 1}));
  EXPECT_EQ(to_vector(ops::ne(a, a)), (std::vector<double>{1, 0, 1, 0}));
  EXPECT_EQ(to_vector(ops::logical_and(a, b)), (std::vector<double>{1, 1, 1, 1}));
  EXPECT_EQ(to_vector(ops::div(from_values({1, -1, 0}, {3}, kFloat32), zeros({3})))[0], INFINITY);
}

TEST(Binary, TypePromotionAsPyTorch) {
  Tensor i64 = ember::tensor({1, 2, 3});
  Tensor f = i64 + 1.5;  // int tensor + float scalar
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(to_vector(f), (std::vector<double>{2.5, 3.5, 4.5}));
  EXPECT_EQ((i64 + 2).dtype(), kInt64);
  EXPECT_EQ((ones({3}, kInt32) + 2).dtype(), kInt32);
  EXPECT_EQ((ones({3}, kUInt8) * 3).dtype(), kUInt8);
  EXPECT_EQ((ones({3}, kFloat16) + 1.5).dtype(), kFloat16);
  EXPECT_EQ((ones({3}, kBFloat16) * 2).dtype(), kBFloat16);
  EXPECT_EQ((2.0 * ones({3}, kBool)).dtype(), kFloat32);
  EXPECT_EQ(ops::add(ones({3}, kFloat16), ones({3}, kBFloat16)).dtype(), kFloat32);
  Tensor q = ops::div(i64, ember::tensor({2, 2, 2}));  // int tensor / int tensor
  EXPECT_EQ(q.dtype(), kFloat32);
  EXPECT_EQ(to_vector(q), (std::vector<double>{0.5, 1, 1.5}));
  EXPECT_EQ((i64 / 2).dtype(), kFloat32);
  EXPECT_EQ(ops::add(full({}, 1.0, kFloat64), ones({3})).dtype(), kFloat32);        // 0-dim doesn't promote same kind
  EXPECT_EQ(ops::add(ones({3}, kInt32), full({}, 1.0, kFloat64)).dtype(), kFloat64);  // but a higher kind does
  EXPECT_EQ(ops::add(full({}, 1, kInt32), full({}, 1.0, kFloat64)).dtype(), kFloat64);
  EXPECT_EQ(ops::mul(ones({3}, kBool), full({}, 2, kInt64)).dtype(), kInt64);
  EXPECT_EQ(ops::add(ones({3}, kUInt8), full({}, 2, kInt64)).dtype(), kUInt8);
  EXPECT_EQ(ops::add(ones({3}, kUInt8), ones({3}, kInt32)).dtype(), kInt32);
  EXPECT_EQ(ops::add(ones({3}, kInt32), ones({3}, kInt64)).dtype(), kInt64);
  EXPECT_EQ(ops::add(ones({3}, kFloat32), ones({3}, kFloat64)).dtype(), kFloat64);
  EXPECT_EQ(ops::add(ones({3}, kInt64), ones({3}, kFloat16)).dtype(), kFloat16);
  EXPECT_EQ(ops::add(ones({3}, kBool), ones({3}, kBool)).dtype(), kBool);
  EXPECT_EQ(ops::result_type(ones({2}, kInt32), full({}, 1, kInt64)), kInt32);
  for (const Tensor& c : {ops::lt(i64, ones({3})), ops::eq(ones({3}, kFloat16), ones({3}, kBFloat16)), i64 >= 2,
                          ops::logical_or(ones({2}), zeros({2}, kInt32))}) {
    EXPECT_EQ(c.dtype(), kBool);
  }
  EXPECT_EQ(to_vector(i64 >= 2), (std::vector<double>{0, 1, 1}));
  EXPECT_EQ(to_vector(i64 == 2.5), (std::vector<double>{0, 0, 0}));
}

TEST(Binary, BroadcastErrorsNameShapes) {
  expect_error([] { ops::add(ones({2, 3}), ones({4})); }, {"add", "[2, 3]", "[4]", "broadcast"});
  expect_error([] { ops::mul(ones({2, 3}), ones({3, 2})); }, {"mul", "[2, 3]", "[3, 2]"});
  expect_error([] { ops::lt(ones({0}), ones({2})); }, {"lt", "[0]", "[2]"});
  expect_error([] { ops::where(ones({2}, kBool), ones({3}), ones({3})); }, {"where", "[2]", "[3]"});
  expect_error([] { ops::addcmul(ones({2}), ones({3}), ones({3})); }, {"addcmul", "[2]", "[3]"});
  expect_error([] { ops::add(ones({2}), Tensor()); }, {"add", "undefined"});
}

// ---- ternary --------------------------------------------------------------------------------

TEST(Ternary, WhereAndMaskedFill) {
  manual_seed(300);
  for (DType dt : {kFloat32, kFloat64, kInt64, kFloat16}) {
    Tensor cond = ops::to(uniform_input({3, 1}, 0, 2, kInt64, true), kBool);
    Tensor a = uniform_input({1, 4}, -5, 5, dt, true), b = full({}, -7, dt);
    Tensor y = ops::where(cond, a, b);
    ASSERT_EQ(y.shape(), IntList({3, 4}));
    EXPECT_EQ(y.dtype(), dt);
    auto cv = to_vector(cond.expand({3, 4})), av = to_vector(a.expand({3, 4}));
    std::vector<double> ref(12);
    for (size_t i = 0; i < 12; ++i) ref[i] = cv[i] != 0 ? av[i] : -7;
    EXPECT_TRUE(all_close(y, from_values(ref, {3, 4}), 0, 0)) << dt;
    EXPECT_TRUE(all_close(ops::where(non_contiguous(cond.expand({3, 4}).contiguous()), non_contiguous(a.expand({3, 4}).contiguous()), b), y, 0, 0));

    Tensor x = uniform_input({3, 4}, -5, 5, dt, true);
    Tensor mask = ops::to(uniform_input({4}, 0, 2, kInt64, true), kBool);
    Tensor m = ops::masked_fill(x, mask, 9);
    auto xv = to_vector(x), mv = to_vector(mask.expand({3, 4}));
    for (size_t i = 0; i < 12; ++i) ref[i] = mv[i] != 0 ? 9 : xv[i];
    EXPECT_TRUE(all_close(m, from_values(ref, {3, 4}), 0, 0)) << dt;
    EXPECT_EQ(m.dtype(), dt);
  }
  // where promotes its two value operands; size-0 works.
  EXPECT_EQ(ops::where(ones({2}, kBool), ones({2}, kInt64), ones({2})).dtype(), kFloat32);
  EXPECT_EQ(ops::where(ones({0, 2}, kBool), ones({2}), zeros({1})).shape(), IntList({0, 2}));
  expect_error([] { ops::where(ones({2}), ones({2}), ones({2})); }, {"where", "bool", "[2] float32"});
  expect_error([] { ops::masked_fill(ones({2}), ones({2}), 1.0); }, {"masked_fill", "bool"});
  expect_error([] { ops::masked_fill(ones({2}), ones({3, 2}, kBool), 1.0); }, {"masked_fill", "[3, 2] bool", "[2] float32"});
  expect_error([] { ops::masked_fill(ones({2}, kInt64), ones({2}, kBool), 1.5); }, {"masked_fill", "[2] int64", "floating"});
}

TEST(Ternary, AddcmulAddcdiv) {
  manual_seed(301);
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    const Tol t = tol_for(dt);
    Tensor s = uniform_input({3, 1}, -2, 2, dt), t1 = uniform_input({1, 4}, -2, 2, dt), t2 = uniform_input({3, 4}, 0.5, 2, dt);
    auto sv = to_vector(s.expand({3, 4})), v1 = to_vector(t1.expand({3, 4})), v2 = to_vector(t2);
    std::vector<double> mul_ref(12), div_ref(12);
    for (size_t i = 0; i < 12; ++i) {
      mul_ref[i] = sv[i] + 0.5 * v1[i] * v2[i];
      div_ref[i] = sv[i] - 2.0 * v1[i] / v2[i];
    }
    EXPECT_TRUE(all_close(ops::addcmul(s, t1, t2, 0.5), from_values(mul_ref, {3, 4}), t.atol, t.rtol)) << dt;
    EXPECT_TRUE(all_close(ops::addcdiv(s, non_contiguous(t1), non_contiguous(t2), -2), from_values(div_ref, {3, 4}), t.atol, t.rtol)) << dt;
  }
  Tensor i = ops::addcmul(ember::tensor({1, 2}), ember::tensor({3, 4}), ember::tensor({5, 6}), 2);
  EXPECT_EQ(i.dtype(), kInt64);
  EXPECT_EQ(to_vector(i), (std::vector<double>{31, 50}));
  EXPECT_EQ(ops::addcmul(ones({2}, kInt32), ones({2}), ones({2})).dtype(), kFloat32);
  expect_error([] { ops::addcdiv(ember::tensor({1}), ember::tensor({3}), ember::tensor({5})); }, {"addcdiv", "integer"});
}

// ---- in place ---------------------------------------------------------------------------------

TEST(InPlace, ValuesAndVersionCounter) {
  manual_seed(400);
  Tensor x = uniform_input({2, 3}, 0.5, 2, kFloat32);
  Tensor view = x.select(0, 1);  // shares storage and version counter
  auto step = [&](const char* what, const std::function<void()>& op, const std::function<double(double)>& f) {
    auto before = to_vector(x);
    uint32_t v0 = x.version();
    op();
    EXPECT_EQ(x.version(), v0 + 1) << what;
    EXPECT_EQ(view.version(), x.version()) << what;
    std::vector<double> want(before.size());
    for (size_t i = 0; i < before.size(); ++i) want[i] = f(before[i]);
    EXPECT_TRUE(all_close(x, from_values(want, {2, 3}), 1e-6, 1e-5)) << what;
  };
  step("add_", [&] { x.add_(full({3}, 0.5), 2); }, [](double v) { return v + 1.0; });
  step("add_ scalar", [&] { x.add_(1.5); }, [](double v) { return v + 1.5; });
  step("sub_", [&] { x.sub_(ones({2, 1})); }, [](double v) { return v - 1.0; });
  step("mul_", [&] { x.mul_(full({}, 3.0, kFloat64)); }, [](double v) { return v * 3.0; });
  step("div_", [&] { x.div_(4); }, [](double v) { return v / 4.0; });
  step("addcmul_", [&] { x.addcmul_(full({3}, 2.0), full({2, 3}, 3.0), 0.5); }, [](double v) { return v + 3.0; });
  step("addcdiv_", [&] { x.addcdiv_(full({3}, 2.0), full({2, 3}, 4.0), -1); }, [](double v) { return v - 0.5; });
  step("sub_ to mixed signs", [&] { x.sub_(5.0); }, [](double v) { return v - 5.0; });
  step("relu_", [&] { x.relu_(); }, [](double v) { return std::max(v, 0.0); });
  step("clamp_", [&] { x.clamp_(0.25, 0.5); }, [](double v) { return std::min(std::max(v, 0.25), 0.5); });
  step("clamp_ min only", [&] { x.clamp_(0.4); }, [](double v) { return std::max(v, 0.4); });
  step("fill_", [&] { x.fill_(2.25); }, [](double) { return 2.25; });
  step("zero_", [&] { x.zero_(); }, [](double) { return 0.0; });
  uint32_t v0 = x.version();
  x.copy_(ember::tensor({1, 2, 3}));  // broadcast and convert int64 -> float32
  EXPECT_EQ(x.version(), v0 + 1);
  EXPECT_EQ(view.version(), x.version());
  EXPECT_EQ(to_vector(x), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  // An out-of-place op does not bump its input's version.
  v0 = x.version();
  (void)ops::add(x, x);
  (void)x.t().contiguous();
  EXPECT_EQ(x.version(), v0);
  step("operator+=", [&] { x += ones({3}); }, [](double v) { return v + 1; });
  step("operator*=", [&] { x *= 2; }, [](double v) { return v * 2; });
}

TEST(InPlace, ThroughViews) {
  Tensor x = zeros({3, 4});
  x.select(0, 1).fill_(5);        // a row
  x.t().select(0, 2).add_(1.0);   // a column, through a transposed view
  x.slice(1, 0, {}, 3).mul_(2);   // every third column
  std::vector<double> want = {0, 0, 1, 0, 10, 5, 6, 10, 0, 0, 1, 0};
  EXPECT_EQ(to_vector(x), want);
  // In-place ops with an aliasing operand read it before writing.
  Tensor s = ember::tensor({{1.f, 2.f}, {3.f, 4.f}});
  s.add_(s.t());
  EXPECT_EQ(to_vector(s), (std::vector<double>{2, 5, 5, 8}));
  Tensor c = ember::tensor({{1.f, 2.f}, {3.f, 4.f}});
  c.copy_(c.t());
  EXPECT_EQ(to_vector(c), (std::vector<double>{1, 3, 2, 4}));
  Tensor m = ember::tensor({1.f, 2.f, 3.f});
  m.addcmul_(m, m);
  EXPECT_EQ(to_vector(m), (std::vector<double>{2, 6, 12}));
}

TEST(InPlace, TypeAndShapeErrors) {
  Tensor i = ones({3}, kInt64);
  uint32_t v0 = i.version();
  expect_error([&] { i.add_(ones({3})); }, {"add_", "result type float32 can't be cast", "int64"});
  expect_error([&] { i.mul_(1.5); }, {"mul_", "result type float32 can't be cast"});
  expect_error([&] { i.div_(ones({3}, kInt64)); }, {"div_", "result type float32 can't be cast"});
  expect_error([&] { i.addcmul_(ones({3}), ones({3})); }, {"addcmul_", "result type float32 can't be cast"});
  expect_error([&] { ones({3}, kBool).add_(ones({3}, kInt64)); }, {"add_", "result type int64 can't be cast", "bool"});
  EXPECT_EQ(i.version(), v0);  // failed ops leave the tensor untouched
  EXPECT_EQ(to_vector(i), (std::vector<double>{1, 1, 1}));
  // Integer self with an integer operand of another width is fine.
  i.add_(ones({3}, kInt32));
  EXPECT_EQ(to_vector(i), (std::vector<double>{2, 2, 2}));
  Tensor f = ones({3});
  expect_error([&] { f.add_(ones({2, 3})); }, {"add_", "[3]", "[2, 3]"});
  expect_error([&] { f.add_(ones({4})); }, {"add", "[3]", "[4]"});
  expect_error([&] { f.addcmul_(ones({2, 3}), ones({3})); }, {"addcmul_", "[3]", "[2, 3]"});
  expect_error([&] { f.copy_(ones({4})); }, {"copy_", "[3]", "[4]"});
  expect_error([&] { f.copy_(ones({2, 3})); }, {"copy_", "[2, 3] float32", "[3] float32"});
  expect_error([&] { ones({2}, kBool).relu_(); }, {"relu_", "bool"});
}

// ---- copies, fills, ranges ----------------------------------------------------------------------

TEST(Copy, ConvertsBetweenAllDtypes) {
  const std::vector<double> vals = {0, 1, 3, 7, 1, 0};
  for (DType from : kAllDtypes) {
    for (DType to : kAllDtypes) {
      std::vector<double> v = vals;
      if (from == kBool || to == kBool)
        for (double& e : v) e = e != 0;
      Tensor src = from_values(v, {2, 3}, from);
      Tensor dst = empty({3, 2}, to).t();  // non-contiguous destination
      dst.copy_(src);
      EXPECT_EQ(to_vector(dst), v) << from << " -> " << to;
      EXPECT_EQ(to_vector(ops::to(non_contiguous(src), to)), v) << from << " -> " << to;
    }
  }
  // Float -> int truncates toward zero; negative -> uint8 wraps as in C; nonzero -> true.
  Tensor f = ember::tensor({-1.75f, 2.5f, 0.f, 0.25f});
  EXPECT_EQ(to_vector(ops::to(f, kInt32)), (std::vector<double>{-1, 2, 0, 0}));
  EXPECT_EQ(to_vector(ops::to(f, kBool)), (std::vector<double>{1, 1, 0, 1}));
  EXPECT_EQ(to_vector(ops::to(ember::tensor({-1}), kUInt8)), (std::vector<double>{255}));
}

TEST(Copy, BroadcastsAndHandlesEmpty) {
  Tensor dst = zeros({2, 3}, kFloat64);
  dst.copy_(full({}, 4));
  EXPECT_EQ(to_vector(dst), std::vector<double>(6, 4.0));
  dst.copy_(ember::tensor({{1.f}, {2.f}}));
  EXPECT_EQ(to_vector(dst), (std::vector<double>{1, 1, 1, 2, 2, 2}));
  Tensor e = zeros({0, 3});
  e.copy_(ones({3}));
  EXPECT_EQ(e.shape(), IntList({0, 3}));
  // Clone of an expanded (stride 0) view materialises it.
  Tensor c = ops::clone(ember::tensor({1.f, 2.f}).expand({3, 2}));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(to_vector(c), (std::vector<double>{1, 2, 1, 2, 1, 2}));
}

TEST(Fill, AllDtypesAndViews) {
  for (DType dt : kAllDtypes) {
    Tensor t = empty({2, 3}, dt);
    t.fill_(dt == kBool ? Scalar(true) : Scalar(5));
    EXPECT_EQ(to_vector(t), std::vector<double>(6, dt == kBool ? 1.0 : 5.0)) << dt;
    EXPECT_EQ(to_vector(full({2}, 3, dt)), std::vector<double>(2, dt == kBool ? 1.0 : 3.0)) << dt;
    EXPECT_EQ(to_vector(zeros({2}, dt)), std::vector<double>(2, 0.0)) << dt;
    EXPECT_EQ(to_vector(ones({2}, dt)), std::vector<double>(2, 1.0)) << dt;
  }
  Tensor x = zeros({3, 3});
  x.t().select(0, 1).fill_(2.5);  // a column through a transposed view
  EXPECT_EQ(to_vector(x), (std::vector<double>{0, 2.5, 0, 0, 2.5, 0, 0, 2.5, 0}));
  EXPECT_EQ(to_vector(full({2}, 0.1, kFloat16))[0], static_cast<double>(static_cast<float>(Half(0.1f))));
}

TEST(Range, Arange) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), kInt64);
  EXPECT_EQ(to_vector(a), (std::vector<double>{0, 1, 2, 3, 4}));
  Tensor f = arange(0, 1, 0.25);
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(to_vector(f), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(to_vector(arange(5, 0, -2)), (std::vector<double>{5, 3, 1}));
  EXPECT_EQ(arange(5, 0, -2).dtype(), kInt64);
  Tensor d = arange(1, 2.5, 0.5, kFloat64);
  EXPECT_EQ(d.dtype(), kFloat64);
  EXPECT_EQ(to_vector(d), (std::vector<double>{1, 1.5, 2}));
  EXPECT_EQ(to_vector(arange(0, 6, kFloat32)), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(to_vector(arange(-3, 3, 2, kInt32)), (std::vector<double>{-3, -1, 1}));
  EXPECT_EQ(arange(3, 3).numel(), 0);
  EXPECT_EQ(arange(0, 10, 3).numel(), 4);
  // 100 steps of 0.1 stay on the grid start + i * step (no accumulated drift).
  auto g = to_vector(arange(0.0, 10.0, 0.1, kFloat64));
  ASSERT_EQ(g.size(), 100u);
  for (size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(g[i], 0.1 * static_cast<double>(i));
  expect_error([] { arange(0, 5, 0); }, {"arange", "step must be nonzero"});
  expect_error([] { arange(0, 5, -1); }, {"arange", "inconsistent", "step"});
  expect_error([] { arange(5, 0, 1); }, {"arange", "inconsistent"});
  expect_error([] { arange(0, 5, 1, kBool); }, {"arange", "bool"});
}

TEST(Range, LinspaceAndEye) {
  Tensor l = linspace(0, 1, 5);
  EXPECT_EQ(to_vector(l), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  for (int64_t steps : {2, 3, 7, 100, 1001}) {
    auto v = to_vector(linspace(-3.3, 7.7, steps, kFloat64));
    EXPECT_EQ(v.front(), -3.3);  // both ends exact
    EXPECT_EQ(v.back(), 7.7);
    for (size_t i = 0; i < v.size(); ++i)
      EXPECT_NEAR(v[i], -3.3 + 11.0 * static_cast<double>(i) / static_cast<double>(steps - 1), 1e-12);
    auto f = to_vector(linspace(-3.3, 7.7, steps, kFloat32));
    EXPECT_EQ(f.back(), static_cast<double>(7.7f));
  }
  EXPECT_EQ(to_vector(linspace(2, 5, 1)), (std::vector<double>{2}));
  EXPECT_EQ(linspace(0, 1, 0).shape(), IntList({0}));
  EXPECT_EQ(to_vector(linspace(1, 0, 3)), (std::vector<double>{1, 0.5, 0}));
  EXPECT_EQ(to_vector(linspace(0, 4, 5, kInt64)), (std::vector<double>{0, 1, 2, 3, 4}));
  expect_error([] { linspace(0, 1, -1); }, {"linspace", "-1"});

  for (DType dt : kAllDtypes) {
    Tensor e = eye(3, -1, dt);
    EXPECT_EQ(e.dtype(), dt);
    EXPECT_EQ(to_vector(e), (std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1})) << dt;
  }
  EXPECT_EQ(to_vector(eye(2, 4)), (std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(to_vector(eye(3, 2)), (std::vector<double>{1, 0, 0, 1, 0, 0}));
  EXPECT_EQ(eye(0).shape(), IntList({0, 0}));
  EXPECT_EQ(eye(2, 0).shape(), IntList({2, 0}));
  expect_error([] { eye(-1); }, {"eye", "-1"});
}

// ---- random ---------------------------------------------------------------------------------

struct Stats {
  double mean, var;
};
Stats stats_of(const Tensor& t) {
  auto v = to_vector(t);
  double m = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return {m, s / static_cast<double>(v.size() - 1)};
}

TEST(Random, SameSeedSameNumbers) {
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    manual_seed(123);
    Tensor a = rand({1000}, dt), b = randn({7, 9}, dt);
    manual_seed(123);
    Tensor a2 = rand({1000}, dt), b2 = randn({7, 9}, dt);
    EXPECT_TRUE(all_close(a, a2, 0, 0)) << dt;
    EXPECT_TRUE(all_close(b, b2, 0, 0)) << dt;
    manual_seed(124);
    Tensor a3 = rand({1000}, dt);
    EXPECT_FALSE(all_close(a, a3, 0, 0)) << dt;
  }
  // Successive draws differ; explicit generators are independent of the default one.
  manual_seed(5);
  Tensor r1 = randn({100}), r2 = randn({100});
  EXPECT_FALSE(all_close(r1, r2, 0, 0));
  Generator g1(42), g2(42);
  EXPECT_TRUE(all_close(randint(0, 1000, {64}, kInt64, &g1), randint(0, 1000, {64}, kInt64, &g2), 0, 0));
  EXPECT_EQ(g1.offset(), g2.offset());
  EXPECT_GT(g1.offset(), 0u);
  manual_seed(5);
  EXPECT_TRUE(all_close(randn({100}), r1, 0, 0));
  // Filling a non-contiguous view writes the view only, and matches a contiguous draw.
  manual_seed(9);
  Tensor flat = rand({4, 3});
  manual_seed(9);
  Tensor base = zeros({3, 4});
  Tensor view = base.t();
  uint32_t v0 = base.version();
  uniform_(view);
  EXPECT_EQ(base.version(), v0 + 1);
  EXPECT_TRUE(all_close(view, flat, 0, 0));
}

TEST(Random, UniformStatistics) {
  manual_seed(7);
  const int64_t n = 100000;
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor u = rand({n}, dt);
    auto v = to_vector(u);
    EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0);
    EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0);
    Stats s = stats_of(u);
    // mean 1/2 (standard error 9.1e-4), variance 1/12 (standard error 2.4e-4).
    EXPECT_NEAR(s.mean, 0.5, 0.0046) << dt;
    EXPECT_NEAR(s.var, 1.0 / 12.0, 0.0012) << dt;
    Tensor w = empty({n}, dt);
    uniform_(w, -2.0, 3.0);
    auto wv = to_vector(w);
    EXPECT_GE(*std::min_element(wv.begin(), wv.end()), -2.0);
    EXPECT_LT(*std::max_element(wv.begin(), wv.end()), 3.0);
    EXPECT_NEAR(stats_of(w).mean, 0.5, 5 * 0.0046);
  }
  Tensor bad = empty({2});
  expect_error([&] { uniform_(bad, 1.0, 0.0); }, {"uniform_", "low"});
  Tensor ints = empty({2}, kInt64);
  expect_error([&] { uniform_(ints); }, {"uniform_", "floating", "int64"});
}

TEST(Random, NormalStatistics) {
  manual_seed(8);
  const int64_t n = 100000;
  for (DType dt : {kFloat32, kFloat64}) {
    Stats s = stats_of(randn({n}, dt));
    // mean 0 (standard error 3.2e-3), std 1 (standard error 2.2e-3).
    EXPECT_NEAR(s.mean, 0.0, 0.016) << dt;
    EXPECT_NEAR(std::sqrt(s.var), 1.0, 0.012) << dt;
    Tensor t = empty({n}, dt);
    normal_(t, 3.0, 0.5);
    Stats s2 = stats_of(t);
    EXPECT_NEAR(s2.mean, 3.0, 0.008);
    EXPECT_NEAR(std::sqrt(s2.var), 0.5, 0.006);
    auto v = to_vector(t);
    for (double x : v) ASSERT_TRUE(std::isfinite(x));
  }
  // Tails: about 4.55% of samples lie beyond 2 sigma (standard error 6.6e-4).
  auto v = to_vector(randn({n}));
  double beyond = 0;
  for (double x : v) beyond += std::fabs(x) > 2.0;
  EXPECT_NEAR(beyond / n, 0.0455, 0.0033);
  Tensor t = empty({2});
  expect_error([&] { normal_(t, 0.0, -1.0); }, {"normal_", "std"});
}

TEST(Random, Randint) {
  manual_seed(9);
  for (DType dt : {kInt64, kInt32, kUInt8, kFloat32}) {
    const int64_t lo = dt == kUInt8 ? 3 : -3, hi = lo + 7;
    Tensor r = randint(lo, hi, {20000}, dt);
    EXPECT_EQ(r.dtype(), dt);
    auto v = to_vector(r);
    std::vector<int> counts(static_cast<size_t>(hi - lo), 0);
    for (double x : v) {
      ASSERT_GE(x, static_cast<double>(lo));
      ASSERT_LT(x, static_cast<double>(hi));
      ASSERT_EQ(x, std::floor(x));
      ++counts[static_cast<size_t>(x - static_cast<double>(lo))];
    }
    // Each of 7 values is drawn 20000/7 = 2857 times on average (sd 50).
    for (int c : counts) EXPECT_NEAR(c, 20000.0 / 7.0, 300) << dt;
  }
  Tensor big = randint(0, int64_t{1} << 40, {1000});
  auto bv = to_vector(big);
  EXPECT_GT(*std::max_element(bv.begin(), bv.end()), static_cast<double>(int64_t{1} << 39));
  expect_error([] { randint(5, 5, {3}); }, {"random_", "low", "high"});
  expect_error([] { randint(0, 2, {3}, kBool); }, {"random_", "bool"});
}

TEST(Random, Dropout) {
  manual_seed(10);
  const int64_t n = 100000;
  const double p = 0.3;
  for (DType dt : {kFloat32, kFloat64, kBFloat16}) {
    Tensor x = ops::to(uniform_input({n}, 1, 2, kFloat64), dt);
    auto [out, mask] = ops::dropout(x, p);
    ASSERT_EQ(out.shape(), x.shape());
    EXPECT_EQ(out.dtype(), dt);
    auto xv = to_vector(x), ov = to_vector(out), mv = to_vector(mask);
    // The kernel scales in the compute type: double for float64, float otherwise.
    const double scale = dt == kFloat64 ? 1.0 / (1.0 - p) : static_cast<double>(static_cast<float>(1.0 / (1.0 - p)));
    const Tol t = tol_for(dt);
    double kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      const size_t k = static_cast<size_t>(i);
      if (mv[k] == 0) {
        ASSERT_EQ(ov[k], 0.0);
      } else {
        kept += 1;
        ASSERT_NEAR(mv[k], scale, t.atol + t.rtol * scale);
        ASSERT_NEAR(ov[k], xv[k] * scale, t.atol + 2 * t.rtol * xv[k] * scale) << i;
      }
    }
    // Fraction kept: 1 - p (standard error 1.45e-3).
    EXPECT_NEAR(kept / n, 1 - p, 0.0075) << dt;
  }
  // Non-contiguous input, identity cases, and errors.
  Tensor x = ones({50, 40});
  manual_seed(3);
  auto [o1, m1] = ops::dropout(x.t(), 0.5);
  EXPECT_EQ(o1.shape(), IntList({40, 50}));
  EXPECT_TRUE(all_close(o1, m1, 0, 0));  // x is all ones
  manual_seed(3);
  auto [o2, m2] = ops::dropout(x.t().contiguous(), 0.5);
  EXPECT_TRUE(all_close(o1, o2, 0, 0));
  EXPECT_TRUE(all_close(ops::dropout(x, 0.0).first, x, 0, 0));
  EXPECT_TRUE(all_close(ops::dropout(x, 0.9, false).first, x, 0, 0));
  EXPECT_TRUE(all_close(ops::dropout(x, 1.0).first, zeros({50, 40}), 0, 0));
  EXPECT_EQ(ops::dropout(zeros({0, 3}), 0.5).first.shape(), IntList({0, 3}));
  expect_error([&] { ops::dropout(x, 1.5); }, {"dropout", "between 0 and 1", "1.5"});
  expect_error([&] { ops::dropout(ones({3}, kInt64), 0.5); }, {"dropout", "floating"});
}

}  // namespace
}  // namespace ember
