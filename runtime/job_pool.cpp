// Job memory for spawned tasks (TaskGroup::spawn, Executor::async, graph
// source ranges): allocate_job_memory / free_job_memory from executor.hpp.
//
// Note [job pool]: jobs are allocated from per-thread pools of 64/128/256-byte
// blocks carved from 64 KiB slabs. The allocating thread owns the block: a
// free on the owner pushes onto its private list. A free on another thread
// (a thief ran the job) joins that thread's pending batch for the owner, and
// a full batch (or one for a different owner) goes onto the owner's lock-free
// `remote` stack with one CAS for the whole chain; the owner takes the stack
// whole (one exchange, so no ABA) when its private list runs dry. Batching
// keeps a thief from writing the owner's `remote` line once per task; at most
// kRemoteBatch - 1 blocks per size class wait in a thread's batch.
// Pools outlive their threads: an exiting thread flushes its batches and
// leaves its pool to the next new thread, so blocks in flight always have a
// live owner.
#include <ember/runtime/executor.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

namespace ember::runtime::detail {
namespace {

constexpr size_t kNumJobClasses = 3;
constexpr size_t kJobClassBytes[kNumJobClasses] = {64, 128, 256};
constexpr size_t kBigJob = kNumJobClasses;
constexpr size_t kSlabBytes = 64 * 1024;
constexpr int kRemoteBatch = 32;

struct FreeBlock {
  FreeBlock* next;
};
struct JobPool {
  FreeBlock* local[kNumJobClasses] = {};
  alignas(64) std::atomic<FreeBlock*> remote[kNumJobClasses] = {};
  std::vector<std::unique_ptr<std::byte[]>> slabs;
};
struct alignas(16) BlockHeader {
  JobPool* owner;
  size_t size_class;
};

// Blocks freed on this thread for one other pool, not yet handed back.
struct RemoteBatch {
  JobPool* owner = nullptr;
  FreeBlock* head = nullptr;
  FreeBlock* tail = nullptr;
  int count = 0;

  void flush(size_t size_class) noexcept {
    if (count == 0) return;
    std::atomic<FreeBlock*>& stack = owner->remote[size_class];
    FreeBlock* top = stack.load(std::memory_order_relaxed);
    do {
      tail->next = top;
    } while (!stack.compare_exchange_weak(top, head, std::memory_order_release, std::memory_order_relaxed));
    owner = nullptr;
    head = tail = nullptr;
    count = 0;
  }
  void add(JobPool* pool, FreeBlock* b, size_t size_class) noexcept {
    if (owner != pool) {
      flush(size_class);
      owner = pool;
      tail = b;
    }
    b->next = head;
    head = b;
    if (++count == kRemoteBatch) flush(size_class);
  }
};

std::mutex& orphan_pools_mu() {
  static std::mutex mu;
  return mu;
}
std::vector<JobPool*>& orphan_pools() {
  static auto* pools = new std::vector<JobPool*>();  // never destroyed: see the note
  return *pools;
}

struct ThreadJobPool {
  JobPool* pool = nullptr;
  RemoteBatch batches[kNumJobClasses];
  ~ThreadJobPool() {
    for (size_t c = 0; c < kNumJobClasses; ++c) batches[c].flush(c);
    if (!pool) return;
    std::lock_guard lock(orphan_pools_mu());
    orphan_pools().push_back(pool);
  }
  JobPool& get() {
    if (pool) return *pool;
    std::lock_guard lock(orphan_pools_mu());
    auto& orphans = orphan_pools();
    if (orphans.empty()) {
      pool = new JobPool();
    } else {
      pool = orphans.back();
      orphans.pop_back();
    }
    return *pool;
  }
};
thread_local ThreadJobPool tl_job_pool;

FreeBlock* carve_slab(JobPool& pool, size_t size_class) {
  const size_t block = kJobClassBytes[size_class];
  pool.slabs.push_back(std::make_unique<std::byte[]>(kSlabBytes));
  std::byte* base = pool.slabs.back().get();
  FreeBlock* head = nullptr;
  for (size_t i = kSlabBytes / block; i-- > 0;) {  // address order: a warm, linear start
    auto* b = reinterpret_cast<FreeBlock*>(base + i * block);
    b->next = head;
    head = b;
  }
  return head;
}

}  // namespace

void* allocate_job_memory(size_t bytes) {
  const size_t total = bytes + sizeof(BlockHeader);
  size_t size_class = 0;
  while (size_class < kNumJobClasses && total > kJobClassBytes[size_class]) ++size_class;
  if (size_class == kBigJob) {
    auto* h = static_cast<BlockHeader*>(::operator new(total));
    *h = BlockHeader{nullptr, kBigJob};
    return h + 1;
  }
  JobPool& pool = tl_job_pool.get();
  FreeBlock* b = pool.local[size_class];
  if (!b) b = pool.remote[size_class].exchange(nullptr, std::memory_order_acquire);
  if (!b) b = carve_slab(pool, size_class);
  pool.local[size_class] = b->next;
  auto* h = reinterpret_cast<BlockHeader*>(b);
  *h = BlockHeader{&pool, size_class};
  return h + 1;
}

void free_job_memory(void* p) noexcept {
  BlockHeader* h = static_cast<BlockHeader*>(p) - 1;
  JobPool* owner = h->owner;
  const size_t size_class = h->size_class;
  if (size_class == kBigJob) {
    ::operator delete(h);
    return;
  }
  auto* b = reinterpret_cast<FreeBlock*>(h);
  ThreadJobPool& mine = tl_job_pool;
  if (owner == mine.pool) {
    b->next = owner->local[size_class];
    owner->local[size_class] = b;
    return;
  }
  mine.batches[size_class].add(owner, b, size_class);
}

}  // namespace ember::runtime::detail
