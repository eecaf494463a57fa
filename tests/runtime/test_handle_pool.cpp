// HandlePool (runtime/handle_pool.hpp) with a fake factory: one handle per
// thread and device, handles given back when a thread exits and lent again,
// concurrent threads get distinct handles, a failing factory lends nothing.
// Runs in every build (no GPU needed); labelled concurrency, so TSan runs it.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ember/runtime/handle_pool.hpp>

namespace {

using ember::HandlePool;

// A factory that numbers its handles: device * 1000 + (how many it has made).
struct Counter {
  std::atomic<int> made{0};
  std::atomic<bool> fail{false};
  HandlePool<int>::Factory factory() {
    return [this](int device) {
      if (fail.load()) throw std::runtime_error("cannot create a handle");
      return device * 1000 + made.fetch_add(1);
    };
  }
};

// Pools outlive every thread that used them (the library's live as long as the process): the tests
// keep theirs until the process exits.
template <class F>
HandlePool<int>& kept_pool(F factory) {
  static std::vector<std::unique_ptr<HandlePool<int>>> pools;
  pools.push_back(std::make_unique<HandlePool<int>>(std::move(factory)));
  return *pools.back();
}

int acquire_on_new_thread(HandlePool<int>& pool, int device) {
  int h = -1;
  std::thread t([&] { h = pool.acquire(device); });
  t.join();
  return h;
}

TEST(HandlePool, OneHandlePerThreadAndDevice) {
  Counter c;
  auto& pool = kept_pool(c.factory());
  int a = -1, a2 = -1, b = -1;
  std::thread t([&] {
    a = pool.acquire(0);
    a2 = pool.acquire(0);
    b = pool.acquire(3);
  });
  t.join();
  EXPECT_EQ(a, a2);
  EXPECT_EQ(a / 1000, 0);
  EXPECT_EQ(b / 1000, 3);
  EXPECT_NE(a, b);
  EXPECT_EQ(pool.created(), 2u);
  // The thread has exited: both handles are back, one per device.
  EXPECT_EQ(pool.idle(0), 1u);
  EXPECT_EQ(pool.idle(3), 1u);
  EXPECT_EQ(pool.idle(1), 0u);
}

TEST(HandlePool, ExitedThreadsHandlesAreLentAgain) {
  Counter c;
  auto& pool = kept_pool(c.factory());
  const int first = acquire_on_new_thread(pool, 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(acquire_on_new_thread(pool, 0), first) << "thread " << i;
  EXPECT_EQ(pool.created(), 1u);
  EXPECT_EQ(c.made.load(), 1);
  EXPECT_EQ(pool.idle(0), 1u);
}

TEST(HandlePool, ConcurrentThreadsGetDistinctHandles) {
  Counter c;
  auto& pool = kept_pool(c.factory());
  constexpr int kThreads = 6;
  std::vector<int> got(kThreads, -1);
  std::barrier all_hold(kThreads);  // every thread holds its handle before any exits
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      got[static_cast<size_t>(i)] = pool.acquire(1);
      all_hold.arrive_and_wait();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<int>(got.begin(), got.end()).size(), static_cast<size_t>(kThreads));
  EXPECT_EQ(pool.created(), static_cast<size_t>(kThreads));
  EXPECT_EQ(pool.idle(1), static_cast<size_t>(kThreads));
  // A later wave of threads creates nothing new.
  threads.clear();
  for (int i = 0; i < kThreads; ++i) threads.emplace_back([&] { pool.acquire(1); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(pool.created(), static_cast<size_t>(kThreads));
  EXPECT_EQ(pool.idle(1), static_cast<size_t>(kThreads));
}

TEST(HandlePool, TwoPoolsOfOneTypeKeepTheirOwnHandles) {
  Counter c1, c2;
  auto& p1 = kept_pool(c1.factory());
  auto& p2 = kept_pool([](int device) { return -1 - device; });
  int h1 = 0, h2 = 0;
  std::thread t([&] {
    h1 = p1.acquire(0);
    h2 = p2.acquire(0);
  });
  t.join();
  EXPECT_EQ(h1, 0);
  EXPECT_EQ(h2, -1);
  EXPECT_EQ(p1.idle(0), 1u);
  EXPECT_EQ(p2.idle(0), 1u);
}

TEST(HandlePool, FailingFactoryLendsNothingAndIsRetried) {
  Counter c;
  auto& pool = kept_pool(c.factory());
  c.fail = true;
  std::thread t([&] {
    EXPECT_THROW(pool.acquire(0), std::runtime_error);
    EXPECT_EQ(pool.created(), 0u);
    c.fail = false;
    EXPECT_EQ(pool.acquire(0), 0);  // tried again, and this time made
    EXPECT_EQ(pool.created(), 1u);
  });
  t.join();
  EXPECT_EQ(pool.idle(0), 1u);  // only the handle that was made comes back
}

}  // namespace
