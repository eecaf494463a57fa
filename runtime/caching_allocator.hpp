// CachingAllocator: the bookkeeping of ember's caching device allocator,
// written against an abstract device-memory backend.
//
// Device mallocs are slow and synchronise the device, so freed blocks are
// kept and handed out again. The policy (after PyTorch's CUDA allocator):
// - sizes round up to 512 bytes; requests <= 1 MiB come from the small pool,
//   carved out of 2 MiB segments; larger ones from the large pool (segments of
//   20 MiB for requests under 10 MiB, else the request rounded up to 2 MiB);
// - a cached block bigger than the request is split, and a freed block merges
//   with free neighbours of its segment (coalescing);
// - pools are per stream: a block is reused only by its owning stream. See
//   Note [stream ownership] (runtime/cuda_stream.hpp): work on one stream runs
//   in order, so a block freed on the host can be reused at once by later work
//   on that same stream. A block also used on another stream must be marked
//   with record_stream(ptr, stream); when it is freed an event is recorded on
//   each of those streams and the block returns to the pool only once all of
//   them have completed;
// - when the backend is out of memory, the cache is released (every free whole
//   segment goes back to the backend) and the malloc retried once; a second
//   failure throws ember::Error naming the request and the current stats.
// - without caching (Caching::off, EMBER_CUDA_NO_CACHE=1 for the CUDA
//   allocator): each request is its own backend malloc of the request rounded
//   up to 16 bytes, given back to the backend as soon as it is free (after the
//   events of other streams). Slow; there so that a memory checker such as
//   compute-sanitizer sees every tensor's own bounds (inside a cached segment a
//   read past a tensor's end lands in its neighbour and goes unnoticed).
//
// The backend (malloc/free/events) is the only device-specific part: the CUDA
// build implements it with cudaMalloc/cudaFree/cudaEvent* (runtime/cuda_allocator.cpp);
// tests use a fake backend on the CPU (tests/runtime/test_caching_allocator.cpp).
// Thread-safe: one mutex per allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace ember {

// Opaque handles: a stream (cudaStream_t in the CUDA build) and an event.
using StreamHandle = uintptr_t;
using EventHandle = void*;

// What the caching allocator needs from a device. Every call but malloc throws
// ember::Error on failure; malloc returns nullptr when the device is out of memory.
class DeviceMemoryBackend {
 public:
  virtual ~DeviceMemoryBackend() = default;
  virtual void* malloc(size_t nbytes) = 0;
  virtual void free(void* ptr) = 0;
  virtual EventHandle create_event() = 0;
  virtual void destroy_event(EventHandle event) = 0;
  virtual void record_event(EventHandle event, StreamHandle stream) = 0;
  // True when all work recorded before the event has completed.
  virtual bool query_event(EventHandle event) = 0;
  virtual void synchronize_event(EventHandle event) = 0;
  // Names the device in error messages ("cuda:0").
  virtual std::string name() const = 0;
};

struct AllocatorStats {
  size_t allocated_bytes = 0;       // in blocks handed out (rounded sizes)
  size_t requested_bytes = 0;       // as asked for by callers
  size_t reserved_bytes = 0;        // in segments obtained from the backend
  size_t peak_allocated_bytes = 0;
  size_t peak_reserved_bytes = 0;
  size_t num_allocations = 0;       // live blocks handed out
  size_t num_device_mallocs = 0;    // successful backend malloc calls (cudaMalloc)
  size_t num_device_frees = 0;      // segments returned to the backend (cudaFree)
  size_t num_alloc_retries = 0;     // mallocs retried after releasing the cache
  size_t num_ooms = 0;              // requests that failed even after the retry
  size_t num_cached_blocks = 0;     // free blocks in the pools
  size_t num_pending_event_blocks = 0;  // freed blocks waiting for other streams
};

std::string to_string(const AllocatorStats& s);

class CachingAllocator {
 public:
  static constexpr size_t kRound = 512;                 // every size is a multiple of this
  static constexpr size_t kSmallSize = size_t{1} << 20;  // requests <= 1 MiB use the small pool
  static constexpr size_t kSmallSegment = size_t{2} << 20;
  static constexpr size_t kMinLargeAlloc = size_t{10} << 20;
  static constexpr size_t kLargeSegment = size_t{20} << 20;  // segment for large requests < 10 MiB
  static constexpr size_t kRoundLarge = size_t{2} << 20;

  static constexpr size_t kUncachedRound = 16;  // Caching::off: requests round up to this

  enum class Caching { on, off };
  explicit CachingAllocator(std::unique_ptr<DeviceMemoryBackend> backend, Caching caching = Caching::on);
  ~CachingAllocator();  // returns every cached segment to the backend
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least nbytes for use on `stream` (a 0-byte request still
  // gets a distinct pointer). Throws ember::Error when memory runs out.
  void* allocate(size_t nbytes, StreamHandle stream);
  // Gives a block back; it becomes reusable on its stream, or once every
  // stream it was recorded on has passed this point.
  void free(void* ptr);
  // Marks ptr as in use by `stream` (besides its owning stream).
  void record_stream(void* ptr, StreamHandle stream);
  // Waits for pending events, then returns every free whole segment to the backend.
  void empty_cache();

  AllocatorStats stats() const;
  void reset_peak_stats();
  bool caching() const { return caching_; }
  // Rounded size and pool choice (exposed for tests and docs).
  static size_t round_size(size_t nbytes);
  static size_t segment_size(size_t rounded);

  DeviceMemoryBackend& backend() { return *backend_; }

 private:
  struct Block;
  struct Pool;
  struct BlockOrder {
    bool operator()(const Block* a, const Block* b) const;
  };

  Block* find_free_block(Pool& pool, StreamHandle stream, size_t size);
  // A fresh backend allocation of seg bytes as one block (retried once after releasing the cache).
  Block* new_segment(Pool& pool, StreamHandle stream, size_t seg, size_t requested);
  void split(Block* block, size_t size);
  void release_to_pool(Block* block);  // merges with free neighbours, inserts into its pool
  void process_events();
  void release_cached_segments();
  [[noreturn]] void fail_oom(size_t nbytes, size_t rounded, size_t segment);
  Pool& pool_for(size_t rounded);

  std::unique_ptr<DeviceMemoryBackend> backend_;
  const bool caching_;
  mutable std::mutex mutex_;
  std::unique_ptr<Pool> small_;
  std::unique_ptr<Pool> large_;
  std::unordered_map<void*, Block*> allocated_;
  std::deque<std::pair<EventHandle, Block*>> pending_;  // events of freed, cross-stream blocks
  std::vector<EventHandle> spare_events_;
  AllocatorStats stats_;
};

}  // namespace ember
