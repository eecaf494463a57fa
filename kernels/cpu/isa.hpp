// isa: which vector instruction set the CPU kernels use, chosen once at run time.
//
// One ember binary runs on any x86-64 CPU. Only the per-ISA kernel files
// (`*_avx2.cpp`, `*_avx512.cpp`) are compiled with vector ISA flags; the rest
// of the library is baseline x86-64. At the first kernel call ember reads
// cpuid (and xgetbv, so the OS must save the wide registers too) and picks the
// best path the machine has; `EMBER_CPU_ISA=avx512|avx2|scalar` or
// `set_cpu_isa()` forces one, and asking for a path the CPU lacks is an
// ember::Error. The scalar path is the portable reference kernels.
//
// When to use: tests run every fast kernel on every path the machine has
// (`supported_cpu_isas()` + `CpuIsaGuard`); benchmarks compare paths.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ember::cpu {

enum class Isa : int {
  scalar = 0,  // portable C++ (what the compiler makes of baseline x86-64)
  avx2 = 1,    // AVX2 + FMA + F16C, 256-bit
  avx512 = 2,  // AVX-512 F/BW/DQ/VL, 512-bit
};

const char* isa_name(Isa isa);
// Parses "scalar", "avx2" or "avx512"; anything else is an ember::Error naming the choices.
Isa parse_isa(std::string_view name);

// True when both the CPU and the OS support the path (scalar always is).
bool isa_supported(Isa isa);
// The best supported path.
Isa best_cpu_isa();
// Every supported path, best last (always starts with scalar).
std::vector<Isa> supported_cpu_isas();
// True when the AVX-512 path is supported and the CPU has the AVX-512 BF16
// dot products (vdpbf16ps), which bfloat16 GEMMs then use.
bool cpu_has_avx512_bf16();
// One line describing the CPU's vector features, e.g. "AMD EPYC: avx2 fma f16c".
std::string cpu_features();

// The path the kernels use now. The first call applies EMBER_CPU_ISA (if set),
// else best_cpu_isa(); a bad or unsupported EMBER_CPU_ISA is an ember::Error.
Isa active_cpu_isa();
// The path EMBER_CPU_ISA=value asks for (null or empty: the best); an unknown
// name or a path the CPU lacks is an ember::Error naming the variable.
Isa isa_from_env(const char* value);
// Forces a path for the whole process; throws ember::Error if unsupported.
void set_cpu_isa(Isa isa);

// Sets a path for a scope and restores the previous one (tests, benchmarks).
class CpuIsaGuard {
 public:
  explicit CpuIsaGuard(Isa isa) : previous_(active_cpu_isa()) { set_cpu_isa(isa); }
  ~CpuIsaGuard() { set_cpu_isa(previous_); }
  CpuIsaGuard(const CpuIsaGuard&) = delete;
  CpuIsaGuard& operator=(const CpuIsaGuard&) = delete;

 private:
  Isa previous_;
};

}  // namespace ember::cpu
