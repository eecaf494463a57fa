// safetensors reader and writer (header JSON through nlohmann::json).
//
// Reading is one path: load_safetensors reads the file, parse_safetensors builds
// tensors from bytes after validating them with parse_safetensors_header, which
// touches no file and no tensor. tests/fuzz/fuzz_safetensors.cpp fuzzes
// parse_safetensors, so the whole path but the file read is fuzzed.
#include <ember/nn/safetensors.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include <ember/runtime/file_io.hpp>
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
  runtime::write_file_atomically(path, serialize_safetensors(tensors, metadata), "save_safetensors");
}

// --- reading -----------------------------------------------------------------
namespace {

constexpr uint64_t kMaxElements = uint64_t{1} << 50;  // bounds shapes so no size or stride overflows int64
constexpr int kMaxJsonDepth = 8;  // the format needs 3: header object, tensor object, shape array

// A short JSON excerpt for error messages (a corrupt value can be megabytes long).
std::string excerpt(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() <= 60 ? s : s.substr(0, 57) + "...";
}

// Parses the header JSON. Rejects duplicate keys (each name must mean one tensor;
// nlohmann would silently keep the last) and nesting deeper than the format needs,
// so nothing later recurses deeply over a hostile value.
nlohmann::json parse_header_json(std::string_view text, const std::string& file) {
  using Event = nlohmann::json::parse_event_t;
  std::vector<std::set<std::string>> keys_of_open_objects;
  auto check = [&](int depth, Event event, nlohmann::json& parsed) {
    EMBER_CHECK(depth <= kMaxJsonDepth, file, ": the JSON header nests deeper than ", kMaxJsonDepth, " levels");
    if (event == Event::object_start) {
      keys_of_open_objects.emplace_back();
    } else if (event == Event::object_end) {
      keys_of_open_objects.pop_back();
    } else if (event == Event::key) {
      EMBER_CHECK(keys_of_open_objects.back().insert(parsed.get<std::string>()).second, file,
                  ": the JSON header has the key ", excerpt(parsed), " twice in one object");
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), check);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL(file, " has an invalid JSON header: ", e.what());
  }
}

Dims parse_shape(const nlohmann::json& shape_json, const std::string& where, uint64_t& numel) {
  EMBER_CHECK(shape_json.is_array(), where, ": shape must be an array, got ", excerpt(shape_json));
  Dims shape;
  uint64_t nonzero_product = 1;  // bounded even when a 0 makes numel 0: strides multiply the other dims
  bool has_zero = false;
  for (const auto& d : shape_json) {
    EMBER_CHECK(d.is_number_unsigned(), where, ": shape entries must be non-negative integers, got ", excerpt(shape_json));
    uint64_t v = d.get<uint64_t>();
    if (v == 0) {
      has_zero = true;
    } else {
      EMBER_CHECK(nonzero_product <= kMaxElements / v, where, ": shape ", excerpt(shape_json), " is too large");
      nonzero_product *= v;
    }
    shape.push_back(static_cast<int64_t>(v));
  }
  numel = has_zero ? 0 : nonzero_product;
  return shape;
}

SafetensorsEntry parse_entry(const std::string& key, const nlohmann::json& entry, std::string_view data,
                             const std::string& file) {
  const std::string where = file + ", tensor '" + (key.size() <= 60 ? key : key.substr(0, 57) + "...") + "'";
  EMBER_CHECK(entry.is_object() && entry.contains("dtype") && entry.contains("shape") && entry.contains("data_offsets"),
              where, ": expected an object with dtype, shape and data_offsets");
  SafetensorsEntry e;
  e.name = key;
  const auto& dtype_json = entry.at("dtype");
  EMBER_CHECK(dtype_json.is_string() && parse_dtype(dtype_json.get<std::string>(), e.dtype), where,
              ": unsupported dtype ", excerpt(dtype_json));
  uint64_t numel = 0;
  e.shape = parse_shape(entry.at("shape"), where, numel);
  const auto& offs = entry.at("data_offsets");
  EMBER_CHECK(offs.is_array() && offs.size() == 2 && offs[0].is_number_unsigned() && offs[1].is_number_unsigned(), where,
              ": data_offsets must be two non-negative integers, got ", excerpt(offs));
  e.begin = offs[0].get<uint64_t>();
  e.end = offs[1].get<uint64_t>();
  EMBER_CHECK(e.begin <= e.end && e.end <= data.size(), where, ": data_offsets [", e.begin, ", ", e.end,
              "] fall outside the data section of ", data.size(), " bytes");
  const uint64_t nbytes = numel * e.dtype.itemsize();
  EMBER_CHECK(e.end - e.begin == nbytes, where, ": shape ", e.shape, " ", e.dtype, " needs ", nbytes,
              " bytes but data_offsets span ", e.end - e.begin);
  if (e.dtype == kBool)
    for (uint64_t i = e.begin; i < e.end; ++i)
      EMBER_CHECK(static_cast<uint8_t>(data[i]) <= 1, where, ": bool byte at data offset ", i, " is not 0 or 1");
  return e;
}

// Every byte of the data section belongs to exactly one tensor: no overlap, no hole, nothing after.
void check_coverage(const std::vector<SafetensorsEntry>& entries, uint64_t data_size, const std::string& file) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& e : entries)
    if (e.end > e.begin) ranges.emplace_back(e.begin, e.end);  // empty tensors occupy no bytes
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [b, e] : ranges) {
    EMBER_CHECK(b >= covered, file, ": tensors overlap at data offset ", b);
    EMBER_CHECK(b <= covered, file, ": a hole in the data section at offset ", covered);
    covered = e;
  }
  EMBER_CHECK(covered == data_size, file, ": the data section has ", data_size - covered,
              " bytes that no tensor uses (after offset ", covered, ")");
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EMBER_CHECK(fd >= 0, "load_safetensors: cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    EMBER_FAIL("load_safetensors: '", path, "' is not a regular file");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int err = errno;
      ::close(fd);
      EMBER_FAIL("load_safetensors: reading '", path, "' failed after ", got, " bytes: ", std::strerror(err));
    }
    if (r == 0) break;  // the file shrank since fstat: validate what is there
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  bytes.resize(got);
  return bytes;
}

}  // namespace

SafetensorsHeader parse_safetensors_header(std::string_view bytes, const std::string& name) {
  const std::string file = "load_safetensors: '" + name + "'";
  EMBER_CHECK(bytes.size() >= 8, file, " is too short (", bytes.size(), " bytes) to hold a header length");
  uint64_t n = 0;
  for (size_t i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  EMBER_CHECK(n <= kMaxHeader, file, " declares a header of ", n, " bytes (more than the 100 MiB limit)");
  EMBER_CHECK(n <= bytes.size() - 8, file, " declares a header of ", n, " bytes but the file has only ",
              bytes.size() - 8, " bytes after the length");
  nlohmann::json header = parse_header_json(bytes.substr(8, n), file);
  EMBER_CHECK(header.is_object(), file, ": the header must be a JSON object");
  SafetensorsHeader out;
  out.data_start = 8 + n;
  const std::string_view data = bytes.substr(out.data_start);
  for (const auto& [key, entry] : header.items()) {
    if (key != "__metadata__") {
      out.entries.push_back(parse_entry(key, entry, data, file));
      continue;
    }
    EMBER_CHECK(entry.is_object(), file, ": __metadata__ must be an object of strings");
    for (const auto& [mk, mv] : entry.items()) {
      EMBER_CHECK(mv.is_string(), file, ": __metadata__ value for '", mk, "' is not a string");
      out.metadata[mk] = mv.get<std::string>();
    }
  }
  check_coverage(out.entries, data.size(), file);
  return out;
}

TensorMap parse_safetensors(std::string_view bytes, const std::string& name, Metadata* metadata) {
  SafetensorsHeader header = parse_safetensors_header(bytes, name);
  const char* data = bytes.data() + header.data_start;
  TensorMap out;
  for (auto& e : header.entries) {
    Tensor t = empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    out.emplace(std::move(e.name), std::move(t));
  }
  if (metadata)
    for (auto& [k, v] : header.metadata) (*metadata)[k] = std::move(v);
  return out;
}

TensorMap load_safetensors(const std::string& path, Metadata* metadata) {
  return parse_safetensors(read_file(path), path, metadata);
}

}  // namespace ember::nn
