// The FMA loop of ceiling.hpp, written once with Vf and compiled per ISA
// (ceiling.cpp for the scalar path, ceiling_avx2.cpp, ceiling_avx512.cpp).
// 12 independent accumulator chains cover the FMA latency (4-5 cycles) times
// the 2 FMA pipes of current x86 cores.
#pragma once

#include <ember/kernels/cpu/ceiling.hpp>
#include <ember/kernels/cpu/vec.hpp>

namespace ember::cpu::EMBER_ISA_NS {

// Twelve named accumulators, not an array: an array that an asm barrier or an
// escaped address touches lives on the stack, and every FMA then waits for a
// store and a load. The chains are plain float FMAs, which the compiler may not
// reassociate or fold, so no barrier is needed.
float fma_loop(int64_t iters, double* flops) {
  constexpr int kChains = 12;
  Vf a0 = Vf::broadcast(0.000f), a1 = Vf::broadcast(0.001f), a2 = Vf::broadcast(0.002f), a3 = Vf::broadcast(0.003f),
     a4 = Vf::broadcast(0.004f), a5 = Vf::broadcast(0.005f), a6 = Vf::broadcast(0.006f), a7 = Vf::broadcast(0.007f),
     a8 = Vf::broadcast(0.008f), a9 = Vf::broadcast(0.009f), a10 = Vf::broadcast(0.010f), a11 = Vf::broadcast(0.011f);
  const Vf m = Vf::broadcast(0.999999f), b = Vf::broadcast(1e-7f);
  for (int64_t i = 0; i < iters; ++i) {
    a0 = fmadd(a0, m, b);
    a1 = fmadd(a1, m, b);
    a2 = fmadd(a2, m, b);
    a3 = fmadd(a3, m, b);
    a4 = fmadd(a4, m, b);
    a5 = fmadd(a5, m, b);
    a6 = fmadd(a6, m, b);
    a7 = fmadd(a7, m, b);
    a8 = fmadd(a8, m, b);
    a9 = fmadd(a9, m, b);
    a10 = fmadd(a10, m, b);
    a11 = fmadd(a11, m, b);
  }
  const Vf sum = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11));
  *flops = static_cast<double>(iters) * kChains * Vf::size * 2.0;
  return sum.reduce_add();
}

}  // namespace ember::cpu::EMBER_ISA_NS
