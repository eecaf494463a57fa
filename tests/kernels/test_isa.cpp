// Tests of the run-time CPU ISA choice (kernels/cpu/isa.hpp): names, detection
// consistency, forcing a path, and the errors for unknown or unsupported paths;
// and the machine ceilings the benchmarks divide by (kernels/cpu/ceiling.hpp).
#include <ember/kernels/cpu/ceiling.hpp>
#include <ember/kernels/cpu/isa.hpp>

#include <cmath>

#include "test_util.hpp"

namespace ember {
namespace {

using cpu::Isa;
using ember::testing::expect_error;

TEST(CpuIsa, NamesRoundTripAndUnknownNamesAreErrors) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512}) EXPECT_EQ(cpu::parse_isa(cpu::isa_name(isa)), isa);
  expect_error([] { cpu::parse_isa("sse9"); }, {"unknown name 'sse9'", "avx512, avx2 or scalar"});
  expect_error([] { cpu::isa_from_env("AVX2x"); }, {"EMBER_CPU_ISA=AVX2x", "unknown name"});
}

TEST(CpuIsa, DetectionIsConsistent) {
  EXPECT_TRUE(cpu::isa_supported(Isa::scalar));
  const std::vector<Isa> paths = cpu::supported_cpu_isas();
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths.front(), Isa::scalar);
  EXPECT_EQ(paths.back(), cpu::best_cpu_isa());
  // AVX-512 kernels assume AVX2 + FMA as well.
  EXPECT_TRUE(!cpu::isa_supported(Isa::avx512) || cpu::isa_supported(Isa::avx2));
  EXPECT_FALSE(cpu::cpu_features().empty());
  // No variable (or an empty one) means the best path.
  EXPECT_EQ(cpu::isa_from_env(nullptr), cpu::best_cpu_isa());
  EXPECT_EQ(cpu::isa_from_env(""), cpu::best_cpu_isa());
}

TEST(CpuIsa, ForcingAPathAndTheGuardRestores) {
  const Isa before = cpu::active_cpu_isa();
  for (Isa isa : cpu::supported_cpu_isas()) {
    {
      cpu::CpuIsaGuard guard(isa);
      EXPECT_EQ(cpu::active_cpu_isa(), isa);
      EXPECT_EQ(cpu::isa_from_env(cpu::isa_name(isa)), isa);
    }
    EXPECT_EQ(cpu::active_cpu_isa(), before);
  }
}

TEST(CpuIsa, UnsupportedPathsAreClearErrors) {
  const Isa before = cpu::active_cpu_isa();
  int unsupported = 0;
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (cpu::isa_supported(isa)) continue;
    ++unsupported;
    const std::string name = cpu::isa_name(isa);
    expect_error([&] { cpu::set_cpu_isa(isa); }, {"cannot run the " + name + " kernels", "the best it supports is"});
    expect_error([&] { cpu::isa_from_env(name.c_str()); }, {"EMBER_CPU_ISA=" + name, "cannot run"});
    EXPECT_EQ(cpu::active_cpu_isa(), before);  // a refused request changes nothing
  }
  if (unsupported == 0) GTEST_SKIP() << "this CPU supports every path (" << cpu::cpu_features() << ")";
}

// The FMA loop counts exactly the FLOPs it performs (12 chains x lanes x 2 per
// step) and returns a finite value that depends on every chain.
TEST(Ceiling, FmaLoopCountsItsFlops) {
  double flops = -1;
  const float s = cpu::scalar::fma_loop(1000, &flops);
  EXPECT_TRUE(std::isfinite(s));
  EXPECT_GT(s, 0.0f);
  const double scalar_flops = flops;
  EXPECT_EQ(std::fmod(scalar_flops, 1000.0 * 12 * 2), 0.0) << scalar_flops;
  if (cpu::isa_supported(Isa::avx2)) {
    EXPECT_TRUE(std::isfinite(cpu::avx2::fma_loop(1000, &flops)));
    EXPECT_EQ(flops, 1000.0 * 12 * 8 * 2);
  }
  if (cpu::isa_supported(Isa::avx512)) {
    EXPECT_TRUE(std::isfinite(cpu::avx512::fma_loop(1000, &flops)));
    EXPECT_EQ(flops, 1000.0 * 12 * 16 * 2);
  }
  cpu::scalar::fma_loop(0, &flops);
  EXPECT_EQ(flops, 0.0);
}

// Rates are positive and finite for every path the CPU has; a path it lacks is an error.
TEST(Ceiling, PeakAndCopyRatesArePositive) {
  for (Isa isa : cpu::supported_cpu_isas()) {
    const double peak = cpu::measure_peak_gflops(isa, 2, 0.01);
    EXPECT_TRUE(std::isfinite(peak) && peak > 0) << cpu::isa_name(isa) << ": " << peak;
  }
  for (size_t bytes : {size_t{0}, size_t{100}, size_t{1} << 20}) {
    const double gbs = cpu::measure_copy_gbs(bytes, 2, 0.01);
    EXPECT_TRUE(std::isfinite(gbs) && gbs > 0) << bytes << " bytes: " << gbs;
  }
  if (!cpu::isa_supported(Isa::avx512)) {
    expect_error([] { cpu::measure_peak_gflops(Isa::avx512, 1, 0.01); }, {"measure_peak_gflops", "avx512"});
  }
}

}  // namespace
}  // namespace ember
