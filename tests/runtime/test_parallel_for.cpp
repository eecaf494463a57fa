// Tests of parallel_for / parallel_reduce: exact coverage for many (range,
// grain, threads) combinations, nesting inside tasks, the inline path, caller
// participation, exceptions, and reproducible reductions.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ember/runtime/chase_lev_deque.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/runtime/parallel_for.hpp>
#include <ember/runtime/task_graph.hpp>

namespace {

using namespace ember::runtime;
constexpr bool kTsan = detail::kThreadSanitizer;

void expect_exact_cover(Executor& ex, int64_t begin, int64_t end, int64_t grain) {
  const int64_t n = end > begin ? end - begin : 0;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::atomic<bool> short_chunk{false};
  parallel_for(ex, begin, end, grain, [&](int64_t lo, int64_t hi) {
    if (hi - lo < grain && hi != end) short_chunk = true;  // only the last may be short
    for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i - begin)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1)
        << "index " << begin + i << " range [" << begin << "," << end << ") grain " << grain
        << " threads " << ex.num_threads();
  EXPECT_FALSE(short_chunk.load());
}

TEST(ParallelFor, EachIndexExactlyOnceForManyCombinations) {
  for (int threads : {1, 2, 4, 8}) {
    Executor ex(threads);
    for (int64_t n : {0, 1, 2, 7, 63, 64, 65, 1000, 4097, 100000}) {
      for (int64_t grain : {1, 3, 64, 1000, 200000}) {
        if (kTsan && n > 5000) continue;
        expect_exact_cover(ex, -17, -17 + n, grain);
      }
    }
  }
}

TEST(ParallelFor, InlineWhenRangeFitsInGrainOrSingleThread) {
  Executor ex(4);
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  parallel_for(ex, 0, 100, 100, [&](int64_t lo, int64_t hi) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(lo, 0);
    EXPECT_EQ(hi, 100);
    ++calls;  // no atomics needed: inline
  });
  EXPECT_EQ(calls, 1);
  Executor one(1);
  parallel_for(one, 0, 1 << 20, 1, [&](int64_t lo, int64_t hi) {
    EXPECT_EQ(hi - lo, 1 << 20);
    ++calls;
  });
  EXPECT_EQ(calls, 2);
  parallel_for(ex, 5, 5, 1, [&](int64_t, int64_t) { ++calls; });
  parallel_for(ex, 9, 3, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 2);
}

TEST(ParallelFor, CallingThreadTakesPart) {
  Executor ex(2);
  const auto caller = std::this_thread::get_id();
  std::mutex mu;
  std::set<std::thread::id> ids;
  parallel_for(ex, 0, 64, 1, [&](int64_t, int64_t) {
    {
      std::lock_guard lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  EXPECT_EQ(ids.count(caller), 1u);
}

TEST(ParallelFor, NestedInsideTasksAndInsideParallelFor) {
  for (int threads : {1, 2, 4}) {
    Executor ex(threads);
    std::atomic<int64_t> total{0};
    TaskGroup tg(ex);
    for (int t = 0; t < 16; ++t)
      tg.spawn([&] {
        parallel_for(ex, 0, 64, 4, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i)
            parallel_for(ex, 0, 100, 10, [&](int64_t a, int64_t b) { total.fetch_add(b - a); });
        });
      });
    tg.wait();
    EXPECT_EQ(total.load(), 16 * 64 * 100) << threads << " threads";
  }
}

TEST(ParallelFor, ExceptionPropagatesToCallerAndExecutorStaysUsable) {
  for (int threads : {1, 2, 4}) {
    Executor ex(threads);
    EXPECT_THROW(parallel_for(ex, 0, 10000, 10,
                              [&](int64_t lo, int64_t hi) {
                                if (lo <= 5000 && 5000 < hi) throw std::out_of_range("chunk failed");
                              }),
                 std::out_of_range);
    std::atomic<int64_t> sum{0};
    parallel_for(ex, 0, 10000, 10, [&](int64_t lo, int64_t hi) { sum.fetch_add(hi - lo); });
    EXPECT_EQ(sum.load(), 10000);
  }
}

TEST(ParallelFor, DefaultExecutorOverloads) {
  std::vector<int> v(5000, 0);
  parallel_for(0, 5000, 100, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) v[static_cast<size_t>(i)] = static_cast<int>(i);
  });
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(v[static_cast<size_t>(i)], i);
  const int64_t s = parallel_reduce(
      int64_t{0}, int64_t{5000}, int64_t{64}, int64_t{0},
      [&](int64_t lo, int64_t hi) {
        int64_t acc = 0;
        for (int64_t i = lo; i < hi; ++i) acc += v[static_cast<size_t>(i)];
        return acc;
      },
      [](int64_t a, int64_t b) { return a + b; });
  EXPECT_EQ(s, 4999 * 5000 / 2);
}

TEST(ParallelReduce, MatchesSerialAndIsReproducibleForFixedThreads) {
  const int64_t n = kTsan ? 20000 : 1000000;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = std::sin(0.001f * static_cast<float>(i)) * 1e3f;
  auto map = [&](int64_t lo, int64_t hi) {
    float acc = 0;
    for (int64_t i = lo; i < hi; ++i) acc += x[static_cast<size_t>(i)];
    return acc;
  };
  auto plus = [](float a, float b) { return a + b; };
  double exact = 0;
  for (float v : x) exact += v;
  for (int threads : {1, 2, 4, 8}) {
    Executor ex(threads);
    const float first = parallel_reduce(ex, 0, n, 256, 0.0f, map, plus);
    EXPECT_NEAR(first, exact, 1e-3 * std::abs(exact) + 1.0);
    for (int rep = 0; rep < 5; ++rep) {
      const float again = parallel_reduce(ex, 0, n, 256, 0.0f, map, plus);
      ASSERT_EQ(again, first) << "non-reproducible with " << threads << " threads";  // bitwise
    }
  }
  Executor ex(2);
  EXPECT_EQ(parallel_reduce(ex, 0, 0, 1, 42, [](int64_t, int64_t) { return 0; },
                            [](int a, int b) { return a + b; }),
            42);
  // Non-commutative combine: chunk order is preserved.
  const std::string s = parallel_reduce(
      ex, 0, 26, 1, std::string(),
      [](int64_t lo, int64_t hi) {
        std::string out;
        for (int64_t i = lo; i < hi; ++i) out += static_cast<char>('a' + i);
        return out;
      },
      [](std::string a, const std::string& b) { return a + b; });
  EXPECT_EQ(s, "abcdefghijklmnopqrstuvwxyz");
}

TEST(ParallelReduce, BoolResultHasNoVectorBoolRace) {
  Executor ex(4);
  const bool any = parallel_reduce(
      ex, 0, 100000, 16, false, [](int64_t lo, int64_t hi) { return lo <= 77777 && 77777 < hi; },
      [](bool a, bool b) { return a || b; });
  EXPECT_TRUE(any);
}

}  // namespace
