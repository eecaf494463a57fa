// CIFAR-10 binary reader: checks every file's size and labels, then copies
// records straight into one preallocated (N, 3, 32, 32) tensor, so the train
// split costs its output plus one file's bytes, with no concatenation.
#include <ember/data/cifar.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <ember/runtime/error.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::data {
namespace {

constexpr int64_t kImageBytes = 3 * 32 * 32;
constexpr int64_t kRecordBytes = 1 + kImageBytes;  // 3073: label byte, then the R, G, B planes
constexpr const char* kExpectedFiles =
    "expected data_batch_1.bin .. data_batch_5.bin (train) and test_batch.bin (test), the CIFAR-10 binary version's "
    "folder cifar-10-batches-bin";

// The number of records in a file of `bytes` bytes; an error when it is not whole.
int64_t record_count(const std::string& path, uintmax_t bytes) {
  const int64_t n = static_cast<int64_t>(bytes / kRecordBytes);
  EMBER_CHECK(bytes % kRecordBytes == 0, "read_cifar10: '", path, "' is ", bytes, " bytes, not a multiple of the ",
              kRecordBytes, "-byte record: the last record, starting at byte offset ", n * kRecordBytes,
              ", is incomplete (truncated download?)");
  EMBER_CHECK(n > 0, "read_cifar10: '", path, "' is empty (0 bytes, no records)");
  return n;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EMBER_CHECK(f.good(), "read_cifar10: cannot open '", path, "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EMBER_CHECK(!f.bad(), "read_cifar10: error while reading '", path, "'");
  return bytes;
}

// Copies a file's records into images (n, 3, 32, 32) and labels (n) from record `first` on.
int64_t read_records_into(const std::string& path, CifarSplit& out, int64_t first) {
  const std::vector<uint8_t> bytes = read_file(path);
  const int64_t n = record_count(path, bytes.size());
  EMBER_CHECK(first + n <= out.labels.size(0), "read_cifar10: '", path, "' grew while it was read");
  uint8_t* images = out.images.data_ptr<uint8_t>() + first * kImageBytes;
  int64_t* labels = out.labels.data_ptr<int64_t>() + first;
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = bytes.data() + r * kRecordBytes;
    EMBER_CHECK(rec[0] <= 9, "read_cifar10: '", path, "' record ", r, " (byte offset ", r * kRecordBytes, ") has label ",
                int(rec[0]), ", expected 0..9");
    labels[r] = rec[0];
    std::memcpy(images + r * kImageBytes, rec + 1, kImageBytes);
  }
  return n;
}

CifarSplit allocate(int64_t n) {
  return CifarSplit{empty({n, 3, 32, 32}, kUInt8), empty({n}, kInt64)};
}

}  // namespace

CifarSplit read_cifar10_file(const std::string& path) {
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  EMBER_CHECK(!ec, "read_cifar10: cannot open '", path, "': ", ec.message());
  CifarSplit out = allocate(record_count(path, bytes));
  const int64_t n = read_records_into(path, out, 0);
  EMBER_CHECK(n == out.labels.size(0), "read_cifar10: '", path, "' changed size while it was read");
  return out;
}

CifarSplit load_cifar10(const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  EMBER_CHECK(split == "train" || split == "test", "load_cifar10: split must be 'train' or 'test', got '", split, "'");
  std::vector<std::string> names;
  if (split == "train")
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  else
    names.push_back("test_batch.bin");
  // The tarball unpacks to cifar-10-batches-bin/: accept its parent too.
  fs::path folder = dir;
  std::error_code ec;
  if (!fs::exists(folder / names[0], ec) && fs::is_directory(folder / "cifar-10-batches-bin", ec))
    folder /= "cifar-10-batches-bin";

  std::vector<std::string> paths;
  int64_t total = 0;
  for (const std::string& name : names) {
    const std::string path = (folder / name).string();
    const uintmax_t bytes = fs::file_size(path, ec);
    EMBER_CHECK(!ec, "load_cifar10: no '", name, "' in '", folder.string(), "' (", ec.message(), "); ", kExpectedFiles);
    total += record_count(path, bytes);
    paths.push_back(path);
  }
  CifarSplit out = allocate(total);
  int64_t filled = 0;
  for (const std::string& path : paths) filled += read_records_into(path, out, filled);
  EMBER_CHECK(filled == total, "load_cifar10: the files in '", folder.string(), "' changed size while they were read");
  return out;
}

}  // namespace ember::data
