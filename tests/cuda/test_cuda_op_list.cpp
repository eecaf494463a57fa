// The CUDA op-list test: every op of tensor/ops.def must be compared with the
// CPU by some test of this binary (EMBER_OPS_TESTED in tests/cuda/test_cuda_*.cpp),
// so a new op cannot get a CUDA kernel that no test checks. Registration is
// static, so this runs (and must pass) on machines without a GPU.
#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

#if defined(EMBER_WITH_CUDA)
namespace {

TEST(CudaOpList, EveryOpIsComparedWithTheCpu) {
  std::string missing;
  int count = 0;
  for (int i = 0; i < ember::kNumOps; ++i) {
    if (ember::testing::tested_ops().count(i) != 0) continue;
    missing += (missing.empty() ? "" : ", ") + std::string(ember::op_info(static_cast<ember::Op>(i)).name);
    ++count;
  }
  EXPECT_EQ(count, 0) << count << " op(s) with no CPU-vs-CUDA comparison in tests/cuda: " << missing;
}

}  // namespace
#endif
