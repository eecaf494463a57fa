// ChaseLevDeque: the per-worker work-stealing deque of ember's executor.
//
// Lê, Pop, Cohen, Zappa Nardelli, "Correct and Efficient Work-Stealing for
// Weak Memory Models" (PPoPP 2013), with a growable circular array. The owner
// thread pushes and pops at the bottom (LIFO, cache-warm); any thread steals
// from the top (FIFO, oldest and usually largest work first).
//
// Key invariants:
//  - push/pop are called by one owner at a time (ownership may move between
//    threads only through a release/acquire hand-off, see Executor's caller
//    slot); steal may be called by any thread concurrently.
//  - push overwrites only slots below top_cache_ + capacity, and top_cache_ was
//    read with acquire, so every thief that read such a slot is done with it.
//  - A thief may still be reading an array the owner has just outgrown, so old
//    arrays are retired, not freed, until the deque itself is destroyed (the
//    total retired memory is bounded by the final capacity).
//  - Under ThreadSanitizer every operation is sequentially consistent and the
//    standalone fences are dropped: TSan does not model atomic_thread_fence,
//    while an all-seq_cst deque is correct by construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define EMBER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EMBER_TSAN 1
#endif
#endif

namespace ember::runtime::detail {

#ifdef EMBER_TSAN
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

// The order to use for an operation that the paper writes with `order`:
// the same order normally, seq_cst under TSan.
constexpr std::memory_order order_or_seq_cst(std::memory_order order) {
  return kThreadSanitizer ? std::memory_order_seq_cst : order;
}

// A full store-load barrier. Under TSan the surrounding operations are
// seq_cst instead, which gives the same ordering without a standalone fence.
// On x86-64 a locked RMW on the stack is the same full barrier as mfence and
// several times cheaper (the Linux kernel's smp_mb does the same).
inline void store_load_fence() noexcept {
#if defined(EMBER_TSAN)
#elif defined(__x86_64__) && defined(__GNUC__)
  asm volatile("lock orq $0, (%%rsp)" ::: "memory", "cc");
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

template <class T>
class ChaseLevDeque {
  static_assert(std::is_trivially_copyable_v<T>, "elements are copied with atomics");

 public:
  explicit ChaseLevDeque(int64_t initial_capacity = 256) {
    int64_t cap = 16;
    while (cap < initial_capacity) cap *= 2;
    arrays_.push_back(std::make_unique<Array>(cap));
    array_.store(arrays_.back().get(), std::memory_order_relaxed);
  }
  ChaseLevDeque(const ChaseLevDeque&) = delete;
  ChaseLevDeque& operator=(const ChaseLevDeque&) = delete;

  // Owner only.
  void push(T item) {
    constexpr auto relaxed = std::memory_order_relaxed;
    const int64_t b = bottom_.load(relaxed);
    Array* a = array_.load(relaxed);
    // top only grows, so a stale top overestimates the size: re-read the
    // (thief-written, often remote) top only when the array looks full.
    if (b - top_cache_ > a->capacity - 1) {
      top_cache_ = top_.load(order_or_seq_cst(std::memory_order_acquire));
      if (b - top_cache_ > a->capacity - 1) a = grow(a, b, top_cache_);
    }
    a->put(b, item);
#ifndef EMBER_TSAN
    std::atomic_thread_fence(std::memory_order_release);
#endif
    bottom_.store(b + 1, order_or_seq_cst(relaxed));
  }

  // Owner only. Returns T{} when empty.
  T pop() {
    constexpr auto relaxed = std::memory_order_relaxed;
    // Fast exit without the fence: top only grows, so a stale top can only
    // make an empty deque look empty.
    if (bottom_.load(relaxed) <= top_.load(relaxed)) return T{};
    const int64_t b = bottom_.load(relaxed) - 1;
    Array* a = array_.load(relaxed);
    bottom_.store(b, order_or_seq_cst(relaxed));
    store_load_fence();
    int64_t t = top_.load(order_or_seq_cst(relaxed));
    T item{};
    if (t <= b) {
      item = a->get(b);
      if (t == b) {  // last element: race the thieves for it
        if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, relaxed)) item = T{};
        bottom_.store(b + 1, order_or_seq_cst(relaxed));
      }
    } else {
      bottom_.store(b + 1, order_or_seq_cst(relaxed));
    }
    return item;
  }

  // Any thread. Returns T{} when empty or when it lost a race (callers retry).
  T steal() {
    int64_t t = top_.load(order_or_seq_cst(std::memory_order_acquire));
    store_load_fence();
    const int64_t b = bottom_.load(order_or_seq_cst(std::memory_order_acquire));
    if (t >= b) return T{};
    Array* a = array_.load(order_or_seq_cst(std::memory_order_acquire));
    T item = a->get(t);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed))
      return T{};
    return item;
  }

  // Sequentially consistent emptiness check, for the parking protocol's re-check.
  bool empty_seq_cst() const noexcept {
    const int64_t b = bottom_.load(std::memory_order_seq_cst);
    const int64_t t = top_.load(std::memory_order_seq_cst);
    return b <= t;
  }
  int64_t size_approx() const noexcept {
    const int64_t n = bottom_.load(std::memory_order_relaxed) - top_.load(std::memory_order_relaxed);
    return n > 0 ? n : 0;
  }
  int64_t capacity() const noexcept { return array_.load(std::memory_order_relaxed)->capacity; }

 private:
  struct Array {
    explicit Array(int64_t cap)
        : capacity(cap), mask(cap - 1), slots(std::make_unique<std::atomic<T>[]>(static_cast<size_t>(cap))) {}
    void put(int64_t i, T x) noexcept { slots[i & mask].store(x, std::memory_order_relaxed); }
    T get(int64_t i) const noexcept { return slots[i & mask].load(std::memory_order_relaxed); }
    const int64_t capacity;
    const int64_t mask;
    std::unique_ptr<std::atomic<T>[]> slots;
  };

  // Owner only: copy the live range [t, b) into an array twice as large.
  Array* grow(Array* old, int64_t b, int64_t t) {
    auto bigger = std::make_unique<Array>(old->capacity * 2);
    for (int64_t i = t; i < b; ++i) bigger->put(i, old->get(i));
    Array* raw = bigger.get();
    arrays_.push_back(std::move(bigger));  // the old array stays alive: retired
    array_.store(raw, order_or_seq_cst(std::memory_order_release));
    return raw;
  }

  alignas(64) std::atomic<int64_t> top_{0};
  alignas(64) std::atomic<int64_t> bottom_{0};
  int64_t top_cache_ = 0;  // owner only: a top seen by push (acquire), <= top_
  alignas(64) std::atomic<Array*> array_{nullptr};
  std::vector<std::unique_ptr<Array>> arrays_;  // owner only: current + retired
};

}  // namespace ember::runtime::detail
