// The 64-byte aligned CPU allocator and the per-device allocator table.
#include <ember/runtime/allocator.hpp>

#include <cstdlib>
#include <new>

#include <ember/runtime/error.hpp>

namespace ember {
namespace {

class CpuAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes) override {
    // aligned_alloc needs a size that is a multiple of the alignment; a zero-byte
    // request still gets a real (unique) pointer so data_ptr() is never null.
    size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    if (rounded == 0) rounded = kCpuAlignment;
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    EMBER_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    return DataPtr(p, nullptr, [](void*, void* ptr) { std::free(ptr); }, kCPU);
  }
};

Allocator* g_allocators[kNumDeviceTypes] = {nullptr, nullptr};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator allocator;
  return allocator;
}

Allocator& get_allocator(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  Allocator* a = g_allocators[static_cast<int>(device.type)];
  EMBER_CHECK(a != nullptr, "no allocator for device ", device,
              ": this build of ember has no backend for it (build with EMBER_CUDA=ON)");
  return *a;
}

void set_allocator(DeviceType type, Allocator* allocator) {
  g_allocators[static_cast<int>(type)] = allocator;
}

}  // namespace ember
