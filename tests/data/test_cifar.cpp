// CIFAR-10 binary reader: R/G/B planes land in (C, H, W), labels in order,
// train concatenates five files, and every defect names file and offset.
#include <filesystem>
#include <fstream>
#include <random>

#include "test_util.hpp"

using namespace ember;
using ember::testing::expect_error;
namespace fs = std::filesystem;

namespace {

constexpr size_t kRecord = 3073;

// Byte i of plane c of record r (a pattern where planes and records differ).
uint8_t pixel(int r, int c, size_t i) { return static_cast<uint8_t>((i * 7 + 60 * c + 17 * r) % 256); }

std::vector<uint8_t> records(const std::vector<uint8_t>& labels, int first = 0) {
  std::vector<uint8_t> b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.push_back(labels[r]);
    for (int c = 0; c < 3; ++c)
      for (size_t i = 0; i < 1024; ++i) b.push_back(pixel(first + static_cast<int>(r), c, i));
  }
  return b;
}

class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("ember_cifar_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string dir() const { return dir_.string(); }
  std::string write(const std::string& rel, const std::vector<uint8_t>& bytes) const {
    fs::create_directories((dir_ / rel).parent_path());
    std::string p = (dir_ / rel).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

 private:
  fs::path dir_;
};

// images (N, 3, 32, 32): image n is record `first + n` of the pattern.
void expect_images(const Tensor& images, int n, int first = 0) {
  ASSERT_EQ(images.shape(), (Dims{n, 3, 32, 32}));
  ASSERT_EQ(images.dtype(), kUInt8);
  const uint8_t* d = images.data_ptr<uint8_t>();
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < 3; ++c)
      for (size_t i = 0; i < 1024; ++i)
        ASSERT_EQ(d[(static_cast<size_t>(r) * 3 + c) * 1024 + i], pixel(first + r, c, i)) << "image " << r << " plane " << c << " pixel " << i;
}

}  // namespace

TEST(Cifar, ReadsPlanesAndLabels) {
  TempDir t;
  std::string path = t.write("test_batch.bin", records({3, 0, 9}));
  data::CifarSplit s = data::read_cifar10_file(path);
  expect_images(s.images, 3);
  // Plane order spelled out: R, G, B of image 1 at row 2, column 5.
  const size_t at = 2 * 32 + 5;
  EXPECT_EQ(s.images[1][0][2][5].item<uint8_t>(), pixel(1, 0, at));
  EXPECT_EQ(s.images[1][1][2][5].item<uint8_t>(), pixel(1, 1, at));
  EXPECT_EQ(s.images[1][2][2][5].item<uint8_t>(), pixel(1, 2, at));
  ASSERT_EQ(s.labels.shape(), (Dims{3}));
  EXPECT_EQ(s.labels.dtype(), kInt64);
  EXPECT_EQ(ember::testing::to_vector(s.labels), (std::vector<double>{3, 0, 9}));
  EXPECT_STREQ(data::kCifar10Classes[9], "truck");
}

TEST(Cifar, TrainConcatenatesFiveFilesInOrder) {
  TempDir t;
  const std::vector<std::vector<uint8_t>> labels = {{1}, {2, 3}, {4}, {5}, {6}};
  int first = 0;
  for (int f = 0; f < 5; ++f) {
    t.write("cifar-10-batches-bin/data_batch_" + std::to_string(f + 1) + ".bin", records(labels[static_cast<size_t>(f)], first));
    first += static_cast<int>(labels[static_cast<size_t>(f)].size());
  }
  t.write("cifar-10-batches-bin/test_batch.bin", records({7, 8}));
  for (const std::string& dir : {t.dir() + "/cifar-10-batches-bin", t.dir()}) {  // the folder, or its parent
    data::CifarSplit train = data::load_cifar10(dir, "train");
    expect_images(train.images, 6);
    EXPECT_EQ(ember::testing::to_vector(train.labels), (std::vector<double>{1, 2, 3, 4, 5, 6}));
    data::CifarSplit test = data::load_cifar10(dir, "test");
    expect_images(test.images, 2);
    EXPECT_EQ(ember::testing::to_vector(test.labels), (std::vector<double>{7, 8}));
  }
  data::CifarSplit test = data::load_cifar10(t.dir(), "test");
  data::TensorDataset ds(test.images, test.labels);
  EXPECT_EQ(ds.size(), 2);
}

TEST(Cifar, TruncationNamesFileSizeAndOffset) {
  TempDir t;
  std::vector<uint8_t> b = records({1, 2, 3});
  b.resize(b.size() + 100);  // 9319 bytes: three records and the first 100 bytes of a fourth
  std::string path = t.write("data_batch_1.bin", b);
  expect_error([&] { data::read_cifar10_file(path); }, {path, "9319 bytes", "3073", "byte offset 9219", "incomplete"});
  b.resize(kRecord * 2 - 1);
  path = t.write("test_batch.bin", b);
  expect_error([&] { data::load_cifar10(t.dir(), "test"); }, {"test_batch.bin", "6145 bytes", "byte offset 3073"});
  path = t.write("empty.bin", {});
  expect_error([&] { data::read_cifar10_file(path); }, {path, "empty"});
}

TEST(Cifar, BadLabelNamesRecordAndOffset) {
  TempDir t;
  std::string path = t.write("test_batch.bin", records({0, 10, 1}));
  expect_error([&] { data::read_cifar10_file(path); }, {path, "record 1", "byte offset 3073", "label 10", "0..9"});
  expect_error([&] { data::load_cifar10(t.dir(), "test"); }, {path, "record 1"});
}

TEST(Cifar, MissingFilesAreNamed) {
  TempDir t;
  expect_error([&] { data::load_cifar10(t.dir(), "train"); },
               {"data_batch_1.bin", t.dir(), "data_batch_5.bin", "test_batch.bin", "cifar-10-batches-bin"});
  expect_error([&] { data::load_cifar10(t.dir(), "test"); }, {"no 'test_batch.bin'", t.dir()});
  for (int f = 1; f <= 4; ++f) t.write("data_batch_" + std::to_string(f) + ".bin", records({0}));
  expect_error([&] { data::load_cifar10(t.dir(), "train"); }, {"no 'data_batch_5.bin'", t.dir()});
  expect_error([&] { data::read_cifar10_file(t.dir() + "/nope.bin"); }, {"cannot open", "nope.bin"});
  expect_error([&] { data::load_cifar10(t.dir(), "val"); }, {"'train' or 'test'", "'val'"});
}
