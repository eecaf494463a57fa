// The caching allocator's bookkeeping against a fake device backend on the
// CPU: size classes, splitting and coalescing, per-stream reuse, cross-stream
// events, out-of-memory retry and error, stats, empty_cache, threads.
// Runs in every build (no GPU needed).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <ember/runtime/caching_allocator.hpp>
#include <ember/runtime/error.hpp>

namespace {

using ember::AllocatorStats;
using ember::CachingAllocator;
using ember::EventHandle;
using ember::StreamHandle;

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

// Device state shared by the test and the backend (which the allocator owns).
struct FakeDevice {
  std::mutex mutex;
  size_t capacity = size_t{1} << 40;
  size_t used = 0;
  int fail_next = 0;  // injected failures: the next N mallocs return nullptr
  uintptr_t next_address = 0x100000000ull;
  std::map<uintptr_t, size_t> live;  // address -> bytes
  int mallocs = 0, frees = 0, events_live = 0, syncs = 0;
  // A stream's work is a counter of recorded events; `completed` is how far it got.
  std::map<StreamHandle, uint64_t> recorded, completed;
  void complete(StreamHandle s) {
    std::lock_guard<std::mutex> lock(mutex);
    completed[s] = recorded[s];
  }
};

struct FakeEvent {
  StreamHandle stream = 0;
  uint64_t tick = 0;
};

class FakeBackend final : public ember::DeviceMemoryBackend {
 public:
  explicit FakeBackend(std::shared_ptr<FakeDevice> dev) : dev_(std::move(dev)) {}
  void* malloc(size_t n) override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    if (dev_->fail_next > 0) {
      --dev_->fail_next;
      return nullptr;
    }
    if (dev_->used + n > dev_->capacity) return nullptr;
    uintptr_t a = dev_->next_address;
    dev_->next_address += n + 4096;  // gaps: segments are never adjacent
    dev_->live[a] = n;
    dev_->used += n;
    ++dev_->mallocs;
    return reinterpret_cast<void*>(a);
  }
  void free(void* p) override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    auto it = dev_->live.find(reinterpret_cast<uintptr_t>(p));
    ASSERT_NE(it, dev_->live.end()) << "free of a pointer that is not a segment start";
    dev_->used -= it->second;
    dev_->live.erase(it);
    ++dev_->frees;
  }
  EventHandle create_event() override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    ++dev_->events_live;
    return new FakeEvent;
  }
  void destroy_event(EventHandle e) override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    --dev_->events_live;
    delete static_cast<FakeEvent*>(e);
  }
  void record_event(EventHandle e, StreamHandle s) override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    auto* ev = static_cast<FakeEvent*>(e);
    ev->stream = s;
    ev->tick = ++dev_->recorded[s];
  }
  bool query_event(EventHandle e) override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    auto* ev = static_cast<FakeEvent*>(e);
    return dev_->completed[ev->stream] >= ev->tick;
  }
  void synchronize_event(EventHandle e) override {
    std::lock_guard<std::mutex> lock(dev_->mutex);
    auto* ev = static_cast<FakeEvent*>(e);
    ++dev_->syncs;
    dev_->completed[ev->stream] = std::max(dev_->completed[ev->stream], ev->tick);
  }
  std::string name() const override { return "fake:0"; }

 private:
  std::shared_ptr<FakeDevice> dev_;
};

constexpr StreamHandle kS1 = 1, kS2 = 2;

class CachingAllocatorTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeDevice> dev = std::make_shared<FakeDevice>();
  std::unique_ptr<CachingAllocator> alloc = std::make_unique<CachingAllocator>(std::make_unique<FakeBackend>(dev));
  char* allocate(size_t n, StreamHandle s = kS1) { return static_cast<char*>(alloc->allocate(n, s)); }
  AllocatorStats stats() const { return alloc->stats(); }
};

TEST(CachingAllocatorSizes, RoundingAndSegments) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::segment_size(512), 2 * MiB);
  EXPECT_EQ(CachingAllocator::segment_size(1 * MiB), 2 * MiB);            // small pool up to 1 MiB
  EXPECT_EQ(CachingAllocator::segment_size(1 * MiB + 512), 20 * MiB);     // large, < 10 MiB
  EXPECT_EQ(CachingAllocator::segment_size(10 * MiB), 10 * MiB);          // >= 10 MiB: rounded to 2 MiB
  EXPECT_EQ(CachingAllocator::segment_size(11 * MiB), 12 * MiB);
}

TEST_F(CachingAllocatorTest, ReusesAFreedBlockOnTheSameStream) {
  char* p = allocate(1000);
  alloc->free(p);
  char* q = allocate(1000);
  EXPECT_EQ(p, q);
  EXPECT_EQ(stats().num_device_mallocs, 1u);
  alloc->free(q);
}

TEST_F(CachingAllocatorTest, ZeroByteRequestsGetDistinctPointers) {
  char* a = allocate(0);
  char* b = allocate(0);
  EXPECT_NE(a, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(stats().allocated_bytes, 1024u);
  alloc->free(a);
  alloc->free(b);
}

TEST_F(CachingAllocatorTest, SmallRequestsAreCarvedFromOneTwoMiBSegment) {
  std::vector<char*> p;
  for (int i = 0; i < 4; ++i) p.push_back(allocate(512 * KiB));
  for (int i = 1; i < 4; ++i) EXPECT_EQ(p[static_cast<size_t>(i)], p[0] + i * 512 * KiB) << i;
  EXPECT_EQ(stats().num_device_mallocs, 1u);
  EXPECT_EQ(stats().reserved_bytes, 2 * MiB);
  char* fifth = allocate(512 * KiB);  // the segment is full
  EXPECT_EQ(stats().num_device_mallocs, 2u);
  for (char* q : p) alloc->free(q);
  alloc->free(fifth);
}

TEST_F(CachingAllocatorTest, FreedNeighboursCoalesceBackIntoTheWholeSegment) {
  char* a = allocate(512 * KiB);
  char* b = allocate(512 * KiB);
  char* c = allocate(512 * KiB);
  EXPECT_EQ(stats().num_cached_blocks, 1u);  // the 512 KiB tail
  alloc->free(a);
  alloc->free(c);  // merges with the tail
  EXPECT_EQ(stats().num_cached_blocks, 2u);
  alloc->free(b);  // merges both sides: one block, the whole segment
  EXPECT_EQ(stats().num_cached_blocks, 1u);
  char* whole = allocate(1 * MiB);  // fits only because the pieces merged... and starts at the segment
  EXPECT_EQ(whole, a);
  EXPECT_EQ(stats().num_device_mallocs, 1u);
  alloc->free(whole);
  alloc->empty_cache();
  EXPECT_EQ(stats().reserved_bytes, 0u);
  EXPECT_EQ(stats().num_device_frees, 1u);
  EXPECT_EQ(dev->used, 0u);
}

TEST_F(CachingAllocatorTest, EmptyCacheKeepsSegmentsWithLiveBlocks) {
  char* a = allocate(512 * KiB);
  char* big = allocate(30 * MiB);
  alloc->free(big);
  alloc->empty_cache();  // the large segment goes; the small one still holds `a`
  EXPECT_EQ(stats().reserved_bytes, 2 * MiB);
  EXPECT_EQ(dev->live.size(), 1u);
  alloc->free(a);
  alloc->empty_cache();
  EXPECT_EQ(dev->live.size(), 0u);
}

TEST_F(CachingAllocatorTest, LargeBlocksAreSplitAndTheRestReused) {
  char* a = allocate(3 * MiB);  // 20 MiB segment, 17 MiB cached
  EXPECT_EQ(stats().reserved_bytes, 20 * MiB);
  char* b = allocate(5 * MiB);
  EXPECT_EQ(b, a + 3 * MiB);
  EXPECT_EQ(stats().num_device_mallocs, 1u);
  char* c = allocate(15 * MiB);  // 12 MiB left: a new 16 MiB segment
  EXPECT_EQ(stats().num_device_mallocs, 2u);
  EXPECT_EQ(stats().reserved_bytes, 36 * MiB);
  // A remainder of 1 MiB or less is not split off a large block.
  char* d = allocate(11 * MiB + 512 * KiB);  // the 12 MiB remainder, kept whole
  EXPECT_EQ(d, b + 5 * MiB);
  EXPECT_EQ(stats().allocated_bytes, 3 * MiB + 5 * MiB + 16 * MiB + 12 * MiB);
  EXPECT_EQ(stats().requested_bytes, 3 * MiB + 5 * MiB + 15 * MiB + 11 * MiB + 512 * KiB);
  for (char* p : {a, b, c, d}) alloc->free(p);
  EXPECT_EQ(stats().allocated_bytes, 0u);
  EXPECT_EQ(stats().num_cached_blocks, 2u);  // each segment merged back whole
}

TEST_F(CachingAllocatorTest, SmallAndLargePoolsNeverMix) {
  char* big = allocate(4 * MiB);
  alloc->free(big);  // 20 MiB cached in the large pool
  char* small = allocate(1000);
  EXPECT_EQ(stats().num_device_mallocs, 2u) << "a small request must not split a large segment";
  alloc->free(small);
}

TEST_F(CachingAllocatorTest, BlocksAreReusedOnlyByTheirOwningStream) {
  char* p = allocate(4096, kS1);
  alloc->free(p);
  char* q = allocate(4096, kS2);
  EXPECT_NE(q, p);
  EXPECT_EQ(stats().num_device_mallocs, 2u);
  char* r = allocate(4096, kS1);
  EXPECT_EQ(r, p);
  alloc->free(q);
  alloc->free(r);
}

TEST_F(CachingAllocatorTest, RecordStreamDelaysReuseUntilTheOtherStreamCompletes) {
  char* p = allocate(4096, kS1);
  alloc->record_stream(p, kS2);
  alloc->record_stream(p, kS1);  // the owning stream: nothing to do
  alloc->free(p);
  EXPECT_EQ(stats().num_pending_event_blocks, 1u);
  char* q = allocate(4096, kS1);  // kS2 has not finished: p is not handed out
  EXPECT_NE(q, p);
  dev->complete(kS2);
  char* r = allocate(4096, kS1);
  EXPECT_EQ(r, p);
  EXPECT_EQ(stats().num_pending_event_blocks, 0u);
  alloc->free(q);
  alloc->free(r);
  EXPECT_EQ(stats().num_device_mallocs, 1u);
}

TEST_F(CachingAllocatorTest, RecordStreamOnSeveralStreamsWaitsForAll) {
  constexpr StreamHandle kS3 = 3;
  char* p = allocate(4096, kS1);
  alloc->record_stream(p, kS2);
  alloc->record_stream(p, kS3);
  alloc->free(p);
  dev->complete(kS2);
  char* q = allocate(4096, kS1);
  EXPECT_NE(q, p);
  dev->complete(kS3);
  char* r = allocate(4096, kS1);
  EXPECT_EQ(r, p);
  alloc->free(q);
  alloc->free(r);
}

TEST_F(CachingAllocatorTest, EmptyCacheWaitsForPendingBlocks) {
  char* p = allocate(4096, kS1);
  alloc->record_stream(p, kS2);
  alloc->free(p);
  alloc->empty_cache();
  EXPECT_GE(dev->syncs, 1);
  EXPECT_EQ(stats().reserved_bytes, 0u);
  EXPECT_EQ(dev->live.size(), 0u);
}

// Caching::off (EMBER_CUDA_NO_CACHE=1): every request is its own backend allocation of the
// request rounded up to 16 bytes, returned as soon as it is free, after other streams' events.
class UncachedAllocatorTest : public CachingAllocatorTest {
 protected:
  UncachedAllocatorTest() {
    alloc = std::make_unique<CachingAllocator>(std::make_unique<FakeBackend>(dev), CachingAllocator::Caching::off);
  }
};

TEST_F(UncachedAllocatorTest, EachRequestIsItsOwnExactAllocationFreedAtOnce) {
  EXPECT_FALSE(alloc->caching());
  char* a = allocate(1000);
  char* b = allocate(0);
  ASSERT_EQ(dev->live.size(), 2u);
  EXPECT_EQ(dev->live.at(reinterpret_cast<uintptr_t>(a)), 1008u);  // 1000 rounded up to 16, not to 512
  EXPECT_EQ(dev->live.at(reinterpret_cast<uintptr_t>(b)), 16u);    // a 0-byte request gets its own 16 bytes
  EXPECT_EQ(stats().reserved_bytes, 1024u);
  EXPECT_EQ(stats().allocated_bytes, 1024u);
  EXPECT_EQ(stats().requested_bytes, 1000u);
  alloc->free(a);
  EXPECT_EQ(dev->live.size(), 1u);  // back to the backend, not cached
  EXPECT_EQ(stats().num_cached_blocks, 0u);
  char* c = allocate(1000);  // a new allocation: nothing is reused
  EXPECT_EQ(dev->mallocs, 3);
  alloc->free(b);
  alloc->free(c);
  EXPECT_EQ(dev->live.size(), 0u);
  EXPECT_EQ(stats().reserved_bytes, 0u);
  EXPECT_EQ(stats().num_device_frees, 3u);
}

TEST_F(UncachedAllocatorTest, ABlockUsedOnAnotherStreamIsFreedOnlyAfterThatStream) {
  char* p = allocate(3 * MiB + 5, kS1);
  EXPECT_EQ(dev->live.at(reinterpret_cast<uintptr_t>(p)), 3 * MiB + 16);
  alloc->record_stream(p, kS2);
  alloc->free(p);
  EXPECT_EQ(stats().num_pending_event_blocks, 1u);
  EXPECT_EQ(dev->live.size(), 1u);  // kS2 may still use it
  char* q = allocate(16, kS1);      // allocating processes events: kS2 has not finished
  EXPECT_EQ(dev->live.size(), 2u);
  dev->complete(kS2);
  alloc->free(q);
  char* r = allocate(16, kS1);
  EXPECT_EQ(dev->live.count(reinterpret_cast<uintptr_t>(p)), 0u);  // returned once kS2 completed
  EXPECT_EQ(stats().num_pending_event_blocks, 0u);
  alloc->free(r);
  EXPECT_EQ(dev->live.size(), 0u);
}

TEST_F(UncachedAllocatorTest, OutOfMemoryNamesTheExactRequest) {
  dev->capacity = 4 * KiB;
  char* p = allocate(4000);
  try {
    allocate(100);
    FAIL() << "expected ember::Error";
  } catch (const ember::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("100 bytes requested"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fake:0"), std::string::npos) << msg;
  }
  alloc->free(p);
  EXPECT_EQ(dev->live.size(), 0u);
}

TEST_F(CachingAllocatorTest, OutOfMemoryReleasesTheCacheAndRetries) {
  dev->capacity = 21 * MiB;
  char* p = allocate(1000);  // a 2 MiB small segment
  alloc->free(p);
  char* big = allocate(3 * MiB);  // needs 20 MiB: fits only after the cached 2 MiB go back
  EXPECT_NE(big, nullptr);
  AllocatorStats s = stats();
  EXPECT_EQ(s.num_alloc_retries, 1u);
  EXPECT_EQ(s.num_device_frees, 1u);
  EXPECT_EQ(s.reserved_bytes, 20 * MiB);
  alloc->free(big);
}

TEST_F(CachingAllocatorTest, InjectedTransientFailureIsRetried) {
  dev->fail_next = 1;
  char* p = allocate(100);
  EXPECT_NE(p, nullptr);
  EXPECT_EQ(stats().num_alloc_retries, 1u);
  EXPECT_EQ(stats().num_ooms, 0u);
  alloc->free(p);
}

TEST_F(CachingAllocatorTest, OutOfMemoryErrorNamesTheRequestAndTheStats) {
  char* keep = allocate(100);  // 512 bytes
  dev->fail_next = 2;  // the first try and the retry both fail
  try {
    allocate(5 * MiB);
    ADD_FAILURE() << "expected ember::Error";
  } catch (const ember::Error& e) {
    std::string msg = e.what();
    for (const char* frag : {"out of memory on fake:0", "5.00 MiB", "5242880 bytes requested", "20.00 MiB",
                             "allocated 512 bytes in 1 blocks", "reserved 2.00 MiB", "1 device mallocs"})
      EXPECT_NE(msg.find(frag), std::string::npos) << "message '" << msg << "' lacks '" << frag << "'";
  }
  EXPECT_EQ(stats().num_ooms, 1u);
  // The allocator still works afterwards.
  char* p = allocate(1000);
  alloc->free(p);
  alloc->free(keep);
}

TEST_F(CachingAllocatorTest, StatsTrackAllocatedReservedAndPeak) {
  char* a = allocate(1000);         // 1024
  char* b = allocate(3 * MiB + 1);  // 3 MiB + 512
  AllocatorStats s = stats();
  EXPECT_EQ(s.allocated_bytes, 1024u + 3 * MiB + 512);
  EXPECT_EQ(s.requested_bytes, 1000u + 3 * MiB + 1);
  EXPECT_EQ(s.reserved_bytes, 2 * MiB + 20 * MiB);
  EXPECT_EQ(s.num_allocations, 2u);
  EXPECT_EQ(s.num_device_mallocs, 2u);
  alloc->free(b);
  s = stats();
  EXPECT_EQ(s.allocated_bytes, 1024u);
  EXPECT_EQ(s.peak_allocated_bytes, 1024u + 3 * MiB + 512);
  EXPECT_EQ(s.reserved_bytes, 22 * MiB);  // cached, not returned
  alloc->reset_peak_stats();
  EXPECT_EQ(stats().peak_allocated_bytes, 1024u);
  alloc->free(a);
  EXPECT_EQ(stats().num_allocations, 0u);
}

TEST_F(CachingAllocatorTest, FreeOfAForeignPointerIsAnError) {
  int x = 0;
  try {
    alloc->free(&x);
    ADD_FAILURE() << "expected ember::Error";
  } catch (const ember::Error& e) {
    EXPECT_NE(std::string(e.what()).find("did not allocate"), std::string::npos) << e.what();
  }
  EXPECT_THROW(alloc->record_stream(&x, kS2), ember::Error);
}

TEST_F(CachingAllocatorTest, DestructorReturnsCachedSegmentsAndEvents) {
  char* p = allocate(1000);
  char* q = allocate(2 * MiB);
  alloc->record_stream(q, kS2);
  alloc->free(p);
  alloc->free(q);
  alloc.reset();
  EXPECT_EQ(dev->live.size(), 0u);
  EXPECT_EQ(dev->events_live, 0);
}

TEST_F(CachingAllocatorTest, ConcurrentThreadsOnTheirOwnStreams) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::uniform_int_distribution<size_t> size(1, 3 * MiB);
      std::vector<char*> live;
      const StreamHandle s = static_cast<StreamHandle>(10 + t);
      for (int i = 0; i < 300; ++i) {
        if (live.size() < 8 && (rng() % 2 == 0 || live.empty())) {
          char* p = allocate(size(rng), s);
          if (p == nullptr) ++failures;
          live.push_back(p);
        } else {
          size_t k = rng() % live.size();
          alloc->free(live[k]);
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
        }
      }
      for (char* p : live) alloc->free(p);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  AllocatorStats s = stats();
  EXPECT_EQ(s.allocated_bytes, 0u);
  EXPECT_EQ(s.num_allocations, 0u);
  alloc->empty_cache();
  EXPECT_EQ(stats().reserved_bytes, 0u);
  EXPECT_EQ(dev->live.size(), 0u);
}

}  // namespace
