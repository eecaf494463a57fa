// Integer pow, shared by the CPU and CUDA pow kernels so both devices give the
// same answers: exponentiation by squaring with wrap-around in the element
// type; negative exponents as PyTorch (base 1 -> 1, base -1 -> +-1 by the
// exponent's parity, any other base -> 0).
#pragma once

#include <cstdint>
#include <type_traits>

#include <ember/runtime/host_device.hpp>

namespace ember::kernels {

template <class M>
EMBER_HOST_DEVICE inline M integer_pow(M x, M y) {
  static_assert(std::is_integral_v<M>, "integer_pow takes integer types");
  if constexpr (std::is_signed_v<M>) {
    if (y < 0) return static_cast<M>(x == 1 ? 1 : x == -1 ? ((-y) % 2 ? -1 : 1) : 0);
  }
  M r = 1, base = x;
  for (int64_t e = static_cast<int64_t>(y); e > 0; e >>= 1, base = static_cast<M>(base * base))
    if (e & 1) r = static_cast<M>(r * base);
  return r;
}

}  // namespace ember::kernels
