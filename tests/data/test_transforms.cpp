// Batch image transforms: exact values against a naive per-pixel reference,
// per-image randomness (each image gets its own crop/flip/cutout), seeding,
// dtypes kept, single images, and errors. The CPU-vs-CUDA agreement of the same
// transforms is tests/cuda/test_cuda_data.cpp.
#include <cmath>
#include <set>
#include <utility>

#include "test_util.hpp"

using namespace ember;
using namespace ember::data;
using ember::testing::expect_error;
using ember::testing::to_vector;

namespace {

// (N, C, H, W) float32 images whose pixels are all distinct: 1000 n + 100 c + 10 h + w.
Tensor distinct_images(int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<double> v;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < c; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) v.push_back(static_cast<double>(1000 * a + 100 * b + 10 * y + x));
  return tensor(v, TensorOptions(kFloat32)).view({n, c, h, w});
}

double at(const std::vector<double>& v, const Dims& s, int64_t n, int64_t c, int64_t y, int64_t x) {
  return v[static_cast<size_t>(((n * s[1] + c) * s[2] + y) * s[3] + x)];
}

}  // namespace

TEST(Transforms, ToFloatAndNormalize) {
  Tensor px = tensor(std::vector<int64_t>{0, 51, 255, 102}, TensorOptions(kInt64)).to(kUInt8).view({1, 1, 2, 2});
  Tensor f = to_float(px);
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_TRUE(ember::testing::all_close(f, tensor({0.0f, 0.2f, 1.0f, 0.4f}).view({1, 1, 2, 2})));
  EXPECT_EQ(to_float(f, kFloat64).dtype(), kFloat64);
  expect_error([] { to_float(zeros({1, 1, 2, 2}, kInt32)); }, {"uint8", "int32"});

  Tensor x = distinct_images(2, 2, 1, 2);  // channel 0: 0, 1 / 1000, 1001; channel 1: 100, 101 / ...
  Tensor y = normalize(x, {1.0, 100.0}, {2.0, 4.0});
  std::vector<double> v = to_vector(y);
  EXPECT_DOUBLE_EQ(v[0], -0.5);            // (0 - 1) / 2
  EXPECT_DOUBLE_EQ(v[3], (101 - 100) / 4.0);
  EXPECT_DOUBLE_EQ(v[4], (1000 - 1) / 2.0);
  EXPECT_TRUE(ember::testing::all_close(normalize(x.select(0, 1), {1.0}, {2.0}),
                                        ops::div(ops::sub(x.select(0, 1), scalar_tensor(1.0)), scalar_tensor(2.0))));
  expect_error([&] { normalize(x, {1, 2, 3}, {1}); }, {"mean has 3 values for 2 channels"});
  expect_error([&] { normalize(x, {0}, {0}); }, {"std values must be > 0"});
  expect_error([] { normalize(zeros({4}), {0}, {1}); }, {"(N, C, H, W) or (C, H, W)", "[4]"});
}

TEST(Transforms, CenterCrop) {
  Tensor x = distinct_images(1, 1, 5, 6);
  Tensor c = center_crop(x, 3, 2);
  EXPECT_EQ(c.shape(), (Dims{1, 1, 3, 2}));
  EXPECT_EQ(to_vector(c), (std::vector<double>{12, 13, 22, 23, 32, 33}));
  expect_error([&] { center_crop(x, 6, 2); }, {"6 x 2 window", "[1, 1, 5, 6]"});
}

// Every output image is the padded input's window at some offset, one offset
// for all of an image's channels, and different images get different offsets.
TEST(Transforms, RandomCropTakesOneWindowPerImage) {
  const int64_t n = 16, c = 2, h = 5, w = 6, pad = 2, ch = 4, cw = 5;
  Tensor x = ops::add(distinct_images(n, c, h, w), scalar_tensor(1.0f));  // no pixel equals the fill 0
  Generator gen(7);
  Tensor y = random_crop(x, ch, cw, pad, gen);
  ASSERT_EQ(y.shape(), (Dims{n, c, ch, cw}));
  std::vector<double> xv = to_vector(x), yv = to_vector(y);
  Dims xs = x.shape(), ys = y.shape();
  auto padded = [&](int64_t k, int64_t ci, int64_t r, int64_t q) {
    r -= pad, q -= pad;
    return (r < 0 || r >= h || q < 0 || q >= w) ? 0.0 : at(xv, xs, k, ci, r, q);
  };
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t k = 0; k < n; ++k) {
    int matches = 0;
    for (int64_t top = 0; top <= h + 2 * pad - ch; ++top)
      for (int64_t left = 0; left <= w + 2 * pad - cw; ++left) {
        bool same = true;
        for (int64_t ci = 0; ci < c && same; ++ci)
          for (int64_t r = 0; r < ch && same; ++r)
            for (int64_t q = 0; q < cw && same; ++q) same = at(yv, ys, k, ci, r, q) == padded(k, ci, top + r, left + q);
        if (same) {
          ++matches;
          offsets.insert({top, left});
        }
      }
    EXPECT_EQ(matches, 1) << "image " << k << " is not exactly one window of its padded input";
  }
  EXPECT_GE(offsets.size(), 4u) << "16 images should not share a few offsets";

  Generator same(7);
  EXPECT_EQ(to_vector(random_crop(x, ch, cw, pad, same)), yv);  // seeded
  Generator g2(1);
  Tensor whole = random_crop(x, h, w, 0, g2);
  EXPECT_EQ(to_vector(whole), xv);  // no padding, full size: the identity
  Tensor u8 = ops::to(distinct_images(2, 1, 4, 4), kUInt8);
  EXPECT_EQ(random_crop(u8, 3, 3, 1, g2).dtype(), kUInt8);
  EXPECT_EQ(random_crop(x.select(0, 0), 3, 3, 1, g2).shape(), (Dims{c, 3, 3}));  // one (C, H, W) image
  EXPECT_EQ(random_crop(zeros({0, 3, 4, 4}), 2, 2, 1, g2).shape(), (Dims{0, 3, 2, 2}));
  expect_error([&] { random_crop(x, 10, 2, 2, g2); }, {"10 x 2 window", "padded by 2"});
  expect_error([&] { random_crop(x, 2, 2, -1, g2); }, {"padding must be >= 0"});
}

TEST(Transforms, RandomFlipsMirrorChosenImages) {
  const int64_t n = 64;
  Tensor x = distinct_images(n, 2, 3, 4);
  Generator g(3);
  EXPECT_EQ(to_vector(random_horizontal_flip(x, 0.0, g)), to_vector(x));
  EXPECT_EQ(to_vector(random_horizontal_flip(x, 1.0, g)), to_vector(ops::flip(x, {3})));
  EXPECT_EQ(to_vector(random_vertical_flip(x, 1.0, g)), to_vector(ops::flip(x, {2})));
  Tensor y = random_horizontal_flip(x, 0.5, g);
  Tensor mirrored = ops::flip(x, {3});
  int flipped = 0;
  for (int64_t k = 0; k < n; ++k) {
    std::vector<double> yk = to_vector(y.select(0, k));
    bool is_x = yk == to_vector(x.select(0, k)), is_m = yk == to_vector(mirrored.select(0, k));
    EXPECT_TRUE(is_x != is_m) << "image " << k << " is neither itself nor its mirror image";
    flipped += is_m;
  }
  EXPECT_GT(flipped, 16);  // p = 0.5 over 64 images
  EXPECT_LT(flipped, 48);
  expect_error([&] { random_horizontal_flip(x, 1.5, g); }, {"p must be in [0, 1]"});
}

TEST(Transforms, RandomCutoutZeroesOneClippedSquarePerChosenImage) {
  const int64_t n = 32, c = 3, h = 9, w = 8, size = 4;
  Tensor x = ops::add(distinct_images(n, c, h, w), scalar_tensor(1.0f));
  Generator g(11);
  Tensor y = random_cutout(x, size, 1.0, g);
  std::vector<double> xv = to_vector(x), yv = to_vector(y);
  const Dims s = y.shape();
  for (int64_t k = 0; k < n; ++k) {
    int64_t y0 = h, y1 = -1, x0 = w, x1 = -1, zeros = 0;
    for (int64_t r = 0; r < h; ++r)
      for (int64_t q = 0; q < w; ++q) {
        const double v0 = at(yv, s, k, 0, r, q);
        for (int64_t ci = 0; ci < c; ++ci) {
          const double v = at(yv, s, k, ci, r, q);
          EXPECT_TRUE(v == 0.0 || v == at(xv, s, k, ci, r, q));
          EXPECT_EQ(v == 0.0, v0 == 0.0) << "channels disagree at image " << k;
        }
        if (v0 == 0.0) {
          ++zeros;
          y0 = std::min(y0, r), y1 = std::max(y1, r), x0 = std::min(x0, q), x1 = std::max(x1, q);
        }
      }
    ASSERT_GT(zeros, 0) << "image " << k << ": the square's centre is always inside";
    EXPECT_EQ(zeros, (y1 - y0 + 1) * (x1 - x0 + 1)) << "image " << k << ": not a rectangle";
    EXPECT_LE(y1 - y0 + 1, size);
    EXPECT_LE(x1 - x0 + 1, size);
  }
  EXPECT_EQ(to_vector(random_cutout(x, size, 0.0, g)), xv);
  Tensor u8 = ops::to(distinct_images(1, 1, 4, 4), kUInt8);
  EXPECT_EQ(random_cutout(u8, 2, 1.0, g, 7.0).dtype(), kUInt8);
  expect_error([&] { random_cutout(x, 0, 1.0, g); }, {"size must be >= 1"});
}

// color_jitter against a per-pixel reference that draws the same factors from
// a generator of the same seed (brightness, contrast, saturation, in that order).
TEST(Transforms, ColorJitterIsTorchvisionsBlendsWithFactorsPerImage) {
  const int64_t n = 16, c = 3, h = 5, w = 6;
  Generator data(3);
  Tensor x = rand({n, c, h, w}, {}, &data);
  const double sb = 0.4, sc = 0.5, ss = 0.6;
  Generator g(19), same(19);
  Tensor y = color_jitter(x, sb, sc, ss, 0.0, g);
  EXPECT_EQ(y.shape(), x.shape());
  EXPECT_EQ(y.dtype(), kFloat32);
  auto factors = [&](double s) {
    std::vector<double> f = to_vector(rand({n, 1, 1, 1}, {}, &same));
    for (double& v : f) v = 1.0 - s + 2.0 * s * v;
    return f;
  };
  const std::vector<double> fb = factors(sb), fc = factors(sc), fs = factors(ss);
  std::vector<double> v = to_vector(x), yv = to_vector(y);
  const Dims s = x.shape();
  auto ref = [&](int64_t k, int64_t ch, int64_t r, int64_t q) -> double& {
    return v[static_cast<size_t>(((k * c + ch) * h + r) * w + q)];
  };
  auto clamp01 = [](double t) { return std::min(1.0, std::max(0.0, t)); };
  auto lum = [&](int64_t k, int64_t r, int64_t q) {
    return 0.299 * ref(k, 0, r, q) + 0.587 * ref(k, 1, r, q) + 0.114 * ref(k, 2, r, q);
  };
  std::set<double> distinct;
  for (int64_t k = 0; k < n; ++k) {
    EXPECT_GE(fb[k], 1 - sb);
    EXPECT_LE(fb[k], 1 + sb);
    distinct.insert(fb[k]);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t q = 0; q < w; ++q) ref(k, ch, r, q) = clamp01(fb[k] * ref(k, ch, r, q));
    double mean = 0;
    for (int64_t r = 0; r < h; ++r)
      for (int64_t q = 0; q < w; ++q) mean += lum(k, r, q) / static_cast<double>(h * w);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t q = 0; q < w; ++q) ref(k, ch, r, q) = clamp01(mean + fc[k] * (ref(k, ch, r, q) - mean));
    for (int64_t r = 0; r < h; ++r)
      for (int64_t q = 0; q < w; ++q) {
        const double l = lum(k, r, q);
        for (int64_t ch = 0; ch < c; ++ch) ref(k, ch, r, q) = clamp01(l + fs[k] * (ref(k, ch, r, q) - l));
      }
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t q = 0; q < w; ++q)
          ASSERT_NEAR(at(yv, s, k, ch, r, q), ref(k, ch, r, q), 2e-6) << "image " << k << " (" << ch << ", " << r
                                                                      << ", " << q << ")";
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(n)) << "each image has its own factors";

  // Strength 0 changes nothing and draws nothing; grey images keep their pixels under saturation.
  Generator a(5), b(5);
  EXPECT_EQ(to_vector(color_jitter(x, 0, 0, 0, 0, a)), to_vector(x));
  EXPECT_EQ(to_vector(rand({4}, {}, &a)), to_vector(rand({4}, {}, &b)));
  Tensor grey = rand({4, 1, 3, 3}, {}, &data).expand({4, 3, 3, 3});
  EXPECT_TRUE(ember::testing::all_close(color_jitter(grey, 0, 0, 0.9, 0.5, a), grey, 1e-6, 0));
  // One channel, one image, float64.
  Tensor one = rand({1, 4, 4}, TensorOptions(kFloat64), &data);
  Tensor j = color_jitter(one, 0.2, 0.2, 0.2, 0.2, a);
  EXPECT_EQ(j.shape(), one.shape());
  EXPECT_EQ(j.dtype(), kFloat64);
  expect_error([&] { color_jitter(x, -0.1, 0, 0, 0, a); }, {"brightness must be finite and >= 0"});
  expect_error([&] { color_jitter(x, 0, 0, 0, 0.6, a); }, {"hue must be in [0, 0.5]"});
  expect_error([&] { color_jitter(rand({2, 2, 3, 3}), 0, 0.5, 0, 0, a); }, {"1 (grey) or 3 (RGB) channels"});
  expect_error([&] { color_jitter(ops::to(x, kUInt8), 0.5, 0, 0, 0, a); }, {"expected floating images"});
  EXPECT_EQ(color_jitter(rand({2, 2, 3, 3}), 0.5, 0, 0, 0, a).size(1), 2);  // brightness alone: any channels
}

// The hue shift against torchvision's RGB -> HSV -> RGB formulas per pixel.
TEST(Transforms, ColorJitterHueIsTorchvisionsAdjustHue) {
  const int64_t n = 24, h = 4, w = 5;
  Generator data(6);
  Tensor x = rand({n, 3, h, w}, {}, &data);
  x.narrow(0, 0, 1).narrow(2, 0, 1).fill_(0.25);  // grey pixels: no hue to turn
  x.narrow(0, 1, 1).narrow(1, 0, 1).narrow(2, 0, 1).fill_(1.0);  // ties for the largest channel
  x.narrow(0, 1, 1).narrow(1, 1, 1).narrow(2, 0, 1).fill_(1.0);
  const double hue = 0.5;
  Generator g(23), same(23);
  Tensor y = color_jitter(x, 0, 0, 0, hue, g);
  std::vector<double> shift = to_vector(rand({n, 1, 1, 1}, {}, &same));
  for (double& v : shift) v = -hue + 2 * hue * v;
  const std::vector<double> xv = to_vector(x), yv = to_vector(y);
  const Dims s = x.shape();
  for (int64_t k = 0; k < n; ++k)
    for (int64_t r = 0; r < h; ++r)
      for (int64_t q = 0; q < w; ++q) {
        const double R = at(xv, s, k, 0, r, q), G = at(xv, s, k, 1, r, q), B = at(xv, s, k, 2, r, q);
        const double maxc = std::max({R, G, B}), minc = std::min({R, G, B}), cr = maxc - minc;
        const bool eqc = maxc == minc;
        const double sat = cr / (eqc ? 1.0 : maxc), div = eqc ? 1.0 : cr;
        const double rc = (maxc - R) / div, gc = (maxc - G) / div, bc = (maxc - B) / div;
        double hh = maxc == R ? bc - gc : maxc == G ? 2.0 + rc - bc : 4.0 + gc - rc;
        hh = std::fmod(hh / 6.0 + 1.0, 1.0);
        hh = std::fmod(hh + shift[static_cast<size_t>(k)] + 1.0, 1.0);
        const double i = std::floor(hh * 6.0), f = hh * 6.0 - i;
        auto unit = [&](double t) { return std::min(1.0, std::max(0.0, maxc * (1.0 - t))); };
        const double p = unit(sat), qq = unit(sat * f), t = unit(sat * (1.0 - f)), v = maxc;
        const int sector = static_cast<int>(i) % 6;
        const double want[3][6] = {{v, qq, p, p, t, v}, {t, v, v, qq, p, p}, {p, p, t, v, v, qq}};
        for (int64_t ch = 0; ch < 3; ++ch)
          ASSERT_NEAR(at(yv, s, k, ch, r, q), want[ch][sector], 2e-5)
              << "image " << k << " pixel (" << r << ", " << q << ") channel " << ch << ", shift " << shift[k];
      }
  // A shift of (nearly) nothing gives the image back.
  Generator tiny(1);
  EXPECT_TRUE(ember::testing::all_close(color_jitter(x, 0, 0, 0, 1e-9, tiny), x, 1e-5, 0));
}

TEST(Transforms, RandomGrayscaleTurnsChosenImagesGrey) {
  const int64_t n = 32;
  Generator data(4), g(8);
  Tensor x = rand({n, 3, 4, 5}, {}, &data);
  Tensor y = random_grayscale(x, 0.5, g);
  Tensor lum = ops::add(ops::add(ops::mul(x.narrow(1, 0, 1), scalar_tensor(0.299f)),
                                 ops::mul(x.narrow(1, 1, 1), scalar_tensor(0.587f))),
                        ops::mul(x.narrow(1, 2, 1), scalar_tensor(0.114f)));
  int64_t greyed = 0;
  for (int64_t k = 0; k < n; ++k) {
    const Tensor yk = y.select(0, k), xk = x.select(0, k);
    if (to_vector(yk) == to_vector(xk)) continue;
    ++greyed;
    for (int64_t ch = 0; ch < 3; ++ch)
      EXPECT_TRUE(ember::testing::all_close(yk.narrow(0, ch, 1), lum.select(0, k), 1e-6, 1e-6)) << "image " << k;
  }
  EXPECT_GT(greyed, 0);
  EXPECT_LT(greyed, n);
  EXPECT_EQ(to_vector(random_grayscale(x, 0.0, g)), to_vector(x));
  expect_error([&] { random_grayscale(x, 1.5, g); }, {"p must be in [0, 1]"});
}

TEST(Transforms, ComposeAndOnInputDriveOneGenerator) {
  BatchTransform t = compose({on_input([](const Tensor& x, Generator& g) { return random_crop(x, 3, 3, 1, g); }),
                              on_input([](const Tensor& x, Generator& g) { return random_horizontal_flip(x, 0.5, g); })});
  Batch b{distinct_images(4, 1, 4, 4), arange(0, 4, TensorOptions(kInt64))};
  Generator g1(5), g2(5), g3(6);
  Batch r1 = t(b, g1), r2 = t(b, g2), r3 = t(b, g3);
  EXPECT_EQ(r1.input.shape(), (Dims{4, 1, 3, 3}));
  EXPECT_EQ(to_vector(r1.target), to_vector(b.target));
  EXPECT_EQ(to_vector(r1.input), to_vector(r2.input));
  EXPECT_NE(to_vector(r1.input), to_vector(r3.input));
  expect_error([] { compose({BatchTransform()}); }, {"step 0 is empty"});
}

namespace {

// PyTorch's bilinear interpolation (align_corners = false) of one box of one plane, per output pixel.
double bilinear_at(const std::vector<double>& v, const Dims& s, int64_t n, int64_t c, const CropBox& b, int64_t oh,
                   int64_t ow, int64_t i, int64_t j) {
  auto axis = [](int64_t o, int64_t in, int64_t out, int64_t* lo, int64_t* hi, double* frac) {
    double src = (static_cast<double>(o) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
    if (src < 0) src = 0;
    *lo = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    *hi = std::min(*lo + 1, in - 1);
    *frac = src - static_cast<double>(*lo);
  };
  int64_t y0, y1, x0, x1;
  double fy, fx;
  axis(i, b.height, oh, &y0, &y1, &fy);
  axis(j, b.width, ow, &x0, &x1, &fx);
  auto px = [&](int64_t y, int64_t x) { return at(v, s, n, c, b.top + y, b.left + x); };
  return (1 - fy) * ((1 - fx) * px(y0, x0) + fx * px(y0, x1)) + fy * ((1 - fx) * px(y1, x0) + fx * px(y1, x1));
}

void expect_resampled(const Tensor& got, const Tensor& x, const std::vector<CropBox>& boxes, int64_t oh, int64_t ow) {
  std::vector<double> xv = to_vector(x), gv = to_vector(got);
  const Dims xs = x.shape(), gs = got.shape();
  ASSERT_EQ(gs, (Dims{xs[0], xs[1], oh, ow}));
  for (int64_t n = 0; n < xs[0]; ++n)
    for (int64_t c = 0; c < xs[1]; ++c)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          const CropBox& b = boxes[boxes.size() == 1 ? 0 : static_cast<size_t>(n)];
          const double want = bilinear_at(xv, xs, n, c, b, oh, ow, i, j);
          ASSERT_NEAR(at(gv, gs, n, c, i, j), want, 1e-4 * (1 + std::fabs(want)))
              << "image " << n << " channel " << c << " pixel (" << i << ", " << j << ")";
        }
}

}  // namespace

TEST(Transforms, ResizeIsPyTorchsBilinear) {
  manual_seed(4);
  Tensor x = randn({2, 3, 5, 7});
  EXPECT_EQ(to_vector(resize(x, 5, 7)), to_vector(x));  // the same size: exactly the input
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{3, 4}, {11, 13}, {5, 2}, {1, 1}, {9, 7}})
    expect_resampled(resize(x, oh, ow), x, {CropBox{0, 0, 5, 7}}, oh, ow);
  std::vector<CropBox> boxes = {{1, 2, 3, 4}, {0, 0, 5, 1}};
  expect_resampled(resized_crop(x, boxes, 6, 3), x, boxes, 6, 3);
  EXPECT_EQ(resize(x.select(0, 1), 4, 4).shape(), (Dims{3, 4, 4}));  // one (C, H, W) image
  EXPECT_EQ(resize(to_float(ops::to(x, kUInt8)), 2, 2).dtype(), kFloat32);
  expect_error([&] { resize(ops::to(x, kUInt8), 2, 2); }, {"floating images", "to_float"});
  expect_error([&] { resized_crop(x, {CropBox{4, 0, 2, 2}}, 2, 2); }, {"box 0", "not inside"});
  expect_error([&] { resized_crop(x, {CropBox{}, CropBox{}, CropBox{}}, 2, 2); }, {"3 boxes for 2 images"});
}

namespace {

// PyTorch's interpolate(mode="bilinear", antialias=True) weights of one axis (as PIL's
// bilinear filter): for output o, the normalised triangle weights of inputs 0..in-1.
std::vector<double> antialias_weights(int64_t o, int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = scale >= 1 ? scale : 1.0, centre = scale * (static_cast<double>(o) + 0.5);
  std::vector<double> w(static_cast<size_t>(in), 0.0);
  double total = 0;
  for (int64_t j = 0; j < in; ++j) {
    if (j + 0.5 < centre - support || j + 0.5 > centre + support) continue;
    const double d = std::fabs((static_cast<double>(j) + 0.5 - centre) / support);
    w[static_cast<size_t>(j)] = std::max(0.0, 1.0 - d);
    total += w[static_cast<size_t>(j)];
  }
  for (double& v : w) v /= total;
  return w;
}

}  // namespace

TEST(Transforms, AntialiasedResizeIsPyTorchsAntialiasedBilinear) {
  manual_seed(6);
  Tensor x = randn({2, 2, 13, 11});
  EXPECT_TRUE(ember::testing::all_close(resize(x, 13, 11, true), x, 1e-6, 0));  // the same size: the input
  const std::vector<CropBox> boxes = {{0, 0, 13, 11}, {2, 1, 9, 10}};
  for (auto [oh, ow] : {std::pair<int64_t, int64_t>{4, 3}, {5, 5}, {1, 2}, {20, 7}, {13, 4}}) {
    Tensor got = resized_crop(x, boxes, oh, ow, true);
    ASSERT_EQ(got.shape(), (Dims{2, 2, oh, ow}));
    const std::vector<double> xv = to_vector(x), gv = to_vector(got);
    const Dims xs = x.shape(), gs = got.shape();
    for (int64_t k = 0; k < 2; ++k) {
      const CropBox& b = boxes[static_cast<size_t>(k)];
      for (int64_t i = 0; i < oh; ++i) {
        const std::vector<double> wy = antialias_weights(i, b.height, oh);
        for (int64_t j = 0; j < ow; ++j) {
          const std::vector<double> wx = antialias_weights(j, b.width, ow);
          for (int64_t c = 0; c < 2; ++c) {
            double want = 0;
            for (int64_t y = 0; y < b.height; ++y)
              for (int64_t q = 0; q < b.width; ++q)
                want += wy[static_cast<size_t>(y)] * wx[static_cast<size_t>(q)] * at(xv, xs, k, c, b.top + y, b.left + q);
            ASSERT_NEAR(at(gv, gs, k, c, i, j), want, 1e-5 * (1 + std::fabs(want)))
                << oh << " x " << ow << ", image " << k << " channel " << c << " pixel (" << i << ", " << j << ")";
          }
        }
      }
    }
  }
  // One-pixel stripes shrunk 3 times: plain bilinear lands on single columns and aliases them
  // into full-contrast stripes; antialiased, the interior outputs stay near the mean grey.
  std::vector<double> columns;
  for (int64_t q = 0; q < 15; ++q) columns.push_back(static_cast<double>(q % 2));
  Tensor stripes = tensor(columns, TensorOptions(kFloat32)).view({1, 1, 1, 15}).expand({1, 1, 4, 15});
  EXPECT_EQ(to_vector(resize(stripes, 4, 5).select(2, 0)), (std::vector<double>{1, 0, 1, 0, 1}));
  const std::vector<double> smooth = to_vector(resize(stripes, 4, 5, true).select(2, 0));
  for (size_t j = 1; j + 1 < smooth.size(); ++j) EXPECT_NEAR(smooth[j], 0.5, 0.06) << "column " << j;
}

TEST(Transforms, RandomResizedCropBoxesAndResampling) {
  Generator g(21);
  const auto boxes = random_resized_crop_boxes(200, 20, 30, g, {0.2, 0.9}, {0.5, 2.0});
  ASSERT_EQ(boxes.size(), 200u);
  std::set<std::pair<int64_t, int64_t>> corners;
  for (const CropBox& b : boxes) {
    EXPECT_TRUE(b.top >= 0 && b.left >= 0 && b.top + b.height <= 20 && b.left + b.width <= 30);
    const double fraction = static_cast<double>(b.height * b.width) / 600.0, aspect = static_cast<double>(b.width) / b.height;
    EXPECT_GT(fraction, 0.15);  // 0.2..0.9 up to rounding each side
    EXPECT_LT(fraction, 0.97);
    EXPECT_GT(aspect, 0.4);
    EXPECT_LT(aspect, 2.4);
    corners.insert({b.top, b.left});
  }
  EXPECT_GT(corners.size(), 50u);
  Generator g2(21);
  const auto again = random_resized_crop_boxes(200, 20, 30, g2, {0.2, 0.9}, {0.5, 2.0});
  EXPECT_EQ(again[17].top, boxes[17].top);
  EXPECT_EQ(again[17].width, boxes[17].width);
  // No box can have an aspect ratio of 10..20 inside a square: the centred fallback, as wide as allowed.
  Generator g3(1);
  const auto fallback = random_resized_crop_boxes(3, 40, 40, g3, {0.9, 1.0}, {10.0, 20.0});
  EXPECT_EQ(fallback[0].width, 40);
  EXPECT_EQ(fallback[0].height, 4);
  EXPECT_EQ(fallback[0].top, 18);

  manual_seed(5);
  Tensor x = randn({4, 2, 12, 10});
  Generator a(8), b(8);
  Tensor out = random_resized_crop(x, 6, 6, a);
  expect_resampled(out, x, random_resized_crop_boxes(4, 12, 10, b), 6, 6);
  expect_error([&] { random_resized_crop(x, 6, 6, a, {0.0, 1.0}); }, {"scale"});
}
