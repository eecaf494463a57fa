// IDX reader: gzip inflation through zlib, then a checked parse.
#include <ember/data/idx.hpp>

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include <ember/tensor/factory.hpp>

namespace ember::data {

std::vector<uint8_t> read_maybe_gzip(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EMBER_CHECK(f.good(), "read_idx: cannot open '", path, "'");
  std::vector<uint8_t> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
  // gzip: inflate with zlib (windowBits 15 + 32 = detect the gzip header).
  z_stream zs{};
  EMBER_CHECK(inflateInit2(&zs, 15 + 32) == Z_OK, "read_idx: zlib init failed for '", path, "'");
  std::vector<uint8_t> out;
  out.resize(raw.size() * 4 + 1024);
  zs.next_in = raw.data();
  zs.avail_in = static_cast<uInt>(raw.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out == out.size()) out.resize(out.size() * 2);
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended before the stream did
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) break;
  }
  const size_t consumed = zs.total_in;
  const size_t produced = zs.total_out;
  inflateEnd(&zs);
  EMBER_CHECK(rc == Z_STREAM_END, "read_idx: '", path, "' is a corrupt or truncated gzip file (zlib stopped at compressed byte ",
              consumed, " of ", raw.size(), ")");
  out.resize(produced);
  return out;
}

namespace {
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
}  // namespace

Tensor parse_idx(const std::vector<uint8_t>& b, const std::string& name) {
  EMBER_CHECK(b.size() >= 4, "read_idx: '", name, "' is truncated: ", b.size(), " bytes, the header needs at least 4");
  EMBER_CHECK(b[0] == 0 && b[1] == 0, "read_idx: '", name, "' has a bad magic number (bytes 0-1 are ", int(b[0]), ", ",
              int(b[1]), ", expected 0, 0): not an IDX file");
  const uint8_t code = b[2];
  const int ndim = b[3];
  size_t elem = 0;
  DType dtype;
  switch (code) {
    case 0x08: elem = 1; dtype = kUInt8; break;
    case 0x09: elem = 1; dtype = kInt32; break;
    case 0x0B: elem = 2; dtype = kInt32; break;
    case 0x0C: elem = 4; dtype = kInt32; break;
    case 0x0D: elem = 4; dtype = kFloat32; break;
    case 0x0E: elem = 8; dtype = kFloat64; break;
    default: EMBER_FAIL("read_idx: '", name, "' has an unknown data type code 0x", std::hex, int(code), " at byte offset 2");
  }
  EMBER_CHECK(ndim >= 1 && ndim <= 8, "read_idx: '", name, "' has ", ndim, " dims at byte offset 3 (expected 1 to 8)");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  EMBER_CHECK(b.size() >= header, "read_idx: '", name, "' is truncated inside its header (", b.size(), " bytes, header needs ", header, ")");
  Dims shape;
  size_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    uint32_t d = be32(&b[4 + 4 * static_cast<size_t>(i)]);
    shape.push_back(d);
    EMBER_CHECK(d == 0 || count <= (size_t{1} << 40) / d, "read_idx: '", name, "' declares an absurd size at byte offset ", 4 + 4 * i);
    count *= d;
  }
  const size_t expected = header + count * elem;
  EMBER_CHECK(b.size() >= expected, "read_idx: '", name, "' is truncated: shape ", shape, " needs ", expected,
              " bytes, the file has ", b.size(), " (data ends early at byte offset ", b.size(), ")");
  EMBER_CHECK(b.size() == expected, "read_idx: '", name, "' has ", b.size() - expected, " unexpected trailing bytes after offset ",
              expected, " (shape ", shape, ")");
  Tensor out = empty(shape, dtype);
  const uint8_t* src = b.data() + header;
  if (code == 0x08) {
    std::memcpy(out.data_ptr(), src, count);
    return out;
  }
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = src + i * elem;
    switch (code) {
      case 0x09: out.data_ptr<int32_t>()[i] = static_cast<int8_t>(p[0]); break;
      case 0x0B: out.data_ptr<int32_t>()[i] = static_cast<int16_t>(p[0] << 8 | p[1]); break;
      case 0x0C: out.data_ptr<int32_t>()[i] = static_cast<int32_t>(be32(p)); break;
      case 0x0D: {
        uint32_t u = be32(p);
        std::memcpy(&out.data_ptr<float>()[i], &u, 4);
        break;
      }
      default: {
        uint64_t u = static_cast<uint64_t>(be32(p)) << 32 | be32(p + 4);
        std::memcpy(&out.data_ptr<double>()[i], &u, 8);
      }
    }
  }
  return out;
}

Tensor read_idx(const std::string& path) { return parse_idx(read_maybe_gzip(path), path); }

}  // namespace ember::data
