// The float32 fused Adam/AdamW step (vec_kernels.hpp: adam_f32), written once
// with Vf and compiled per ISA by optim_avx2.cpp and optim_avx512.cpp.
// optim.cpp computes the constants (AdamConsts) exactly as its reference loop
// does and calls this on chunks of the (contiguous) parameter.
//
// Per element, as the reference: p *= decay; grad = sign g + l2 p;
// m = b1 m + (1 - b1) grad; v = b2 v + (1 - b2) grad^2; (amsgrad: vmax =
// max(vmax, v), used for v); p -= step_size m / (sqrt(v) inv_bc2_sqrt + eps).
//
// Ceilings per element: 16 bytes read (p, g, m, v) and 12 written (p, m, v),
// 20 and 16 with amsgrad; ~12 FLOPs, one sqrt and one division. In place, so
// written lines are already cached: no read-for-ownership. Reaches 80-95% of
// the copy bandwidth (benchmarks/RESULTS.md).
#pragma once

#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/kernels/cpu/vec_loop.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace optim_detail {

template <bool Ams, class... K>
inline void adam_lanes(float* p, const float* g, float* m, float* v, float* vmax, int64_t i, const AdamConsts& c,
                       K... k) {
  const Vf b1 = Vf::broadcast(c.b1), b2 = Vf::broadcast(c.b2);
  const Vf one_b1 = Vf::broadcast(1.0f - c.b1), one_b2 = Vf::broadcast(1.0f - c.b2);
  const Vf pv = ld(p + i, k...);
  const Vf grad = fmadd(Vf::broadcast(c.sign), ld(g + i, k...), Vf::broadcast(c.l2) * pv);
  const Vf mi = fmadd(b1, ld(m + i, k...), one_b1 * grad);
  const Vf vi = fmadd(b2, ld(v + i, k...), one_b2 * grad * grad);
  Vf vden = vi;
  if constexpr (Ams) {
    vden = max(vi, ld(vmax + i, k...));  // as std::max(vmax, vi): vmax when either is NaN
    if constexpr (sizeof...(K) == 0) vden.store(vmax + i);
    else vden.store(vmax + i, k...);
  }
  const Vf denom = fmadd(sqrt(vden), Vf::broadcast(c.inv_bc2_sqrt), Vf::broadcast(c.eps));
  const Vf pn = pv * Vf::broadcast(c.decay) - (Vf::broadcast(c.step_size) * mi) / denom;
  if constexpr (sizeof...(K) == 0) {
    pn.store(p + i);
    mi.store(m + i);
    vi.store(v + i);
  } else {
    pn.store(p + i, k...);
    mi.store(m + i, k...);
    vi.store(v + i, k...);
  }
}

template <bool Ams>
void adam_range(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamConsts& c) {
  int64_t i = 0;
  for (; i + kW <= n; i += kW) adam_lanes<Ams>(p, g, m, v, vmax, i, c);
  if (i < n) adam_lanes<Ams>(p, g, m, v, vmax, i, c, static_cast<int>(n - i));
}

}  // namespace optim_detail

void adam_f32(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamConsts& c) {
  if (vmax != nullptr) optim_detail::adam_range<true>(p, g, m, v, vmax, n, c);
  else optim_detail::adam_range<false>(p, g, m, v, vmax, n, c);
}

}  // namespace ember::cpu::EMBER_ISA_NS
