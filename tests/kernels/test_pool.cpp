// Tests of max, average and adaptive average pooling and their backward ops
// (tensor/ops_pool.cpp, kernels/cpu/pool.cpp) against direct loops over
// std::vector<double> written from PyTorch's definitions:
//   output size floor/ceil((in + 2p - d(k-1) - 1) / s) + 1, the last ceil-mode window starting inside;
//   max: strict '>' keeps the first maximum, NaN propagates; indices are h * W + w in each plane;
//   avg: divisor = window clipped to the padded input (count_include_pad) or to the input;
//   adaptive: windows [floor(i * In / Out), ceil((i + 1) * In / Out)).
// Backward references scatter each output gradient to its window (max: to the argmax).
//
// Tolerances: float64 1e-12; float32 1e-6 absolute + 1e-5 relative; float16/bfloat16
// only the output rounding (rtol 2e-3 / 1e-2). Max values and indices are exact.
#include <cmath>
#include <limits>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::non_contiguous;
using ember::testing::to_vector;

EMBER_OP_TESTED(max_pool2d);
EMBER_OP_TESTED(max_pool2d_backward);
EMBER_OP_TESTED(avg_pool2d);
EMBER_OP_TESTED(avg_pool2d_backward);
EMBER_OP_TESTED(adaptive_avg_pool2d);
EMBER_OP_TESTED(adaptive_avg_pool2d_backward);

struct Geom {
  int64_t planes, H, W, OH, OW;
};

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const double span = static_cast<double>(in + 2 * p - d * (k - 1) - 1) / static_cast<double>(s);
  int64_t o = static_cast<int64_t>(ceil_mode ? std::ceil(span) : std::floor(span)) + 1;
  if (ceil_mode && (o - 1) * s >= in + p) --o;
  return o;
}

Pool2dArgs pool_args(int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh = 1,
                     int64_t dw = 1, bool ceil_mode = false, bool count_include_pad = true) {
  Pool2dArgs a;
  a.kernel[0] = kh, a.kernel[1] = kw, a.stride[0] = sh, a.stride[1] = sw;
  a.padding[0] = ph, a.padding[1] = pw, a.dilation[0] = dh, a.dilation[1] = dw;
  a.ceil_mode = ceil_mode, a.count_include_pad = count_include_pad;
  return a;
}

Geom geom(const Tensor& x, const Pool2dArgs& a) {
  const int64_t H = x.size(-2), W = x.size(-1);
  return {x.numel() / (H * W), H, W, out_size(H, a.kernel[0], a.stride[0], a.padding[0], a.dilation[0], a.ceil_mode),
          out_size(W, a.kernel[1], a.stride[1], a.padding[1], a.dilation[1], a.ceil_mode)};
}

// Reference max pool: values and indices.
void ref_max(const std::vector<double>& x, const Geom& g, const Pool2dArgs& a, std::vector<double>& val,
             std::vector<double>& idx) {
  val.assign(static_cast<size_t>(g.planes * g.OH * g.OW), 0);
  idx.assign(val.size(), 0);
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity();
        int64_t bi = -1;
        for (int64_t i = 0; i < a.kernel[0]; ++i)
          for (int64_t j = 0; j < a.kernel[1]; ++j) {
            const int64_t ih = oh * a.stride[0] - a.padding[0] + i * a.dilation[0];
            const int64_t iw = ow * a.stride[1] - a.padding[1] + j * a.dilation[1];
            if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
            const double v = x[static_cast<size_t>((p * g.H + ih) * g.W + iw)];
            if (bi < 0 || v > best || std::isnan(v)) best = v, bi = ih * g.W + iw;
          }
        const size_t o = static_cast<size_t>((p * g.OH + oh) * g.OW + ow);
        val[o] = best, idx[o] = static_cast<double>(bi);
      }
}

// Reference average pool forward (and, with grad, its backward scatter into gx).
std::vector<double> ref_avg(const std::vector<double>& x, const Geom& g, const Pool2dArgs& a,
                            const std::vector<double>* grad = nullptr, std::vector<double>* gx = nullptr) {
  std::vector<double> out(static_cast<size_t>(g.planes * g.OH * g.OW), 0);
  if (gx) gx->assign(static_cast<size_t>(g.planes * g.H * g.W), 0);
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t h0 = oh * a.stride[0] - a.padding[0], w0 = ow * a.stride[1] - a.padding[1];
        int64_t padded = 0, real = 0;
        for (int64_t ih = h0; ih < h0 + a.kernel[0]; ++ih)
          for (int64_t iw = w0; iw < w0 + a.kernel[1]; ++iw) {
            if (ih < g.H + a.padding[0] && iw < g.W + a.padding[1]) ++padded;
            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ++real;
          }
        const double div = static_cast<double>(a.count_include_pad ? padded : real);
        const size_t o = static_cast<size_t>((p * g.OH + oh) * g.OW + ow);
        for (int64_t ih = std::max<int64_t>(h0, 0); ih < std::min(h0 + a.kernel[0], g.H); ++ih)
          for (int64_t iw = std::max<int64_t>(w0, 0); iw < std::min(w0 + a.kernel[1], g.W); ++iw) {
            const size_t xi = static_cast<size_t>((p * g.H + ih) * g.W + iw);
            out[o] += x[xi] / div;
            if (gx) (*gx)[xi] += (*grad)[o] / div;
          }
      }
  return out;
}

double tol_for(DType dt) { return dt == kFloat64 ? 1e-12 : dt == kFloat32 ? 1e-5 : dt == kFloat16 ? 2e-3 : 1e-2; }

struct PoolCase {
  std::vector<int64_t> shape;
  Pool2dArgs args;
};

std::vector<PoolCase> pool_cases(bool with_dilation) {
  std::vector<PoolCase> cases = {
      {{2, 3, 8, 8}, pool_args(2, 2, 2, 2, 0, 0)},                    // the classic 2x2/2 (its fast path)
      {{1, 2, 9, 7}, pool_args(2, 2, 2, 2, 0, 0)},                    // 2x2/2, odd sizes: last row/column unused
      {{1, 2, 7, 7}, pool_args(2, 2, 2, 2, 0, 0, 1, 1, true)},        // 2x2/2 ceil_mode: a clipped last window
      {{1, 2, 7, 9}, pool_args(3, 3, 2, 2, 1, 1)},                    // 3x3/2 padded
      {{2, 1, 7, 6}, pool_args(3, 2, 2, 3, 1, 0, 1, 1, true)},        // ceil_mode with tails
      {{1, 1, 5, 5}, pool_args(2, 2, 2, 2, 1, 1, 1, 1, true)},        // ceil_mode + padding: last window dropped
      {{3, 2, 1, 6}, pool_args(1, 3, 1, 1, 0, 1)},                    // H = 1
      {{1, 3, 6, 5}, pool_args(3, 3, 1, 1, 1, 1, 1, 1, false, false)}, // count_include_pad = false
      {{2, 2, 5, 7}, pool_args(2, 3, 3, 2, 1, 1, 1, 1, true, false)},
  };
  if (with_dilation) {
    cases.push_back({{1, 2, 9, 9}, pool_args(3, 2, 1, 2, 1, 1, 2, 3)});
    cases.push_back({{1, 1, 6, 7}, pool_args(2, 2, 2, 2, 1, 0, 2, 2, true)});
  }
  return cases;
}

TEST(Pool2d, MaxPoolValuesIndicesAndBackward) {
  manual_seed(20);
  for (const PoolCase& c : pool_cases(true)) {
    for (DType dt : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
      SCOPED_TRACE(::testing::Message() << IntList(c.shape) << " k" << c.args.kernel[0] << "x" << c.args.kernel[1]
                                        << " ceil " << c.args.ceil_mode << " " << dt);
      Tensor x = randn(c.shape, dt);
      const Geom g = geom(x, c.args);
      auto [out, idx] = ops::max_pool2d_with_indices(x, c.args);
      ASSERT_EQ(out.shape(), Dims({c.shape[0], c.shape[1], g.OH, g.OW}));
      EXPECT_EQ(idx.dtype(), kInt64);
      std::vector<double> rv, ri;
      ref_max(to_vector(x), g, c.args, rv, ri);
      EXPECT_TRUE(all_close(out, from_values(rv, out.shape()), 0.0, 0.0));
      EXPECT_TRUE(all_close(idx, from_values(ri, out.shape()), 0.0, 0.0));
      // Backward: each gradient goes to its argmax (accumulating where windows overlap).
      Tensor go = randn(out.shape(), dt);
      Tensor gx = ops::max_pool2d_backward(go, idx, x.shape());
      std::vector<double> ref_gx(static_cast<size_t>(x.numel()), 0.0), vgo = to_vector(go);
      for (size_t o = 0; o < vgo.size(); ++o) {
        const int64_t plane = static_cast<int64_t>(o) / (g.OH * g.OW);
        ref_gx[static_cast<size_t>(plane * g.H * g.W + static_cast<int64_t>(ri[o]))] += vgo[o];
      }
      EXPECT_TRUE(all_close(gx, from_values(ref_gx, x.shape()), tol_for(dt), tol_for(dt)));
    }
  }
}

TEST(Pool2d, MaxPoolNaNTiesNonContiguousUnbatched) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = from_values({1, 5, 5, 2, nan, 0, 3, 3, 1}, {1, 1, 3, 3}, kFloat32);
  auto [out, idx] = ops::max_pool2d_with_indices(x, pool_args(2, 2, 1, 1, 0, 0));
  // Windows: {1,5,2,nan} -> nan at 4; {5,5,nan,0} -> nan at 4; {2,nan,3,3} -> nan; {nan,0,3,1} -> nan.
  EXPECT_TRUE(std::isnan(out.reshape({4})[0].item<float>()));
  EXPECT_EQ(to_vector(idx), std::vector<double>({4, 4, 4, 4}));
  // The 2x2/2 fast path: NaN wins (the last NaN's index), ties keep the first, -inf is a value.
  const double inf = std::numeric_limits<double>::infinity();
  Tensor q = from_values({nan, 1, 7, 7, nan, 2, -inf, -inf, 4, 4, 0, 9, 4, 4, 0, 9}, {1, 1, 4, 4}, kFloat32);
  auto [qo, qi] = ops::max_pool2d_with_indices(q, pool_args(2, 2, 2, 2, 0, 0));
  EXPECT_TRUE(std::isnan(qo.reshape({4})[0].item<float>()));
  EXPECT_EQ(to_vector(qi), std::vector<double>({4, 2, 8, 11}));
  EXPECT_EQ(to_vector(qo.reshape({4})).back(), 9.0);
  // Wider rows (the vectorised 2x2/2 path) with many ties, NaNs and infinities, against the reference.
  {
    const double pool[] = {0, 1, nan, -inf, inf, 1, 0};
    std::vector<double> vals(2 * 6 * 22);
    for (size_t i = 0; i < vals.size(); ++i) vals[i] = pool[(i * 7 + i / 5) % 7];
    for (DType dt : {kFloat32, kFloat64}) {
      Tensor w = from_values(vals, {2, 1, 6, 22}, dt);
      const Pool2dArgs a = pool_args(2, 2, 2, 2, 0, 0);
      auto [wo, wi] = ops::max_pool2d_with_indices(w, a);
      std::vector<double> rv, ri;
      ref_max(vals, geom(w, a), a, rv, ri);
      EXPECT_TRUE(all_close(wo, from_values(rv, wo.shape()), 0.0, 0.0)) << dt;
      EXPECT_TRUE(all_close(wi, from_values(ri, wo.shape()), 0.0, 0.0)) << dt;
    }
  }
  Tensor y = from_values({1, 5, 5, 2, 0, 0, 3, 3, 1}, {1, 3, 3}, kFloat32);  // unbatched, ties keep the first
  auto [out2, idx2] = ops::max_pool2d_with_indices(y, pool_args(2, 2, 1, 1, 0, 0));
  ASSERT_EQ(out2.shape(), Dims({1, 2, 2}));
  EXPECT_EQ(to_vector(out2), std::vector<double>({5, 5, 3, 3}));
  EXPECT_EQ(to_vector(idx2), std::vector<double>({1, 1, 6, 7}));
  Tensor gx = ops::max_pool2d_backward(ones({1, 2, 2}), idx2, {1, 3, 3});
  EXPECT_EQ(to_vector(gx), std::vector<double>({0, 2, 0, 0, 0, 0, 1, 1, 0}));
  // Non-contiguous input gives the same result as its contiguous copy.
  manual_seed(21);
  Tensor z = randn({2, 3, 6, 7});
  Pool2dArgs a = pool_args(3, 3, 2, 2, 1, 1);
  EXPECT_TRUE(all_close(ops::max_pool2d_with_indices(non_contiguous(z), a).first, ops::max_pool2d_with_indices(z, a).first, 0, 0));
  // Stride 0 means "stride = kernel" (PyTorch's stride=None).
  EXPECT_TRUE(all_close(ops::max_pool2d_with_indices(z, pool_args(2, 2, 0, 0, 0, 0)).first,
                        ops::max_pool2d_with_indices(z, pool_args(2, 2, 2, 2, 0, 0)).first, 0, 0));
}

TEST(Pool2d, AvgPoolForwardAndBackward) {
  manual_seed(22);
  for (const PoolCase& c : pool_cases(false)) {
    for (DType dt : {kFloat64, kFloat32, kFloat16, kBFloat16}) {
      SCOPED_TRACE(::testing::Message() << IntList(c.shape) << " k" << c.args.kernel[0] << "x" << c.args.kernel[1]
                                        << " ceil " << c.args.ceil_mode << " incl " << c.args.count_include_pad << " " << dt);
      Tensor x = randn(c.shape, dt);
      const Geom g = geom(x, c.args);
      Tensor out = ops::avg_pool2d(x, c.args);
      ASSERT_EQ(out.shape(), Dims({c.shape[0], c.shape[1], g.OH, g.OW}));
      EXPECT_TRUE(all_close(out, from_values(ref_avg(to_vector(x), g, c.args), out.shape()), tol_for(dt), tol_for(dt)));
      Tensor go = randn(out.shape(), dt);
      std::vector<double> vgo = to_vector(go), ref_gx;
      ref_avg(to_vector(x), g, c.args, &vgo, &ref_gx);
      Tensor gx = ops::avg_pool2d_backward(go, x.shape(), c.args);
      ASSERT_EQ(gx.shape(), x.shape());
      EXPECT_TRUE(all_close(gx, from_values(ref_gx, x.shape()), tol_for(dt), tol_for(dt)));
    }
  }
  // Unbatched and non-contiguous.
  Tensor x = randn({3, 6, 6}, kFloat64);
  Pool2dArgs a = pool_args(3, 3, 2, 2, 1, 1);
  Tensor out = ops::avg_pool2d(non_contiguous(x), a);
  ASSERT_EQ(out.shape(), Dims({3, 3, 3}));
  EXPECT_TRUE(all_close(out, ops::avg_pool2d(x.unsqueeze(0), a)[0], 1e-12, 1e-12));
  Tensor gx = ops::avg_pool2d_backward(non_contiguous(ones({3, 3, 3}, kFloat64)), {3, 6, 6}, a);
  EXPECT_TRUE(all_close(gx, ops::avg_pool2d_backward(ones({1, 3, 3, 3}, kFloat64), {1, 3, 6, 6}, a)[0], 1e-12, 1e-12));
}

// Adaptive windows, forward and backward.
void ref_adaptive(const std::vector<double>& x, const Geom& g, std::vector<double>& out, const std::vector<double>& go,
                  std::vector<double>& gx) {
  out.assign(static_cast<size_t>(g.planes * g.OH * g.OW), 0);
  gx.assign(static_cast<size_t>(g.planes * g.H * g.W), 0);
  for (int64_t p = 0; p < g.planes; ++p)
    for (int64_t oh = 0; oh < g.OH; ++oh)
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t h0 = static_cast<int64_t>(std::floor(static_cast<double>(oh * g.H) / static_cast<double>(g.OH)));
        const int64_t h1 = static_cast<int64_t>(std::ceil(static_cast<double>((oh + 1) * g.H) / static_cast<double>(g.OH)));
        const int64_t w0 = static_cast<int64_t>(std::floor(static_cast<double>(ow * g.W) / static_cast<double>(g.OW)));
        const int64_t w1 = static_cast<int64_t>(std::ceil(static_cast<double>((ow + 1) * g.W) / static_cast<double>(g.OW)));
        const double n = static_cast<double>((h1 - h0) * (w1 - w0));
        const size_t o = static_cast<size_t>((p * g.OH + oh) * g.OW + ow);
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) {
            const size_t xi = static_cast<size_t>((p * g.H + ih) * g.W + iw);
            out[o] += x[xi] / n;
            gx[xi] += go[o] / n;
          }
      }
}

TEST(Pool2d, AdaptiveAvgPool) {
  manual_seed(23);
  struct C {
    std::vector<int64_t> shape;
    int64_t oh, ow;
  };
  const C cases[] = {{{2, 3, 7, 7}, 3, 3}, {{1, 2, 5, 8}, 5, 3}, {{2, 1, 3, 4}, 5, 7}, {{1, 4, 6, 6}, 1, 1},
                     {{1, 1, 1, 1}, 2, 2}, {{3, 2, 9, 4}, 4, 4}};
  for (const C& c : cases) {
    for (DType dt : {kFloat64, kFloat32, kFloat16}) {
      SCOPED_TRACE(::testing::Message() << IntList(c.shape) << " -> " << c.oh << "x" << c.ow << " " << dt);
      Tensor x = randn(c.shape, dt);
      Tensor out = ops::adaptive_avg_pool2d(x, {c.oh, c.ow});
      ASSERT_EQ(out.shape(), Dims({c.shape[0], c.shape[1], c.oh, c.ow}));
      Tensor go = randn(out.shape(), dt);
      const Geom g{x.numel() / (c.shape[2] * c.shape[3]), c.shape[2], c.shape[3], c.oh, c.ow};
      std::vector<double> rout, rgx;
      ref_adaptive(to_vector(x), g, rout, to_vector(go), rgx);
      EXPECT_TRUE(all_close(out, from_values(rout, out.shape()), tol_for(dt), tol_for(dt)));
      Tensor gx = ops::adaptive_avg_pool2d_backward(go, x.shape());
      EXPECT_TRUE(all_close(gx, from_values(rgx, x.shape()), tol_for(dt), tol_for(dt)));
    }
  }
  // One value for a square output; unbatched; non-contiguous; output size 0.
  Tensor x = randn({3, 6, 6}, kFloat64);
  Tensor sq = ops::adaptive_avg_pool2d(non_contiguous(x), {2});
  ASSERT_EQ(sq.shape(), Dims({3, 2, 2}));
  EXPECT_TRUE(all_close(sq, ops::avg_pool2d(x, pool_args(3, 3, 3, 3, 0, 0)), 1e-12, 1e-12));
  EXPECT_EQ(ops::adaptive_avg_pool2d(x, {0, 3}).shape(), Dims({3, 0, 3}));
  Tensor gx = ops::adaptive_avg_pool2d_backward(non_contiguous(ones({3, 2, 2}, kFloat64)), {3, 6, 6});
  EXPECT_TRUE(all_close(gx, full({3, 6, 6}, 1.0 / 9.0, kFloat64), 1e-12, 1e-12));
}

TEST(Pool2d, EmptyBatch) {
  auto [out, idx] = ops::max_pool2d_with_indices(ones({0, 3, 4, 4}), pool_args(2, 2, 2, 2, 0, 0));
  EXPECT_EQ(out.shape(), Dims({0, 3, 2, 2}));
  EXPECT_EQ(idx.shape(), Dims({0, 3, 2, 2}));
  EXPECT_EQ(ops::max_pool2d_backward(out, idx, {0, 3, 4, 4}).shape(), Dims({0, 3, 4, 4}));
  EXPECT_EQ(ops::avg_pool2d(ones({0, 3, 4, 4}), pool_args(2, 2, 2, 2, 0, 0)).shape(), Dims({0, 3, 2, 2}));
  EXPECT_EQ(ops::avg_pool2d_backward(ones({0, 3, 2, 2}), {0, 3, 4, 4}, pool_args(2, 2, 2, 2, 0, 0)).shape(),
            Dims({0, 3, 4, 4}));
  EXPECT_EQ(ops::adaptive_avg_pool2d(ones({0, 3, 4, 4}), {2, 2}).shape(), Dims({0, 3, 2, 2}));
  EXPECT_EQ(ops::adaptive_avg_pool2d_backward(ones({0, 3, 2, 2}), {0, 3, 4, 4}).shape(), Dims({0, 3, 4, 4}));
}

TEST(Pool2d, ErrorsNameShapes) {
  expect_error([] { ops::max_pool2d_with_indices(ones({1, 1, 2, 2}), pool_args(3, 3, 1, 1, 0, 0)); },
               {"max_pool2d:", "output size is too small", "[1, 1, 2, 2]", "kernel [3, 3]"});
  expect_error([] { ops::max_pool2d_with_indices(ones({1, 1, 8, 8}), pool_args(3, 3, 1, 1, 2, 0)); },
               {"max_pool2d:", "at most half the kernel", "padding [2, 0]"});
  expect_error([] { ops::max_pool2d_with_indices(ones({8, 8}), pool_args(2, 2, 2, 2, 0, 0)); },
               {"max_pool2d:", "[8, 8] float32 cpu"});
  expect_error([] { ops::avg_pool2d(ones({1, 1, 8, 8}, kInt64), pool_args(2, 2, 2, 2, 0, 0)); },
               {"avg_pool2d:", "floating", "int64"});
  expect_error([] { ops::avg_pool2d(ones({1, 1, 8, 8}), pool_args(2, 2, 2, 2, 0, 0, 2, 2)); },
               {"avg_pool2d:", "dilation"});
  expect_error([] { ops::avg_pool2d_backward(ones({1, 1, 3, 3}), {1, 1, 8, 8}, pool_args(2, 2, 2, 2, 0, 0)); },
               {"avg_pool2d_backward:", "[1, 1, 4, 4]", "[1, 1, 3, 3]"});
  expect_error([] { ops::adaptive_avg_pool2d(ones({1, 2, 4, 4}), {2, 2, 2}); }, {"adaptive_avg_pool2d:", "[2, 2, 2]"});
  expect_error([] { ops::adaptive_avg_pool2d(ones({1, 2, 0, 4}), {2, 2}); }, {"adaptive_avg_pool2d:", "[1, 2, 0, 4]"});
  Tensor bad_idx = full({1, 1, 1, 1}, int64_t{99}, kInt64);
  expect_error([&] { ops::max_pool2d_backward(ones({1, 1, 1, 1}), bad_idx, {1, 1, 2, 2}); },
               {"max_pool2d_backward:", "99", "out of range"});
  expect_error([] { ops::max_pool2d_backward(ones({1, 1, 1, 1}), ones({1, 1, 1, 1}), {1, 1, 2, 2}); },
               {"max_pool2d_backward:", "int64", "float32"});
}

}  // namespace
}  // namespace ember
