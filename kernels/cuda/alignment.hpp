// The largest power of two, up to `cap`, that divides an address: what a
// library kernel (cuBLASLt in linalg.cpp, cuDNN in conv.cpp) may assume of a
// pointer, since views may start anywhere in their storage.
#pragma once

#include <cstdint>

namespace ember::cuda {

inline uint32_t pointer_alignment(const void* p, uint32_t cap = 256) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = cap;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

}  // namespace ember::cuda
