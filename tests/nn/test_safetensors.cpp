// safetensors: round trips for every dtype, atomic writes, and clear errors on corrupt files.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;

namespace {
std::string temp_path(const std::string& name) { return (std::filesystem::temp_directory_path() / name).string(); }

std::string header_file(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + data;
}
}  // namespace

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  manual_seed(0);
  nn::TensorMap tensors;
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool})
    tensors[std::string("t_") + dt.name()] = ops::to(randn({3, 2}) * 3.0, dt);
  tensors["empty"] = zeros({0, 4});
  tensors["scalar"] = full({}, 2.5);
  tensors["strided"] = ops::t(randn({4, 3}));  // non-contiguous input is written contiguously
  std::string path = temp_path("ember_st_roundtrip.safetensors");
  nn::save_safetensors(path, tensors, {{"format", "pt"}, {"epoch", "3"}});
  nn::Metadata meta;
  nn::TensorMap back = nn::load_safetensors(path, &meta);
  EXPECT_EQ(meta.at("epoch"), "3");
  ASSERT_EQ(back.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    EXPECT_EQ(back.at(name).dtype(), t.dtype()) << name;
    EXPECT_TRUE(all_close(back.at(name), t, 0, 0)) << name;
  }
  // No temporary file is left beside it.
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    EXPECT_EQ(entry.path().filename().string().find("ember_st_roundtrip.safetensors.tmp"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Safetensors, HeaderIsAlignedAndLittleEndian) {
  std::string bytes = nn::serialize_safetensors({{"a", full({2}, 1.0f)}});
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[static_cast<size_t>(i)])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 8);
  EXPECT_NE(bytes.find("\"dtype\":\"F32\""), std::string::npos);
}

TEST(Safetensors, ModuleCheckpointRestores) {
  manual_seed(1);
  nn::Linear a(4, 3);
  manual_seed(2);
  nn::Linear b(4, 3);
  std::string path = temp_path("ember_st_module.safetensors");
  nn::save_safetensors(path, a.state_dict());
  b.load_state_dict(nn::load_safetensors(path));
  EXPECT_TRUE(all_close(a.weight, b.weight, 0, 0));
  std::remove(path.c_str());
}

TEST(Safetensors, CorruptFilesAreClearErrors) {
  const std::string f = "bad.safetensors";
  expect_error([&] { nn::parse_safetensors("abc", f); }, {f, "too short"});
  expect_error([&] { nn::parse_safetensors(header_file("{}", "") .substr(0, 8) + std::string(1, 'x'), f); }, {f});
  std::string huge(8, '\xff');
  expect_error([&] { nn::parse_safetensors(huge, f); }, {f, "header"});
  std::string big_len = header_file("{}", "");
  big_len[0] = 100;
  expect_error([&] { nn::parse_safetensors(big_len, f); }, {f, "declares a header of 100 bytes"});
  expect_error([&] { nn::parse_safetensors(header_file("{not json", ""), f); }, {f, "invalid JSON"});
  expect_error([&] { nn::parse_safetensors(header_file("[1]", ""), f); }, {f, "JSON object"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}})", "abcd"), f); },
               {f, "'a'", "unsupported dtype"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", "abcd"), f); },
               {f, "needs 8 bytes", "span 4"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", "abcd"), f); },
               {f, "outside the data section"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"), f); },
               {f, "non-negative"});
  expect_error(
      [&] {
        nn::parse_safetensors(header_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
                                          "abcdef"),
                              f);
      },
      {f, "overlap"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "ab"), f); },
               {f, "no tensor uses"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", "\x07"), f); },
               {f, "not 0 or 1"});
  expect_error([&] { nn::load_safetensors("/nonexistent/x.safetensors"); }, {"cannot open", "/nonexistent/x.safetensors"});
}

TEST(Safetensors, WriteFailureLeavesNoFile) {
  expect_error([] { nn::save_safetensors("/nonexistent_dir/model.safetensors", {{"a", zeros({1})}}); },
               {"cannot create", "/nonexistent_dir/model.safetensors"});
  EXPECT_FALSE(std::filesystem::exists("/nonexistent_dir/model.safetensors"));
}

TEST(Safetensors, HeaderValidationReportsEntriesWithoutTensors) {
  std::string bytes = nn::serialize_safetensors({{"b", full({2}, 1.0f)}, {"a", zeros({0, 3})}, {"c", full({}, 7.0, kFloat64)}},
                                                {{"k", "v"}});
  nn::SafetensorsHeader h = nn::parse_safetensors_header(bytes, "mem");
  ASSERT_EQ(h.entries.size(), 3u);
  EXPECT_EQ(h.entries[0].name, "a");
  EXPECT_EQ(h.entries[0].shape, Dims({0, 3}));
  EXPECT_EQ(h.entries[0].begin, h.entries[0].end);
  EXPECT_EQ(h.entries[2].dtype, kFloat64);
  EXPECT_EQ(h.entries[2].shape.size(), 0u);
  EXPECT_EQ(h.metadata.at("k"), "v");
  EXPECT_EQ(h.data_start + 8 + 8, bytes.size());  // 2 float32 + 1 float64
}

TEST(Safetensors, HostileHeadersAreClearErrors) {
  const std::string f = "hostile.safetensors";
  expect_error([&] {
    nn::parse_safetensors(header_file(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"), f);
  }, {f, "key \"a\" twice"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"__metadata__":{"k":"1","k":"2"}})", ""), f); }, {f, "twice"});
  expect_error([&] { nn::parse_safetensors(header_file("{\"a\":" + std::string(50, '[') + std::string(50, ']') + "}", ""), f); },
               {f, "nests deeper"});
  // A zero dim makes numel 0, but the other dims still feed the strides: they must stay bounded.
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})", ""), f); },
               {f, "'a'", "too large"});
  expect_error([&] { nn::parse_safetensors(header_file(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})", "abcd"), f); },
               {f, "too large"});
  // Error messages quote at most a short excerpt of a hostile value.
  try {
    nn::parse_safetensors(header_file(R"({"a":{"dtype":")" + std::string(100000, 'X') + R"(","shape":[],"data_offsets":[0,0]}})", ""), f);
    ADD_FAILURE() << "a 100000-character dtype was accepted";
  } catch (const Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 500u);
    EXPECT_NE(std::string(e.what()).find("unsupported dtype"), std::string::npos);
  }
  expect_error([] { nn::load_safetensors(std::filesystem::temp_directory_path().string()); }, {"not a regular file"});
}
