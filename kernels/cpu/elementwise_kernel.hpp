// The float32 unary and binary fast paths (vec_kernels.hpp: unary_f32,
// binary_f32), written once with Vf and compiled per ISA by
// elementwise_avx2.cpp and elementwise_avx512.cpp. unary.cpp and binary.cpp
// call them for each contiguous run of their strided loop (loops.hpp) whose
// operands are float32 with unit (or, for a binary input, zero) inner strides.
//
// Semantics match the reference kernels: relu keeps NaN and -0; maximum and
// minimum propagate NaN from either side; add/sub with alpha compute
// a + alpha * b. add/sub/mul/div/maximum/minimum/neg/relu round exactly as the
// reference does (one IEEE operation); abs clears the sign of -0 and NaN;
// the transcendental ops use vec_math.hpp (bounds stated there).
//
// Ceilings per element: unary 8 bytes (read x, write out), binary 12 bytes
// (8 when one side is broadcast); 1 FLOP, or 20-60 for the transcendental ops.
// add/relu reach 75-95% of the copy bandwidth at every size benchmarked
// (benchmarks/RESULTS.md, "CPU memory-bound kernels"); exp/tanh/gelu are
// compute-bound on 2 cores at the L3-resident size.
#pragma once

#include <cstring>

#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/kernels/cpu/vec_loop.hpp>
#include <ember/kernels/cpu/vec_math.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace elementwise_detail {

template <class Op>
void unary_map(float* out, const float* x, int64_t n, bool stream, Op op) {
  map_out(out, n, stream, [&](int64_t i, auto... k) { return op(ld(x + i, k...)); });
}

// The four layouts of two inputs: contiguous or broadcast scalar each.
template <class Op>
void binary_map(float* out, const float* a, int64_t sa, const float* b, int64_t sb, int64_t n, bool stream, Op op) {
  if (sa != 0 && sb != 0) {
    map_out(out, n, stream, [&](int64_t i, auto... k) { return op(ld(a + i, k...), ld(b + i, k...)); });
  } else if (sa != 0) {
    const Vf vb = Vf::broadcast(*b);
    map_out(out, n, stream, [&](int64_t i, auto... k) { return op(ld(a + i, k...), vb); });
  } else if (sb != 0) {
    const Vf va = Vf::broadcast(*a);
    map_out(out, n, stream, [&](int64_t i, auto... k) { return op(va, ld(b + i, k...)); });
  } else {
    const Vf r = op(Vf::broadcast(*a), Vf::broadcast(*b));
    map_out(out, n, stream, [&](int64_t, auto...) { return r; });
  }
}

}  // namespace elementwise_detail

// bfloat16 is the top half of a float: widening is a shift; narrowing rounds
// to nearest even by adding 0x7fff plus the lowest kept bit, and turns a NaN
// into the quiet NaN with the same top bits: BFloat16::round in half.hpp,
// written out here (not called: Note [per-ISA namespaces] in vec.hpp).
void bf16_to_f32(float* out, const uint16_t* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i)));
    _mm512_storeu_si512(out + i, _mm512_slli_epi32(w, 16));
  }
#else
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_slli_epi32(w, 16));
  }
#endif
  for (; i < n; ++i) {
    const uint32_t u = static_cast<uint32_t>(x[i]) << 16;
    std::memcpy(out + i, &u, 4);
  }
}

void f32_to_bf16(uint16_t* out, const float* x, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
  for (; i + 16 <= n; i += 16) {
    const __m512i u = _mm512_loadu_si512(x + i);
    const __m512i top = _mm512_srli_epi32(u, 16);
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, _mm512_and_si512(top, one))), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    const __m512i r = _mm512_mask_or_epi32(rounded, nan, top, quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(r));
  }
#else
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
  for (; i + 8 <= n; i += 8) {
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const __m256i top = _mm256_srli_epi32(u, 16);
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(top, one))), 16);
    // NaN: |u| > inf as signed integers (|u| < 2^31).
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
    const __m256i r = _mm256_blendv_epi8(rounded, _mm256_or_si256(top, quiet), nan);
    // Values fit 16 bits: pack the two 128-bit halves' 32-bit lanes to 16 bits.
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), packed);
  }
#endif
  for (; i < n; ++i) {
    uint32_t u = 0;
    std::memcpy(&u, x + i, 4);
    out[i] = (u & 0x7fffffffu) > 0x7f800000u ? static_cast<uint16_t>((u >> 16) | 0x40u)
                                             : static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
}

void unary_f32(VecUnary op, float* out, const float* x, int64_t n, bool stream) {
  using elementwise_detail::unary_map;
  const Vf zero = Vf::zero();
  switch (op) {
    case VecUnary::relu:
      unary_map(out, x, n, stream, [&](Vf v) { return select(v < zero, zero, v); });
      return;
    case VecUnary::neg: unary_map(out, x, n, stream, [](Vf v) { return -v; }); return;
    case VecUnary::abs: unary_map(out, x, n, stream, [](Vf v) { return abs(v); }); return;
    case VecUnary::exp: unary_map(out, x, n, stream, [](Vf v) { return vexp(v); }); return;
    case VecUnary::log: unary_map(out, x, n, stream, [](Vf v) { return vlog(v); }); return;
    case VecUnary::sigmoid: unary_map(out, x, n, stream, [](Vf v) { return vsigmoid(v); }); return;
    case VecUnary::tanh: unary_map(out, x, n, stream, [](Vf v) { return vtanh(v); }); return;
    case VecUnary::silu: unary_map(out, x, n, stream, [](Vf v) { return vsilu(v); }); return;
    case VecUnary::gelu_erf: unary_map(out, x, n, stream, [](Vf v) { return vgelu_erf(v); }); return;
    case VecUnary::gelu_tanh: unary_map(out, x, n, stream, [](Vf v) { return vgelu_tanh(v); }); return;
  }
}

void binary_f32(VecBinary op, float* out, const float* a, int64_t sa, const float* b, int64_t sb, int64_t n,
                float alpha, bool stream) {
  using elementwise_detail::binary_map;
  const Vf al = Vf::broadcast(alpha);
  const bool scaled = alpha != 1.0f;
  switch (op) {
    case VecBinary::add:
      if (scaled) binary_map(out, a, sa, b, sb, n, stream, [&](Vf x, Vf y) { return x + al * y; });
      else binary_map(out, a, sa, b, sb, n, stream, [](Vf x, Vf y) { return x + y; });
      return;
    case VecBinary::sub:
      if (scaled) binary_map(out, a, sa, b, sb, n, stream, [&](Vf x, Vf y) { return x - al * y; });
      else binary_map(out, a, sa, b, sb, n, stream, [](Vf x, Vf y) { return x - y; });
      return;
    case VecBinary::mul: binary_map(out, a, sa, b, sb, n, stream, [](Vf x, Vf y) { return x * y; }); return;
    case VecBinary::div: binary_map(out, a, sa, b, sb, n, stream, [](Vf x, Vf y) { return x / y; }); return;
    // max/min give their second operand when either is NaN, so only a NaN in x needs a select.
    case VecBinary::maximum:
      binary_map(out, a, sa, b, sb, n, stream, [](Vf x, Vf y) { return select(is_nan(x), x, max(x, y)); });
      return;
    case VecBinary::minimum:
      binary_map(out, a, sa, b, sb, n, stream, [](Vf x, Vf y) { return select(is_nan(x), x, min(x, y)); });
      return;
    // a = grad, b = relu's output: an ordered compare, so a NaN output passes the gradient.
    case VecBinary::relu_backward:
      binary_map(out, a, sa, b, sb, n, stream, [](Vf g, Vf y) { return select(y <= Vf::zero(), Vf::zero(), g); });
      return;
  }
}

}  // namespace ember::cpu::EMBER_ISA_NS
