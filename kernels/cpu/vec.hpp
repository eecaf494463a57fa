// vec: a small SIMD vector type, so a CPU kernel is written once for every ISA.
//
// Include this only from per-ISA kernel files: `foo_avx2.cpp` and
// `foo_avx512.cpp` (built with -mavx2/-mavx512f, see
// cmake/EmberCompileOptions.cmake) each include the kernel's body header,
// which uses `Vf`/`Vd` from here. The ISA of the translation unit picks the
// width: 16 floats under AVX-512, 8 under AVX2, 1 otherwise.
//
// Note [per-ISA namespaces]: everything a per-ISA file defines lives in
// namespace ember::cpu::EMBER_ISA_NS (avx512, avx2 or scalar). The same
// inline function compiled with two different -m flags must never share a
// mangled name, or the linker could keep the AVX-512 copy and run it on a CPU
// without AVX-512. So kernel bodies stay inside that namespace, and call only
// intrinsics, Vf/Vd and libm; not std:: algorithms that might not inline.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include <ember/kernels/cpu/intrinsics.hpp>

#if defined(__AVX512F__)
#define EMBER_ISA_NS avx512
#elif defined(__AVX2__) && defined(__FMA__)
#define EMBER_ISA_NS avx2
#else
#define EMBER_ISA_NS scalar
#endif

namespace ember::cpu::EMBER_ISA_NS {

#if defined(__AVX512F__)

// 16 floats.
struct Vf {
  static constexpr int size = 16;
  __m512 v;
  Vf() = default;
  Vf(__m512 x) : v(x) {}
  static Vf zero() { return _mm512_setzero_ps(); }
  static Vf broadcast(float x) { return _mm512_set1_ps(x); }
  static Vf load(const float* p) { return _mm512_loadu_ps(p); }
  // The first n (0 <= n <= size) lanes from p, zeros after: never reads past p + n.
  static Vf load(const float* p, int n) { return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p); }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  void store(float* p, int n) const { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v); }
  // Non-temporal store (p 64-byte aligned): for outputs too big for the caches.
  void stream(float* p) const { _mm512_stream_ps(p, v); }
  // (Not _mm512_reduce_*_ps: g++ 12 warns inside them about an uninitialised
  // temporary.) Fold the upper 256 bits onto the lower, then as AVX2 does.
  float reduce_add() const {
    const __m512 f = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    const __m256 h = _mm512_castps512_ps256(f);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  float reduce_max() const {
    const __m512 f = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    const __m256 h = _mm512_castps512_ps256(f);
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
  }
};
inline Vf operator+(Vf a, Vf b) { return _mm512_add_ps(a.v, b.v); }
inline Vf operator-(Vf a, Vf b) { return _mm512_sub_ps(a.v, b.v); }
inline Vf operator*(Vf a, Vf b) { return _mm512_mul_ps(a.v, b.v); }
inline Vf operator/(Vf a, Vf b) { return _mm512_div_ps(a.v, b.v); }
inline Vf fmadd(Vf a, Vf b, Vf c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }  // a * b + c, one rounding
// max/min: the second operand is returned when either is NaN (as maxps does);
// put the value that must propagate NaN second.
inline Vf max(Vf a, Vf b) { return _mm512_max_ps(a.v, b.v); }
inline Vf min(Vf a, Vf b) { return _mm512_min_ps(a.v, b.v); }
inline Vf sqrt(Vf a) { return _mm512_sqrt_ps(a.v); }

// 8 doubles.
struct Vd {
  static constexpr int size = 8;
  __m512d v;
  Vd() = default;
  Vd(__m512d x) : v(x) {}
  static Vd zero() { return _mm512_setzero_pd(); }
  static Vd broadcast(double x) { return _mm512_set1_pd(x); }
  static Vd load(const double* p) { return _mm512_loadu_pd(p); }
  static Vd load(const double* p, int n) { return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1u), p); }
  void store(double* p) const { _mm512_storeu_pd(p, v); }
  void store(double* p, int n) const { _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1u), v); }
  double reduce_add() const {
    const __m512d f = _mm512_add_pd(v, _mm512_shuffle_f64x2(v, v, 0x4E));
    const __m256d h = _mm512_castpd512_pd256(f);
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};
inline Vd operator+(Vd a, Vd b) { return _mm512_add_pd(a.v, b.v); }
inline Vd operator*(Vd a, Vd b) { return _mm512_mul_pd(a.v, b.v); }
inline Vd fmadd(Vd a, Vd b, Vd c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }

// ---- extensions: lane masks, selects, sign bits and exponent fields (AVX-512) ----
// Each mirrors the AVX2 function of the same name below one for one; the
// kernels use only these, so the AVX2 run tests the logic of both.

// A lane mask of Vf (a comparison result).
struct Mf {
  __mmask16 m;
};
// Ordered comparisons (false when either lane is NaN), as C++'s < <= > >= ==.
inline Mf operator<(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline Mf operator<=(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline Mf operator>(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline Mf operator>=(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline Mf operator==(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline Mf is_nan(Vf a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline Mf operator|(Mf a, Mf b) { return {static_cast<__mmask16>(a.m | b.m)}; }
inline Mf operator&(Mf a, Mf b) { return {static_cast<__mmask16>(a.m & b.m)}; }
inline bool any(Mf a) { return a.m != 0; }
// m ? a : b per lane.
inline Vf select(Mf m, Vf a, Vf b) { return _mm512_mask_blend_ps(m.m, b.v, a.v); }
// The first n lanes from p (0 <= n <= size), `fill` in the others; never reads past p + n.
inline Vf load_partial(const float* p, int n, float fill) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), static_cast<__mmask16>((1u << n) - 1u), p);
}
inline Vf operator-(Vf a) { return _mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f)); }  // flips the sign bit
inline Vf abs(Vf a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a.v); }
// |mag| with the sign bit of sign.
inline Vf copysign(Vf mag, Vf sign) {
  const __m512 s = _mm512_set1_ps(-0.0f);
  return _mm512_or_ps(_mm512_andnot_ps(s, mag.v), _mm512_and_ps(s, sign.v));
}
inline Vf fnmadd(Vf a, Vf b, Vf c) { return _mm512_fnmadd_ps(a.v, b.v, c.v); }  // c - a * b, one rounding
inline Vf round_nearest(Vf a) { return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Vf floor(Vf a) { return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
// 2^n for integral n in [-126, 127] (built in the exponent field).
inline Vf pow2_int(Vf n) {
  const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n.v), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
// For finite x > 0 in the normal range: x = mant * 2^expo with mant in [1, 2).
inline void split_exponent(Vf x, Vf* mant, Vf* expo) {
  const __m512i bits = _mm512_castps_si512(x.v);
  *expo = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127)));
  *mant = _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f800000)));
}
// The low and high halves of v as doubles (exact).
inline void widen(Vf v, Vd* lo, Vd* hi) {
  *lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v.v));
  *hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v.v, 1));
}
// Orders earlier non-temporal (stream) stores before later stores.
inline void stream_fence() { _mm_sfence(); }

#elif defined(__AVX2__) && defined(__FMA__)

namespace detail {
// Lane mask for the first n of 8 (or 4) lanes: all-ones lanes then zeros.
inline __m256i first_lanes32(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}
inline __m256i first_lanes64(int n) {
  const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx);
}
}  // namespace detail

// 8 floats.
struct Vf {
  static constexpr int size = 8;
  __m256 v;
  Vf() = default;
  Vf(__m256 x) : v(x) {}
  static Vf zero() { return _mm256_setzero_ps(); }
  static Vf broadcast(float x) { return _mm256_set1_ps(x); }
  static Vf load(const float* p) { return _mm256_loadu_ps(p); }
  // The first n (0 <= n <= size) lanes from p, zeros after: masked lanes are never read.
  static Vf load(const float* p, int n) { return _mm256_maskload_ps(p, detail::first_lanes32(n)); }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
  void store(float* p, int n) const { _mm256_maskstore_ps(p, detail::first_lanes32(n), v); }
  void stream(float* p) const { _mm256_stream_ps(p, v); }
  float reduce_add() const {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  float reduce_max() const {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
inline Vf operator+(Vf a, Vf b) { return _mm256_add_ps(a.v, b.v); }
inline Vf operator-(Vf a, Vf b) { return _mm256_sub_ps(a.v, b.v); }
inline Vf operator*(Vf a, Vf b) { return _mm256_mul_ps(a.v, b.v); }
inline Vf operator/(Vf a, Vf b) { return _mm256_div_ps(a.v, b.v); }
inline Vf fmadd(Vf a, Vf b, Vf c) { return _mm256_fmadd_ps(a.v, b.v, c.v); }
inline Vf max(Vf a, Vf b) { return _mm256_max_ps(a.v, b.v); }
inline Vf min(Vf a, Vf b) { return _mm256_min_ps(a.v, b.v); }
inline Vf sqrt(Vf a) { return _mm256_sqrt_ps(a.v); }

// 4 doubles.
struct Vd {
  static constexpr int size = 4;
  __m256d v;
  Vd() = default;
  Vd(__m256d x) : v(x) {}
  static Vd zero() { return _mm256_setzero_pd(); }
  static Vd broadcast(double x) { return _mm256_set1_pd(x); }
  static Vd load(const double* p) { return _mm256_loadu_pd(p); }
  static Vd load(const double* p, int n) { return _mm256_maskload_pd(p, detail::first_lanes64(n)); }
  void store(double* p) const { _mm256_storeu_pd(p, v); }
  void store(double* p, int n) const { _mm256_maskstore_pd(p, detail::first_lanes64(n), v); }
  double reduce_add() const {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};
inline Vd operator+(Vd a, Vd b) { return _mm256_add_pd(a.v, b.v); }
inline Vd operator*(Vd a, Vd b) { return _mm256_mul_pd(a.v, b.v); }
inline Vd fmadd(Vd a, Vd b, Vd c) { return _mm256_fmadd_pd(a.v, b.v, c.v); }

// ---- extensions: lane masks, selects, sign bits and exponent fields (AVX2) ----

// A lane mask of Vf (a comparison result): all-ones or all-zeros lanes.
struct Mf {
  __m256 m;
};
// Ordered comparisons (false when either lane is NaN), as C++'s < <= > >= ==.
inline Mf operator<(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Mf operator<=(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline Mf operator>(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline Mf operator>=(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline Mf operator==(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline Mf is_nan(Vf a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline Mf operator|(Mf a, Mf b) { return {_mm256_or_ps(a.m, b.m)}; }
inline Mf operator&(Mf a, Mf b) { return {_mm256_and_ps(a.m, b.m)}; }
inline bool any(Mf a) { return _mm256_movemask_ps(a.m) != 0; }
// m ? a : b per lane.
inline Vf select(Mf m, Vf a, Vf b) { return _mm256_blendv_ps(b.v, a.v, m.m); }
// The first n lanes from p (0 <= n <= size), `fill` in the others; never reads past p + n.
inline Vf load_partial(const float* p, int n, float fill) {
  const __m256i mask = detail::first_lanes32(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
}
inline Vf operator-(Vf a) { return _mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f)); }  // flips the sign bit
inline Vf abs(Vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v); }
// |mag| with the sign bit of sign.
inline Vf copysign(Vf mag, Vf sign) {
  const __m256 s = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(s, mag.v), _mm256_and_ps(s, sign.v));
}
inline Vf fnmadd(Vf a, Vf b, Vf c) { return _mm256_fnmadd_ps(a.v, b.v, c.v); }  // c - a * b, one rounding
inline Vf round_nearest(Vf a) { return _mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Vf floor(Vf a) { return _mm256_round_ps(a.v, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
// 2^n for integral n in [-126, 127] (built in the exponent field).
inline Vf pow2_int(Vf n) {
  const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n.v), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
// For finite x > 0 in the normal range: x = mant * 2^expo with mant in [1, 2).
inline void split_exponent(Vf x, Vf* mant, Vf* expo) {
  const __m256i bits = _mm256_castps_si256(x.v);
  *expo = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  *mant = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
}
// The low and high halves of v as doubles (exact).
inline void widen(Vf v, Vd* lo, Vd* hi) {
  *lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v.v));
  *hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v.v, 1));
}
// Orders earlier non-temporal (stream) stores before later stores.
inline void stream_fence() { _mm_sfence(); }

#else

// One lane: the same kernel source compiles to plain scalar code.
template <class T>
struct VScalar {
  static constexpr int size = 1;
  T v;
  VScalar() = default;
  VScalar(T x) : v(x) {}
  static VScalar zero() { return T(0); }
  static VScalar broadcast(T x) { return x; }
  static VScalar load(const T* p) { return *p; }
  static VScalar load(const T* p, int n) { return n > 0 ? *p : T(0); }
  void store(T* p) const { *p = v; }
  void store(T* p, int n) const {
    if (n > 0) *p = v;
  }
  void stream(T* p) const { *p = v; }
  T reduce_add() const { return v; }
  T reduce_max() const { return v; }
};
using Vf = VScalar<float>;
using Vd = VScalar<double>;
template <class T>
inline VScalar<T> operator+(VScalar<T> a, VScalar<T> b) { return a.v + b.v; }
template <class T>
inline VScalar<T> operator-(VScalar<T> a, VScalar<T> b) { return a.v - b.v; }
template <class T>
inline VScalar<T> operator*(VScalar<T> a, VScalar<T> b) { return a.v * b.v; }
template <class T>
inline VScalar<T> operator/(VScalar<T> a, VScalar<T> b) { return a.v / b.v; }
// Unfused here: baseline x86-64 has no FMA instruction and std::fma would be a slow libm call.
template <class T>
inline VScalar<T> fmadd(VScalar<T> a, VScalar<T> b, VScalar<T> c) { return a.v * b.v + c.v; }
template <class T>
inline VScalar<T> max(VScalar<T> a, VScalar<T> b) { return a.v > b.v ? a.v : b.v; }  // NaN in a -> b, as maxps
template <class T>
inline VScalar<T> min(VScalar<T> a, VScalar<T> b) { return a.v < b.v ? a.v : b.v; }
template <class T>
inline VScalar<T> sqrt(VScalar<T> a) { return std::sqrt(a.v); }


// ---- extensions: lane masks, selects, sign bits and exponent fields (one lane) ----

struct VMask {
  bool m;
};
using Mf = VMask;
template <class T>
inline VMask operator<(VScalar<T> a, VScalar<T> b) { return {a.v < b.v}; }
template <class T>
inline VMask operator<=(VScalar<T> a, VScalar<T> b) { return {a.v <= b.v}; }
template <class T>
inline VMask operator>(VScalar<T> a, VScalar<T> b) { return {a.v > b.v}; }
template <class T>
inline VMask operator>=(VScalar<T> a, VScalar<T> b) { return {a.v >= b.v}; }
template <class T>
inline VMask operator==(VScalar<T> a, VScalar<T> b) { return {a.v == b.v}; }
template <class T>
inline VMask is_nan(VScalar<T> a) { return {a.v != a.v}; }
inline VMask operator|(VMask a, VMask b) { return {a.m || b.m}; }
inline VMask operator&(VMask a, VMask b) { return {a.m && b.m}; }
inline bool any(VMask a) { return a.m; }
template <class T>
inline VScalar<T> select(VMask m, VScalar<T> a, VScalar<T> b) { return m.m ? a : b; }
inline Vf load_partial(const float* p, int n, float fill) { return n > 0 ? *p : fill; }
template <class T>
inline VScalar<T> operator-(VScalar<T> a) { return -a.v; }
template <class T>
inline VScalar<T> abs(VScalar<T> a) { return std::fabs(a.v); }
template <class T>
inline VScalar<T> copysign(VScalar<T> mag, VScalar<T> sign) { return std::copysign(mag.v, sign.v); }
template <class T>
inline VScalar<T> fnmadd(VScalar<T> a, VScalar<T> b, VScalar<T> c) { return c.v - a.v * b.v; }
template <class T>
inline VScalar<T> round_nearest(VScalar<T> a) { return std::nearbyint(a.v); }
template <class T>
inline VScalar<T> floor(VScalar<T> a) { return std::floor(a.v); }
inline Vf pow2_int(Vf n) {
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n.v) + 127) << 23;
  float r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}
inline void split_exponent(Vf x, Vf* mant, Vf* expo) {
  uint32_t bits;
  std::memcpy(&bits, &x.v, sizeof bits);
  *expo = static_cast<float>(static_cast<int32_t>(bits >> 23) - 127);
  bits = (bits & 0x007fffffu) | 0x3f800000u;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  *mant = m;
}
// One lane: the value in lo, zero in hi (Vd has as many lanes as Vf here).
inline void widen(Vf v, Vd* lo, Vd* hi) {
  *lo = static_cast<double>(v.v);
  *hi = 0.0;
}
inline void stream_fence() {}

#endif

}  // namespace ember::cpu::EMBER_ISA_NS
