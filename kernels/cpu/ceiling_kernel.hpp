// The FMA loop of ceiling.hpp, written once with Vf and compiled per ISA
// (ceiling.cpp for the scalar path, ceiling_avx2.cpp, ceiling_avx512.cpp).
// 12 independent accumulator chains cover the FMA latency (4-5 cycles) times
// the 2 FMA pipes of current x86 cores.
#pragma once

#include <ember/kernels/cpu/ceiling.hpp>
#include <ember/kernels/cpu/vec.hpp>

namespace ember::cpu::EMBER_ISA_NS {

float fma_loop(int64_t iters, double* flops) {
  constexpr int kChains = 12;
  Vf acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = Vf::broadcast(0.001f * static_cast<float>(c));
  const Vf m = Vf::broadcast(0.999999f), a = Vf::broadcast(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int c = 0; c < kChains; ++c) acc[c] = fmadd(acc[c], m, a);
    // Keeps the compiler from collapsing iterations; costs nothing at run time.
    __asm__ volatile("" : "+x"(acc[0].v), "+x"(acc[1].v), "+x"(acc[2].v), "+x"(acc[3].v));
  }
  Vf sum = Vf::zero();
  for (int c = 0; c < kChains; ++c) sum = sum + acc[c];
  *flops = static_cast<double>(iters) * kChains * Vf::size * 2.0;
  return sum.reduce_add();
}

}  // namespace ember::cpu::EMBER_ISA_NS
