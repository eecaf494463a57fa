// safetensors reader and writer (header JSON through nlohmann::json).
#include <ember/nn/safetensors.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::nn {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // 100 MiB, as the reference implementation

const char* dtype_code(DType d) {
  switch (d.kind) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Float16: return "F16";
    case DType::BFloat16: return "BF16";
    case DType::Int64: return "I64";
    case DType::Int32: return "I32";
    case DType::UInt8: return "U8";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
  static const std::pair<const char*, DType> table[] = {{"F32", kFloat32}, {"F64", kFloat64}, {"F16", kFloat16},
                                                        {"BF16", kBFloat16}, {"I64", kInt64}, {"I32", kInt32},
                                                        {"U8", kUInt8}, {"BOOL", kBool}};
  for (const auto& [code, dt] : table)
    if (s == code) {
      out = dt;
      return true;
    }
  return false;
}

}  // namespace

std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    EMBER_CHECK(name != "__metadata__", "save_safetensors: '__metadata__' is reserved and cannot name a tensor");
    EMBER_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    Tensor c = ops::contiguous(ops::to(t, kCPU));
    uint64_t nbytes = c.nbytes();
    header[name] = {{"dtype", dtype_code(c.dtype())}, {"shape", c.shape().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(c);
  }
  std::string json = header.dump();
  while (json.size() % 8 != 0) json.push_back(' ');  // align the data section, as the reference writer does
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out += json;
  out.reserve(out.size() + offset);
  for (const auto& c : data) out.append(static_cast<const char*>(c.data_ptr()), c.nbytes());
  return out;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  std::string bytes = serialize_safetensors(tensors, metadata);
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EMBER_CHECK(fd >= 0, "save_safetensors: cannot create '", tmp, "': ", std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int err = errno;
      ::close(fd);
      std::remove(tmp.c_str());
      EMBER_FAIL("save_safetensors: writing '", tmp, "' failed after ", written, " bytes: ", std::strerror(err));
    }
    written += static_cast<size_t>(w);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmp.c_str());
    EMBER_FAIL("save_safetensors: could not flush and rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

TensorMap parse_safetensors(const std::string& bytes, const std::string& name, Metadata* metadata) {
  EMBER_CHECK(bytes.size() >= 8, "load_safetensors: '", name, "' is too short (", bytes.size(), " bytes) to hold a header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[static_cast<size_t>(i)])) << (8 * i);
  EMBER_CHECK(n <= kMaxHeader, "load_safetensors: '", name, "' declares a header of ", n, " bytes (more than the 100 MiB limit)");
  EMBER_CHECK(n <= bytes.size() - 8, "load_safetensors: '", name, "' declares a header of ", n, " bytes but the file has only ",
              bytes.size() - 8, " bytes after the length");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("load_safetensors: '", name, "' has an invalid JSON header: ", e.what());
  }
  EMBER_CHECK(header.is_object(), "load_safetensors: '", name, "': the header must be a JSON object");
  const uint64_t data_size = bytes.size() - 8 - n;
  const char* data = bytes.data() + 8 + n;
  TensorMap out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      EMBER_CHECK(entry.is_object(), "load_safetensors: '", name, "': __metadata__ must be an object of strings");
      for (const auto& [mk, mv] : entry.items()) {
        EMBER_CHECK(mv.is_string(), "load_safetensors: '", name, "': __metadata__ value for '", mk, "' is not a string");
        if (metadata) (*metadata)[mk] = mv.get<std::string>();
      }
      continue;
    }
    const std::string where = "load_safetensors: '" + name + "', tensor '" + key + "'";
    EMBER_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
                where, ": expected an object with dtype, shape and data_offsets");
    DType dt;
    EMBER_CHECK(entry["dtype"].is_string() && parse_dtype(entry["dtype"].get<std::string>(), dt), where,
                ": unsupported dtype ", entry["dtype"].dump());
    const auto& shape_json = entry["shape"];
    EMBER_CHECK(shape_json.is_array(), where, ": shape must be an array");
    Dims shape;
    uint64_t numel = 1;
    for (const auto& d : shape_json) {
      EMBER_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() >= 0), where,
                  ": shape entries must be non-negative integers, got ", shape_json.dump());
      uint64_t v = d.get<uint64_t>();
      EMBER_CHECK(v == 0 || numel <= (uint64_t{1} << 50) / v, where, ": shape ", shape_json.dump(), " is too large");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const auto& offs = entry["data_offsets"];
    EMBER_CHECK(offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned(), where,
                ": data_offsets must be two non-negative integers");
    uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
    EMBER_CHECK(begin <= end && end <= data_size, where, ": data_offsets [", begin, ", ", end,
                "] fall outside the data section of ", data_size, " bytes");
    EMBER_CHECK(end - begin == numel * dt.itemsize(), where, ": shape ", shape, " ", dt, " needs ", numel * dt.itemsize(),
                " bytes but data_offsets span ", end - begin);
    ranges.emplace_back(begin, end);
    Tensor t = empty(shape, dt);
    if (end > begin) std::memcpy(t.data_ptr(), data + begin, end - begin);
    if (dt == kBool)
      for (uint64_t i = 0; i < numel; ++i)
        EMBER_CHECK(static_cast<const uint8_t*>(t.data_ptr())[i] <= 1, where, ": bool byte at data offset ", begin + i, " is not 0 or 1");
    out.emplace(key, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [b, e] : ranges) {
    if (b == e) continue;  // empty tensors occupy no bytes
    EMBER_CHECK(b >= covered, "load_safetensors: '", name, "': tensors overlap at data offset ", b);
    EMBER_CHECK(b <= covered, "load_safetensors: '", name, "': a hole in the data section at offset ", covered);
    covered = std::max(covered, e);
  }
  EMBER_CHECK(covered == data_size, "load_safetensors: '", name, "': the data section has ", data_size - covered,
              " bytes that no tensor uses (after offset ", covered, ")");
  return out;
}

TensorMap load_safetensors(const std::string& path, Metadata* metadata) {
  std::ifstream f(path, std::ios::binary);
  EMBER_CHECK(f.good(), "load_safetensors: cannot open '", path, "'");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse_safetensors(bytes, path, metadata);
}

}  // namespace ember::nn
