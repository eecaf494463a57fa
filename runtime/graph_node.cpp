// NodeArena and ByteArena memory (see graph_node.hpp).
//
// Chunks of 2 MiB and more are mapped 2 MiB-aligned and advised for
// transparent huge pages (Linux), so first touch costs one fault per 2 MiB
// rather than one per 4 KiB page; smaller chunks come from operator new.
//
// Note [chunk cache]: the kernel still zeroes every new page, which costs
// about as much as writing the nodes. So chunks of 64 KiB and more that a
// graph frees go to a process-wide cache, up to kCacheBytes in all, and the
// next graph takes them back already mapped and faulted in: building and
// dropping graphs in a loop stops paying for fresh memory. The cache holds at
// most kCacheBytes (never returned to the system while the process runs).
#include <ember/runtime/graph_node.hpp>

#include <cstdint>
#include <mutex>
#include <vector>

#include <ember/runtime/error.hpp>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ember::runtime::detail {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kCacheMinBytes = size_t{64} << 10;
constexpr size_t kCacheBytes = size_t{64} << 20;

bool use_mapping(size_t bytes) noexcept {
#if defined(__linux__)
  return bytes >= kHugePage;
#else
  (void)bytes;
  return false;
#endif
}

void* allocate_chunk_memory(size_t bytes) {
#if defined(__linux__)
  if (use_mapping(bytes)) {
    // Over-map by one huge page, then trim both ends to a 2 MiB boundary.
    const size_t span = bytes + kHugePage;
    void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) throw std::bad_alloc();
    const auto base = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (base + kHugePage - 1) & ~(kHugePage - 1);
    if (aligned > base) ::munmap(raw, aligned - base);
    const uintptr_t tail = base + span - (aligned + bytes);
    if (tail > 0) ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // a hint: failure is fine
    return reinterpret_cast<void*>(aligned);
  }
#endif
  return ::operator new(bytes, std::align_val_t{64});
}

void free_chunk_memory(void* p, size_t bytes) noexcept {
#if defined(__linux__)
  if (use_mapping(bytes)) {
    ::munmap(p, bytes);
    return;
  }
#endif
  ::operator delete(p, std::align_val_t{64});
}

// Note [chunk cache]: free chunks by size, one list per chunk index.
class ChunkCache {
 public:
  static ChunkCache& instance() {
    static auto* cache = new ChunkCache();  // never destroyed: graphs may die during exit
    return *cache;
  }
  void* take(size_t bytes) {
    std::lock_guard lock(mu_);
    for (Entry& e : entries_) {
      if (e.bytes == bytes && !e.chunks.empty()) {
        void* p = e.chunks.back();
        e.chunks.pop_back();
        cached_ -= bytes;
        return p;
      }
    }
    return nullptr;
  }
  bool put(void* p, size_t bytes) noexcept {
    std::lock_guard lock(mu_);
    if (cached_ + bytes > kCacheBytes) return false;
    try {
      Entry* entry = nullptr;
      for (Entry& e : entries_)
        if (e.bytes == bytes) entry = &e;
      if (!entry) entry = &entries_.emplace_back(Entry{bytes, {}});
      entry->chunks.push_back(p);
    } catch (...) {
      return false;
    }
    cached_ += bytes;
    return true;
  }

 private:
  struct Entry {
    size_t bytes;
    std::vector<void*> chunks;
  };
  std::mutex mu_;
  std::vector<Entry> entries_;
  size_t cached_ = 0;
};

}  // namespace

NodeArena::~NodeArena() {
  for (size_t k = 0; k < kNumChunks; ++k) {
    if (!chunks_[k]) continue;
    const size_t bytes = chunk_nodes(k) * sizeof(GraphNode);
    if (bytes >= kCacheMinBytes && ChunkCache::instance().put(chunks_[k], bytes)) continue;
    free_chunk_memory(chunks_[k], bytes);
  }
}

void NodeArena::allocate_chunk(size_t k) {
  EMBER_CHECK(k < kNumChunks, "TaskGraph: more than ", kMaxNodes, " tasks");
  const size_t bytes = chunk_nodes(k) * sizeof(GraphNode);
  void* p = bytes >= kCacheMinBytes ? ChunkCache::instance().take(bytes) : nullptr;
  chunks_[k] = static_cast<GraphNode*>(p ? p : allocate_chunk_memory(bytes));
}

void* ByteArena::allocate(size_t bytes, size_t align) {
  EMBER_ASSERT(align <= 64 && (align & (align - 1)) == 0);
  size_t offset = (used_ + align - 1) & ~(align - 1);
  if (blocks_.empty() || offset + bytes > block_bytes_) {
    // Blocks double from 4 KiB to 256 KiB; a larger object gets its own block.
    const size_t next = blocks_.empty() ? 4096 : std::min<size_t>(block_bytes_ * 2, 256 * 1024);
    block_bytes_ = std::max(next, bytes);
    blocks_.emplace_back(static_cast<std::byte*>(::operator new[](block_bytes_, std::align_val_t{64})));
    offset = 0;
  }
  used_ = offset + bytes;
  return blocks_.back().get() + offset;
}

void ByteArena::clear() noexcept {
  blocks_.clear();
  used_ = 0;
  block_bytes_ = 0;
}

}  // namespace ember::runtime::detail
