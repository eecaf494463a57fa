// Run-time choice of the CPU kernels' instruction set (see isa.hpp).
//
// Detection reads cpuid for the instructions and xgetbv for the OS: a CPU
// with AVX-512 under an OS (or hypervisor) that does not save the ZMM state
// must not run AVX-512 code. The chosen path lives in one atomic read by
// every dispatching kernel; -1 means "not chosen yet".
#include <ember/kernels/cpu/isa.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <ember/runtime/error.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define EMBER_X86 1
#endif

namespace ember::cpu {
namespace {

struct Features {
  bool avx2 = false;    // AVX2 + FMA + F16C with the OS saving YMM state
  bool avx512 = false;  // AVX-512 F/BW/DQ/VL with the OS saving ZMM and opmask state
  bool avx512_bf16 = false;  // and the BF16 dot products
  std::string brand;
  std::string list;     // e.g. "avx2 fma f16c"
};

#if defined(EMBER_X86)
unsigned long long read_xcr0() {
  unsigned int lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}
#endif

Features detect() {
  Features f;
#if defined(EMBER_X86)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  unsigned b7 = 0;
  if (__get_cpuid_count(7, 0, &a, &b7, &c, &d) == 0) b7 = 0;
  const bool avx2 = (b7 >> 5) & 1;
  const bool avx512f = (b7 >> 16) & 1, avx512dq = (b7 >> 17) & 1, avx512bw = (b7 >> 30) & 1, avx512vl = (b7 >> 31) & 1;
  const unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;
  const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;
  f.avx2 = avx && avx2 && fma && f16c && os_ymm;
  f.avx512 = f.avx2 && avx512f && avx512dq && avx512bw && avx512vl && os_zmm;
  unsigned a71 = 0;
  if (__get_cpuid_count(7, 1, &a71, &b, &c, &d) == 0) a71 = 0;
  const bool bf16 = (a71 >> 5) & 1;
  f.avx512_bf16 = f.avx512 && bf16;
  auto add = [&](bool has, const char* name) {
    if (!has) return;
    if (!f.list.empty()) f.list += ' ';
    f.list += name;
  };
  add(avx, "avx");
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512dq, "avx512dq");
  add(avx512vl, "avx512vl");
  add(bf16, "avx512_bf16");
  if (!os_ymm && avx) f.list += " (OS does not save YMM state)";
  if (avx512f && !os_zmm) f.list += " (OS does not save ZMM state)";
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      unsigned r[4] = {};
      __get_cpuid(0x80000002u + i, &r[0], &r[1], &r[2], &r[3]);
      std::memcpy(brand + 16 * i, r, 16);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
    while (!f.brand.empty() && f.brand.front() == ' ') f.brand.erase(f.brand.begin());
  }
#endif
  if (f.brand.empty()) f.brand = "unknown CPU";
  if (f.list.empty()) f.list = "no AVX";
  return f;
}

const Features& features() {
  static const Features f = detect();
  return f;
}

std::atomic<int> g_active{-1};

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (name == isa_name(isa)) return isa;
  EMBER_FAIL("CPU ISA: unknown name '", name, "' (expected avx512, avx2 or scalar)");
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return features().avx2;
    case Isa::avx512: return features().avx512;
  }
  return false;
}

Isa best_cpu_isa() {
  if (features().avx512) return Isa::avx512;
  if (features().avx2) return Isa::avx2;
  return Isa::scalar;
}

std::vector<Isa> supported_cpu_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

bool cpu_has_avx512_bf16() { return features().avx512_bf16; }

std::string cpu_features() { return features().brand + ": " + features().list; }

void set_cpu_isa(Isa isa) {
  EMBER_CHECK(isa_supported(isa), "CPU ISA: this CPU cannot run the ", isa_name(isa), " kernels (", cpu_features(),
              "); the best it supports is ", isa_name(best_cpu_isa()));
  g_active.store(static_cast<int>(isa), std::memory_order_relaxed);
}

Isa isa_from_env(const char* value) {
  if (value == nullptr || *value == '\0') return best_cpu_isa();
  Isa isa;
  try {
    isa = parse_isa(value);
  } catch (const Error& e) {
    EMBER_FAIL("EMBER_CPU_ISA=", value, ": ", e.what());
  }
  EMBER_CHECK(isa_supported(isa), "EMBER_CPU_ISA=", value, ": this CPU cannot run the ", isa_name(isa), " kernels (",
              cpu_features(), "); the best it supports is ", isa_name(best_cpu_isa()));
  return isa;
}

Isa active_cpu_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v >= 0) [[likely]]
    return static_cast<Isa>(v);
  const Isa isa = isa_from_env(std::getenv("EMBER_CPU_ISA"));
  int expected = -1;
  g_active.compare_exchange_strong(expected, static_cast<int>(isa), std::memory_order_relaxed);
  return static_cast<Isa>(g_active.load(std::memory_order_relaxed));
}

}  // namespace ember::cpu
