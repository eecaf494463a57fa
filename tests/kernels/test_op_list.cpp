// The op-list test: walks tensor/ops.def and fails, naming the op, when an op
// has no CPU kernel, no CUDA kernel (CUDA builds), or is not marked tested
// (EMBER_OP_TESTED in some test file of this binary). It lives in
// ember_kernels_tests, so the marks of every kernel test file are registered
// (at static initialisation) before it runs.
#include <string>
#include <vector>

#include "test_util.hpp"

namespace ember {
namespace {

std::vector<std::string> ops_where(bool (*missing)(Op)) {
  std::vector<std::string> names;
  for (int i = 0; i < kNumOps; ++i) {
    const Op op = static_cast<Op>(i);
    if (missing(op)) names.push_back(op_info(op).name);
  }
  return names;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

TEST(OpList, NamesMatchOpsDef) {
  // op_info follows ops.def order; spot-check both ends and uniqueness of names.
  EXPECT_STREQ(op_info(Op::neg).name, "neg");
  EXPECT_STREQ(op_info(static_cast<Op>(0)).name, "neg");
  std::set<std::string> seen;
  for (int i = 0; i < kNumOps; ++i) EXPECT_TRUE(seen.insert(op_info(static_cast<Op>(i)).name).second) << i;
  EXPECT_EQ(static_cast<int>(seen.size()), kNumOps);
}

TEST(OpList, EveryOpHasACpuKernel) {
  auto missing = ops_where([](Op op) { return !kernel_table(DeviceType::CPU).has(op); });
  EXPECT_TRUE(missing.empty()) << missing.size() << " op(s) without a CPU kernel: " << join(missing);
}

#if defined(EMBER_WITH_CUDA)
// Registration touches no device, so this runs (and must pass) on machines without a GPU.
TEST(OpList, EveryOpHasACudaKernel) {
  auto missing = ops_where([](Op op) { return !kernel_table(DeviceType::CUDA).has(op); });
  EXPECT_TRUE(missing.empty()) << missing.size() << " op(s) without a CUDA kernel: " << join(missing);
}
#endif

TEST(OpList, EveryOpIsTested) {
  auto missing = ops_where([](Op op) { return ember::testing::tested_ops().count(static_cast<int>(op)) == 0; });
  EXPECT_TRUE(missing.empty()) << missing.size() << " op(s) not marked EMBER_OP_TESTED by any kernel test: "
                               << join(missing);
}

}  // namespace
}  // namespace ember
