// Tests of the Executor's task API: async, TaskGroup, nested waits (fib on 1,
// 2, 4 and 8 threads), exceptions and cancellation, a many-task stress run,
// spawns from the owner and from tasks, short-lived spawning threads, idle
// parking, tracing, and the default executor.
#include <gtest/gtest.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ember/runtime/chase_lev_deque.hpp>
#include <ember/runtime/executor.hpp>

namespace {

using namespace ember::runtime;
constexpr bool kTsan = detail::kThreadSanitizer;

int64_t fib_serial(int n) { return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2); }

int64_t fib_group(Executor& ex, int n) {
  if (n < 2) return n;
  int64_t a = 0, b = 0;
  TaskGroup tg(ex);
  tg.spawn([&] { a = fib_group(ex, n - 1); });
  b = fib_group(ex, n - 2);
  tg.wait();
  return a + b;
}

int64_t fib_async(Executor& ex, int n) {
  if (n < 2) return n;
  auto fa = ex.async([&ex, n] { return fib_async(ex, n - 1); });
  const int64_t b = fib_async(ex, n - 2);
  return fa.get() + b;
}

class ExecutorThreads : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, ExecutorThreads, ::testing::Values(1, 2, 4, 8));

TEST_P(ExecutorThreads, RecursiveFibWithTaskGroupMatchesSerial) {
  Executor ex(GetParam());
  const int n = kTsan ? 16 : 22;
  EXPECT_EQ(fib_group(ex, n), fib_serial(n));
}

TEST_P(ExecutorThreads, RecursiveFibWithAsyncMatchesSerial) {
  Executor ex(GetParam());
  const int n = kTsan ? 14 : 20;
  EXPECT_EQ(fib_async(ex, n), fib_serial(n));
}

TEST_P(ExecutorThreads, EveryWorkerWaitingDoesNotDeadlock) {
  // Every task blocks in a nested wait on tasks spawned after it.
  Executor ex(GetParam());
  std::atomic<int> leaves{0};
  TaskGroup outer(ex);
  for (int i = 0; i < 16; ++i) {
    outer.spawn([&] {
      TaskGroup inner(ex);
      for (int j = 0; j < 16; ++j) inner.spawn([&] { leaves.fetch_add(1); });
      inner.wait();
    });
  }
  outer.wait();
  EXPECT_EQ(leaves.load(), 256);
}

TEST_P(ExecutorThreads, AsyncReturnsValueAndRethrows) {
  Executor ex(GetParam());
  auto f = ex.async([] { return std::string("ember"); });
  EXPECT_EQ(f.get(), "ember");
  auto g = ex.async([]() -> int { throw std::runtime_error("async boom"); });
  EXPECT_THROW(
      {
        try {
          g.get();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "async boom");
          throw;
        }
      },
      std::runtime_error);
  auto v = ex.async([] {});
  v.wait();
  EXPECT_TRUE(v.done());
}

TEST_P(ExecutorThreads, TaskGroupFirstExceptionSurfacesRestCancelledGroupReusable) {
  Executor ex(GetParam());
  TaskGroup tg(ex);
  std::atomic<int> ran{0};
  tg.spawn([] { throw std::logic_error("first"); });
  while (!tg.cancelled()) std::this_thread::yield();  // the failure is recorded
  tg.spawn([] { throw std::logic_error("second"); });  // skipped: not started yet
  for (int i = 0; i < 100; ++i) tg.spawn([&] { ran.fetch_add(1); });
  try {
    tg.wait();
    FAIL() << "wait() should rethrow";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
  EXPECT_EQ(ran.load(), 0);
  // Reusable afterwards, and so is the executor.
  for (int i = 0; i < 100; ++i) tg.spawn([&] { ran.fetch_add(1); });
  tg.wait();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(ex.async([] { return 7; }).get(), 7);
}

TEST_P(ExecutorThreads, TaskGroupCancelSkipsUnstartedTasks) {
  Executor ex(GetParam());
  TaskGroup tg(ex);
  std::atomic<int> ran{0};
  tg.cancel();
  for (int i = 0; i < 50; ++i) tg.spawn([&] { ran.fetch_add(1); });
  tg.wait();  // a cancelled group returns normally
  EXPECT_EQ(ran.load(), 0);
  EXPECT_FALSE(tg.cancelled());  // wait() resets it
  tg.spawn([&] { ran.fetch_add(1); });
  tg.wait();
  EXPECT_EQ(ran.load(), 1);
}

TEST_P(ExecutorThreads, ManyTasksStressEachRunsOnce) {
  Executor ex(GetParam());
  const int64_t outer = kTsan ? 100 : 2000;
  const int64_t inner = kTsan ? 200 : 1000;  // 2M tasks normally
  std::atomic<int64_t> sum{0};
  TaskGroup tg(ex);
  for (int64_t i = 0; i < outer; ++i) {
    tg.spawn([&, i] {
      TaskGroup sub(ex);
      for (int64_t j = 0; j < inner; ++j) sub.spawn([&, i, j] { sum.fetch_add(i * inner + j, std::memory_order_relaxed); });
      sub.wait();
    });
  }
  tg.wait();
  const int64_t n = outer * inner;
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

TEST_P(ExecutorThreads, SpawnsFromOwnerAndFromTasksAreAllWaitedFor) {
  // The owner counts its spawns apart from the other threads' (Note [owner
  // spawns]); tasks spawn more into the same group, some of them on the owner
  // while it waits. wait() must return only after every one of them ran.
  Executor ex(GetParam());
  TaskGroup tg(ex);
  std::atomic<int64_t> ran{0};
  std::function<void(int)> spawn_tree = [&](int depth) {
    tg.spawn([&, depth] {
      ran.fetch_add(1);
      if (depth > 0) {
        spawn_tree(depth - 1);
        spawn_tree(depth - 1);
      }
    });
  };
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < 8; ++i) spawn_tree(kTsan ? 5 : 9);
    tg.wait();
    EXPECT_EQ(ran.load(), round * 8 * ((1 << (kTsan ? 6 : 10)) - 1));
  }
}

TEST(Executor, ShortLivedThreadsSpawnAndExit) {
  // Jobs allocated by threads that exit are freed by others, in batches
  // (Note [job pool]); blocks and batches must survive their threads.
  Executor ex(3);
  std::atomic<int64_t> ran{0};
  for (int round = 0; round < (kTsan ? 5 : 40); ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        TaskGroup tg(ex);
        for (int i = 0; i < 100; ++i) tg.spawn([&] { ran.fetch_add(1); });
        tg.wait();
        auto f = ex.async([] { return 1; });
        ran.fetch_add(f.get());
      });
    }
    for (auto& t : threads) t.join();
  }
  EXPECT_EQ(ran.load(), (kTsan ? 5 : 40) * 3 * 101);
}

TEST_P(ExecutorThreads, WorkerIdsAreInRangeInsideAndMinusOneOutside) {
  Executor ex(GetParam());
  EXPECT_EQ(ex.this_worker_id(), -1);
  std::atomic<int> bad{0};
  TaskGroup tg(ex);
  for (int i = 0; i < 200; ++i)
    tg.spawn([&] {
      const int id = ex.this_worker_id();
      if (id < 0 || id >= ex.num_threads()) bad.fetch_add(1);
    });
  tg.wait();
  EXPECT_EQ(bad.load(), 0);
}

TEST(Executor, SingleThreadRunsInlineOnCaller) {
  Executor ex(1);
  EXPECT_EQ(ex.num_threads(), 1);
  EXPECT_EQ(ex.num_workers(), 0);
  const auto caller = std::this_thread::get_id();
  auto f = ex.async([] { return std::this_thread::get_id(); });
  EXPECT_TRUE(f.done());  // ran before async returned
  EXPECT_EQ(f.get(), caller);
  TaskGroup tg(ex);
  std::thread::id seen;
  tg.spawn([&] { seen = std::this_thread::get_id(); });
  EXPECT_EQ(seen, caller);
  tg.wait();
}

TEST(Executor, ConstructorRejectsNegativeThreadCount) {
  EXPECT_THROW(Executor(-1), ember::Error);
  Executor hw(0);
  EXPECT_GE(hw.num_threads(), 1);
}

TEST(Executor, DestructorDrainsOutstandingAsyncWork) {
  std::atomic<int> ran{0};
  {
    Executor ex(3);
    for (int i = 0; i < 100; ++i) ex.async([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      ran.fetch_add(1);
    });
  }
  EXPECT_EQ(ran.load(), 100);
}

TEST(Executor, WaitsFromManyExternalThreads) {
  Executor ex(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) total.fetch_add(fib_group(ex, 10));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 4 * 20 * fib_serial(10));
}

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

TEST(Executor, IdleWorkersParkAndUseNearZeroCpu) {
  Executor ex(4);
  EXPECT_EQ(fib_group(ex, 15), fib_serial(15));  // wake every worker first
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // spin budget runs out
  const double before = process_cpu_seconds();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double used = process_cpu_seconds() - before;
  EXPECT_LT(used, 0.1) << "idle executor burned " << used << " s of CPU in 1 s";
  // And it wakes up again without a lost wake-up.
  EXPECT_EQ(fib_group(ex, 15), fib_serial(15));
}

TEST(Executor, TraceWritesChromeJsonWithTaskNames) {
  Executor ex(2);
  ex.enable_trace(true);
  EXPECT_TRUE(ex.trace_enabled());
  TaskGroup tg(ex);
  for (int i = 0; i < 10; ++i) tg.spawn([] {});
  tg.wait();
  ex.async([] {}).wait();
  ex.enable_trace(false);
  const std::string path = ::testing::TempDir() + "ember_executor_trace.json";
  ex.write_trace(path);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string json = ss.str();
  EXPECT_EQ(json.rfind("{\"traceEvents\"", 0), 0u);
  EXPECT_NE(json.find("\"ph\":\"X\""), std::string::npos);
  EXPECT_NE(json.find("\"name\":\"async\""), std::string::npos);
  EXPECT_NE(json.find("\"worker 1\""), std::string::npos);
  EXPECT_EQ(json.back(), '\n');
  std::remove(path.c_str());
  EXPECT_THROW(ex.write_trace("/nonexistent-dir/x/trace.json"), ember::Error);
}

TEST(DefaultExecutor, SetNumThreadsResizesAndOldReferencesStayUsable) {
  set_num_threads(3);
  Executor& first = default_executor();
  EXPECT_EQ(num_threads(), 3);
  EXPECT_EQ(first.num_threads(), 3);
  set_num_threads(2);
  EXPECT_EQ(num_threads(), 2);
  EXPECT_NE(&default_executor(), &first);
  // The replaced executor still works (its callers run the work).
  EXPECT_EQ(first.async([] { return 5; }).get(), 5);
  EXPECT_EQ(fib_group(first, 12), fib_serial(12));
  EXPECT_EQ(fib_group(default_executor(), 12), fib_serial(12));
  EXPECT_THROW(set_num_threads(-2), ember::Error);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), default_executor().num_threads());
}

}  // namespace
