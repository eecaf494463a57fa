// DType: the element types ember tensors hold, and PyTorch's promotion rules.
//
// float16 and bfloat16 are storage types computed in float32 (OpMath<T>).
// visit_dtype(dt, f) calls f.template operator()<T>() with the C++ type for dt,
// so a kernel is written once as a template lambda.
#pragma once

#include <complex>
#include <cstdint>
#include <iosfwd>
#include <type_traits>

#include <ember/runtime/error.hpp>
#include <ember/tensor/half.hpp>

namespace ember {

struct DType {
  enum Kind : uint8_t { Float32, Float64, Float16, BFloat16, Int64, Int32, UInt8, Bool };
  static constexpr int kCount = 8;
  Kind kind = Float32;

  constexpr DType() = default;
  constexpr DType(Kind k) : kind(k) {}  // NOLINT: DType is a thin enum wrapper

  constexpr bool is_floating() const { return kind <= BFloat16; }
  constexpr bool is_integral(bool include_bool = false) const {
    return (kind >= Int64 && kind <= UInt8) || (include_bool && kind == Bool);
  }
  constexpr bool is_bool() const { return kind == Bool; }
  constexpr bool is_reduced_float() const { return kind == Float16 || kind == BFloat16; }
  constexpr size_t itemsize() const {
    constexpr size_t sizes[] = {4, 8, 2, 2, 8, 4, 1, 1};
    return sizes[kind];
  }
  const char* name() const;
  friend constexpr bool operator==(DType a, DType b) { return a.kind == b.kind; }
};

inline constexpr DType kFloat32{DType::Float32}, kFloat{DType::Float32};
inline constexpr DType kFloat64{DType::Float64}, kDouble{DType::Float64};
inline constexpr DType kFloat16{DType::Float16}, kHalf{DType::Float16};
inline constexpr DType kBFloat16{DType::BFloat16};
inline constexpr DType kInt64{DType::Int64}, kLong{DType::Int64};
inline constexpr DType kInt32{DType::Int32}, kInt{DType::Int32};
inline constexpr DType kUInt8{DType::UInt8}, kByte{DType::UInt8};
inline constexpr DType kBool{DType::Bool};

std::ostream& operator<<(std::ostream& os, DType dt);

// The DType of a C++ element type.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = kFloat32; };
template <> struct dtype_of<double> { static constexpr DType value = kFloat64; };
template <> struct dtype_of<Half> { static constexpr DType value = kFloat16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = kBFloat16; };
template <> struct dtype_of<int64_t> { static constexpr DType value = kInt64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = kInt32; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = kUInt8; };
template <> struct dtype_of<bool> { static constexpr DType value = kBool; };
template <class T> inline constexpr DType dtype_of_v = dtype_of<T>::value;

// The type arithmetic on T is done in: float for the 16-bit floats, T otherwise.
template <class T> struct OpMathT { using type = T; };
template <> struct OpMathT<Half> { using type = float; };
template <> struct OpMathT<BFloat16> { using type = float; };
template <class T> using OpMath = typename OpMathT<T>::type;

// Calls f.template operator()<T>() for the element type of dt.
template <class F>
decltype(auto) visit_dtype(DType dt, F&& f) {
  switch (dt.kind) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Float16: return f.template operator()<Half>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    case DType::Int64: return f.template operator()<int64_t>();
    case DType::Int32: return f.template operator()<int32_t>();
    case DType::UInt8: return f.template operator()<uint8_t>();
    case DType::Bool: return f.template operator()<bool>();
  }
  EMBER_FAIL("visit_dtype: unknown dtype");
}

// Like visit_dtype, but only for the floating dtypes; others are an error naming op.
template <class F>
decltype(auto) visit_floating(DType dt, const char* op, F&& f) {
  switch (dt.kind) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Float16: return f.template operator()<Half>();
    case DType::BFloat16: return f.template operator()<BFloat16>();
    default: EMBER_FAIL(op, ": expected a floating dtype, got ", dt.name());
  }
}

// Like visit_dtype but excluding bool (arithmetic on numbers).
template <class F>
decltype(auto) visit_numeric(DType dt, const char* op, F&& f) {
  EMBER_CHECK(dt.kind != DType::Bool, op, ": not supported for dtype bool");
  return visit_dtype(dt, std::forward<F>(f));
}

// Calls f.template operator()<U>() with an unsigned type of `bytes` bytes. Kernels that
// only move elements (gathers, concatenations, flips, pads) are written once per
// element size rather than once per dtype.
template <class F>
decltype(auto) visit_itemsize(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: return f.template operator()<uint8_t>();
    case 2: return f.template operator()<uint16_t>();
    case 4: return f.template operator()<uint32_t>();
    case 8: return f.template operator()<uint64_t>();
  }
  EMBER_FAIL("visit_itemsize: unexpected element size ", bytes);
}

// PyTorch's promotion lattice for two dtypes (bool < uint8 < ints < floats).
DType promote_types(DType a, DType b);

// The default floating dtype (float32, as in PyTorch).
inline constexpr DType kDefaultFloat = kFloat32;

}  // namespace ember
