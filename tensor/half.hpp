// float16 and bfloat16 storage types.
//
// g++ 12 has no std::float16_t/std::bfloat16_t, so ember carries its own. They
// are storage types: arithmetic converts to float, computes, and rounds back
// (round to nearest even), which is what every CPU kernel does for them.
#pragma once

#include <cstdint>
#include <cstring>
#include <iosfwd>

namespace ember {

namespace detail {
inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
}  // namespace detail

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) : bits(round(f)) {}  // NOLINT: implicit like a float type
  operator float() const { return detail::bits_float(static_cast<uint32_t>(bits) << 16); }
  static BFloat16 from_bits(uint16_t b) { BFloat16 h; h.bits = b; return h; }

 private:
  static uint16_t round(float f) {
    uint32_t u = detail::float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
  }
};

struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) : bits(from_float(f)) {}  // NOLINT
  operator float() const { return to_float(bits); }
  static Half from_bits(uint16_t b) { Half h; h.bits = b; return h; }

  static float to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
      if (man == 0) return detail::bits_float(sign);
      // Subnormal: value is man * 2^-24.
      float f = static_cast<float>(man) * 5.9604644775390625e-8f;
      return sign ? -f : f;
    }
    if (exp == 31) return detail::bits_float(sign | 0x7f800000u | (man << 13));
    return detail::bits_float(sign | ((exp + 112) << 23) | (man << 13));
  }

  static uint16_t from_float(float f) {
    uint32_t u = detail::float_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
    if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
    if (abs < 0x38800000u) {
      // Subnormal or zero in half: round abs * 2^24 to nearest even integer.
      float a = detail::bits_float(abs) * 16777216.0f;
      uint32_t m = static_cast<uint32_t>(a);
      float rem = a - static_cast<float>(m);
      if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
      return static_cast<uint16_t>(sign | m);
    }
    // Normal: rebias exponent, round mantissa to 10 bits (nearest even).
    uint32_t r = abs - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return static_cast<uint16_t>(sign | (r >> 13));
  }
};

std::ostream& operator<<(std::ostream& os, Half h);
std::ostream& operator<<(std::ostream& os, BFloat16 h);

}  // namespace ember
