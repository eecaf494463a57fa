// IDX reader: plain and gzip files, and every defect named with file and offset.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_util.hpp"

using namespace ember;
using ember::testing::expect_error;

namespace {

std::vector<uint8_t> idx_bytes(uint8_t code, std::vector<uint32_t> dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b = {0, 0, code, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

std::string write_temp(const std::string& name, const std::vector<uint8_t>& bytes, bool gzip) {
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  return path;
}

}  // namespace

TEST(Idx, ReadsPlainAndGzipUint8) {
  std::vector<uint8_t> payload = {1, 2, 3, 4, 5, 6};
  for (bool gz : {false, true}) {
    std::string path = write_temp(gz ? "ember_idx_ok.gz" : "ember_idx_ok", idx_bytes(0x08, {2, 3}, payload), gz);
    Tensor t = data::read_idx(path);
    EXPECT_EQ(t.shape(), (Dims{2, 3}));
    EXPECT_EQ(t.dtype(), kUInt8);
    EXPECT_EQ(t.data_ptr<uint8_t>()[5], 6);
    std::remove(path.c_str());
  }
}

TEST(Idx, BigEndianInt32AndFloat) {
  Tensor t = data::parse_idx(idx_bytes(0x0C, {2}, {0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe}), "mem");
  EXPECT_EQ(t.data_ptr<int32_t>()[0], 258);
  EXPECT_EQ(t.data_ptr<int32_t>()[1], -2);
  Tensor f = data::parse_idx(idx_bytes(0x0D, {1}, {0x3f, 0xc0, 0, 0}), "mem");
  EXPECT_EQ(f.data_ptr<float>()[0], 1.5f);
}

TEST(Idx, ErrorsNameFileAndProblem) {
  expect_error([] { data::parse_idx({1, 0, 8, 1}, "a.idx"); }, {"a.idx", "bad magic"});
  expect_error([] { data::parse_idx(idx_bytes(0x08, {10}, {1, 2, 3}), "b.idx"); }, {"b.idx", "truncated", "needs 18", "has 11"});
  expect_error([] { data::parse_idx(idx_bytes(0x08, {2}, {1, 2, 3}), "c.idx"); }, {"c.idx", "trailing"});
  expect_error([] { data::parse_idx(idx_bytes(0x42, {2}, {1, 2}), "d.idx"); }, {"d.idx", "type code"});
  expect_error([] { data::parse_idx({0, 0, 8}, "e.idx"); }, {"e.idx", "truncated"});
  expect_error([] { data::read_idx("/nonexistent/file.idx"); }, {"cannot open", "/nonexistent/file.idx"});
  // A gzip stream cut short.
  std::string path = write_temp("ember_idx_cut.gz", idx_bytes(0x08, {1000}, std::vector<uint8_t>(1000, 7)), true);
  std::vector<uint8_t> raw;
  {
    std::ifstream f(path, std::ios::binary);
    raw.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  raw.resize(raw.size() / 2);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  expect_error([&] { data::read_idx(path); }, {"ember_idx_cut.gz", "corrupt or truncated gzip"});
  std::remove(path.c_str());
}

TEST(FashionMnist, MissingFolderIsAClearError) {
  expect_error([] { data::load_mnist_split("/nonexistent", "train"); }, {"train-images-idx3-ubyte", "/nonexistent"});
  expect_error([] { data::load_mnist_split("/nonexistent", "val"); }, {"'train' or 'test'"});
}
