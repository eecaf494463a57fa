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
