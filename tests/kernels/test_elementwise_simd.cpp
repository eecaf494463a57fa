// Tests of the float32 unary and binary fast paths (kernels/cpu/elementwise_kernel.hpp
// through unary.cpp / binary.cpp) on every CPU ISA path this machine has,
// against the reference kernels (the scalar path).
//
// Tolerances: relu/neg/abs and add/sub/mul/div/maximum/minimum (alpha 1) are
// single IEEE operations: bit-exact. add/sub with alpha may fuse the multiply
// (one rounding of alpha * b fewer): atol 2e-6 (2^-24 of |alpha b| <= 30), rtol 1.2e-7. The transcendental ops are checked against the exact
// result (double libm, rounded) in test_vec_math.cpp; here against the
// reference kernels with rtol 1e-6 and atol 1e-7 (a few float ulps).
// Non-contiguous inputs take the reference path: bit-exact.
#include <cmath>
#include <cstring>
#include <functional>
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
using testing::with_specials;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> fn;
  bool exact;
  bool positive = false;  // log: its inputs are made positive (abs) first
};

Tensor input_for(const UnaryCase& c, const Tensor& x) { return c.positive ? ops::abs(x) : x; }

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"relu", [](const Tensor& x) { return ops::relu(x); }, true, false},
      {"neg", [](const Tensor& x) { return ops::neg(x); }, true, false},
      {"abs", [](const Tensor& x) { return ops::abs(x); }, true, false},
      {"exp", [](const Tensor& x) { return ops::exp(x); }, false, false},
      {"log", [](const Tensor& x) { return ops::log(x); }, false, true},
      {"sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }, false, false},
      {"tanh", [](const Tensor& x) { return ops::tanh(x); }, false, false},
      {"silu", [](const Tensor& x) { return ops::silu(x); }, false, false},
      {"gelu", [](const Tensor& x) { return ops::gelu(x); }, false, false},
      {"gelu_tanh", [](const Tensor& x) { return ops::gelu(x, "tanh"); }, false, false},
  };
  return cases;
}

::testing::AssertionResult matches(const UnaryCase& c, const Tensor& got, const Tensor& ref) {
  return c.exact ? all_close(got, ref, 0, 0) : all_close(got, ref, 1e-7, 1e-6);
}

TEST(SimdUnary, EveryTailLengthMatchesReference) {
  manual_seed(101);
  for (int64_t n : kTailSizes) {
    for (const UnaryCase& c : unary_cases()) {
      const Tensor x = input_for(c, randf({n}, 3.0));
      const Tensor ref = on_scalar([&] { return c.fn(x); });
      for_each_cpu_isa([&] { EXPECT_TRUE(matches(c, c.fn(x), ref)) << c.name << " n=" << n; });
    }
  }
}

TEST(SimdUnary, LargeParallelAndMultiDimensional) {
  manual_seed(102);
  // Above the parallel grain (kGrain = 32768), odd length, and a 3-D tensor.
  for (const Tensor& x0 : {randf({100003}, 4.0), randf({7, 33, 129}, 4.0)}) {
    for (const UnaryCase& c : unary_cases()) {
      const Tensor x = input_for(c, x0);
      const Tensor ref = on_scalar([&] { return c.fn(x); });
      for_each_cpu_isa([&] { EXPECT_TRUE(matches(c, c.fn(x), ref)) << c.name << " " << x.describe(); });
    }
  }
}

TEST(SimdUnary, EmptyAndSingleElement) {
  for_each_cpu_isa([&] {
    for (const UnaryCase& c : unary_cases()) {
      EXPECT_EQ(c.fn(zeros({0})).numel(), 0) << c.name;
      EXPECT_EQ(c.fn(zeros({3, 0})).shape(), Dims({3, 0})) << c.name;
      const Tensor one = tensor({0.75}, kFloat32);
      EXPECT_TRUE(matches(c, c.fn(one), on_scalar([&] { return c.fn(one); }))) << c.name;
    }
  });
}

TEST(SimdUnary, NonContiguousInputsTakeTheReferencePath) {
  manual_seed(103);
  const Tensor x0 = randf({37, 41}, 2.0);
  for (const UnaryCase& c : unary_cases()) {
    const Tensor x = input_for(c, x0);
    for (const Tensor& in : {non_contiguous(x), x.slice(1, 0, {}, 3), x.t()}) {
      const Tensor ref = on_scalar([&] { return c.fn(in); });
      for_each_cpu_isa([&] { EXPECT_TRUE(all_close(c.fn(in), ref, 0, 0)) << c.name; });
    }
  }
}

TEST(SimdUnary, SlicedRowsAndInPlace) {
  manual_seed(104);
  // Rows contiguous, row stride larger: each row is one fast run.
  const Tensor x0 = randf({19, 50}, 2.0);
  for (const UnaryCase& c : unary_cases()) {
    const Tensor x = input_for(c, x0).slice(1, 3, 40);
    const Tensor ref = on_scalar([&] { return c.fn(x); });
    for_each_cpu_isa([&] { EXPECT_TRUE(matches(c, c.fn(x), ref)) << c.name; });
  }
  for_each_cpu_isa([&] {
    Tensor y = randf({1001});
    const Tensor expect = on_scalar([&] { return ops::relu(y); });
    y.relu_();
    EXPECT_TRUE(all_close(y, expect, 0, 0));
  });
}

TEST(SimdUnary, SpecialValuesAsPyTorch) {
  const Tensor x = tensor({kNaN, kInf, -kInf, 0.0, -0.0, 1e-40, -1e-40, 100.0, -100.0, 1.0}, kFloat32);
  for_each_cpu_isa([&] {
    auto v = [](const Tensor& t) { return testing::to_vector(t); };
    const auto relu = v(ops::relu(x)), ex = v(ops::exp(x)), lg = v(ops::log(x)), th = v(ops::tanh(x));
    const auto sg = v(ops::sigmoid(x)), ge = v(ops::gelu(x));
    EXPECT_TRUE(std::isnan(relu[0]) && relu[1] == kInf && relu[2] == 0.0 && relu[6] == 0.0);
    EXPECT_TRUE(std::isnan(ex[0]) && ex[1] == kInf && ex[2] == 0.0 && ex[3] == 1.0 && ex[7] == kInf);
    EXPECT_NEAR(ex[8], std::exp(-100.0), 2e-45);  // a subnormal float
    EXPECT_TRUE(std::isnan(lg[0]) && lg[1] == kInf && std::isnan(lg[2]) && lg[3] == -kInf && lg[4] == -kInf);
    EXPECT_NEAR(lg[5], std::log(1e-40), 1e-5);  // subnormal input
    EXPECT_TRUE(std::isnan(lg[6]));
    EXPECT_TRUE(std::isnan(th[0]) && th[1] == 1.0 && th[2] == -1.0 && th[7] == 1.0 && th[8] == -1.0);
    EXPECT_TRUE(th[3] == 0.0 && std::signbit(th[4]));
    EXPECT_TRUE(std::isnan(sg[0]) && sg[1] == 1.0 && sg[2] == 0.0 && sg[7] == 1.0 && sg[3] == 0.5);
    EXPECT_TRUE(std::isnan(ge[0]) && ge[1] == kInf && std::isnan(ge[2]) && ge[7] == 100.0 && ge[3] == 0.0);
    EXPECT_NEAR(ge[9], 0.841344746, 1e-6);
  });
}

// ---- binary ------------------------------------------------------------------------------

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  bool exact;
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); }, true},
      {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b); }, true},
      {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); }, true},
      {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, b); }, true},
      {"maximum", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }, true},
      {"minimum", [](const Tensor& a, const Tensor& b) { return ops::minimum(a, b); }, true},
      {"relu_backward", [](const Tensor& a, const Tensor& b) { return ops::relu_backward(a, b); }, true},
      {"add_alpha", [](const Tensor& a, const Tensor& b) { return ops::add(a, b, 0.37); }, false},
      {"sub_alpha", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b, -2.5); }, false},
  };
  return cases;
}

void check_binary(const Tensor& a, const Tensor& b, const std::string& what) {
  for (const BinaryCase& c : binary_cases()) {
    const Tensor ref = on_scalar([&] { return c.fn(a, b); });
    for_each_cpu_isa([&] {
      const Tensor got = c.fn(a, b);
      EXPECT_TRUE(c.exact ? all_close(got, ref, 0, 0) : all_close(got, ref, 2e-6, 1.2e-7)) << c.name << " " << what;
    });
  }
}

TEST(SimdBinary, SameShapeEveryTailLength) {
  manual_seed(201);
  for (int64_t n : kTailSizes) check_binary(randf({n}, 2.0), randf({n}, 2.0, 0.5), "n=" + std::to_string(n));
  check_binary(randf({70001}), randf({70001}), "large");
}

TEST(SimdBinary, BroadcastScalarRowAndColumn) {
  manual_seed(202);
  for (int64_t d : {1, 5, 8, 17, 64, 1000}) {
    const Tensor x = randf({13, d}, 2.0);
    const std::string s = " d=" + std::to_string(d);
    check_binary(x, randf({d}), "row bias" + s);          // (R, D) op (D)
    check_binary(randf({d}), x, "row first" + s);         // (D) op (R, D)
    check_binary(x, randf({13, 1}), "column" + s);        // (R, D) op (R, 1)
    check_binary(randf({13, 1}), x, "column first" + s);  // (R, 1) op (R, D)
    check_binary(x, scalar_tensor(1.5, kFloat32), "0-dim" + s);
    check_binary(scalar_tensor(-0.5, kFloat32), x, "0-dim first" + s);
    check_binary(randf({13, 1}), randf({1, d}), "outer" + s);  // both broadcast
  }
}

TEST(SimdBinary, StridedAndEmpty) {
  manual_seed(203);
  const Tensor a = randf({31, 45}), b = randf({31, 45});
  check_binary(non_contiguous(a), b, "transposed a");
  check_binary(a, b.t().contiguous().t(), "transposed b");
  check_binary(a.slice(1, 2, 40), b.slice(1, 5, 43), "row slices");
  check_binary(a.slice(1, 0, 44, 2), b.slice(1, 1, {}, 2), "strided columns");
  check_binary(zeros({0, 4}), zeros({4}), "empty");
  check_binary(tensor({2.0}, kFloat32), tensor({3.0}, kFloat32), "single");
}

TEST(SimdBinary, NaNInfAndSignedZero) {
  const Tensor a = tensor({kNaN, 1.0, kNaN, kInf, -kInf, 0.0, -0.0, 3.0, 1.0}, kFloat32);
  const Tensor b = tensor({1.0, kNaN, kNaN, kInf, kInf, -0.0, 0.0, 0.0, -kInf}, kFloat32);
  check_binary(a, b, "specials");
  for_each_cpu_isa([&] {
    const auto mx = testing::to_vector(ops::maximum(a, b)), mn = testing::to_vector(ops::minimum(a, b));
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(mx[i]) && std::isnan(mn[i])) << i;
    EXPECT_EQ(mx[4], kInf);
    EXPECT_EQ(mn[8], -kInf);
    const auto d = testing::to_vector(ops::div(a, b));
    EXPECT_EQ(d[7], kInf);
    EXPECT_TRUE(std::isnan(d[3]));
  });
}

TEST(SimdBinary, InPlaceAdd) {
  manual_seed(204);
  for_each_cpu_isa([&] {
    Tensor x = randf({257, 3});
    const Tensor y = randf({3});
    const Tensor expect = on_scalar([&] { return ops::add(x, y, 2.0); });
    x.add_(y, 2.0);
    EXPECT_TRUE(all_close(x, expect, 2e-6, 1.2e-7));
  });
}

// float32 <-> bfloat16 casts between contiguous tensors take the vector
// conversion; every path must give BFloat16's own bits (round to nearest
// even, ties both ways, quiet NaNs keeping their sign and top payload bits,
// subnormals, overflow to infinity), at every tail length.
TEST(SimdConvert, Bfloat16BitsMatchTheScalarConversion) {
  std::vector<uint32_t> patterns = {
      0x00000000u, 0x80000000u, 0x3f800000u, 0x3f808000u /* tie, even below */, 0x3f818000u /* tie, odd below */,
      0x3f807fffu, 0x3f808001u, 0x7f7fffffu /* max: rounds to inf */, 0x7f800000u, 0xff800000u,
      0x7fc00000u, 0xffc00001u, 0x7f800001u /* signalling NaN, payload in the low bits only */, 0x7fa00000u,
      0x00000001u /* smallest subnormal */, 0x007fffffu, 0x80008000u, 0x0000ffffu};
  uint32_t state = 12345u;
  while (patterns.size() < 1000) {
    state = state * 1664525u + 1013904223u;
    patterns.push_back(state);
  }
  std::vector<float> values(patterns.size());
  std::memcpy(values.data(), patterns.data(), 4 * patterns.size());
  for (int64_t n : {int64_t{1000}, int64_t{15}, int64_t{17}, int64_t{33}}) {
    SCOPED_TRACE(n);
    const Tensor f = ops::clone(from_blob(values.data(), {n}));
    std::vector<uint16_t> expected(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) expected[static_cast<size_t>(i)] = BFloat16(values[static_cast<size_t>(i)]).bits;
    for_each_cpu_isa([&] {
      const Tensor b = ops::to(f, kBFloat16);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(b.data_ptr<BFloat16>()[i].bits, expected[static_cast<size_t>(i)]) << "element " << i;
      const Tensor back = ops::to(b, kFloat32);
      for (int64_t i = 0; i < n; ++i) {
        uint32_t u = 0;
        std::memcpy(&u, back.data_ptr<float>() + i, 4);
        ASSERT_EQ(u, static_cast<uint32_t>(expected[static_cast<size_t>(i)]) << 16) << "element " << i;
      }
    });
  }
}

}  // namespace
}  // namespace ember
