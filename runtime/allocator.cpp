// The 64-byte aligned CPU allocator (with its cache of large blocks, see
// allocator.hpp) and the per-device allocator table.
#include <ember/runtime/allocator.hpp>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include <ember/runtime/error.hpp>

namespace ember {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kDefaultCacheBytes = 0;
#else
constexpr size_t kDefaultCacheBytes = size_t{1} << 30;
#endif
constexpr size_t kPage = 4096;

size_t initial_cache_limit() {
  if (const char* env = std::getenv("EMBER_CPU_CACHE_MB"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    EMBER_CHECK(end != env && *end == '\0', "EMBER_CPU_CACHE_MB=", env, ": expected a whole number of MiB");
    return static_cast<size_t>(mb) << 20;
  }
  return kDefaultCacheBytes;
}

// Freed large blocks by exact (page-rounded) size. See cpu_cache_stats() in allocator.hpp.
class CpuBlockCache {
 public:
  // A cached block of exactly `bytes`, or nullptr.
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = blocks_.find(bytes);
    if (it == blocks_.end() || it->second.empty()) {
      ++stats_.misses;
      return nullptr;
    }
    void* p = it->second.back();
    it->second.pop_back();
    stats_.cached_bytes -= bytes;
    ++stats_.hits;
    return p;
  }
  // Keeps the block if it fits under the limit, else frees it.
  void give(void* p, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stats_.cached_bytes + bytes <= stats_.limit_bytes) {
        blocks_[bytes].push_back(p);
        stats_.cached_bytes += bytes;
        return;
      }
    }
    std::free(p);
  }
  void set_limit(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.limit_bytes = bytes;
    if (stats_.cached_bytes > bytes) release_locked();
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    release_locked();
  }
  CpuCacheStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  static CpuBlockCache& instance() {
    // Never destroyed: tensors in static objects may be freed after main returns.
    static CpuBlockCache* cache = new CpuBlockCache(initial_cache_limit());
    return *cache;
  }

 private:
  explicit CpuBlockCache(size_t limit) { stats_.limit_bytes = limit; }
  void release_locked() {
    for (auto& [bytes, list] : blocks_)
      for (void* p : list) std::free(p);
    blocks_.clear();
    stats_.cached_bytes = 0;
  }
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> blocks_;
  CpuCacheStats stats_;
};

class CpuAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes) override {
    // aligned_alloc needs a size that is a multiple of the alignment; a zero-byte
    // request still gets a real (unique) pointer so data_ptr() is never null.
    size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    if (rounded == 0) rounded = kCpuAlignment;
    if (rounded >= kCpuCacheMinBytes) {
      rounded = (rounded + kPage - 1) / kPage * kPage;
      CpuBlockCache& cache = CpuBlockCache::instance();
      void* p = cache.take(rounded);
      if (p == nullptr) p = std::aligned_alloc(kPage, rounded);
      EMBER_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
      // The deleter's context carries the block's size.
      return DataPtr(p, reinterpret_cast<void*>(rounded),
                     [](void* ctx, void* ptr) { CpuBlockCache::instance().give(ptr, reinterpret_cast<size_t>(ctx)); },
                     kCPU);
    }
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    EMBER_CHECK(p != nullptr, "cpu allocator: out of memory allocating ", nbytes, " bytes");
    return DataPtr(p, nullptr, [](void*, void* ptr) { std::free(ptr); }, kCPU);
  }
};

Allocator* g_allocators[kNumDeviceTypes] = {nullptr, nullptr};
std::atomic<PinnedMemory*> g_pinned{nullptr};

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

CpuCacheStats cpu_cache_stats() { return CpuBlockCache::instance().stats(); }
void cpu_empty_cache() { CpuBlockCache::instance().release(); }
void set_cpu_cache_limit(size_t bytes) { CpuBlockCache::instance().set_limit(bytes); }

void set_allocator(DeviceType type, Allocator* allocator) {
  g_allocators[static_cast<int>(type)] = allocator;
}

PinnedMemory* pinned_memory() { return g_pinned.load(std::memory_order_acquire); }
void set_pinned_memory(PinnedMemory* provider) { g_pinned.store(provider, std::memory_order_release); }

}  // namespace ember
