// Philox4x32-10: the counter-based generator behind every random op.
//
// Note [philox streams]
// A random op with n outputs draws from Generator (seed, offset): output i uses
// block (offset + i / 4) and lane i % 4 of philox(key = seed, counter = block),
// turned into a float by uniform_float / normal_float below. The generator's
// offset then advances by ceil(n / 4) blocks. Because each output depends only
// on (seed, offset, i), the CPU and CUDA kernels produce the same numbers from
// the same seed, whatever their thread layout. float64 uniforms use two lanes
// (i -> block offset + i / 2, lanes 2*(i%2) and 2*(i%2)+1).
#pragma once

#include <cmath>
#include <cstdint>

#include <ember/runtime/host_device.hpp>

namespace ember::philox {

struct Block {
  uint32_t v[4];
};

EMBER_HOST_DEVICE inline void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter (block index, split in two words) with key seed.
EMBER_HOST_DEVICE inline Block generate(uint64_t seed, uint64_t block) {
  uint32_t c0 = static_cast<uint32_t>(block), c1 = static_cast<uint32_t>(block >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, c0, hi0, lo0);
    mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Block{{c0, c1, c2, c3}};
}

// A float in [0, 1) from 24 random bits.
EMBER_HOST_DEVICE inline float uniform_float(uint32_t x) { return static_cast<float>(x >> 8) * 5.9604644775390625e-8f; }
// A double in [0, 1) from 53 random bits of two words.
EMBER_HOST_DEVICE inline double uniform_double(uint32_t lo, uint32_t hi) {
  uint64_t bits = (static_cast<uint64_t>(hi) << 32 | lo) >> 11;
  return static_cast<double>(bits) * 1.1102230246251565e-16;
}

// Box-Muller on lanes (0,1) -> outputs 0,1 and lanes (2,3) -> outputs 2,3 of a block.
EMBER_HOST_DEVICE inline double normal_from_block(const Block& b, int lane) {
  int pair = lane & 2;
  // u1 in (0, 1] so the log is finite.
  double u1 = (static_cast<double>(b.v[pair]) + 1.0) * 2.3283064365386963e-10;
  double u2 = static_cast<double>(b.v[pair + 1]) * 2.3283064365386963e-10;
  double r = std::sqrt(-2.0 * std::log(u1));
  double theta = 6.283185307179586 * u2;
  return (lane & 1) ? r * std::sin(theta) : r * std::cos(theta);
}

}  // namespace ember::philox
