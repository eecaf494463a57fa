// Pieces shared by the CUDA indexing and shape kernels (index.cu,
// index_shape.cu, sort.cu): element-size dispatch for pure data movement,
// strided geometry for up to kMaxIndexDims dims in a kernel argument, and
// atomic adds for every ember dtype (scatter_add, index_add).
//
// Atomics: float, double, int32 and int64 use the hardware atomicAdd (int64
// through the unsigned 64-bit form, wrapping as the CPU does); 8- and 16-bit
// types (bool, uint8, float16, bfloat16) compare-and-swap the aligned 32-bit
// word that holds them, adding in the compute type and rounding once per add,
// as the CPU kernel's `out = T(M(out) + M(src))`. The word never leaves the
// allocation: the caching allocator hands out 512-byte-aligned blocks.
#pragma once

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/int_divider.hpp>

namespace ember::cuda {

inline constexpr int kMaxIndexDims = 16;

// Sizes of an iteration shape and the element strides of up to two operands over it.
struct IndexGeom {
  FlatShape<kMaxIndexDims> shape;
  int64_t stride_a[kMaxIndexDims];
  int64_t stride_b[kMaxIndexDims];

  // Offsets (elements) of operands a and b at row-major position `flat`; coordinate of `dim` in c_dim.
  __device__ __forceinline__ void offsets(int64_t flat, int dim, int64_t& a, int64_t& b, int64_t& c_dim) const {
    a = b = c_dim = 0;
    shape.unravel(flat, [&](int d, int64_t c) {
      if (d == dim) {
        c_dim = c;
      } else {
        a += c * stride_a[d];
        b += c * stride_b[d];
      }
    });
  }
};

// Geometry over `shape` for operands with strides sa and sb (each of shape's rank).
inline IndexGeom make_geom(const char* op, IntList shape, IntList sa, IntList sb) {
  EMBER_CHECK(shape.size() <= static_cast<size_t>(kMaxIndexDims), op, ": the CUDA kernel handles at most ",
              kMaxIndexDims, " dims, got a shape ", shape);
  IndexGeom g;
  g.shape = FlatShape<kMaxIndexDims>(shape.data(), shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    g.stride_a[d] = sa[d];
    g.stride_b[d] = sb[d];
  }
  return g;
}

// *addr = T(Acc(*addr) + Acc(v)) for 8- and 16-bit T, by compare-and-swap on the enclosing word.
template <class T>
__device__ __forceinline__ void atomic_add_small(T* addr, T v) {
  static_assert(sizeof(T) == 1 || sizeof(T) == 2);
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  unsigned int* word = reinterpret_cast<unsigned int*>(a & ~uintptr_t{3});
  const unsigned shift = static_cast<unsigned>(a & 3) * 8u;
  const unsigned mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    const unsigned bits = (assumed & mask) >> shift;
    T cur;
    if constexpr (sizeof(T) == 1) {
      const unsigned char b = static_cast<unsigned char>(bits);
      memcpy(&cur, &b, 1);
    } else {
      const unsigned short b = static_cast<unsigned short>(bits);
      memcpy(&cur, &b, 2);
    }
    T next;
    if constexpr (std::is_same_v<T, bool>) next = cur || v;
    else next = from_acc<T>(to_acc(cur) + to_acc(v));
    unsigned nb = 0;
    memcpy(&nb, &next, sizeof(T));
    old = atomicCAS(word, assumed, (assumed & ~mask) | ((nb << shift) & mask));
  } while (old != assumed);
}

// *addr += v for any CUDA element type (wrapping for integers, logical or for bool).
template <class T>
__device__ __forceinline__ void atomic_add_any(T* addr, T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    atomicAdd(addr, v);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    atomicAdd(reinterpret_cast<int*>(addr), static_cast<int>(v));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(addr), static_cast<unsigned long long>(v));
  } else {
    atomic_add_small(addr, v);
  }
}

}  // namespace ember::cuda
