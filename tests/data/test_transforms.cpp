// Batch image transforms: exact values against a naive per-pixel reference,
// per-image randomness (each image gets its own crop/flip/cutout), seeding,
// dtypes kept, single images, and errors. The CPU-vs-CUDA agreement of the same
// transforms is tests/cuda/test_cuda_data.cpp.
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
