// vec_math: exp, log, tanh, sigmoid, silu and gelu on Vf lanes, for the
// float32 fast kernels (elementwise_kernel.hpp, softmax_kernel.hpp). Include
// only from per-ISA kernel headers (see vec.hpp, Note [per-ISA namespaces]).
//
// Every function is branch-free, handles +-inf, NaN (propagated), signed zero
// and subnormal inputs and results as libm does, and is written only with
// vec.hpp's operations, so the AVX2 run tests the AVX-512 code's logic too.
//
// Accuracy: the max error against the exactly rounded result, in ulps of the
// float grid at the result (subnormal results: the subnormal grid, 2^-149),
// measured over dense sweeps and every binade by tests/kernels/test_vec_math.cpp,
// which asserts these bounds (measured values in brackets):
//   vexp       2 ulp [1]  Cody-Waite reduction by ln 2, degree-7 Taylor of expm1,
//                         scaled by 2^n in two steps (so subnormal results round once)
//   vlog       2 ulp [1]  x = m 2^e, m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(s),
//                         s = (m - 1) / (m + 1), Taylor of atanh to s^11
//   vtanh      3 ulp [2]  expm1(2|x|) / (expm1(2|x|) + 2) with the sign of x
//   vsigmoid   3 ulp [2]  e = exp(-|x|); 1 / (1 + e) for x >= 0, e / (1 + e) below
//                         (never overflows; accurate down to subnormal results)
//   vsilu      4 ulp [3]  x sigmoid(x)
//   vgelu_tanh 3 ulp [2]  for x >= -1: x sigmoid(2u), 2u = sqrt(8/pi) (x + 0.044715 x^3)
//                         (0.5 x (1 + tanh u) without its cancellation for x < 0);
//                         below -1 the float rounding of 2u (relative 2^-23) is
//                         amplified by |2u|: relative error <= 4e-7 (1 + |2u|),
//                         13 ulp at x = -3, 2.5e-5 at x = -10
//   vgelu_erf  6 ulp [6]  x Phi(x): |x| < 1/sqrt(2): 1/2 + erf(z)/2, erf(z)/z a degree-4
//                         polynomial in z^2; else erfc(|z|)/2 = exp(-z^2) g(t) / 2,
//                         t = 1 / (1 + |z|/2), g a degree-9 polynomial (both fitted to
//                         about 1.5e-9 relative by least squares on Chebyshev nodes);
//                         z^2 = x^2 / 2 is carried as an exact sum of two floats
// Where a factor underflows (results below about 2^-120), silu and gelu may be
// off by up to 64 x 2^-149 in absolute terms (x times a subnormal factor).
#pragma once

#include <ember/kernels/cpu/vec.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace vmath {

inline Vf c(float x) { return Vf::broadcast(x); }

// ln 2 split so that n * kLn2Hi is exact for |n| < 2^15.
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kLog2e = 1.44269504f;

// expm1(r) for |r| <= ln(2)/2 (+ a little): the Taylor series to r^7
// (truncation below 2e-8 relative).
inline Vf expm1_reduced(Vf r) {
  Vf p = fmadd(r, c(1.0f / 5040.0f), c(1.0f / 720.0f));
  p = fmadd(p, r, c(1.0f / 120.0f));
  p = fmadd(p, r, c(1.0f / 24.0f));
  p = fmadd(p, r, c(1.0f / 6.0f));
  p = fmadd(p, r, c(0.5f));
  return fmadd(p * r, r, r);
}

// x = n ln2 + r with n integral: returns r, sets *n.
inline Vf reduce_ln2(Vf x, Vf* n) {
  *n = round_nearest(x * c(kLog2e));
  return fnmadd(*n, c(kLn2Lo), fnmadd(*n, c(kLn2Hi), x));
}

// expm1(y) for y in [0, 20] (or NaN): 2^n expm1(r) + (2^n - 1), no cancellation.
inline Vf expm1_nonneg(Vf y) {
  Vf n;
  const Vf r = reduce_ln2(y, &n);
  const Vf s = pow2_int(n);
  return fmadd(s, expm1_reduced(r), s - c(1.0f));
}

}  // namespace vmath

inline Vf vexp(Vf x) {
  using namespace vmath;
  // exp overflows above 88.73 and is below half the least subnormal under -103.98;
  // the clamps keep n in [-150, 128] and let NaN through (max/min return their second operand).
  x = min(c(89.0f), max(c(-104.0f), x));
  Vf n;
  const Vf r = reduce_ln2(x, &n);
  const Vf p = expm1_reduced(r) + c(1.0f);
  // 2^n = 2^n1 * 2^n2, both factors normal: the product rounds once, to inf or a subnormal.
  const Vf n1 = floor(n * c(0.5f));
  return (p * pow2_int(n1)) * pow2_int(n - n1);
}

inline Vf vlog(Vf x) {
  using namespace vmath;
  // Subnormal inputs are scaled into the normal range first.
  const Mf tiny = x < c(1.17549435e-38f);
  const Vf xs = select(tiny, x * c(8388608.0f), x);
  Vf m, e;
  split_exponent(xs, &m, &e);
  e = select(tiny, e - c(23.0f), e);
  const Mf big = m > c(1.41421356f);
  m = select(big, m * c(0.5f), m);
  e = select(big, e + c(1.0f), e);
  const Vf f = m - c(1.0f);  // exact
  const Vf s = f / (f + c(2.0f));
  const Vf z = s * s;
  Vf R = fmadd(z, c(1.0f / 11.0f), c(1.0f / 9.0f));
  R = fmadd(R, z, c(1.0f / 7.0f));
  R = fmadd(R, z, c(1.0f / 5.0f));
  R = fmadd(R, z, c(1.0f / 3.0f));
  // log(1 + f) = 2s + 2s z R = f - s (f - 2 z R): f is exact, s only scales a small correction.
  const Vf log1p_f = fnmadd(s, fnmadd(z + z, R, f), f);
  Vf r = fmadd(e, c(kLn2Hi), fmadd(e, c(kLn2Lo), log1p_f));
  const float inf = __builtin_inff();
  r = select(x == c(inf), x, r);
  r = select(x == c(0.0f), c(-inf), r);
  r = select(x < c(0.0f), c(__builtin_nanf("")), r);
  return select(is_nan(x), x, r);
}

inline Vf vtanh(Vf x) {
  using namespace vmath;
  const Vf a = abs(x);
  const Vf em = expm1_nonneg(min(c(20.0f), a + a));  // tanh(10) rounds to 1
  return copysign(em / (em + c(2.0f)), x);
}

// sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|): never overflows,
// and keeps full relative accuracy down to the subnormal results of x < -87.
inline Vf vsigmoid(Vf x) {
  using namespace vmath;
  const Vf e = vexp(-abs(x));
  return select(x < c(0.0f), e, c(1.0f)) / (c(1.0f) + e);
}

inline Vf vsilu(Vf x) { return x * vsigmoid(x); }

inline Vf vgelu_tanh(Vf x) {
  using namespace vmath;
  // 0.5 x (1 + tanh u) = x sigmoid(2u), 2u = x (2 sqrt(2/pi) + 2 sqrt(2/pi) 0.044715 x^2).
  const Vf u2 = x * fmadd(c(0.0713548162f), x * x, c(1.59576912f));
  return x * vsigmoid(u2);
}

inline Vf vgelu_erf(Vf x) {
  using namespace vmath;
  // Phi(x) = 1/2 + erf(z)/2 = erfc(-z)/2, z = x / sqrt(2).
  const Vf zs = x * c(0.70710678f);
  const Vf u = zs * zs;
  Vf P = fmadd(u, c(4.727747797e-03f), c(-2.676243866e-02f));
  P = fmadd(P, u, c(1.128291483e-01f));
  P = fmadd(P, u, c(-3.761261422e-01f));
  P = fmadd(P, u, c(1.128379166e+00f));
  const Vf phi_small = fmadd(zs * c(0.5f), P, c(0.5f));
  // |z| >= 1/2: erfc(|z|) = exp(-z^2) g(t). z^2 = a^2 / 2 = h + hl exactly.
  const Vf a = min(c(20.0f), abs(x));  // Phi is 0 or 1 in float beyond; NaN passes
  const Vf aa = a * a;
  const Vf h = aa * c(0.5f), hl = fmadd(a, a, -aa) * c(0.5f);
  const Vf ex = vexp(-h) * (c(1.0f) - hl);
  const Vf t = c(1.0f) / fmadd(a, c(0.5f * 0.70710678f), c(1.0f));
  Vf g = fmadd(t, c(-7.484784683e-02f), c(3.529903351e-01f));
  g = fmadd(g, t, c(-6.140173134e-01f));
  g = fmadd(g, t, c(4.094246408e-01f));
  g = fmadd(g, t, c(-1.100495414e-01f));
  g = fmadd(g, t, c(2.362273885e-01f));
  g = fmadd(g, t, c(2.346027381e-01f));
  g = fmadd(g, t, c(2.836802960e-01f));
  g = fmadd(g, t, c(2.819766342e-01f));
  g = fmadd(g, t, c(3.848645251e-06f));
  const Vf q = ex * g * c(0.5f);  // erfc(|z|) / 2
  const Vf phi_large = select(x > c(0.0f), c(1.0f) - q, q);
  return x * select(abs(zs) < c(0.5f), phi_small, phi_large);
}

}  // namespace ember::cpu::EMBER_ISA_NS
