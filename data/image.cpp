// Image decoding through stb_image, converted from stb's interleaved (H, W, C)
// to ember's planar (C, H, W). This is the one file that compiles stb_image.
//
// stb is compiled with STB_IMAGE_STATIC, so its symbols stay private to this
// file and cannot clash with an application's own copy of stb_image. Formats
// no ember reader uses (PSD, HDR, PIC) are left out, which also keeps their
// parsers away from untrusted files. stb's failure reason is thread-local in
// this version (STBI_THREAD_LOCAL), so concurrent decodes report their own.
#include <ember/data/image.hpp>

#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

#include <ember/runtime/error.hpp>
#include <ember/tensor/factory.hpp>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_PSD
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_STDIO  // ember reads files itself; stb only ever sees memory
#define STBI_FAILURE_USERMSG
#include <stb/stb_image.h>

namespace ember::data {

Tensor decode_image(std::span<const uint8_t> bytes, const std::string& name, int channels) {
  EMBER_CHECK(channels >= 0 && channels <= 4, "decode_image: '", name, "': channels must be 0 (as stored) or 1 to 4, got ",
              channels);
  EMBER_CHECK(!bytes.empty(), "decode_image: '", name, "' is empty (0 bytes), not an image");
  EMBER_CHECK(bytes.size() <= static_cast<size_t>(INT_MAX), "decode_image: '", name, "' is ", bytes.size(),
              " bytes, more than stb_image can read (", INT_MAX, ")");
  int width = 0, height = 0, stored = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> hwc(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &stored, channels),
      stbi_image_free);
  if (!hwc) {
    const char* reason = stbi_failure_reason();
    EMBER_FAIL("decode_image: cannot decode '", name, "' (", bytes.size(), " bytes): ", reason ? reason : "unknown reason",
               " (supported: PNG, JPEG, BMP, TGA, GIF, PPM/PGM)");
  }
  const int64_t c = channels ? channels : stored, h = height, w = width;
  EMBER_ASSERT(c >= 1 && c <= 4 && h > 0 && w > 0, "stb_image returned ", w, "x", h, "x", c, " for '", name, "'");
  Tensor out = empty({c, h, w}, kUInt8);  // out: (C, H, W)
  uint8_t* dst = out.data_ptr<uint8_t>();
  const uint8_t* src = hwc.get();          // src: (H, W, C)
  if (c == 1) {
    std::memcpy(dst, src, static_cast<size_t>(h * w));
    return out;
  }
  const int64_t plane = h * w;
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t k = 0; k < c; ++k) dst[k * plane + p] = src[p * c + k];
  return out;
}

Tensor read_image(const std::string& path, int channels) {
  std::ifstream f(path, std::ios::binary);
  EMBER_CHECK(f.good(), "read_image: cannot open '", path, "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EMBER_CHECK(!f.bad(), "read_image: error while reading '", path, "'");
  return decode_image(bytes, path, channels);
}

}  // namespace ember::data
