// Image decoding: exact pixels in (C, H, W) order from PNG and BMP written by
// stb_image_write, channel conversion, and errors that name the image.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "test_util.hpp"

using namespace ember;
using ember::testing::expect_error;

namespace {

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

// hwc: (H, W, C) interleaved, as image files store pixels.
std::vector<uint8_t> encode_png(const std::vector<uint8_t>& hwc, int w, int h, int c) {
  std::vector<uint8_t> out;
  EXPECT_NE(stbi_write_png_to_func(append_bytes, &out, w, h, c, hwc.data(), w * c), 0);
  return out;
}
std::vector<uint8_t> encode_tga(const std::vector<uint8_t>& hwc, int w, int h, int c) {
  std::vector<uint8_t> out;
  EXPECT_NE(stbi_write_tga_to_func(append_bytes, &out, w, h, c, hwc.data()), 0);
  return out;
}
std::vector<uint8_t> encode_bmp(const std::vector<uint8_t>& hwc, int w, int h, int c) {
  std::vector<uint8_t> out;
  EXPECT_NE(stbi_write_bmp_to_func(append_bytes, &out, w, h, c, hwc.data()), 0);
  return out;
}

// A 2 x 3 (H x W) RGB image whose every byte differs.
const std::vector<uint8_t> kRgb = {10, 20, 30,  40, 50, 60,  70, 80, 90,   // row 0
                                   100, 110, 120,  130, 140, 150,  160, 170, 180};  // row 1

uint8_t at(const Tensor& t, int64_t c, int64_t y, int64_t x) {
  return t.data_ptr<uint8_t>()[(c * t.size(1) + y) * t.size(2) + x];
}

void expect_rgb_chw(const Tensor& t) {
  ASSERT_EQ(t.shape(), (Dims{3, 2, 3}));
  EXPECT_EQ(t.dtype(), kUInt8);
  EXPECT_TRUE(t.is_contiguous());
  for (int64_t y = 0; y < 2; ++y)
    for (int64_t x = 0; x < 3; ++x)
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_EQ(at(t, c, y, x), kRgb[static_cast<size_t>((y * 3 + x) * 3 + c)]) << "c " << c << " y " << y << " x " << x;
}

int luminance(int r, int g, int b) { return (r * 77 + g * 150 + b * 29) >> 8; }  // stb's integer formula

}  // namespace

TEST(Image, DecodesPngAndBmpToChw) {
  expect_rgb_chw(data::decode_image(encode_png(kRgb, 3, 2, 3), "rgb.png"));
  expect_rgb_chw(data::decode_image(encode_bmp(kRgb, 3, 2, 3), "rgb.bmp"));
}

// The other formats ImageFolder lists: TGA and binary PPM/PGM exactly, JPEG
// (lossy) within a tolerance on a flat-coloured block.
TEST(Image, DecodesTgaPnmAndJpeg) {
  expect_rgb_chw(data::decode_image(encode_tga(kRgb, 3, 2, 3), "rgb.tga"));
  std::vector<uint8_t> ppm = {'P', '6', '\n', '3', ' ', '2', '\n', '2', '5', '5', '\n'};
  ppm.insert(ppm.end(), kRgb.begin(), kRgb.end());
  expect_rgb_chw(data::decode_image(ppm, "rgb.ppm"));
  std::vector<uint8_t> pgm = {'P', '5', ' ', '2', ' ', '1', ' ', '2', '5', '5', '\n', 9, 250};
  Tensor g = data::decode_image(pgm, "grey.pgm");
  ASSERT_EQ(g.shape(), (Dims{1, 1, 2}));
  EXPECT_EQ(g.data_ptr<uint8_t>()[0], 9);
  EXPECT_EQ(g.data_ptr<uint8_t>()[1], 250);

  std::vector<uint8_t> flat;
  for (int p = 0; p < 16 * 8; ++p) flat.insert(flat.end(), {200, 100, 50});
  std::vector<uint8_t> jpg;
  ASSERT_NE(stbi_write_jpg_to_func(append_bytes, &jpg, 16, 8, 3, flat.data(), 95), 0);
  Tensor j = data::decode_image(jpg, "flat.jpg");
  ASSERT_EQ(j.shape(), (Dims{3, 8, 16}));
  const int want[3] = {200, 100, 50};
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t i = 0; i < 8 * 16; ++i) EXPECT_NEAR(j.data_ptr<uint8_t>()[c * 128 + i], want[c], 3) << "c " << c << " i " << i;
}

TEST(Image, KeepsStoredChannels) {
  std::vector<uint8_t> grey = {0, 64, 128, 255, 1, 2};  // (2, 3, 1)
  Tensor g = data::decode_image(encode_png(grey, 3, 2, 1), "grey.png");
  ASSERT_EQ(g.shape(), (Dims{1, 2, 3}));
  for (size_t i = 0; i < grey.size(); ++i) EXPECT_EQ(g.data_ptr<uint8_t>()[i], grey[i]);

  std::vector<uint8_t> rgba = {1, 2, 3, 4, 5, 6, 7, 8};  // (1, 2, 4)
  Tensor a = data::decode_image(encode_png(rgba, 2, 1, 4), "rgba.png");
  ASSERT_EQ(a.shape(), (Dims{4, 1, 2}));
  for (int64_t c = 0; c < 4; ++c) {
    EXPECT_EQ(at(a, c, 0, 0), rgba[static_cast<size_t>(c)]);
    EXPECT_EQ(at(a, c, 0, 1), rgba[static_cast<size_t>(4 + c)]);
  }
}

TEST(Image, ConvertsChannels) {
  // RGB -> grey by stb's luminance.
  Tensor g = data::decode_image(encode_png(kRgb, 3, 2, 3), "rgb.png", 1);
  ASSERT_EQ(g.shape(), (Dims{1, 2, 3}));
  for (int64_t p = 0; p < 6; ++p) {
    const size_t i = static_cast<size_t>(p * 3);
    EXPECT_EQ(g.data_ptr<uint8_t>()[p], luminance(kRgb[i], kRgb[i + 1], kRgb[i + 2])) << "pixel " << p;
  }
  EXPECT_EQ(luminance(255, 0, 0), 76);  // the formula itself, pinned

  // Grey -> RGB replicates the value into every plane.
  std::vector<uint8_t> grey = {7, 200};  // (1, 2, 1)
  Tensor rgb = data::decode_image(encode_png(grey, 2, 1, 1), "grey.png", 3);
  ASSERT_EQ(rgb.shape(), (Dims{3, 1, 2}));
  for (int64_t c = 0; c < 3; ++c) {
    EXPECT_EQ(at(rgb, c, 0, 0), 7);
    EXPECT_EQ(at(rgb, c, 0, 1), 200);
  }

  // RGB -> RGBA adds an opaque alpha plane.
  Tensor rgba = data::decode_image(encode_png(kRgb, 3, 2, 3), "rgb.png", 4);
  ASSERT_EQ(rgba.shape(), (Dims{4, 2, 3}));
  EXPECT_EQ(at(rgba, 0, 1, 2), 160);
  EXPECT_EQ(at(rgba, 3, 1, 2), 255);
}

TEST(Image, ErrorsNameTheImage) {
  std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'};
  expect_error([&] { data::decode_image(junk, "junk.png"); }, {"junk.png", "cannot decode", "12 bytes"});
  std::vector<uint8_t> png = encode_png(kRgb, 3, 2, 3);
  png.resize(png.size() / 2);  // a truncated PNG: the header is fine, the data ends early
  expect_error([&] { data::decode_image(png, "cut.png"); }, {"cut.png", "cannot decode"});
  expect_error([] { data::decode_image({}, "empty.png"); }, {"empty.png", "empty"});
  expect_error([] { data::decode_image(encode_png(kRgb, 3, 2, 3), "x.png", 5); }, {"x.png", "channels", "got 5"});
  expect_error([] { data::read_image("/nonexistent/ember/img.png"); }, {"cannot open", "/nonexistent/ember/img.png"});
}

TEST(Image, ReadsAFile) {
  const std::string path = (std::filesystem::temp_directory_path() / "ember_test_image_read.png").string();
  ASSERT_NE(stbi_write_png(path.c_str(), 3, 2, 3, kRgb.data(), 3 * 3), 0);
  expect_rgb_chw(data::read_image(path));
  std::remove(path.c_str());
}

// Decoding runs in DataLoader tasks: concurrent decodes must give their own
// pixels and their own failure reasons.
TEST(Image, ConcurrentDecodesAreIndependent) {
  const std::vector<uint8_t> png = encode_png(kRgb, 3, 2, 3);
  const std::vector<uint8_t> junk(64, 0xab);
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        Tensor img = data::decode_image(png, "good.png");
        if (at(img, 2, 1, 2) != 180) return;
        try {
          data::decode_image(junk, "bad" + std::to_string(t) + ".png");
          return;
        } catch (const Error& e) {
          if (std::string(e.what()).find("bad" + std::to_string(t) + ".png") == std::string::npos) return;
        }
      }
      ok[static_cast<size_t>(t)] = 1;
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[static_cast<size_t>(t)], 1) << "thread " << t;
}
