// Checkpoints in the safetensors format: module and optimizer state as named tensors.
//
// File layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the raw little-endian tensor bytes (offsets relative to the end of the header).
//
// Writes are atomic: the bytes go to a temporary file in the same folder, which
// is flushed to disk and then renamed over the real name, so a crash never
// leaves a half-written checkpoint there. Reads validate everything (header
// length, JSON, dtypes, shapes against byte ranges, overlaps, holes, file size)
// and report problems as ember::Error naming the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ember/tensor/tensor.hpp>

namespace ember::nn {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

// One tensor of a validated file: its dtype, shape and byte range in the data section.
struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Dims shape;
  uint64_t begin = 0, end = 0;  // relative to the start of the data section
};

// A validated file: its tensors (sorted by name), its metadata, and where its data section starts.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;
  Metadata metadata;
  uint64_t data_start = 0;  // 8 + header length
};

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});
// Returns the tensors (CPU, contiguous); metadata, if asked for, is filled from "__metadata__".
TensorMap load_safetensors(const std::string& path, Metadata* metadata = nullptr);
// Parses a whole file already in memory; `name` is used in error messages.
// load_safetensors is read-the-file + this; both validate through parse_safetensors_header.
TensorMap parse_safetensors(std::string_view bytes, const std::string& name, Metadata* metadata = nullptr);
// Validates a whole file in memory without creating tensors: header length, JSON
// (no duplicate keys), dtypes, shapes against byte ranges, overlaps, holes, file
// size, bool bytes. Any problem is an ember::Error naming `name` and what is wrong.
SafetensorsHeader parse_safetensors_header(std::string_view bytes, const std::string& name);
// Serialises to bytes (what save_safetensors writes).
std::string serialize_safetensors(const TensorMap& tensors, const Metadata& metadata = {});

}  // namespace ember::nn
