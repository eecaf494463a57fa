// Tests of the Chase–Lev deque: owner LIFO / thief FIFO order, growth, reuse
// of the array without growth, and a concurrent owner-vs-thieves run in which
// every item is taken exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <ember/runtime/chase_lev_deque.hpp>

namespace {

using ember::runtime::detail::ChaseLevDeque;
constexpr bool kTsan = ember::runtime::detail::kThreadSanitizer;

TEST(ChaseLevDeque, OwnerPopsLifoThiefStealsFifo) {
  ChaseLevDeque<intptr_t> dq(16);
  for (intptr_t i = 1; i <= 5; ++i) dq.push(i);
  EXPECT_EQ(dq.pop(), 5);
  EXPECT_EQ(dq.steal(), 1);
  EXPECT_EQ(dq.pop(), 4);
  EXPECT_EQ(dq.steal(), 2);
  EXPECT_EQ(dq.pop(), 3);
  EXPECT_EQ(dq.pop(), 0);
  EXPECT_EQ(dq.steal(), 0);
  EXPECT_TRUE(dq.empty_seq_cst());
}

TEST(ChaseLevDeque, GrowsAndKeepsOrder) {
  ChaseLevDeque<intptr_t> dq(16);
  for (intptr_t i = 1; i <= 1000; ++i) dq.push(i);
  EXPECT_GE(dq.capacity(), 1000);
  EXPECT_EQ(dq.size_approx(), 1000);
  for (intptr_t i = 1; i <= 500; ++i) ASSERT_EQ(dq.steal(), i);
  for (intptr_t i = 1000; i > 500; --i) ASSERT_EQ(dq.pop(), i);
  EXPECT_EQ(dq.pop(), 0);
}

TEST(ChaseLevDeque, ReusesItsArrayWhenItemsAreTakenAsFastAsPushed) {
  // push reads top only when its cached top says the array is full; the
  // re-read must find the room that pops and steals made, not grow.
  ChaseLevDeque<intptr_t> dq(16);
  for (intptr_t i = 1; i <= 10000; ++i) {
    dq.push(i);
    ASSERT_EQ(i % 2 ? dq.pop() : dq.steal(), i);
  }
  for (intptr_t i = 1; i <= 10000; ++i) {
    dq.push(i);
    dq.push(i + 1);
    ASSERT_EQ(dq.steal(), i);
    ASSERT_EQ(dq.pop(), i + 1);
  }
  EXPECT_EQ(dq.capacity(), 16);
}

TEST(ChaseLevDeque, ConcurrentStealsTakeEachItemExactlyOnce) {
  const intptr_t n = kTsan ? 20000 : 400000;
  const int thieves = 3;
  ChaseLevDeque<intptr_t> dq(16);  // small start: forces growth under contention
  std::vector<std::atomic<int>> seen(static_cast<size_t>(n + 1));
  std::atomic<intptr_t> taken{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < thieves; ++t) {
    threads.emplace_back([&] {
      while (!done.load(std::memory_order_acquire) || !dq.empty_seq_cst()) {
        if (intptr_t v = dq.steal()) {
          seen[static_cast<size_t>(v)].fetch_add(1, std::memory_order_relaxed);
          taken.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (intptr_t i = 1; i <= n; ++i) {
    dq.push(i);
    if (i % 3 == 0) {  // the owner pops too, racing the thieves for the last items
      if (intptr_t v = dq.pop()) {
        seen[static_cast<size_t>(v)].fetch_add(1, std::memory_order_relaxed);
        taken.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  while (intptr_t v = dq.pop()) {
    seen[static_cast<size_t>(v)].fetch_add(1, std::memory_order_relaxed);
    taken.fetch_add(1, std::memory_order_relaxed);
  }
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  EXPECT_EQ(taken.load(), n);
  for (intptr_t i = 1; i <= n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << "item " << i;
}

}  // namespace
