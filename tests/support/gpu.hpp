// GPU availability for tests: EMBER_SKIP_WITHOUT_GPU() at the top of a test
// that needs a CUDA device skips it, with the reason, when this build of ember
// has no CUDA backend or the machine has no usable GPU. The same test runs in
// full wherever a GPU is present.
#pragma once

#include <gtest/gtest.h>

#if defined(EMBER_WITH_CUDA)
#include <ember/kernels/cuda/register.hpp>
#endif

namespace ember::testing {

// Rehearsal (EMBER_GPU_REHEARSAL: the ember_cuda_rehearsal_tests binary, built from the CPU-vs-CUDA
// test files without EMBER_WITH_CUDA): the CPU plays the GPU, so the tests' own logic (inputs,
// shapes, expected errors, tolerances) runs in every build, also where no GPU ever is. It checks the
// tests, not the CUDA kernels.
#if defined(EMBER_GPU_REHEARSAL)
inline constexpr bool kRehearsal = true;
#else
inline constexpr bool kRehearsal = false;
#endif

// True when ember was built with CUDA and at least one GPU answers (always in a rehearsal).
inline bool gpu_available() {
#if defined(EMBER_GPU_REHEARSAL)
  return true;
#elif defined(EMBER_WITH_CUDA)
  static const bool available = ember::cuda::device_count() > 0;
  return available;
#else
  return false;
#endif
}

// Why GPU tests are skipped here (empty when a GPU is available).
inline const char* gpu_unavailable_reason() {
#if defined(EMBER_WITH_CUDA)
  return gpu_available() ? "" : "the CUDA driver reports no usable device";
#else
  return "ember was built without CUDA (EMBER_CUDA=OFF or no nvcc)";
#endif
}

}  // namespace ember::testing

// Skips the current test (GTEST_SKIP) when no CUDA GPU can be used.
#define EMBER_SKIP_WITHOUT_GPU()                                                              \
  do {                                                                                        \
    if (!::ember::testing::gpu_available())                                                   \
      GTEST_SKIP() << "no CUDA GPU present: " << ::ember::testing::gpu_unavailable_reason(); \
  } while (0)
