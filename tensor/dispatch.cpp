// The kernel tables, filled once on first use, and the op metadata from ops.def.
#include <ember/tensor/dispatch.hpp>

#include <mutex>

#include <ember/runtime/error.hpp>

namespace ember {
namespace {

KernelTable g_tables[kNumDeviceTypes];

constexpr OpInfo kOpInfo[] = {
#define EMBER_OP(name, sig, diff) {#name, diff != 0},
#include <ember/tensor/ops.def>
#undef EMBER_OP
};

}  // namespace

const OpInfo& op_info(Op op) { return kOpInfo[static_cast<int>(op)]; }

bool KernelTable::has(Op op) const {
  switch (op) {
#define EMBER_OP(name, sig, diff) \
  case Op::name: return name != nullptr;
#include <ember/tensor/ops.def>
#undef EMBER_OP
    case Op::kCount: break;
  }
  return false;
}

const KernelTable& kernel_table(DeviceType type) {
  static std::once_flag once;
  std::call_once(once, [] {
    KernelTable* tables[kNumDeviceTypes];
    for (int i = 0; i < kNumDeviceTypes; ++i) tables[i] = &g_tables[i];
    register_all_kernels(tables);
  });
  return g_tables[static_cast<int>(type)];
}

namespace detail {
void missing_kernel(const char* op, Device device) {
#if defined(EMBER_WITH_CUDA)
  EMBER_FAIL(op, ": no kernel for device ", device, " in this build");
#else
  EMBER_FAIL(op, ": no kernel for device ", device, " (this build of ember has no CUDA backend; configure with EMBER_CUDA=ON)");
#endif
}
}  // namespace detail

}  // namespace ember
