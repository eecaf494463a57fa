// The GPU-skip helper itself: GPU tests skip with a reason when no GPU can be
// used, and see a device when they run.
#include <gtest/gtest.h>

#include "gpu.hpp"

TEST(GpuSupport, SkipsWithoutGpuOrSeesADevice) {
  EMBER_SKIP_WITHOUT_GPU();
#if defined(EMBER_WITH_CUDA)
  EXPECT_GT(ember::cuda::device_count(), 0);
#else
  FAIL() << "a build without CUDA must have skipped";
#endif
}

TEST(GpuSupport, ReasonIsGivenExactlyWhenUnavailable) {
  const std::string reason = ember::testing::gpu_unavailable_reason();
  EXPECT_EQ(reason.empty(), ember::testing::gpu_available()) << "reason: '" << reason << "'";
}
