// The caching allocator's bookkeeping (policy in runtime/caching_allocator.hpp).
//
// Key invariant: a block is in exactly one state: allocated (in allocated_),
// pending (freed, waiting for events of other streams), or cached (in its
// pool's set). A cached block never has a cached neighbour: release_to_pool
// merges them, so a segment's free space is always in maximal runs.
#include <ember/runtime/caching_allocator.hpp>

#include <algorithm>
#include <sstream>

#include <ember/runtime/error.hpp>

namespace ember {

struct CachingAllocator::Block {
  size_t size = 0;       // rounded size of this piece of its segment
  size_t requested = 0;  // bytes asked for (when allocated)
  char* ptr = nullptr;
  StreamHandle stream = 0;  // owning stream
  Pool* pool = nullptr;
  Block* prev = nullptr;  // neighbours inside the same segment
  Block* next = nullptr;
  bool allocated = false;
  bool cached = false;                    // in its pool's set
  int event_count = 0;                    // outstanding events (pending state)
  std::vector<StreamHandle> stream_uses;  // other streams that used it (record_stream)
};

bool CachingAllocator::BlockOrder::operator()(const Block* a, const Block* b) const {
  if (a->stream != b->stream) return a->stream < b->stream;
  if (a->size != b->size) return a->size < b->size;
  return std::less<const char*>()(a->ptr, b->ptr);
}

struct CachingAllocator::Pool {
  std::set<Block*, BlockOrder> blocks;
  bool small = false;
};

namespace {

std::string human_bytes(size_t n) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(2);
  const double v = static_cast<double>(n);
  if (n >= (size_t{1} << 30)) os << v / static_cast<double>(size_t{1} << 30) << " GiB";
  else if (n >= (size_t{1} << 20)) os << v / static_cast<double>(size_t{1} << 20) << " MiB";
  else if (n >= 1024) os << v / 1024.0 << " KiB";
  else os << n << " bytes";
  return os.str();
}

}  // namespace

std::string to_string(const AllocatorStats& s) {
  std::ostringstream os;
  os << "allocated " << human_bytes(s.allocated_bytes) << " in " << s.num_allocations << " blocks, reserved "
     << human_bytes(s.reserved_bytes) << ", peak allocated " << human_bytes(s.peak_allocated_bytes)
     << ", peak reserved " << human_bytes(s.peak_reserved_bytes) << ", " << s.num_device_mallocs
     << " device mallocs, " << s.num_device_frees << " device frees, " << s.num_cached_blocks << " cached blocks";
  return os.str();
}

CachingAllocator::CachingAllocator(std::unique_ptr<DeviceMemoryBackend> backend, Caching caching)
    : backend_(std::move(backend)),
      caching_(caching == Caching::on),
      small_(std::make_unique<Pool>()),
      large_(std::make_unique<Pool>()) {
  EMBER_ASSERT(backend_ != nullptr);
  small_->small = true;
}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [event, block] : pending_) {
    backend_->destroy_event(event);
    if (--block->event_count == 0) release_to_pool(block);
  }
  pending_.clear();
  release_cached_segments();
  for (EventHandle e : spare_events_) backend_->destroy_event(e);
  // Blocks still allocated belong to segments that cannot be returned safely: they leak.
  for (auto& [ptr, block] : allocated_) delete block;
  for (Pool* pool : {small_.get(), large_.get()})
    for (Block* b : pool->blocks) delete b;
}

size_t CachingAllocator::round_size(size_t nbytes) {
  if (nbytes < kRound) return kRound;
  return (nbytes + kRound - 1) / kRound * kRound;
}

size_t CachingAllocator::segment_size(size_t rounded) {
  if (rounded <= kSmallSize) return kSmallSegment;
  if (rounded < kMinLargeAlloc) return kLargeSegment;
  return (rounded + kRoundLarge - 1) / kRoundLarge * kRoundLarge;
}

CachingAllocator::Pool& CachingAllocator::pool_for(size_t rounded) {
  return rounded <= kSmallSize ? *small_ : *large_;
}

void* CachingAllocator::allocate(size_t nbytes, StreamHandle stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  process_events();
  Block* block = nullptr;
  if (caching_) {
    const size_t rounded = round_size(nbytes);
    Pool& pool = pool_for(rounded);
    block = find_free_block(pool, stream, rounded);
    if (block == nullptr) block = new_segment(pool, stream, segment_size(rounded), nbytes);
    split(block, rounded);
  } else {  // one allocation per request (a 0-byte request still gets a distinct pointer)
    const size_t exact = std::max<size_t>(1, (nbytes + kUncachedRound - 1) / kUncachedRound) * kUncachedRound;
    block = new_segment(pool_for(exact), stream, exact, nbytes);
  }
  block->allocated = true;
  block->requested = nbytes;
  allocated_.emplace(block->ptr, block);
  stats_.allocated_bytes += block->size;
  stats_.requested_bytes += nbytes;
  stats_.num_allocations += 1;
  stats_.peak_allocated_bytes = std::max(stats_.peak_allocated_bytes, stats_.allocated_bytes);
  return block->ptr;
}

CachingAllocator::Block* CachingAllocator::find_free_block(Pool& pool, StreamHandle stream, size_t size) {
  Block key;
  key.stream = stream;
  key.size = size;
  auto it = pool.blocks.lower_bound(&key);
  if (it == pool.blocks.end() || (*it)->stream != stream) return nullptr;
  Block* block = *it;
  pool.blocks.erase(it);
  block->cached = false;
  stats_.num_cached_blocks -= 1;
  return block;
}

CachingAllocator::Block* CachingAllocator::new_segment(Pool& pool, StreamHandle stream, size_t seg,
                                                       size_t requested) {
  void* p = backend_->malloc(seg);
  if (p == nullptr) {
    // Out of memory: give the cache back to the device and try once more.
    stats_.num_alloc_retries += 1;
    release_cached_segments();
    p = backend_->malloc(seg);
  }
  if (p == nullptr) fail_oom(requested, caching_ ? round_size(requested) : seg, seg);
  stats_.num_device_mallocs += 1;
  stats_.reserved_bytes += seg;
  stats_.peak_reserved_bytes = std::max(stats_.peak_reserved_bytes, stats_.reserved_bytes);
  Block* block = new Block;
  block->size = seg;
  block->ptr = static_cast<char*>(p);
  block->stream = stream;
  block->pool = &pool;
  return block;
}

void CachingAllocator::fail_oom(size_t nbytes, size_t rounded, size_t segment) {
  stats_.num_ooms += 1;
  EMBER_FAIL("out of memory on ", backend_->name(), ": tried to allocate ", human_bytes(nbytes), " (", nbytes,
             " bytes requested, rounded to ", rounded, ", needing a new segment of ", human_bytes(segment),
             ") after releasing the cache; ", to_string(stats_));
}

// Cuts block down to `size`, returning the rest to the pool when it is worth keeping.
void CachingAllocator::split(Block* block, size_t size) {
  const size_t rest = block->size - size;
  const bool worth = block->pool->small ? rest >= kRound : rest > kSmallSize;
  if (!worth) return;
  Block* tail = new Block;
  tail->size = rest;
  tail->ptr = block->ptr + size;
  tail->stream = block->stream;
  tail->pool = block->pool;
  tail->prev = block;
  tail->next = block->next;
  if (block->next != nullptr) block->next->prev = tail;
  block->next = tail;
  block->size = size;
  // The tail's next neighbour is allocated or pending (cached blocks have no
  // cached neighbours, and block was cached or fresh): insert without merging.
  tail->cached = true;
  tail->pool->blocks.insert(tail);
  stats_.num_cached_blocks += 1;
}

void CachingAllocator::release_to_pool(Block* block) {
  block->allocated = false;
  if (!caching_) {  // straight back to the backend
    backend_->free(block->ptr);
    stats_.reserved_bytes -= block->size;
    stats_.num_device_frees += 1;
    delete block;
    return;
  }
  Pool& pool = *block->pool;
  if (Block* prev = block->prev; prev != nullptr && prev->cached) {
    pool.blocks.erase(prev);
    stats_.num_cached_blocks -= 1;
    prev->size += block->size;
    prev->next = block->next;
    if (block->next != nullptr) block->next->prev = prev;
    delete block;
    block = prev;
  }
  if (Block* next = block->next; next != nullptr && next->cached) {
    pool.blocks.erase(next);
    stats_.num_cached_blocks -= 1;
    block->size += next->size;
    block->next = next->next;
    if (next->next != nullptr) next->next->prev = block;
    delete next;
  }
  block->cached = true;
  pool.blocks.insert(block);
  stats_.num_cached_blocks += 1;
}

void CachingAllocator::free(void* ptr) {
  if (ptr == nullptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = allocated_.find(ptr);
  EMBER_CHECK(it != allocated_.end(), "caching allocator (", backend_->name(), "): free of pointer ", ptr,
              " that it did not allocate (or freed twice)");
  Block* block = it->second;
  allocated_.erase(it);
  stats_.allocated_bytes -= block->size;
  stats_.requested_bytes -= block->requested;
  stats_.num_allocations -= 1;
  block->allocated = false;
  if (block->stream_uses.empty()) {
    release_to_pool(block);
    return;
  }
  // Used on other streams: reusable once each of them reaches this point.
  for (StreamHandle s : block->stream_uses) {
    EventHandle event;
    if (spare_events_.empty()) {
      event = backend_->create_event();
    } else {
      event = spare_events_.back();
      spare_events_.pop_back();
    }
    backend_->record_event(event, s);
    pending_.emplace_back(event, block);
    block->event_count += 1;
  }
  block->stream_uses.clear();
  stats_.num_pending_event_blocks += 1;
}

void CachingAllocator::record_stream(void* ptr, StreamHandle stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = allocated_.find(ptr);
  EMBER_CHECK(it != allocated_.end(), "record_stream: pointer ", ptr, " was not allocated by the caching allocator of ",
              backend_->name(), " (pass the storage's base pointer)");
  Block* block = it->second;
  if (stream == block->stream) return;
  if (std::find(block->stream_uses.begin(), block->stream_uses.end(), stream) == block->stream_uses.end())
    block->stream_uses.push_back(stream);
}

void CachingAllocator::process_events() {
  std::deque<std::pair<EventHandle, Block*>> still;
  for (auto& [event, block] : pending_) {
    if (!backend_->query_event(event)) {
      still.emplace_back(event, block);
      continue;
    }
    spare_events_.push_back(event);
    if (--block->event_count == 0) {
      stats_.num_pending_event_blocks -= 1;
      release_to_pool(block);
    }
  }
  pending_.swap(still);
}

// Waits for every pending block, then frees each cached whole segment.
void CachingAllocator::release_cached_segments() {
  for (auto& [event, block] : pending_) backend_->synchronize_event(event);
  process_events();
  for (Pool* pool : {small_.get(), large_.get()}) {
    for (auto it = pool->blocks.begin(); it != pool->blocks.end();) {
      Block* b = *it;
      if (b->prev != nullptr || b->next != nullptr) {
        ++it;
        continue;
      }
      backend_->free(b->ptr);
      stats_.reserved_bytes -= b->size;
      stats_.num_device_frees += 1;
      stats_.num_cached_blocks -= 1;
      it = pool->blocks.erase(it);
      delete b;
    }
  }
  for (EventHandle e : spare_events_) backend_->destroy_event(e);
  spare_events_.clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached_segments();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

}  // namespace ember
