// write_file_atomically: the file appears whole or not at all, replaces an old
// one, leaves no temporary file, and failures name the caller and the path.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

#include <ember/runtime/file_io.hpp>

using ember::testing::expect_error;
namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

fs::path fresh_dir() {
  fs::path dir = fs::temp_directory_path() / ("ember_file_io_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(FileIo, WritesReplacesAndLeavesNoTemporaryFile) {
  fs::path dir = fresh_dir();
  const std::string path = (dir / "out.bin").string();
  std::string bytes("a\0b", 3);
  ember::runtime::write_file_atomically(path, bytes, "test");
  EXPECT_EQ(read_all(path), bytes);
  ember::runtime::write_file_atomically(path, "second", "test");
  EXPECT_EQ(read_all(path), "second");
  ember::runtime::write_file_atomically(path, "", "test");
  EXPECT_EQ(fs::file_size(path), 0u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
  fs::remove_all(dir);
}

TEST(FileIo, FailuresNameTheCallerAndKeepTheOldFile) {
  expect_error([] { ember::runtime::write_file_atomically("/nonexistent_ember_dir/x", "data", "saver"); },
               {"saver", "cannot create", "/nonexistent_ember_dir/x"});
  fs::path dir = fresh_dir();
  fs::create_directory(dir / "taken");  // a folder where the file should go: the rename fails
  const std::string taken = (dir / "taken").string();
  expect_error([&] { ember::runtime::write_file_atomically(taken, "data", "saver"); }, {"saver", "rename", taken});
  EXPECT_TRUE(fs::is_directory(taken));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1) << "temporary file left behind";
  fs::remove_all(dir);
}
