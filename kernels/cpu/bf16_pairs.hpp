// What the AVX-512 BF16 kernels (gemm_avx512bf16.cpp, conv_avx512bf16.cpp)
// share: vdpbf16ps multiplies bfloat16 values two at a time, so both pack
// their operands as 32-bit words holding a pair. Included only by those files
// (compiled with the same flags; see Note [per-ISA namespaces] in vec.hpp).
#pragma once

#include <cstdint>

#include <ember/kernels/cpu/intrinsics.hpp>

namespace ember::cpu::avx512bf16 {

// The word holding bfloat16 bits lo (first of the pair) and hi (second).
inline uint32_t pair(uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16); }

}  // namespace ember::cpu::avx512bf16
