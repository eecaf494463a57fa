// GraphNode and NodeArena: how a TaskGraph stores its tasks.
//
// A graph run touches, per task, the task's own node (its callable and its
// successor range) and each successor's join counter. All of that sits in one
// 64-byte cache line per task: the callable is stored inline when it fits in
// 16 bytes (a lambda capturing two references or pointers), else in the
// graph's byte arena with a pointer inline; successor lists live in one
// contiguous array per graph (TaskGraph::successors_), not in the node.
// Nodes live in a NodeArena of geometrically growing chunks: addresses never
// move, node i is found with a few bit operations, and large chunks are
// 2 MiB-aligned and marked for transparent huge pages, so building a graph of
// a million tasks takes a few dozen page faults instead of sixteen thousand.
//
// Invariant (Note [join reset]): between runs, every node with more than one
// predecessor has join == num_predecessors. Compiling the graph sets it; a run
// resets each such node's join as the node starts, after its last predecessor
// decremented it and before the run can end. Nodes with one predecessor never
// touch join: they are ready as soon as that predecessor finishes.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include <ember/runtime/executor.hpp>

namespace ember::runtime::detail {

// One task of a graph; also the Job pushed to the deques when it is ready.
// Job::batch_key is the owning TaskGraph (Note [graph completions] in graph_run.cpp).
struct alignas(64) GraphNode : Job {
  static constexpr size_t kInlineBytes = 16;

  std::atomic<int32_t> join{0};  // predecessors still to finish in this run
  int32_t num_predecessors = 0;
  uint32_t first_successor = 0;  // index into the graph's successor array
  uint32_t num_successors = 0;
  void (*invoke)(void* storage) = nullptr;  // null: a placeholder
  alignas(8) unsigned char storage[kInlineBytes];

  bool has_work() const noexcept { return invoke != nullptr; }
  void call() { invoke(storage); }
};
static_assert(sizeof(GraphNode) == 64, "a graph node is one cache line");

// Job::exec of every graph node (graph_run.cpp).
void execute_graph_node(Job* job, Executor& ex);

template <class F>
inline constexpr bool kFitsInline = sizeof(F) <= GraphNode::kInlineBytes && alignof(F) <= 8;

template <class F>
void invoke_inline(void* storage) {
  (*std::launder(static_cast<F*>(storage)))();
}
template <class F>
void invoke_boxed(void* storage) {
  (**std::launder(static_cast<F**>(storage)))();
}
template <class F>
void destroy_object(void* p) noexcept {
  std::launder(static_cast<F*>(p))->~F();
}

// Stable-address node storage. Chunk k holds 64 << k nodes, so node i is in
// chunk bit_width(i + 64) - 7. Memory is reused by clear() and freed by the
// destructor; nodes are trivially destructible.
class NodeArena {
 public:
  NodeArena() = default;
  ~NodeArena();
  NodeArena(const NodeArena&) = delete;
  NodeArena& operator=(const NodeArena&) = delete;

  // A default-initialised node at index size(), then size() grows by one.
  GraphNode& emplace_back() {
    const auto [k, offset] = locate(size_);
    if (!chunks_[k]) allocate_chunk(k);
    // Nodes are written in address order: ask for the line a few nodes ahead
    // now, so building a graph larger than the caches does not wait for each
    // line in turn.
    if (offset + kPrefetchAhead < chunk_nodes(k)) __builtin_prefetch(chunks_[k] + offset + kPrefetchAhead, 1);
    GraphNode* node = ::new (chunks_[k] + offset) GraphNode();
    ++size_;
    return *node;
  }
  void pop_back() noexcept { --size_; }
  GraphNode& operator[](size_t i) noexcept {
    const auto [k, offset] = locate(i);
    return chunks_[k][offset];
  }
  const GraphNode& operator[](size_t i) const noexcept {
    const auto [k, offset] = locate(i);
    return chunks_[k][offset];
  }
  size_t size() const noexcept { return size_; }
  void clear() noexcept { size_ = 0; }  // keeps the chunks for reuse

  // Calls f(node) for nodes [0, size()) in index order, chunk by chunk.
  template <class F>
  void for_each(F&& f) {
    size_t left = size_;
    for (size_t k = 0; left > 0; ++k) {
      const size_t n = std::min(left, chunk_nodes(k));
      for (size_t j = 0; j < n; ++j) f(chunks_[k][j]);
      left -= n;
    }
  }

  static constexpr size_t kMaxNodes = (size_t{1} << 31) - 1;

 private:
  static constexpr size_t kFirstChunkLog2 = 6;
  static constexpr size_t kPrefetchAhead = 8;
  static constexpr size_t kNumChunks = 26;  // 64 << 25 > kMaxNodes
  static constexpr size_t chunk_nodes(size_t k) noexcept { return size_t{1} << (k + kFirstChunkLog2); }
  static std::pair<size_t, size_t> locate(size_t i) noexcept {
    const size_t j = i + chunk_nodes(0);
    const size_t k = static_cast<size_t>(std::bit_width(j)) - 1 - kFirstChunkLog2;
    return {k, j - chunk_nodes(k)};
  }
  void allocate_chunk(size_t k);

  std::array<GraphNode*, kNumChunks> chunks_{};
  size_t size_ = 0;
};

// Bump allocator for callables too large to store inline; freed all at once.
class ByteArena {
 public:
  void* allocate(size_t bytes, size_t align);
  void clear() noexcept;

 private:
  struct FreeBytes {
    void operator()(std::byte* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::vector<std::unique_ptr<std::byte[], FreeBytes>> blocks_;
  size_t used_ = 0;   // in the last block
  size_t block_bytes_ = 0;
};

}  // namespace ember::runtime::detail
