// Tests of mm, bmm, matmul and linear (tensor/ops_linalg.cpp, kernels/cpu/linalg.cpp
// on the blocked GEMM of kernels/cpu/gemm.cpp) against a naive triple loop over
// std::vector<double>.
//
// Sizes are picked to cross every blocking boundary of the GEMM: tails of the
// register tile (odd M, N), K beyond one packed slab (K > 256), N beyond one
// packed panel (N > 2048), M beyond one A block (M > 96), and the small-matrix
// path. Operands are also transposed, strided and stride-0 (expanded) views.
//
// Tolerances: float64 1e-12 relative (+1e-12 absolute); float32 1e-5 relative +
// 1e-5 * sqrt(K) absolute (summation order differs from the reference);
// float16/bfloat16 inputs are exactly representable in the reference (it
// reads the rounded values), so only the output rounding and float32
// accumulation matter: rtol 2e-3 / 1e-2. Integer results are exact.
#include <algorithm>
#include <cmath>

#include <ember/kernels/cpu/gemm.hpp>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::for_each_cpu_isa;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(mm);
EMBER_OP_TESTED(bmm);
EMBER_OP_TESTED(linear);

// c (n, m) = a (n, k) @ b (k, m), row-major doubles.
std::vector<double> ref_mm(const std::vector<double>& a, const std::vector<double>& b, int64_t n, int64_t k, int64_t m) {
  std::vector<double> c(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) s += a[static_cast<size_t>(i * k + p)] * b[static_cast<size_t>(p * m + j)];
      c[static_cast<size_t>(i * m + j)] = s;
    }
  return c;
}

Tensor ref_mm_tensor(const Tensor& a, const Tensor& b) {
  return from_values(ref_mm(to_vector(a), to_vector(b), a.size(0), a.size(1), b.size(1)), {a.size(0), b.size(1)});
}

double f32_atol(int64_t k) { return 1e-5 * std::sqrt(static_cast<double>(std::max<int64_t>(k, 1))); }

struct Size3 {
  int64_t m, n, k;
};

TEST(Linalg, MmMatchesReferenceAcrossBlockingBoundaries) {
  manual_seed(1);
  // Crosses the blocks of the reference GEMM (MC 96, KC 256, NC 2048) and of the
  // packed ones (AVX2 tile 6 x 16, MC 144, KC 256; AVX-512 tile 12 x 32, MC 192, KC 384),
  // including many A blocks of equal height with a ragged last tile (1031 rows).
  const Size3 sizes[] = {{1, 1, 1},   {2, 3, 4},   {7, 9, 11},  {6, 8, 257}, {97, 129, 33},
                         {13, 2050, 3}, {100, 7, 300}, {193, 131, 513}, {5, 1, 40}, {1, 37, 70},
                         {145, 33, 385}, {12, 32, 384}, {13, 17, 769}, {200, 47, 20}, {1031, 70, 263}};
  for_each_cpu_isa([&] {
    for (DType dt : {kFloat32, kFloat64}) {
      for (const Size3& s : sizes) {
        Tensor a = randn({s.m, s.k}, dt), b = randn({s.k, s.n}, dt);
        Tensor out = ops::mm(a, b);
        ASSERT_EQ(out.shape(), Dims({s.m, s.n}));
        EXPECT_EQ(out.dtype(), dt);
        const double atol = dt == kFloat64 ? 1e-12 : f32_atol(s.k), rtol = dt == kFloat64 ? 1e-12 : 1e-5;
        EXPECT_TRUE(all_close(out, ref_mm_tensor(a, b), atol, rtol)) << s.m << "x" << s.n << "x" << s.k << " " << dt;
      }
    }
  });
}

// A panel wider than NC (3072) and a depth beyond two KC slabs, float32 only (the
// double reference is slow): every ISA path against the scalar reference GEMM.
TEST(Linalg, PackedGemmMatchesScalarPathOnLargeShapes) {
  manual_seed(11);
  Tensor a = randn({37, 800}), b = randn({800, 3100});
  Tensor expected;
  {
    cpu::CpuIsaGuard scalar(cpu::Isa::scalar);
    expected = ops::mm(a, b);
  }
  for_each_cpu_isa([&] { EXPECT_TRUE(all_close(ops::mm(a, b), expected, 1e-4, 1e-4)); });
}

// The GEMM core directly: C += A @ B into a column-major (transposed) C, for each storage type.
template <class T>
void check_gemm_accumulate(DType dt, int64_t M, int64_t N, int64_t K, double tol) {
  SCOPED_TRACE(::testing::Message() << dt << " " << M << "x" << N << "x" << K);
  Tensor a = dt.is_floating() ? randn({M, K}, dt) : randint(-20, 20, {M, K}, dt);
  Tensor b = dt.is_floating() ? randn({N, K}, dt) : randint(-20, 20, {N, K}, dt);  // used as b^T (K, N)
  Tensor c0 = dt.is_floating() ? randn({N, M}, dt) : randint(-20, 20, {N, M}, dt);  // C is c0^T (M, N)
  Tensor c = ops::clone(c0);
  cpu::gemm<T>(M, N, K, cpu::ConstMatrix<T>{a.data_ptr<T>(), K, 1}, cpu::ConstMatrix<T>{b.data_ptr<T>(), 1, K},
               cpu::Matrix<T>{c.data_ptr<T>(), 1, M}, true);
  Tensor expected = ops::add(ref_mm_tensor(a, b.t()), ops::to(c0.t(), kFloat64));
  EXPECT_TRUE(all_close(c.t(), expected, tol, std::min(tol, 2e-3)));
  // accumulate = false overwrites whatever C held.
  cpu::gemm<T>(M, N, K, cpu::ConstMatrix<T>{a.data_ptr<T>(), K, 1}, cpu::ConstMatrix<T>{b.data_ptr<T>(), 1, K},
               cpu::Matrix<T>{c.data_ptr<T>(), 1, M}, false);
  EXPECT_TRUE(all_close(c.t(), ref_mm_tensor(a, b.t()), tol, std::min(tol, 2e-3)));
}

TEST(Linalg, GemmAccumulatesIntoStridedOutput) {
  manual_seed(7);
  for_each_cpu_isa([] {
    for (const Size3& s : {Size3{3, 5, 7}, Size3{101, 37, 300}, Size3{7, 130, 513}, Size3{150, 40, 400}}) {
      check_gemm_accumulate<float>(kFloat32, s.m, s.n, s.k, 1e-4);
      check_gemm_accumulate<double>(kFloat64, s.m, s.n, s.k, 1e-12);
      check_gemm_accumulate<Half>(kFloat16, s.m, s.n, s.k, 5e-2);
      check_gemm_accumulate<BFloat16>(kBFloat16, s.m, s.n, s.k, 0.25);  // 8 mantissa bits in C
      check_gemm_accumulate<int32_t>(kInt32, s.m, s.n, s.k, 0.0);
    }
  });
}

// Row-major C accumulated in place (the full-tile fast path, C += A @ B), for both float types.
TEST(Linalg, GemmAccumulatesIntoRowMajorOutput) {
  manual_seed(8);
  for_each_cpu_isa([] {
    for (const Size3& s : {Size3{24, 64, 300}, Size3{31, 45, 70}}) {
      Tensor a = randn({s.m, s.k}), b = randn({s.k, s.n}), c0 = randn({s.m, s.n});
      Tensor c = ops::clone(c0);
      cpu::gemm<float>(s.m, s.n, s.k, cpu::ConstMatrix<float>{a.data_ptr<float>(), s.k, 1},
                       cpu::ConstMatrix<float>{b.data_ptr<float>(), s.n, 1}, cpu::Matrix<float>{c.data_ptr<float>(), s.n, 1},
                       true);
      EXPECT_TRUE(all_close(c, ops::add(ref_mm_tensor(a, b), ops::to(c0, kFloat64)), f32_atol(s.k), 1e-5));
    }
  });
}

TEST(Linalg, MmTransposedStridedAndExpandedOperands) {
  manual_seed(2);
  for_each_cpu_isa([] {
    for (DType dt : {kFloat32, kFloat64}) {
      const double rtol = dt == kFloat64 ? 1e-12 : 1e-5;
      // a^T and b^T views (column-major operands).
      Tensor at = randn({70, 45}, dt), bt = randn({33, 70}, dt);
      Tensor a = at.t(), b = bt.t();  // (45, 70), (70, 33)
      EXPECT_TRUE(all_close(ops::mm(a, b), ref_mm_tensor(a, b), f32_atol(70), rtol));
      // A column-major A taller than one A block, with a ragged last tile.
      Tensor a2 = randn({37, 301}, dt).t(), b2 = randn({37, 20}, dt);
      EXPECT_TRUE(all_close(ops::mm(a2, b2), ref_mm_tensor(a2, b2), f32_atol(37), rtol));
      // Non-contiguous copies with the same values, and every-other-column slices.
      Tensor c = non_contiguous(randn({19, 23}, dt)), d = randn({23, 60}, dt).slice(1, 0, {}, 2);
      EXPECT_FALSE(d.is_contiguous());
      EXPECT_TRUE(all_close(ops::mm(c, d), ref_mm_tensor(c, d), f32_atol(23), rtol));
      // Stride-0 operands: a row broadcast down the rows, a column broadcast across.
      Tensor row = randn({1, 40}, dt).expand({50, 40}), col = randn({40, 1}, dt).expand({40, 30});
      EXPECT_TRUE(all_close(ops::mm(row, col), ref_mm_tensor(row, col), f32_atol(40), rtol));
    }
  });
}

TEST(Linalg, MmReducedPrecisionAndIntegers) {
  manual_seed(3);
  for (DType dt : {kFloat16, kBFloat16}) {
    Tensor a = randn({37, 64}, dt), b = randn({64, 29}, dt);
    Tensor out = ops::mm(a, b);
    EXPECT_EQ(out.dtype(), dt);
    const double rtol = dt == kFloat16 ? 2e-3 : 1e-2;
    EXPECT_TRUE(all_close(out, ref_mm_tensor(a, b), rtol * 8, rtol)) << dt;
  }
  for (DType dt : {kInt32, kInt64}) {
    Tensor a = randint(-50, 50, {31, 300}, dt), b = randint(-50, 50, {300, 17}, dt);
    Tensor out = ops::mm(a, b);
    EXPECT_EQ(out.dtype(), dt);
    EXPECT_TRUE(all_close(out, ref_mm_tensor(a, b), 0.0, 0.0)) << dt;
    Tensor at = ops::contiguous(a.t()).t();  // transposed layout
    EXPECT_TRUE(all_close(ops::mm(at, b), ref_mm_tensor(a, b), 0.0, 0.0)) << dt;
  }
  // int64 products beyond 32 bits are exact.
  Tensor big = full({2, 2}, int64_t{3000000000}, kInt64), ones2 = ones({2, 1}, kInt64);
  EXPECT_EQ(ops::mm(big, ones2)[0][0].item<int64_t>(), int64_t{6000000000});
}

// bfloat16 matmuls on every path: on the AVX-512 path of a CPU with AVX-512
// BF16 they run the dot-product GEMM (pairs of k, so odd depths leave a
// half-empty last pair). Shapes cross its blocks (MC 192, KC 512, NC 3072),
// with row-major B in full and partial 32-column panels, transposed operands,
// and an accumulating C.
TEST(Linalg, Bfloat16GemmAcrossBlocksAndLayouts) {
  manual_seed(12);
  SCOPED_TRACE(cpu::cpu_features());
  for_each_cpu_isa([] {
    for (const Size3& s : {Size3{200, 3100, 77}, Size3{33, 64, 1025}, Size3{13, 45, 3}, Size3{64, 96, 512}}) {
      Tensor a = randn({s.m, s.k}, kBFloat16), b = randn({s.k, s.n}, kBFloat16);
      const double atol = 1e-2 * std::sqrt(static_cast<double>(s.k));
      EXPECT_TRUE(all_close(ops::mm(a, b), ref_mm_tensor(a, b), atol, 1e-2)) << s.m << "x" << s.n << "x" << s.k;
      Tensor at = randn({s.k, s.m}, kBFloat16).t(), bt = randn({s.n, s.k}, kBFloat16).t();
      EXPECT_TRUE(all_close(ops::mm(at, bt), ref_mm_tensor(at, bt), atol, 1e-2)) << "transposed " << s.m << "x" << s.n;
    }
    check_gemm_accumulate<BFloat16>(kBFloat16, 70, 33, 1031, 0.5);
  });
}

TEST(Linalg, MmEmptyAndDegenerateShapes) {
  for (DType dt : {kFloat32, kInt64}) {
    Tensor out = ops::mm(ones({3, 0}, dt), ones({0, 4}, dt));  // K = 0: all zeros
    ASSERT_EQ(out.shape(), Dims({3, 4}));
    EXPECT_TRUE(all_close(out, zeros({3, 4}), 0.0, 0.0));
    EXPECT_EQ(ops::mm(ones({0, 5}, dt), ones({5, 4}, dt)).shape(), Dims({0, 4}));
    EXPECT_EQ(ops::mm(ones({2, 5}, dt), ones({5, 0}, dt)).shape(), Dims({2, 0}));
  }
  // The result does not alias or depend on the previous contents of anything: run twice.
  Tensor a = randn({9, 9}), b = randn({9, 9});
  EXPECT_TRUE(all_close(ops::mm(a, b), ops::mm(a, b), 0.0, 0.0));
}

TEST(Linalg, MmErrorsNameShapes) {
  expect_error([] { ops::mm(ones({8, 64}), ones({32, 16})); },
               {"mm: inner dimensions differ: a is [8, 64] float32 cpu, b is [32, 16] float32 cpu"});
  expect_error([] { ops::mm(ones({2, 3, 4}), ones({4, 2})); }, {"mm:", "2-D", "[2, 3, 4]"});
  expect_error([] { ops::mm(ones({2, 3}), ones({3, 2}, kFloat64)); }, {"mm:", "same dtype", "float64"});
  expect_error([] { ops::mm(ones({2, 3}, kBool), ones({3, 2}, kBool)); }, {"mm:", "bool", "not supported"});
  expect_error([] { ops::mm(ones({2, 3}, kUInt8), ones({3, 2}, kUInt8)); }, {"mm:", "uint8"});
}

TEST(Linalg, BmmMatchesReference) {
  manual_seed(4);
  for (DType dt : {kFloat32, kFloat64, kInt64}) {
    const int64_t B = 5, n = 11, k = 37, m = 9;
    Tensor a = dt == kInt64 ? randint(-9, 9, {B, n, k}, dt) : randn({B, n, k}, dt);
    Tensor b = dt == kInt64 ? randint(-9, 9, {B, k, m}, dt) : randn({B, k, m}, dt);
    // Batch-transposed storage for b: (k, B, m) viewed as (B, k, m).
    Tensor b_perm = ops::contiguous(b.permute({1, 0, 2})).permute({1, 0, 2});
    EXPECT_FALSE(b_perm.is_contiguous());
    for (const Tensor& bb : {b, b_perm}) {
      Tensor out = ops::bmm(a, bb);
      ASSERT_EQ(out.shape(), Dims({B, n, m}));
      for (int64_t i = 0; i < B; ++i) {
        const double tol = dt == kFloat32 ? f32_atol(k) : 1e-12;
        EXPECT_TRUE(all_close(out[i], ref_mm_tensor(a[i], b[i]), tol, dt == kFloat32 ? 1e-5 : 1e-12)) << dt << " " << i;
      }
    }
  }
  // Stride-0 batch (one matrix shared by every batch entry) and many tiny matrices.
  Tensor w = randn({1, 6, 4}).expand({300, 6, 4}), x = randn({300, 4, 3});
  Tensor out = ops::bmm(w, x);
  for (int64_t i : {0, 150, 299}) EXPECT_TRUE(all_close(out[i], ref_mm_tensor(w[i], x[i]), 1e-5, 1e-5));
  EXPECT_EQ(ops::bmm(ones({0, 2, 3}), ones({0, 3, 4})).shape(), Dims({0, 2, 4}));
  EXPECT_TRUE(all_close(ops::bmm(ones({2, 2, 0}), ones({2, 0, 4})), zeros({2, 2, 4}), 0.0, 0.0));
}

TEST(Linalg, BmmErrorsNameShapes) {
  expect_error([] { ops::bmm(ones({2, 3, 4}), ones({3, 4, 5})); }, {"bmm: batch sizes differ", "[2, 3, 4]", "[3, 4, 5]"});
  expect_error([] { ops::bmm(ones({2, 3, 4}), ones({2, 5, 5})); },
               {"bmm: inner dimensions differ: a is [2, 3, 4] float32 cpu, b is [2, 5, 5] float32 cpu"});
  expect_error([] { ops::bmm(ones({3, 4}), ones({4, 5})); }, {"bmm:", "3-D", "[3, 4]"});
}

TEST(Linalg, MatmulNumpySemantics) {
  manual_seed(5);
  Tensor v = randn({6}, kFloat64), w = randn({6}, kFloat64);
  // 1-D . 1-D -> 0-dim dot product.
  Tensor dot = ops::matmul(v, w);
  EXPECT_EQ(dot.dim(), 0);
  double ref = 0;
  for (size_t i = 0; i < 6; ++i) ref += to_vector(v)[i] * to_vector(w)[i];
  EXPECT_NEAR(dot.item<double>(), ref, 1e-12);
  // 2-D @ 1-D and 1-D @ 2-D.
  Tensor m = randn({4, 6}, kFloat64), m2 = randn({6, 3}, kFloat64);
  EXPECT_TRUE(all_close(ops::matmul(m, v), ref_mm_tensor(m, v.reshape({6, 1})).reshape({4}), 1e-12, 1e-12));
  EXPECT_TRUE(all_close(ops::matmul(v, m2), ref_mm_tensor(v.reshape({1, 6}), m2).reshape({3}), 1e-12, 1e-12));
  // 3-D @ 2-D (folded into one mm), 3-D @ 1-D, 1-D @ 3-D.
  Tensor a3 = randn({2, 4, 6}, kFloat64);
  Tensor r1 = ops::matmul(a3, m2);
  ASSERT_EQ(r1.shape(), Dims({2, 4, 3}));
  for (int64_t i = 0; i < 2; ++i) EXPECT_TRUE(all_close(r1[i], ref_mm_tensor(a3[i], m2), 1e-12, 1e-12));
  Tensor r2 = ops::matmul(a3, v);
  ASSERT_EQ(r2.shape(), Dims({2, 4}));
  for (int64_t i = 0; i < 2; ++i)
    EXPECT_TRUE(all_close(r2[i], ref_mm_tensor(a3[i], v.reshape({6, 1})).reshape({4}), 1e-12, 1e-12));
  Tensor b3 = randn({5, 6, 2}, kFloat64);
  Tensor r3 = ops::matmul(v, b3);
  ASSERT_EQ(r3.shape(), Dims({5, 2}));
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_TRUE(all_close(r3[i], ref_mm_tensor(v.reshape({1, 6}), b3[i]).reshape({2}), 1e-12, 1e-12));
  // Broadcast batch dims: (2, 1, 4, 6) @ (3, 6, 5) -> (2, 3, 4, 5); and a non-contiguous operand.
  Tensor a4 = randn({2, 1, 4, 6}, kFloat64), b4 = non_contiguous(randn({3, 6, 5}, kFloat64));
  Tensor r4 = ops::matmul(a4, b4);
  ASSERT_EQ(r4.shape(), Dims({2, 3, 4, 5}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_TRUE(all_close(r4[i][j], ref_mm_tensor(a4[i][0], b4[j]), 1e-12, 1e-12));
  // 2-D @ 3-D broadcasts the matrix over b's batch.
  Tensor r5 = ops::matmul(m, b3);
  ASSERT_EQ(r5.shape(), Dims({5, 4, 2}));
  for (int64_t i = 0; i < 5; ++i) EXPECT_TRUE(all_close(r5[i], ref_mm_tensor(m, b3[i]), 1e-12, 1e-12));
  // Size-0 batch and integers.
  EXPECT_EQ(ops::matmul(ones({0, 3, 4}), ones({4, 2})).shape(), Dims({0, 3, 2}));
  EXPECT_EQ(ops::matmul(ones({2, 0, 3, 4}), ones({1, 4, 2})).shape(), Dims({2, 0, 3, 2}));
  Tensor ia = randint(-5, 5, {3, 2, 4}, kInt32), ib = randint(-5, 5, {4, 3}, kInt32);
  EXPECT_TRUE(all_close(ops::matmul(ia, ib)[1], ref_mm_tensor(ia[1], ib), 0.0, 0.0));
}

TEST(Linalg, MatmulErrorsNameShapes) {
  expect_error([] { ops::matmul(ones({8, 64}), ones({32, 16})); },
               {"matmul: inner dimensions differ: a is [8, 64] float32 cpu, b is [32, 16] float32 cpu"});
  expect_error([] { ops::matmul(ones({3}), ones({4})); }, {"matmul: inner dimensions differ", "[3]", "[4]"});
  expect_error([] { ops::matmul(ones({2, 3, 4}), ones({3, 4, 5})); }, {"matmul:", "broadcast", "[2, 3, 4]", "[3, 4, 5]"});
  expect_error([] { ops::matmul(ones({}), ones({3})); }, {"matmul:", "at least 1 dim"});
}

TEST(Linalg, LinearWithAndWithoutBias) {
  manual_seed(6);
  for (DType dt : {kFloat32, kFloat64}) {
    const double rtol = dt == kFloat64 ? 1e-12 : 1e-5, atol = dt == kFloat64 ? 1e-12 : f32_atol(33);
    Tensor x = randn({2, 5, 33}, dt), w = randn({17, 33}, dt), b = randn({17}, dt);
    Tensor ref = ref_mm_tensor(x.reshape({10, 33}), w.t());
    Tensor y = ops::linear(x, w);
    ASSERT_EQ(y.shape(), Dims({2, 5, 17}));
    EXPECT_TRUE(all_close(y.reshape({10, 17}), ref, atol, rtol));
    Tensor yb = ops::linear(x, w, b);
    EXPECT_TRUE(all_close(yb.reshape({10, 17}), ops::add(ref, b), atol, rtol));
    // Non-contiguous input, weight and bias.
    Tensor yn = ops::linear(non_contiguous(x), non_contiguous(w), non_contiguous(b));
    EXPECT_TRUE(all_close(yn, yb, atol, rtol));
    // 1-D input -> 1-D output.
    Tensor y1 = ops::linear(x[0][0], w, b);
    ASSERT_EQ(y1.shape(), Dims({17}));
    EXPECT_TRUE(all_close(y1, yb[0][0], atol, rtol));
  }
  // float16 linear with bias, and large N (several task columns).
  Tensor xh = randn({4, 64}, kFloat16), wh = randn({300, 64}, kFloat16), bh = randn({300}, kFloat16);
  Tensor refh = ops::add(ref_mm_tensor(xh, wh.t()), ops::to(bh, kFloat64));
  EXPECT_TRUE(all_close(ops::linear(xh, wh, bh), refh, 2e-2, 2e-3));
  // Size-0 batch, and zero in-features (bias only).
  EXPECT_EQ(ops::linear(ones({0, 4}), ones({3, 4})).shape(), Dims({0, 3}));
  Tensor bias = tensor({1.0f, 2.0f, 3.0f});
  EXPECT_TRUE(all_close(ops::linear(ones({2, 0}), ones({3, 0}), bias), ops::add(zeros({2, 3}), bias), 0.0, 0.0));
}

// The activation epilogue equals the activation applied to the plain linear output.
TEST(Linalg, LinearActivationEpilogue) {
  manual_seed(7);
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = randn({3, 4, 19}, dt), w = randn({13, 19}, dt), b = randn({13}, dt);
    for (bool with_bias : {true, false}) {
      const Tensor bias = with_bias ? b : Tensor();
      const Tensor plain = ops::linear(x, w, bias);
      EXPECT_TRUE(all_close(ops::linear(x, w, bias, Activation::relu), ops::relu(plain), 0.0, 0.0)) << dt;
      EXPECT_TRUE(all_close(ops::linear(x, w, bias, Activation::gelu_tanh), ops::gelu(plain, "tanh"), 0.0, 0.0)) << dt;
      EXPECT_TRUE(all_close(ops::linear(x, w, bias, Activation::none), plain, 0.0, 0.0)) << dt;
    }
  }
  // relu really clamps: some outputs of a random layer are negative before it.
  Tensor x = randn({8, 5}), w = randn({6, 5});
  EXPECT_LT(ops::amin(ops::linear(x, w)).item<float>(), 0.0f);
  EXPECT_GE(ops::amin(ops::linear(x, w, Tensor(), Activation::relu)).item<float>(), 0.0f);
  EXPECT_EQ(ops::linear(randn({0, 5}), w, Tensor(), Activation::relu).shape(), Dims({0, 6}));
  expect_error([&] { ops::linear(x, w, Tensor(), static_cast<Activation>(7)); }, {"linear", "activation", "7"});
  EXPECT_STREQ(activation_name(Activation::gelu_tanh), "gelu_tanh");
}

TEST(Linalg, LinearErrorsNameShapes) {
  expect_error([] { ops::linear(ones({4, 5}), ones({3, 6})); }, {"linear: inner dimensions differ", "[4, 5]", "[3, 6]"});
  expect_error([] { ops::linear(ones({4, 5}), ones({3, 5}), ones({4})); }, {"linear:", "bias", "[3]", "[4]"});
  expect_error([] { ops::linear(ones({4, 5}, kInt64), ones({3, 5}, kInt64)); }, {"linear:", "int64"});
  expect_error([] { ops::linear(ones({4, 5}), ones({5})); }, {"linear:", "2-D weight", "[5]"});
}

}  // namespace
}  // namespace ember
