// CPU-vs-CUDA agreement of the elementwise, copy, fill/range and random
// kernels: the same random inputs run through the CPU kernel and the CUDA
// kernel, compared per element. Every test skips cleanly without a GPU.
//
// Tolerances: float32 elementwise rtol 1e-5 (atol 1e-6; the device libm is
// within 2 ulp); float64 rtol 1e-12; float16/bfloat16 one unit in the last
// place (rtol 1e-2); integer and bool results, copies, ranges and the
// uniform/integer/dropout draws exactly; normal draws rtol 1e-6.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda_compare.hpp"

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "neg abs sign exp log log1p sqrt rsqrt sin cos tanh sigmoid relu leaky_relu gelu silu "
    "softplus pow_scalar clamp reciprocal logical_not add sub mul div pow maximum minimum eq "
    "ne lt le gt ge logical_and logical_or gelu_backward relu_backward where masked_fill "
    "addcmul addcdiv copy fill arange linspace eye uniform normal randint dropout ");

namespace {

using namespace ember;
using ember::testing::all_close;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

using ember::testing::gpu;  // keeps a view's layout on the GPU
using ember::testing::kGpu;

double rtol_for(DType dt) {
  if (dt == kFloat64) return 1e-12;
  if (dt.is_reduced_float()) return 1e-2;
  if (dt == kFloat32) return 1e-5;
  return 0.0;
}

// Exact equality of two tensors' values (on any devices).
::testing::AssertionResult same_values(const Tensor& a, const Tensor& b) {
  if (!(a.shape() == b.shape()) || a.dtype() != b.dtype())
    return ::testing::AssertionFailure() << a.describe() << " vs " << b.describe();
  std::vector<double> va = to_vector(a), vb = to_vector(b);
  for (size_t i = 0; i < va.size(); ++i)
    if (!(va[i] == vb[i]) && !(va[i] != va[i] && vb[i] != vb[i]))
      return ::testing::AssertionFailure() << "element " << i << ": " << va[i] << " vs " << vb[i];
  return ::testing::AssertionSuccess();
}

// Runs f on CPU inputs and on copies of them on the GPU; compares the outputs.
void expect_agree(const std::string& what, const std::function<Tensor(const std::vector<Tensor>&)>& f,
                  const std::vector<Tensor>& inputs, double rtol = -1, double atol = 1e-6) {
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : inputs) on_gpu.push_back(gpu(t));
  Tensor want = f(inputs), got = f(on_gpu);
  ASSERT_TRUE(ember::testing::on_gpu(got)) << what;
  const double r = rtol >= 0 ? rtol : rtol_for(want.dtype());
  if (r == 0.0) EXPECT_TRUE(same_values(got, want)) << what;
  else EXPECT_TRUE(all_close(got, want, want.dtype() == kFloat64 ? 1e-12 : atol, r)) << what;
}

// Input layouts every elementwise op is checked on: odd-sized contiguous (vector
// path with a tail), a non-contiguous view (strided path), a large contiguous one.
std::vector<Tensor> layouts(DType dt, bool positive) {
  auto make = [&](IntList shape) {
    Tensor x = randn(shape, kFloat64);
    if (positive) x = ops::add(ops::abs(x), scalar_tensor(0.1, kFloat64));
    return ops::to(x, dt);
  };
  return {make({37, 29}), non_contiguous(make({6, 5, 7})), make({1 << 16}), make({1, 3})};
}

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
  bool positive;
};

std::vector<UnaryCase> float_unary_cases() {
  return {{"exp", [](const Tensor& x) { return ops::exp(x); }, false},
          {"log", [](const Tensor& x) { return ops::log(x); }, true},
          {"log1p", [](const Tensor& x) { return ops::log1p(x); }, true},
          {"sqrt", [](const Tensor& x) { return ops::sqrt(x); }, true},
          {"rsqrt", [](const Tensor& x) { return ops::rsqrt(x); }, true},
          {"sin", [](const Tensor& x) { return ops::sin(x); }, false},
          {"cos", [](const Tensor& x) { return ops::cos(x); }, false},
          {"tanh", [](const Tensor& x) { return ops::tanh(x); }, false},
          {"sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }, false},
          {"silu", [](const Tensor& x) { return ops::silu(x); }, false},
          {"reciprocal", [](const Tensor& x) { return ops::reciprocal(x); }, true},
          {"leaky_relu", [](const Tensor& x) { return ops::leaky_relu(x, 0.2); }, false},
          {"gelu", [](const Tensor& x) { return ops::gelu(x); }, false},
          {"gelu_tanh", [](const Tensor& x) { return ops::gelu(x, "tanh"); }, false},
          {"softplus", [](const Tensor& x) { return ops::softplus(x, 2.0, 1.5); }, false},
          {"neg", [](const Tensor& x) { return ops::neg(x); }, false},
          {"abs", [](const Tensor& x) { return ops::abs(x); }, false},
          {"sign", [](const Tensor& x) { return ops::sign(x); }, false},
          {"relu", [](const Tensor& x) { return ops::relu(x); }, false},
          {"pow_scalar", [](const Tensor& x) { return ops::pow(x, Scalar(3.0)); }, false},
          {"pow_sqrt", [](const Tensor& x) { return ops::pow(x, Scalar(0.5)); }, true},
          {"pow_frac", [](const Tensor& x) { return ops::pow(x, Scalar(1.7)); }, true},
          {"clamp", [](const Tensor& x) { return ops::clamp(x, Scalar(-0.5), Scalar(0.7)); }, false},
          {"clamp_min", [](const Tensor& x) { return ops::clamp(x, Scalar(-0.5), std::nullopt); }, false},
          {"logical_not", [](const Tensor& x) { return ops::logical_not(ops::relu(x)); }, false}};
}

TEST(CudaElementwise, UnaryFloatOpsMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(1);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    for (const UnaryCase& c : float_unary_cases()) {
      for (const Tensor& x : layouts(dt, c.positive)) {
        expect_agree(std::string(c.name) + " " + x.describe(), [&](const std::vector<Tensor>& in) { return c.fn(in[0]); },
                     {x});
      }
    }
  }
}

TEST(CudaElementwise, UnaryIntegerOpsMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(2);
  for (DType dt : {kInt64, kInt32, kUInt8}) {
    Tensor x = randint(dt == kUInt8 ? 0 : -50, 50, {41, 13}, dt);
    for (const Tensor& in : {x, non_contiguous(x)}) {
      expect_agree("neg", [](const auto& v) { return ops::neg(v[0]); }, {in});
      expect_agree("abs", [](const auto& v) { return ops::abs(v[0]); }, {in});
      expect_agree("sign", [](const auto& v) { return ops::sign(v[0]); }, {in});
      expect_agree("relu", [](const auto& v) { return ops::relu(v[0]); }, {in});
      expect_agree("pow", [](const auto& v) { return ops::pow(v[0], Scalar(3)); }, {in});
      expect_agree("clamp", [](const auto& v) { return ops::clamp(v[0], Scalar(3), Scalar(20)); }, {in});
      expect_agree("logical_not", [](const auto& v) { return ops::logical_not(v[0]); }, {in});
    }
  }
}

using BinaryFn = std::function<Tensor(const Tensor&, const Tensor&)>;

TEST(CudaElementwise, BinaryOpsWithBroadcastingMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(3);
  const std::vector<std::pair<const char*, BinaryFn>> cases = {
      {"add", [](const Tensor& a, const Tensor& b) { return ops::add(a, b); }},
      {"add_alpha", [](const Tensor& a, const Tensor& b) { return ops::add(a, b, Scalar(2)); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return ops::sub(a, b, Scalar(3)); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return ops::mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return ops::div(a, ops::add(ops::abs(b), scalar_tensor(1, b.options()))); }},
      {"pow", [](const Tensor& a, const Tensor& b) { return ops::pow(ops::abs(a), ops::clamp(b, Scalar(0), Scalar(3))); }},
      // Integer exponents down to -3 (for floats, bases away from 0): PyTorch's negative-exponent rules.
      {"pow_negative_exponent",
       [](const Tensor& a, const Tensor& b) {
         Tensor base = a.dtype().is_floating() ? ops::add(ops::abs(a), scalar_tensor(0.5, a.options())) : a;
         return ops::pow(base, ops::clamp(b, Scalar(-3), Scalar(2)));
       }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return ops::minimum(a, b); }},
      {"eq", [](const Tensor& a, const Tensor& b) { return ops::eq(a, b); }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ops::ne(a, b); }},
      {"lt", [](const Tensor& a, const Tensor& b) { return ops::lt(a, b); }},
      {"le", [](const Tensor& a, const Tensor& b) { return ops::le(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return ops::gt(a, b); }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ops::ge(a, b); }},
      {"logical_and", [](const Tensor& a, const Tensor& b) { return ops::logical_and(a, b); }},
      {"logical_or", [](const Tensor& a, const Tensor& b) { return ops::logical_or(a, b); }}};
  for (DType dt : {kFloat32, kFloat64, kInt64, kInt32, kFloat16}) {
    auto make = [&](IntList shape) {
      return dt.is_floating() ? ops::to(randn(shape, kFloat64), dt) : randint(-4, 5, shape, dt);
    };
    // (a, b) pairs: same shape, broadcast both ways, non-contiguous, scalar, large.
    const std::vector<std::pair<Tensor, Tensor>> pairs = {
        {make({33, 17}), make({33, 17})},
        {make({5, 1, 7}), make({4, 7})},
        {non_contiguous(make({6, 9})), make({9})},
        {make({3, 4}), make({})},
        {make({1 << 15}), make({1 << 15})}};
    for (const auto& [name, fn] : cases) {
      if (std::string(name) == "div" && !dt.is_floating()) continue;  // int / int is float: covered by float dtypes
      for (const auto& [a, b] : pairs) {
        expect_agree(std::string(name) + " " + a.describe() + " , " + b.describe(),
                     [&](const std::vector<Tensor>& in) { return fn(in[0], in[1]); }, {a, b});
      }
    }
  }
}

TEST(CudaElementwise, GeluBackwardAndTernaryOpsMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(4);
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor g = ops::to(randn({8, 11}, kFloat64), dt), x = ops::to(randn({8, 11}, kFloat64), dt);
    expect_agree("gelu_backward", [](const auto& v) { return ops::gelu_backward(v[0], v[1]); }, {g, non_contiguous(x)});
    expect_agree("gelu_backward tanh", [](const auto& v) { return ops::gelu_backward(v[0], v[1], "tanh"); }, {g, x});
    expect_agree("relu_backward", [](const auto& v) { return ops::relu_backward(v[0], v[1]); }, {g, non_contiguous(x)});
    Tensor cond = ops::gt(randn({8, 1}, kFloat64), scalar_tensor(0.0, kFloat64));
    Tensor row = ops::to(randn({11}, kFloat64), dt);
    expect_agree("where", [](const auto& v) { return ops::where(v[0], v[1], v[2]); }, {cond, x, row});
    Tensor mask = ops::lt(randn({11}, kFloat64), scalar_tensor(0.0, kFloat64));
    expect_agree("masked_fill", [](const auto& v) { return ops::masked_fill(v[0], v[1], Scalar(-2.5)); },
                 {non_contiguous(x), mask});
    Tensor t1 = ops::to(randn({8, 11}, kFloat64), dt), t2 = ops::to(rand({11}, kFloat64), dt);
    expect_agree("addcmul", [](const auto& v) { return ops::addcmul(v[0], v[1], v[2], Scalar(0.3)); }, {x, t1, t2});
    expect_agree("addcdiv", [](const auto& v) {
      return ops::addcdiv(v[0], v[1], ops::add(v[2], scalar_tensor(0.5, v[2].options())), Scalar(-0.7));
    }, {x, t1, t2});
  }
  Tensor ix = randint(-9, 9, {5, 6}, kInt64);
  expect_agree("addcmul int64", [](const auto& v) { return ops::addcmul(v[0], v[1], v[2], Scalar(2)); }, {ix, ix, ix});
}

TEST(CudaElementwise, InPlaceOpsOnStridedViews) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(5);
  Tensor base = randn({7, 10}), other = randn({10});
  Tensor c = base.clone(), g = gpu(base);
  Tensor cv = ops::transpose(c, 0, 1), gv = ops::transpose(g, 0, 1);  // (10, 7) views
  ops::binary_(Op::add, cv, ops::unsqueeze(other, 1), Scalar(2));
  ops::binary_(Op::add, gv, ops::unsqueeze(gpu(other), 1), Scalar(2));
  EXPECT_TRUE(all_close(g, c, 1e-6, 1e-5));
}

// ---- copies -------------------------------------------------------------------------------

TEST(CudaCopy, EveryDtypePairConvertsAsTheCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(6);
  const std::vector<DType> dtypes = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool};
  Tensor values = ops::div(ops::to(randint(0, 2000, {9, 13}, kInt64), kFloat64), scalar_tensor(8.0, kFloat64));
  for (DType from : dtypes) {
    Tensor src = ops::to(values, from);
    for (DType to : dtypes) {
      Tensor want = ops::to(src, to);
      Tensor got = ops::to(gpu(src), to);                  // on-device conversion
      EXPECT_TRUE(same_values(got, want)) << from << " -> " << to;
      Tensor dst = empty(src.shape(), TensorOptions(to, kGpu));
      ops::copy_(dst, src);                                // host -> device with conversion
      EXPECT_TRUE(same_values(dst, want)) << "cpu " << from << " -> cuda " << to;
      Tensor host = empty(src.shape(), to);
      ops::copy_(host, gpu(src));                          // device -> host with conversion
      EXPECT_TRUE(same_values(host, want)) << "cuda " << from << " -> cpu " << to;
    }
  }
}

// Narrowing to 16-bit floats on the device gives the CPU's bits, NaNs
// included (signs and payloads), with infinities, subnormals and ties.
TEST(CudaCopy, NarrowingGivesTheCpuBitsNaNsIncluded) {
  EMBER_SKIP_WITHOUT_GPU();
  std::vector<uint32_t> patterns = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff812345u, 0x7fa5a5a5u, 0x7f800000u,
                                    0xff800000u, 0x00000001u, 0x80000001u, 0x3f808000u, 0x3f818000u, 0x33800000u,
                                    0x387fe000u, 0x7f7fffffu, 0x00000000u, 0x80000000u};
  std::vector<float> values(patterns.size());
  std::memcpy(values.data(), patterns.data(), 4 * patterns.size());
  const Tensor src = ops::clone(from_blob(values.data(), {static_cast<int64_t>(values.size())}));
  for (DType to : {kFloat16, kBFloat16}) {
    for (DType via : {kFloat32, kFloat64}) {
      const Tensor in = ops::to(src, via);
      const Tensor want = ops::to(in, to);
      const Tensor got = ops::to(ops::to(gpu(in), to), Device(kCPU));
      ASSERT_EQ(got.numel(), want.numel());
      for (int64_t i = 0; i < want.numel(); ++i) {
        uint16_t a = 0, b = 0;
        std::memcpy(&a, static_cast<const char*>(got.data_ptr()) + 2 * i, 2);
        std::memcpy(&b, static_cast<const char*>(want.data_ptr()) + 2 * i, 2);
        EXPECT_EQ(a, b) << via << " -> " << to << " element " << i << " (float bits 0x" << std::hex << patterns[i] << ")";
      }
    }
  }
}

TEST(CudaCopy, StridedBroadcastAndCrossDeviceLayouts) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(7);
  Tensor x = randn({6, 8, 5});
  Tensor g = gpu(x);
  EXPECT_TRUE(same_values(ops::contiguous(ops::permute(g, {2, 0, 1})), ops::contiguous(ops::permute(x, {2, 0, 1}))));
  EXPECT_TRUE(same_values(ops::to(non_contiguous(g), kCPU), x));
  // Non-contiguous destinations on either side.
  Tensor dg = ops::transpose(empty({5, 6, 8}, TensorOptions(kFloat32, kGpu)), 0, 2);  // (8, 6, 5) view
  ops::copy_(dg, ops::permute(x, {1, 0, 2}));
  EXPECT_TRUE(same_values(dg, ops::permute(x, {1, 0, 2})));
  Tensor dc = ops::transpose(empty({8, 6}), 0, 1);
  ops::copy_(dc, ops::select(g, 2, 3));
  EXPECT_TRUE(same_values(dc, ops::select(x, 2, 3)));
  // Broadcast source.
  Tensor row = randn({8});
  Tensor dst = empty({4, 8}, TensorOptions(kFloat32, kGpu));
  ops::copy_(dst, gpu(row));
  EXPECT_TRUE(same_values(dst, ops::expand(row, {4, 8})));
  // More than 8 dims that do not coalesce (the split path of the strided engine).
  Tensor many = randn({2, 3, 2, 3, 2, 3, 2, 3, 2, 3});
  Tensor perm = ops::permute(many, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0});
  EXPECT_TRUE(same_values(ops::contiguous(ops::permute(gpu(many), {9, 8, 7, 6, 5, 4, 3, 2, 1, 0})), ops::contiguous(perm)));
  // item() reads back through a synchronous copy.
  EXPECT_EQ(full({}, Scalar(2.5), TensorOptions(kFloat64, kGpu)).item<double>(), 2.5);
  // Zero-size tensors.
  EXPECT_EQ(gpu(empty({0, 3})).numel(), 0);
}

TEST(CudaCopy, BetweenTwoGpus) {
  EMBER_SKIP_WITHOUT_GPU();
  if (ember::testing::kRehearsal) GTEST_SKIP() << "rehearsal: the CPU cannot play two GPUs";
#if defined(EMBER_WITH_CUDA)
  if (cuda::device_count() < 2) GTEST_SKIP() << "needs two GPUs";
#endif
  Tensor x = randn({17, 33});
  Tensor on1 = ops::to(gpu(x), Device(DeviceType::CUDA, 1));
  EXPECT_EQ(on1.device(), Device(DeviceType::CUDA, 1));
  EXPECT_TRUE(same_values(on1, x));
  Tensor back = empty({33, 17}, TensorOptions(kFloat64, kGpu));
  ops::copy_(back, ops::transpose(on1, 0, 1));
  EXPECT_TRUE(all_close(back, ops::transpose(x, 0, 1), 0, 0));
}

TEST(CudaFactories, FillArangeLinspaceEyeMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64, kInt64, kInt32, kFloat16}) {
    EXPECT_TRUE(same_values(full({5, 7}, Scalar(3), TensorOptions(dt, kGpu)), full({5, 7}, Scalar(3), dt))) << dt;
    EXPECT_TRUE(same_values(arange(Scalar(-3), Scalar(40), Scalar(3), TensorOptions(dt, kGpu)),
                            arange(Scalar(-3), Scalar(40), Scalar(3), dt)))
        << dt;
    EXPECT_TRUE(same_values(eye(4, 6, TensorOptions(dt, kGpu)), eye(4, 6, dt))) << dt;
  }
  for (DType dt : {kFloat32, kFloat64}) {
    EXPECT_TRUE(same_values(arange(Scalar(0.1), Scalar(7.3), Scalar(0.3), TensorOptions(dt, kGpu)),
                            arange(Scalar(0.1), Scalar(7.3), Scalar(0.3), dt)));
    for (int64_t steps : {1, 2, 7, 1000})
      EXPECT_TRUE(same_values(linspace(-1.3, 2.9, steps, TensorOptions(dt, kGpu)), linspace(-1.3, 2.9, steps, dt)))
          << steps;
  }
  Tensor strided = ops::transpose(zeros({6, 4}, TensorOptions(kFloat32, kGpu)), 0, 1);
  ops::fill_(strided, Scalar(1.5));
  EXPECT_TRUE(same_values(strided, full({4, 6}, Scalar(1.5))));
}

// ---- random: Note [philox streams] ----------------------------------------------------------

template <class Draw>
void expect_same_draws(const char* what, Draw draw, bool exact) {
  for (int64_t n : {1, 3, 4, 5, 1001}) {
    manual_seed(1234);
    (void)rand({3});  // a non-zero offset
    Tensor c = draw(n, kCPU);
    uint64_t offset_cpu = default_generator().offset();
    manual_seed(1234);
    (void)rand({3});
    Tensor g = draw(n, kGpu);
    EXPECT_EQ(default_generator().offset(), offset_cpu) << what;
    if (exact) EXPECT_TRUE(same_values(g, c)) << what << " n=" << n;
    else EXPECT_TRUE(all_close(g, c, 1e-12, 1e-6)) << what << " n=" << n;
  }
}

TEST(CudaRandom, SameSeedSameNumbersAsTheCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    expect_same_draws("uniform", [&](int64_t n, Device d) { return rand({n}, TensorOptions(dt, d)); }, true);
    expect_same_draws("uniform range", [&](int64_t n, Device d) {
      Tensor t = empty({n}, TensorOptions(dt, d));
      return uniform_(t, -2.0, 5.0);
    }, true);
    expect_same_draws("normal", [&](int64_t n, Device d) {
      Tensor t = empty({n}, TensorOptions(dt, d));
      return normal_(t, 0.5, 3.0);
    }, dt.is_reduced_float());
  }
  for (DType dt : {kInt64, kInt32, kUInt8})
    expect_same_draws("randint", [&](int64_t n, Device d) { return randint(0, 200, {n}, TensorOptions(dt, d)); }, true);
  expect_same_draws("randint wide", [&](int64_t n, Device d) { return randint(-7, 1000003, {n}, TensorOptions(kInt64, d)); },
                    true);
}

TEST(CudaRandom, DropoutMatchesTheCpuBitForBit) {
  EMBER_SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    Tensor x = ops::to(randn({37, 11}, kFloat64), dt);
    manual_seed(99);
    auto [out_c, mask_c] = ops::dropout(x, 0.3);
    manual_seed(99);
    auto [out_g, mask_g] = ops::dropout(gpu(x), 0.3);
    EXPECT_TRUE(same_values(mask_g, mask_c)) << dt;
    EXPECT_TRUE(same_values(out_g, out_c)) << dt;
  }
}

}  // namespace
