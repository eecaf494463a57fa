// Allocators: where Storage gets its bytes.
//
// DataPtr owns one allocation and knows how to free it. The CPU allocator
// returns 64-byte aligned memory (a cache line, and the widest SIMD load), so
// every kernel may assume contiguous storage starts aligned. Allocators are
// looked up per device kind; the CUDA build registers its caching allocator.
#pragma once

#include <cstddef>
#include <memory>

#include <ember/runtime/device.hpp>

namespace ember {

using DeleterFn = void (*)(void* ctx, void* ptr);

// One owned allocation. Moves only; the deleter runs on destruction.
class DataPtr {
 public:
  DataPtr() = default;
  DataPtr(void* ptr, void* ctx, DeleterFn deleter, Device device)
      : ptr_(ptr), ctx_(ctx), deleter_(deleter), device_(device) {}
  DataPtr(DataPtr&& o) noexcept { *this = std::move(o); }
  DataPtr& operator=(DataPtr&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = o.ptr_; ctx_ = o.ctx_; deleter_ = o.deleter_; device_ = o.device_;
      o.ptr_ = nullptr; o.deleter_ = nullptr;
    }
    return *this;
  }
  DataPtr(const DataPtr&) = delete;
  DataPtr& operator=(const DataPtr&) = delete;
  ~DataPtr() { reset(); }

  void* get() const { return ptr_; }
  Device device() const { return device_; }
  // Which allocator's memory this is (an allocator compares them with its own deleter and context).
  DeleterFn deleter() const { return deleter_; }
  void* context() const { return ctx_; }
  void reset() {
    if (deleter_ != nullptr) deleter_(ctx_, ptr_);
    ptr_ = nullptr;
    deleter_ = nullptr;
  }

 private:
  void* ptr_ = nullptr;
  void* ctx_ = nullptr;
  DeleterFn deleter_ = nullptr;
  Device device_{};
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual DataPtr allocate(size_t nbytes) = 0;
  // For a device kind with several devices (cuda:N): allocates on that device.
  virtual DataPtr allocate_on(Device device, size_t nbytes) {
    (void)device;
    return allocate(nbytes);
  }
};

inline constexpr size_t kCpuAlignment = 64;

Allocator& cpu_allocator();

// The CPU allocator keeps freed blocks of at least kCpuCacheMinBytes (up to a
// byte limit) and hands them out again for requests of the same rounded size.
// A training loop allocates the same activations every step; without the
// cache, glibc returns such blocks to the OS (munmap, heap trimming) and every
// step pays page faults to get them back. The limit defaults to 1 GiB
// (EMBER_CPU_CACHE_MB overrides it; 0 disables the cache) and is 0 in
// AddressSanitizer builds, so ASan sees every use after free.
inline constexpr size_t kCpuCacheMinBytes = size_t{256} << 10;
struct CpuCacheStats {
  size_t cached_bytes = 0;  // held in the cache now
  size_t limit_bytes = 0;
  size_t hits = 0;          // requests served from the cache
  size_t misses = 0;        // cacheable requests that went to the system
};
CpuCacheStats cpu_cache_stats();
// Returns every cached block to the system.
void cpu_empty_cache();
// Sets the byte limit (0 disables caching and empties the cache).
void set_cpu_cache_limit(size_t bytes);
// The allocator for a device kind; throws ember::Error if that backend is not built.
Allocator& get_allocator(Device device);
// Used by a backend at start-up (explicitly, from its init function).
void set_allocator(DeviceType type, Allocator* allocator);

// Page-locked ("pinned") host memory: CPU storage that a GPU's copy engines
// read and write directly, so host<->device copies from and to it can run
// asynchronously (ops::to / copy_ with non_blocking). A GPU backend installs
// the provider at start-up (the CUDA build: a caching allocator over
// cudaHostAlloc, runtime/cuda_allocator.hpp); without one, pinning is an error
// and nothing counts as pinned.
class PinnedMemory {
 public:
  virtual ~PinnedMemory() = default;
  // kCPU memory of at least nbytes, page-locked; throws ember::Error naming why it cannot.
  virtual DataPtr allocate(size_t nbytes) = 0;
  // True for this provider's allocations and for host memory pinned by other means
  // (e.g. cudaHostRegister'ed memory wrapped in a tensor).
  virtual bool is_pinned(const DataPtr& data) = 0;
};
// The installed provider; nullptr in a build without a GPU backend.
PinnedMemory* pinned_memory();
void set_pinned_memory(PinnedMemory* provider);

}  // namespace ember
