// ImageFolder: class order, sample order and filtering, decoded pixels and
// targets, batching, and errors that name the root or the broken file. Each
// test builds its own tree under the temp folder and removes it.
#include <filesystem>
#include <fstream>
#include <random>

#define STB_IMAGE_WRITE_STATIC  // private copy: test_image.cpp compiles its own too
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "test_util.hpp"

using namespace ember;
using ember::testing::expect_error;
namespace fs = std::filesystem;

namespace {

// A fresh, uniquely named folder under the temp folder, removed with the object.
class TempTree {
 public:
  TempTree() {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("ember_image_folder_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(root_);
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string root() const { return root_.string(); }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }
  // A 2 x 2 RGB PNG whose pixel p, channel c holds base + 10 * p + c.
  void png(const std::string& rel, int base) const {
    fs::create_directories((root_ / rel).parent_path());
    std::vector<uint8_t> hwc;
    for (int p = 0; p < 4; ++p)
      for (int c = 0; c < 3; ++c) hwc.push_back(static_cast<uint8_t>(base + 10 * p + c));
    ASSERT_NE(stbi_write_png(path(rel).c_str(), 2, 2, 3, hwc.data(), 2 * 3), 0) << rel;
  }
  void text(const std::string& rel, const std::string& content) const {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(path(rel)) << content;
  }

 private:
  fs::path root_;
};

// The standard tree: classes bird, cat, dog (sorted), a nested and an
// upper-case image, and files that are not samples.
void build_pets(const TempTree& t) {
  t.png("dog/z.png", 100);
  t.png("cat/sub/c.PNG", 50);
  t.png("cat/a.png", 40);
  t.png("bird/b1.png", 0);
  t.text("dog/notes.txt", "not an image");
  t.text("readme.png", "a file in root is not a class");
  t.png(".hidden/x.png", 1);       // hidden folders are not classes
  t.png("cat/.thumbs/t.png", 1);   // nor searched inside a class
}

void expect_pixels(const Tensor& img, int base) {
  ASSERT_EQ(img.shape(), (Dims{3, 2, 2}));
  ASSERT_EQ(img.dtype(), kUInt8);
  const uint8_t* d = img.data_ptr<uint8_t>();
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p) EXPECT_EQ(d[c * 4 + p], base + 10 * p + c) << "c " << c << " p " << p;
}

}  // namespace

TEST(ImageFolder, ClassesAndSamplesInSortedOrder) {
  TempTree t;
  build_pets(t);
  data::ImageFolder ds(t.root());
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"bird", "cat", "dog"}));
  ASSERT_EQ(ds.size(), 4);
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"bird/b1.png", 0}, {"cat/a.png", 1}, {"cat/sub/c.PNG", 1}, {"dog/z.png", 2}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(ds.samples()[i].path, t.path(expected[i].first));
    EXPECT_EQ(ds.samples()[i].class_index, expected[i].second);
  }
  EXPECT_EQ(ds.name(), "ImageFolder '" + t.root() + "'");
}

TEST(ImageFolder, GetDecodesImageAndTarget) {
  TempTree t;
  build_pets(t);
  data::ImageFolder ds(t.root());
  const int bases[] = {0, 40, 50, 100};
  for (int64_t i = 0; i < 4; ++i) {
    data::Example e = ds.get(i);
    expect_pixels(e.input, bases[i]);
    ASSERT_EQ(e.target.dim(), 0);
    EXPECT_EQ(e.target.dtype(), kInt64);
    EXPECT_EQ(e.target.item<int64_t>(), ds.samples()[static_cast<size_t>(i)].class_index);
  }
  expect_error([&] { ds.get(4); }, {"ImageFolder"});
  expect_error([&] { ds.get(-1); }, {"ImageFolder"});
}

TEST(ImageFolder, BatchStacksImagesAndTargets) {
  TempTree t;
  build_pets(t);
  data::ImageFolder ds(t.root());
  std::vector<int64_t> idx = {0, 2};
  data::Batch b = ds.get_batch(idx);
  ASSERT_EQ(b.input.shape(), (Dims{2, 3, 2, 2}));
  EXPECT_EQ(b.input.dtype(), kUInt8);
  expect_pixels(b.input[0].contiguous(), 0);
  expect_pixels(b.input[1].contiguous(), 50);
  ASSERT_EQ(b.target.shape(), (Dims{2}));
  EXPECT_EQ(ember::testing::to_vector(b.target), (std::vector<double>{0, 1}));
}

TEST(ImageFolder, Options) {
  TempTree t;
  build_pets(t);
  data::ImageFolder grey(t.root(), {.channels = 1});
  data::Example e = grey.get(0);  // pixel 0 of base 0 is (0, 1, 2)
  ASSERT_EQ(e.input.shape(), (Dims{1, 2, 2}));
  EXPECT_EQ(e.input.data_ptr<uint8_t>()[0], (0 * 77 + 1 * 150 + 2 * 29) >> 8);

  t.text("dog/extra.Txt", "hello");
  data::ImageFolder txt(t.root(), {.extensions = {".TXT", "png"}});
  ASSERT_EQ(txt.size(), 6);  // 4 images, dog/extra.Txt and dog/notes.txt
  EXPECT_EQ(txt.samples()[4].path, t.path("dog/notes.txt"));  // byte order: 'e' < 'n' < 'z'
  EXPECT_EQ(txt.samples()[3].path, t.path("dog/extra.Txt"));
  expect_error([&] { data::ImageFolder(t.root(), {.extensions = {"bmp"}}); },
               {t.root(), "no images", "bmp"});
}

TEST(ImageFolder, RootErrorsNameTheRoot) {
  expect_error([] { data::ImageFolder("/nonexistent/ember_root"); },
               {"/nonexistent/ember_root", "does not exist", "root/<class_name>/<image>"});
  TempTree t;
  expect_error([&] { data::ImageFolder ds(t.root()); }, {t.root(), "no class folders"});
  t.text("file.png", "x");
  expect_error([&] { data::ImageFolder ds(t.path("file.png")); }, {t.path("file.png"), "not a folder"});
  t.text("a/readme.md", "x");
  expect_error([&] { data::ImageFolder ds(t.root()); }, {t.root(), "no images", "jpg", "png"});
  t.png("b/x.png", 0);
  expect_error([&] { data::ImageFolder ds(t.root()); }, {t.root(), "'a'", "no images"});
}

TEST(ImageFolder, CorruptImageNamesTheFile) {
  TempTree t;
  build_pets(t);
  t.text("cat/broken.jpg", "this is not a jpeg");
  data::ImageFolder ds(t.root());
  ASSERT_EQ(ds.size(), 5);
  EXPECT_EQ(ds.samples()[2].path, t.path("cat/broken.jpg"));
  expect_error([&] { ds.get(2); }, {t.path("cat/broken.jpg"), "cannot decode"});
  std::vector<int64_t> idx = {1, 2};
  expect_error([&] { ds.get_batch(idx); }, {t.path("cat/broken.jpg")});
}
