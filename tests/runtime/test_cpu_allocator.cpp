// Tests of the CPU allocator: alignment, and the cache of large blocks
// (runtime/allocator.hpp): reuse of a freed block of the same size, the byte
// limit, emptying, disabling.
#include <gtest/gtest.h>

#include <cstdint>

#include <ember/runtime/allocator.hpp>

namespace ember {
namespace {

// Sets a cache limit for one test and restores the previous one.
class CacheLimit {
 public:
  explicit CacheLimit(size_t bytes) : previous_(cpu_cache_stats().limit_bytes) {
    cpu_empty_cache();
    set_cpu_cache_limit(bytes);
  }
  ~CacheLimit() { set_cpu_cache_limit(previous_); }

 private:
  size_t previous_;
};

uintptr_t address(const DataPtr& p) { return reinterpret_cast<uintptr_t>(p.get()); }

TEST(CpuAllocator, AlignedAndUniqueEvenForZeroBytes) {
  DataPtr a = cpu_allocator().allocate(0), b = cpu_allocator().allocate(0);
  EXPECT_NE(a.get(), nullptr);
  EXPECT_NE(a.get(), b.get());
  for (size_t n : {size_t{1}, size_t{100}, size_t{4096}, kCpuCacheMinBytes + 3}) {
    DataPtr p = cpu_allocator().allocate(n);
    EXPECT_EQ(address(p) % kCpuAlignment, 0u) << n;
  }
}

TEST(CpuAllocator, LargeBlocksAreReusedAfterFree) {
  CacheLimit limit(size_t{64} << 20);
  const size_t n = size_t{1} << 20;
  const CpuCacheStats before = cpu_cache_stats();
  DataPtr first = cpu_allocator().allocate(n);
  const void* where = first.get();
  first.reset();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, n);
  DataPtr again = cpu_allocator().allocate(n - 100);  // same page-rounded size
  EXPECT_EQ(again.get(), where);
  const CpuCacheStats after = cpu_cache_stats();
  EXPECT_EQ(after.hits, before.hits + 1);
  EXPECT_EQ(after.misses, before.misses + 1);
  EXPECT_EQ(after.cached_bytes, 0u);
  // A different size is not served by that block.
  DataPtr other = cpu_allocator().allocate(2 * n);
  EXPECT_NE(other.get(), again.get());
  // Small blocks never go through the cache.
  DataPtr small = cpu_allocator().allocate(1000);
  small.reset();
  EXPECT_EQ(cpu_cache_stats().misses, after.misses + 1);
}

TEST(CpuAllocator, CacheRespectsItsLimitAndEmpties) {
  const size_t n = size_t{1} << 20;
  CacheLimit limit(n + n / 2);
  DataPtr a = cpu_allocator().allocate(n), b = cpu_allocator().allocate(n);
  a.reset();
  b.reset();  // would exceed the limit: freed, not cached
  EXPECT_EQ(cpu_cache_stats().cached_bytes, n);
  cpu_empty_cache();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
  // Limit 0 disables caching.
  set_cpu_cache_limit(0);
  DataPtr c = cpu_allocator().allocate(n);
  c.reset();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
  // Lowering the limit below what is cached releases the cache.
  set_cpu_cache_limit(size_t{8} << 20);
  DataPtr d = cpu_allocator().allocate(n);
  d.reset();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, n);
  set_cpu_cache_limit(n / 2);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
}

}  // namespace
}  // namespace ember
