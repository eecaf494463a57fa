// Scalar: a number passed to an op (fill value, alpha, clamp bound).
//
// It remembers whether it was written as a floating, integral or bool value,
// because that decides type promotion: int tensor + 1.5 gives float32, while
// int tensor + 2 stays int.
#pragma once

#include <cstdint>
#include <type_traits>

#include <ember/tensor/dtype.hpp>

namespace ember {

class Scalar {
 public:
  enum class Kind : uint8_t { Floating, Integral, Bool };

  Scalar() : Scalar(int64_t{0}) {}
  template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  Scalar(T v) : kind_(Kind::Floating), d_(static_cast<double>(v)) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Scalar(T v) : kind_(Kind::Integral), i_(static_cast<int64_t>(v)) {}  // NOLINT
  Scalar(bool v) : kind_(Kind::Bool), i_(v ? 1 : 0) {}  // NOLINT
  Scalar(Half v) : Scalar(static_cast<float>(v)) {}  // NOLINT
  Scalar(BFloat16 v) : Scalar(static_cast<float>(v)) {}  // NOLINT

  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Floating; }
  bool is_integral() const { return kind_ == Kind::Integral; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  double to_double() const { return kind_ == Kind::Floating ? d_ : static_cast<double>(i_); }
  int64_t to_int() const { return kind_ == Kind::Floating ? static_cast<int64_t>(d_) : i_; }
  template <class T> T to() const {
    if constexpr (std::is_same_v<T, bool>) return to_double() != 0.0;
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(to_int());
    else return static_cast<T>(to_double());
  }
  // The dtype a tensor made from this scalar alone gets (float32, int64, bool).
  DType default_dtype() const {
    return kind_ == Kind::Floating ? kDefaultFloat : kind_ == Kind::Integral ? kInt64 : kBool;
  }

 private:
  Kind kind_;
  union {
    double d_;
    int64_t i_;
  };
};

}  // namespace ember
