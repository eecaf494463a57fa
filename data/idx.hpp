// IDX files (the MNIST / Fashion-MNIST format), plain or gzip-compressed.
//
// Layout: two zero bytes, a type code (0x08 = uint8, 0x09 int8, 0x0B int16,
// 0x0C int32, 0x0D float32, 0x0E float64), the number of dims, then each dim
// as a big-endian uint32, then the data, big-endian. read_idx() returns a
// tensor of that shape (uint8, int32 for the integer codes wider than 8 bits,
// float32, float64). Every defect (missing file, bad magic, truncation, extra
// bytes, absurd dims) is an ember::Error naming the file and the byte offset.
#pragma once

#include <string>

#include <ember/tensor/tensor.hpp>

namespace ember::data {

Tensor read_idx(const std::string& path);
// Parses IDX bytes already in memory; `name` is used in error messages.
Tensor parse_idx(const std::vector<uint8_t>& bytes, const std::string& name);
// Reads a whole file, inflating it if it is gzip (by its magic bytes, not its name).
std::vector<uint8_t> read_maybe_gzip(const std::string& path);

}  // namespace ember::data
