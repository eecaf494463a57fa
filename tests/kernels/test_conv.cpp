// Tests of conv2d and its backward ops (tensor/ops_conv.cpp, kernels/cpu/conv.cpp:
// im2col + GEMM) against direct convolution loops over std::vector<double>.
//
// The backward references are the direct adjoint loops (scatter every
// output gradient to the inputs/weights it read), written independently of the
// forward reference; a dot-product identity <conv(x, w), g> = <x, dx(g, w)> =
// <w, dw(g, x)> checks the three against each other.
//
// Tolerances: float64 1e-12 (atol and rtol); float32 rtol 1e-5, atol 1e-5 *
// sqrt(reduction length); float16/bfloat16 computed in float32 from the rounded
// inputs, so only the output rounding counts: rtol 2e-3 / 1e-2.
#include <cmath>
#include <random>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(conv2d);
EMBER_OP_TESTED(conv2d_backward_input);
EMBER_OP_TESTED(conv2d_backward_weight);

struct Case {
  int64_t N, C, H, W, O, KH, KW;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool bias = true;

  Conv2dArgs args() const {
    Conv2dArgs a;
    a.stride[0] = sh, a.stride[1] = sw;
    a.padding[0] = ph, a.padding[1] = pw;
    a.dilation[0] = dh, a.dilation[1] = dw;
    a.groups = groups;
    return a;
  }
  int64_t OH() const { return (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1; }
  int64_t OW() const { return (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1; }
  int64_t Cg() const { return C / groups; }
};

// Visits every (n, o, oh, ow, c, i, j, ih, iw) term of the convolution that reads a real input element.
template <class F>
void for_each_term(const Case& k, F&& f) {
  const int64_t Og = k.O / k.groups;
  for (int64_t n = 0; n < k.N; ++n)
    for (int64_t o = 0; o < k.O; ++o)
      for (int64_t oh = 0; oh < k.OH(); ++oh)
        for (int64_t ow = 0; ow < k.OW(); ++ow)
          for (int64_t cg = 0; cg < k.Cg(); ++cg)
            for (int64_t i = 0; i < k.KH; ++i)
              for (int64_t j = 0; j < k.KW; ++j) {
                const int64_t ih = oh * k.sh - k.ph + i * k.dh, iw = ow * k.sw - k.pw + j * k.dw;
                if (ih < 0 || ih >= k.H || iw < 0 || iw >= k.W) continue;
                const int64_t c = (o / Og) * k.Cg() + cg;
                const size_t xi = static_cast<size_t>(((n * k.C + c) * k.H + ih) * k.W + iw);
                const size_t wi = static_cast<size_t>(((o * k.Cg() + cg) * k.KH + i) * k.KW + j);
                const size_t oi = static_cast<size_t>(((n * k.O + o) * k.OH() + oh) * k.OW() + ow);
                f(xi, wi, oi);
              }
}

std::vector<double> ref_forward(const Case& k, const std::vector<double>& x, const std::vector<double>& w,
                                const std::vector<double>& b) {
  std::vector<double> out(static_cast<size_t>(k.N * k.O * k.OH() * k.OW()), 0.0);
  if (!b.empty()) {
    const int64_t L = k.OH() * k.OW();
    for (size_t i = 0; i < out.size(); ++i) out[i] = b[static_cast<size_t>((static_cast<int64_t>(i) / L) % k.O)];
  }
  for_each_term(k, [&](size_t xi, size_t wi, size_t oi) { out[oi] += x[xi] * w[wi]; });
  return out;
}
std::vector<double> ref_backward_input(const Case& k, const std::vector<double>& g, const std::vector<double>& w) {
  std::vector<double> gx(static_cast<size_t>(k.N * k.C * k.H * k.W), 0.0);
  for_each_term(k, [&](size_t xi, size_t wi, size_t oi) { gx[xi] += g[oi] * w[wi]; });
  return gx;
}
std::vector<double> ref_backward_weight(const Case& k, const std::vector<double>& g, const std::vector<double>& x) {
  std::vector<double> gw(static_cast<size_t>(k.O * k.Cg() * k.KH * k.KW), 0.0);
  for_each_term(k, [&](size_t xi, size_t wi, size_t oi) { gw[wi] += g[oi] * x[xi]; });
  return gw;
}

double dot(const Tensor& a, const Tensor& b) {
  std::vector<double> va = to_vector(a), vb = to_vector(b);
  double s = 0;
  for (size_t i = 0; i < va.size(); ++i) s += va[i] * vb[i];
  return s;
}

// Runs forward and both backward ops for one case and dtype against the references.
void check_case_on_active_isa(const Case& k, DType dt, bool strided_inputs) {
  SCOPED_TRACE(::testing::Message() << "N" << k.N << " C" << k.C << " " << k.H << "x" << k.W << " O" << k.O << " k"
                                    << k.KH << "x" << k.KW << " s" << k.sh << "," << k.sw << " p" << k.ph << ","
                                    << k.pw << " d" << k.dh << "," << k.dw << " g" << k.groups << " " << dt
                                    << (strided_inputs ? " strided" : ""));
  Tensor x = randn({k.N, k.C, k.H, k.W}, dt), w = randn({k.O, k.Cg(), k.KH, k.KW}, dt);
  Tensor b = k.bias ? randn({k.O}, dt) : Tensor();
  Tensor g = randn({k.N, k.O, k.OH(), k.OW()}, dt);
  if (strided_inputs) {
    x = non_contiguous(x), w = non_contiguous(w), g = non_contiguous(g);
    if (b.defined()) b = non_contiguous(b);
  }
  const Conv2dArgs a = k.args();
  const double red = static_cast<double>(std::max<int64_t>(1, k.Cg() * k.KH * k.KW + k.N * k.OH() * k.OW()));
  double atol = 1e-12, rtol = 1e-12;
  if (dt == kFloat32) atol = 1e-5 * std::sqrt(red), rtol = 1e-5;
  if (dt == kFloat16) atol = 2e-3 * std::sqrt(red), rtol = 2e-3;
  if (dt == kBFloat16) atol = 1e-2 * std::sqrt(red), rtol = 1e-2;

  Tensor y = ops::conv2d(x, w, b, a);
  ASSERT_EQ(y.shape(), Dims({k.N, k.O, k.OH(), k.OW()}));
  EXPECT_EQ(y.dtype(), dt);
  const std::vector<double> vx = to_vector(x), vw = to_vector(w), vg = to_vector(g);
  EXPECT_TRUE(all_close(y, from_values(ref_forward(k, vx, vw, b.defined() ? to_vector(b) : std::vector<double>{}),
                                       y.shape()), atol, rtol));
  Tensor gx = ops::conv2d_backward_input(g, w, x.shape(), a);
  ASSERT_EQ(gx.shape(), x.shape());
  EXPECT_TRUE(all_close(gx, from_values(ref_backward_input(k, vg, vw), x.shape()), atol, rtol));
  Tensor gw = ops::conv2d_backward_weight(g, x, w.shape(), a);
  ASSERT_EQ(gw.shape(), w.shape());
  EXPECT_TRUE(all_close(gw, from_values(ref_backward_weight(k, vg, vx), w.shape()), atol, rtol));
  if (dt == kFloat64) {
    // Adjoint identities (bias-free forward).
    const double lhs = dot(ops::conv2d(x, w, {}, a), g);
    EXPECT_NEAR(lhs, dot(x, gx), 1e-9 * (1 + std::fabs(lhs)));
    EXPECT_NEAR(lhs, dot(w, gw), 1e-9 * (1 + std::fabs(lhs)));
  }
}

// float32 has a fast path per CPU ISA (the implicit GEMM): check every path the CPU has.
void check_case(const Case& k, DType dt, bool strided_inputs = false) {
  if (dt == kFloat32) {
    ember::testing::for_each_cpu_isa([&] { check_case_on_active_isa(k, dt, strided_inputs); });
  } else {
    check_case_on_active_isa(k, dt, strided_inputs);
  }
}

Case make(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW) {
  Case k;
  k.N = N, k.C = C, k.H = H, k.W = W, k.O = O, k.KH = KH, k.KW = KW;
  return k;
}

TEST(Conv2d, BasicPaddedStridedDilated) {
  manual_seed(10);
  std::vector<Case> cases;
  Case k = make(2, 3, 7, 6, 4, 3, 3);
  k.ph = k.pw = 1;
  cases.push_back(k);  // 3x3 "same"
  k = make(2, 3, 9, 8, 5, 3, 2);
  k.sh = 2, k.sw = 3, k.ph = 1, k.pw = 2;
  cases.push_back(k);  // asymmetric stride and padding
  k = make(1, 2, 9, 10, 3, 3, 3);
  k.dh = 2, k.dw = 3, k.ph = 2, k.bias = false;
  cases.push_back(k);  // dilation
  k = make(3, 2, 5, 5, 2, 5, 5);
  k.ph = k.pw = 2, k.sh = k.sw = 2;
  cases.push_back(k);  // kernel as large as the input
  k = make(2, 3, 1, 9, 4, 1, 3);
  cases.push_back(k);  // H = 1 with a 1x3 kernel
  k = make(1, 1, 4, 4, 1, 1, 1);
  cases.push_back(k);  // 1x1, one channel (the direct path)
  k = make(2, 6, 5, 7, 4, 1, 1);
  k.sh = 2;
  cases.push_back(k);  // 1x1 with stride (im2col path)
  k = make(2, 5, 3, 4, 7, 1, 1);
  k.bias = false;
  cases.push_back(k);  // 1x1 direct, no bias
  for (const Case& c : cases) {
    for (DType dt : {kFloat64, kFloat32}) check_case(c, dt);
  }
}

TEST(Conv2d, GroupsAndDepthwise) {
  manual_seed(11);
  Case k = make(2, 4, 6, 6, 6, 3, 3);
  k.groups = 2, k.ph = k.pw = 1;
  check_case(k, kFloat64);
  check_case(k, kFloat32);
  k = make(2, 4, 7, 5, 8, 3, 3);
  k.groups = 4, k.sh = 2, k.dw = 2, k.pw = 2;  // depthwise with channel multiplier 2
  check_case(k, kFloat64);
  k = make(3, 6, 4, 4, 3, 1, 1);
  k.groups = 3;  // grouped 1x1 (direct path per group)
  check_case(k, kFloat64);
}

TEST(Conv2d, LargerImageCrossesGemmBlocks) {
  manual_seed(12);
  Case k = make(2, 16, 17, 19, 20, 3, 3);  // Kc = 144, L = 323: several GEMM tiles and a K tail
  k.ph = k.pw = 1;
  check_case(k, kFloat32);
  k = make(9, 3, 6, 6, 4, 3, 3);  // more images than backward_weight's partial sums (8)
  check_case(k, kFloat64);
  k = make(2, 32, 20, 21, 10, 3, 3);  // Kc = 288 > one K slab, L = 420 > one column chunk
  k.ph = k.pw = 1;
  check_case(k, kFloat32);
  k = make(1, 3, 9, 11, 150, 3, 3);  // more output channels than one A block (M > 144)
  k.ph = 1;
  check_case(k, kFloat32);
  // Many A blocks over a wide plane: B packed in several staged pieces of
  // positions (L = 1640), padding on every edge.
  k = make(1, 5, 40, 41, 150, 3, 3);
  k.ph = k.pw = 1;
  check_case(k, kFloat32);
  k = make(2, 4, 33, 35, 20, 3, 3);  // stride 2: the gathered rows, L = 306
  k.sh = k.sw = 2, k.ph = k.pw = 1;
  check_case(k, kFloat32);
}

// The stride-1 direct route: output rows that end in a short tile (OW = 17
// and 31 are no multiple of any tile height), channel counts that leave part
// of a weight panel empty and a transpose tail in the unpack (O = 20, 70), more
// taps than one slab (K = 360 forward, 630 for the input gradient), and both
// ways of sharing the work: images in parallel (N = 9) and one image's tiles
// in parallel (N = 1).
TEST(Conv2d, DirectRouteTilesPanelsAndSlabs) {
  manual_seed(16);
  Case k = make(9, 5, 6, 17, 20, 3, 3);
  k.ph = k.pw = 1;
  check_case(k, kFloat32);
  k = make(1, 40, 5, 31, 70, 3, 3);
  k.pw = 1;
  check_case(k, kFloat32);
  k = make(2, 3, 4, 30, 8, 1, 5);  // unpadded: the image is read in place
  check_case(k, kFloat32);
}

// bfloat16 at stride 1: on a CPU with AVX-512 BF16 (the avx512 path) the
// channel-pair kernel, elsewhere float32 copies; both against the float64
// reference on the same bfloat16 values. Odd channel counts leave half of the
// last pair empty; groups, dilation, row tails, partial panels, a bias, and
// images vs tiles in parallel.
TEST(Conv2d, Bfloat16StrideOneOnEveryPath) {
  manual_seed(17);
  std::vector<Case> cases;
  Case k = make(9, 5, 6, 17, 20, 3, 3);
  k.ph = k.pw = 1;
  cases.push_back(k);
  k = make(1, 40, 5, 31, 70, 3, 3);
  k.pw = 1, k.bias = false;
  cases.push_back(k);
  k = make(2, 6, 9, 10, 8, 3, 3);
  k.groups = 2, k.dh = 2, k.dw = 3, k.ph = 2, k.pw = 3;
  cases.push_back(k);
  k = make(3, 3, 7, 7, 33, 1, 1);  // 1x1: no padding, the same kernel
  cases.push_back(k);
  ember::testing::for_each_cpu_isa([&] {
    SCOPED_TRACE(cpu::cpu_features());
    for (const Case& c : cases) check_case_on_active_isa(c, kBFloat16, false);
  });
}

// Shapes that choose between the input gradient's routes: stride 1 with dilation
// (flipped-kernel convolution), padding beyond dilation * (k - 1) (col2im route),
// stride 2 (col2im route), a 5x5 kernel.
TEST(Conv2d, InputGradientRoutes) {
  manual_seed(15);
  Case k = make(2, 3, 9, 10, 4, 3, 3);
  k.dh = 2, k.dw = 3, k.ph = 2, k.pw = 3;
  check_case(k, kFloat32);
  k = make(1, 2, 5, 5, 3, 3, 3);
  k.ph = k.pw = 3;
  check_case(k, kFloat32);
  k = make(2, 4, 9, 9, 3, 3, 3);
  k.sh = k.sw = 2, k.ph = k.pw = 1;
  check_case(k, kFloat32);
  k = make(2, 3, 8, 7, 5, 5, 5);
  k.ph = 2, k.pw = 1;
  check_case(k, kFloat32);
}

TEST(Conv2d, NonContiguousAndReducedPrecision) {
  manual_seed(13);
  Case k = make(2, 4, 6, 5, 6, 3, 2);
  k.ph = 1, k.groups = 2;
  check_case(k, kFloat64, true);
  check_case(k, kFloat32, true);
  check_case(k, kFloat16);
  check_case(k, kBFloat16);
}

// Random small geometries (a fixed seed, so a failure repeats): every kernel
// route on every ISA path for float32, and the bfloat16 routes, against the
// float64 reference. Channel counts, kernels, strides, paddings, dilations
// and groups are drawn independently, so combinations no hand-picked case
// covers (a 4x1 kernel with dilation 2 and stride 2 on a 1-wide image...) get
// run.
TEST(Conv2d, RandomGeometriesOnEveryRoute) {
  manual_seed(18);
  std::mt19937 rng(2026);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int trial = 0; trial < 40; ++trial) {
    Case k;
    k.groups = pick(1, 3);
    k.N = pick(1, 3);
    k.C = k.groups * pick(1, 5);
    k.O = k.groups * pick(1, 12);
    k.KH = pick(1, 4), k.KW = pick(1, 4);
    k.sh = pick(1, 2), k.sw = pick(1, 2);
    k.dh = pick(1, 2), k.dw = pick(1, 2);
    k.ph = pick(0, 2), k.pw = pick(0, 2);
    k.H = std::max<int64_t>(1, k.dh * (k.KH - 1) + 1 - 2 * k.ph) + pick(0, 9);
    k.W = std::max<int64_t>(1, k.dw * (k.KW - 1) + 1 - 2 * k.pw) + pick(0, 17);
    k.bias = pick(0, 1) == 1;
    check_case(k, kFloat32);
    check_case_on_active_isa(k, kBFloat16, false);
  }
}

TEST(Conv2d, UnbatchedInput) {
  manual_seed(14);
  Conv2dArgs a;
  a.padding[0] = a.padding[1] = 1;
  Tensor x = randn({3, 5, 5}, kFloat64), w = randn({2, 3, 3, 3}, kFloat64), b = randn({2}, kFloat64);
  Tensor y = ops::conv2d(x, w, b, a);
  ASSERT_EQ(y.shape(), Dims({2, 5, 5}));
  EXPECT_TRUE(all_close(y, ops::conv2d(x.unsqueeze(0), w, b, a)[0], 1e-12, 1e-12));
  Tensor g = randn({2, 5, 5}, kFloat64);
  Tensor gx = ops::conv2d_backward_input(g, w, {3, 5, 5}, a);
  ASSERT_EQ(gx.shape(), Dims({3, 5, 5}));
  EXPECT_TRUE(all_close(gx, ops::conv2d_backward_input(g.unsqueeze(0), w, {1, 3, 5, 5}, a)[0], 1e-12, 1e-12));
  Tensor gw = ops::conv2d_backward_weight(g, x, w.shape(), a);
  EXPECT_TRUE(all_close(gw, ops::conv2d_backward_weight(g.unsqueeze(0), x.unsqueeze(0), w.shape(), a), 1e-12, 1e-12));
}

TEST(Conv2d, EmptyBatch) {
  Conv2dArgs a;
  Tensor x = ones({0, 3, 5, 5}), w = ones({4, 3, 3, 3});
  Tensor y = ops::conv2d(x, w, ones({4}), a);
  EXPECT_EQ(y.shape(), Dims({0, 4, 3, 3}));
  EXPECT_EQ(ops::conv2d_backward_input(ones({0, 4, 3, 3}), w, {0, 3, 5, 5}, a).shape(), Dims({0, 3, 5, 5}));
  Tensor gw = ops::conv2d_backward_weight(ones({0, 4, 3, 3}), x, {4, 3, 3, 3}, a);
  ASSERT_EQ(gw.shape(), Dims({4, 3, 3, 3}));
  EXPECT_TRUE(all_close(gw, zeros({4, 3, 3, 3}), 0.0, 0.0));
}

// Outputs with nothing to sum: no input channels, or an empty image that padding still covers.
// Every output is the bias (zero without one), whatever the device.
TEST(Conv2d, NothingToSumGivesTheBias) {
  Conv2dArgs a;
  Tensor bias = from_values({1.5, -2.0}, {2}, kFloat32);
  Tensor y = ops::conv2d(ones({2, 0, 4, 4}), ones({2, 0, 3, 3}), bias, a);
  ASSERT_EQ(y.shape(), Dims({2, 2, 2, 2}));
  EXPECT_TRUE(all_close(y, ops::expand(ops::view(bias, {1, 2, 1, 1}), {2, 2, 2, 2}), 0.0, 0.0));
  a.padding[0] = a.padding[1] = 1;
  Tensor y2 = ops::conv2d(ones({1, 3, 0, 4}), ones({2, 3, 1, 1}), {}, a);
  ASSERT_EQ(y2.shape(), Dims({1, 2, 2, 6}));
  EXPECT_TRUE(all_close(y2, zeros({1, 2, 2, 6}), 0.0, 0.0));
}

TEST(Conv2d, ErrorsNameShapes) {
  Conv2dArgs a;
  expect_error([&] { ops::conv2d(ones({2, 4, 5, 5}), ones({8, 3, 3, 3}), {}, a); },
               {"conv2d:", "[8, 3, 3, 3]", "groups=1", "3 input channels", "[2, 4, 5, 5]"});
  expect_error([&] { ops::conv2d(ones({1, 3, 2, 2}), ones({8, 3, 3, 3}), {}, a); },
               {"conv2d:", "[1, 3, 2, 2]", "smaller than the dilated kernel", "[8, 3, 3, 3]"});
  expect_error([&] { ops::conv2d(ones({1, 3, 5, 5}), ones({8, 3, 3, 3}), ones({7}), a); },
               {"conv2d:", "bias", "[8]", "[7] float32 cpu"});
  expect_error([&] { ops::conv2d(ones({1, 3, 5, 5}), ones({8, 3, 3, 3}, kFloat64), {}, a); },
               {"conv2d:", "same dtype", "float64"});
  expect_error([&] { ops::conv2d(ones({5, 5}), ones({8, 3, 3, 3}), {}, a); }, {"conv2d:", "[5, 5] float32 cpu"});
  expect_error([&] { ops::conv2d(ones({1, 3, 5, 5}, kInt64), ones({8, 3, 3, 3}, kInt64), {}, a); },
               {"conv2d:", "floating", "int64"});
  Conv2dArgs g3;
  g3.groups = 3;
  expect_error([&] { ops::conv2d(ones({1, 6, 5, 5}), ones({8, 2, 3, 3}), {}, g3); },
               {"conv2d:", "out_channels (8)", "groups (3)"});
  Conv2dArgs bad;
  bad.stride[1] = 0;
  expect_error([&] { ops::conv2d(ones({1, 3, 5, 5}), ones({8, 3, 3, 3}), {}, bad); }, {"conv2d:", "stride", "[1, 0]"});
  expect_error([&] { ops::conv2d_backward_input(ones({1, 8, 4, 4}), ones({8, 3, 3, 3}), {1, 3, 5, 5}, a); },
               {"conv2d_backward_input:", "grad_out", "[1, 8, 3, 3]", "[1, 8, 4, 4]"});
  expect_error([&] { ops::conv2d_backward_weight(ones({1, 8, 4, 4}), ones({1, 3, 5, 5}), {8, 3, 3, 3}, a); },
               {"conv2d_backward_weight:", "grad_out", "[1, 8, 3, 3]", "[1, 8, 4, 4]"});
}

}  // namespace
}  // namespace ember
