// Tests of how a TaskGraph stores and re-runs its tasks (graph_node.hpp,
// task_graph.cpp, graph_run.cpp): callables inline and boxed, their
// destruction, a failed emplace, graphs spanning many node chunks, join
// counters reused by run_n and after cancelled or failed runs, edges added in
// any order, many sources (split into ranges), graphs on reused memory, clear
// and rebuild, traces.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ember/runtime/chase_lev_deque.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/runtime/serial_executor.hpp>
#include <ember/runtime/task_graph.hpp>

namespace {

using namespace ember::runtime;
constexpr bool kTsan = detail::kThreadSanitizer;

class StorageThreads : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, StorageThreads, ::testing::Values(1, 2, 4));

struct alignas(32) OverAligned {
  double v[4];
};

TEST_P(StorageThreads, CallablesOfEverySizeRunAndAreDestroyed) {
  Executor ex(GetParam());
  auto sum = std::make_shared<std::atomic<int>>(0);  // use_count: the copies the graph holds
  {
    TaskGraph g;
    std::atomic<int>* p = sum.get();
    g.emplace([] {});                                         // empty
    g.emplace([p] { p->fetch_add(1); });                      // 8 bytes: inline
    g.emplace([p, q = p] { q->fetch_add(p == q ? 2 : 0); });  // 16 bytes: inline
    g.emplace([p, a = 1, b = 2, c = 4] { p->fetch_add(a + b + c); });  // 24 bytes: boxed
    std::array<int, 64> big{};
    big[63] = 100;
    g.emplace([p, big] { p->fetch_add(big[63]); });  // 264 bytes: boxed
    OverAligned o{{1000, 0, 0, 0}};
    g.emplace([p, o] { p->fetch_add(static_cast<int>(o.v[0])); });  // over-aligned: boxed
    g.emplace([sum] { sum->fetch_add(10000); });  // not trivially destructible, inline
    g.emplace([sum, big] { sum->fetch_add(big[63] * 1000); });  // not trivially destructible, boxed
    auto owned = std::make_unique<int>(7);
    g.emplace([p, owned = std::move(owned)] { p->fetch_add(*owned * 10000); });  // move-only
    EXPECT_EQ(sum.use_count(), 3);
    ex.run_n(g, 2).wait();
    const int once = 1 + 2 + 7 + 100 + 1000 + 10000 + 100000 + 70000;
    EXPECT_EQ(sum->load(), 2 * once);
    SerialExecutor().run(g).wait();
    EXPECT_EQ(sum->load(), 3 * once);
    g.clear();  // destroys the callables
    EXPECT_EQ(sum.use_count(), 1);
    g.emplace([sum] {});
    EXPECT_EQ(sum.use_count(), 2);
  }  // ~TaskGraph destroys them too
  EXPECT_EQ(sum.use_count(), 1);
}

struct ThrowingCopy {
  ThrowingCopy() = default;
  ThrowingCopy(const ThrowingCopy&) { throw std::runtime_error("no copy"); }
  void operator()() const {}
};

TEST(GraphStorage, FailedEmplaceLeavesTheGraphUnchanged) {
  Executor ex(2);
  TaskGraph g;
  std::atomic<int> n{0};
  auto a = g.emplace([&] { n++; });
  const ThrowingCopy bad;
  EXPECT_THROW(g.emplace(bad), std::runtime_error);
  EXPECT_EQ(g.size(), 1u);
  auto b = g.emplace([&] { n++; });
  EXPECT_EQ(b.index(), 1u);
  a.precede(b);
  ex.run_n(g, 3).wait();  // would never finish if the failed task were counted
  EXPECT_EQ(n.load(), 6);
}

// A graph of n tasks where task i (i >= 2) depends on i-1 and i-2: every task
// but the first two has two predecessors, so every run uses the join counters.
struct Ladder {
  explicit Ladder(int n) : count(static_cast<size_t>(n)) {
    for (int i = 0; i < n; ++i) {
      tasks.push_back(g.emplace([this, i] {
        auto& c = count[static_cast<size_t>(i)];
        const int mine = c.load(std::memory_order_relaxed);
        for (int d = 1; d <= 2 && i - d >= 0; ++d)  // predecessors already ran this iteration
          if (count[static_cast<size_t>(i - d)].load(std::memory_order_relaxed) != mine + 1) order_ok = false;
        c.store(mine + 1, std::memory_order_relaxed);
      }));
    }
    for (int i = 2; i < n; ++i) tasks[static_cast<size_t>(i)].succeed(tasks[static_cast<size_t>(i - 1)], tasks[static_cast<size_t>(i - 2)]);
    if (n > 1) tasks[1].succeed(tasks[0]);
  }
  void reset() {
    for (auto& c : count) c = 0;
    order_ok = true;
  }
  void expect_all_ran(int times) const {
    for (size_t i = 0; i < count.size(); ++i) ASSERT_EQ(count[i].load(), times) << "task " << i;
    EXPECT_TRUE(order_ok.load());
  }
  TaskGraph g;
  std::vector<Task> tasks;
  std::vector<std::atomic<int>> count;
  std::atomic<bool> order_ok{true};
};

TEST_P(StorageThreads, RunNReusesJoinCountersWithoutRebuilding) {
  Executor ex(GetParam());
  Ladder ladder(kTsan ? 300 : 3000);
  ex.run_n(ladder.g, 20).wait();
  ladder.expect_all_ran(20);
  ex.run(ladder.g).wait();
  ladder.expect_all_ran(21);
  SerialExecutor().run_n(ladder.g, 2).wait();  // the serial executor leaves the counters alone
  ex.run(ladder.g).wait();
  ladder.expect_all_ran(24);
}

TEST_P(StorageThreads, GraphsSpanningManyChunksRunEveryTaskOnce) {
  Executor ex(GetParam());
  // Past the first chunks of 64, 128, 256 ... nodes, into huge-page-sized ones.
  const int n = kTsan ? 20000 : 300000;
  TaskGraph independent;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  Task first = independent.emplace([&] { hits[0]++; });
  for (int i = 1; i < n; ++i) independent.emplace([&hits, i] { hits[static_cast<size_t>(i)]++; });
  first.name("first");  // handles stay valid while the graph grows
  EXPECT_EQ(first.name(), "first");
  EXPECT_EQ(first.index(), 0u);
  ex.run_n(independent, 2).wait();
  for (int i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 2) << "task " << i;

  Ladder ladder(n / 4);
  ex.run(ladder.g).wait();
  ladder.expect_all_ran(1);
}

TEST_P(StorageThreads, CancelledAndFailedRunsLeaveCountersReady) {
  Executor ex(GetParam());
  const int n = kTsan ? 200 : 2000;
  Ladder ladder(n);
  // A tripwire in the middle of the ladder fails the third iteration: the
  // tasks before it ran, the ones after it are skipped.
  std::atomic<int> trips{0};
  Task tripwire = ladder.g.emplace([&] {
    if (++trips == 3) throw std::runtime_error("trip");
  });
  tripwire.succeed(ladder.tasks[static_cast<size_t>(n / 2)]);
  tripwire.precede(ladder.tasks[static_cast<size_t>(n / 2 + 1)]);
  EXPECT_THROW(ex.run_n(ladder.g, 5).wait(), std::runtime_error);
  EXPECT_EQ(ladder.count.front().load(), 3);
  EXPECT_EQ(ladder.count.back().load(), 2);
  // Every join counter is back at its predecessor count: one more run runs
  // each task once, after its predecessors.
  ladder.reset();
  ex.run(ladder.g).wait();
  ladder.expect_all_ran(1);
  if (GetParam() == 1) return;  // Executor(1) runs run_n inline: nothing to cancel
  auto h = ex.run_n(ladder.g, 1000000);
  while (trips.load() < 10) std::this_thread::yield();
  h.cancel();
  h.wait();
  ladder.reset();
  ex.run(ladder.g).wait();
  ladder.expect_all_ran(1);
}

TEST_P(StorageThreads, EdgesAddedInAnyOrderAndDirection) {
  // A DAG whose topological order is a random permutation of the insertion
  // order, with its edges added in random order: edges go backward in index
  // and a node's successors are not contiguous in the edge list.
  Executor ex(GetParam());
  std::mt19937 rng(7 + GetParam());
  const int n = kTsan ? 60 : 400;
  std::vector<int> rank(static_cast<size_t>(n));
  std::iota(rank.begin(), rank.end(), 0);
  std::shuffle(rank.begin(), rank.end(), rng);
  std::vector<std::pair<int, int>> edges;
  for (int e = 0; e < 4 * n; ++e) {
    int u = std::uniform_int_distribution<int>(0, n - 1)(rng);
    int v = std::uniform_int_distribution<int>(0, n - 1)(rng);
    if (rank[static_cast<size_t>(u)] == rank[static_cast<size_t>(v)]) continue;
    if (rank[static_cast<size_t>(u)] > rank[static_cast<size_t>(v)]) std::swap(u, v);
    edges.emplace_back(u, v);
  }
  TaskGraph g;
  std::atomic<int64_t> clock{0};
  std::vector<std::atomic<int64_t>> stamp(static_cast<size_t>(n));
  std::vector<Task> t;
  for (int i = 0; i < n; ++i) t.push_back(g.emplace([&, i] { stamp[static_cast<size_t>(i)] = ++clock; }));
  for (auto [u, v] : edges) t[static_cast<size_t>(u)].precede(t[static_cast<size_t>(v)]);
  for (int r = 0; r < 3; ++r) {
    ex.run(g).wait();
    for (auto [u, v] : edges)
      ASSERT_LT(stamp[static_cast<size_t>(u)].load(), stamp[static_cast<size_t>(v)].load()) << u << " -> " << v;
  }
  // Successors keep their insertion order in the DOT output.
  TaskGraph small;
  auto a = small.emplace([] {});
  auto b = small.emplace([] {});
  auto c = small.emplace([] {});
  c.precede(a);
  b.precede(c);
  c.precede(a);  // a second edge c -> a, after b -> c
  std::ostringstream os;
  small.dump_dot(os);
  EXPECT_NE(os.str().find("  n1 -> n2;\n  n2 -> n0;\n  n2 -> n0;\n"), std::string::npos) << os.str();
  EXPECT_EQ(small.topological_order()[0].index(), 1u);
  EXPECT_EQ(a.num_predecessors(), 2u);
  ex.run_n(small, 3).wait();  // a waits for both decrements by c
}

TEST_P(StorageThreads, ManySourcesAllRunBeforeTheirJoin) {
  // Chains of 1 task per source make a graph mostly of sources (runs scan the
  // nodes); chains of 4 keep them few (runs use a list of sources).
  Executor ex(GetParam());
  for (int length : {1, 4}) {
    for (int sources : {1, 31, 33, 1000}) {
      TaskGraph g;
      std::atomic<int> ran{0};
      std::atomic<bool> join_saw_all{true};
      auto join = g.emplace([&] {
        if (ran.load() != length * sources) join_saw_all = false;
      });
      for (int i = 0; i < sources; ++i) {
        Task prev = g.emplace([&] { ran++; });
        for (int k = 1; k < length; ++k) {
          Task t = g.emplace([&] { ran++; });
          prev.precede(t);
          prev = t;
        }
        prev.precede(join);
      }
      ran = 0;
      ex.run(g).wait();
      EXPECT_EQ(ran.load(), length * sources) << sources << " sources, chains of " << length;
      EXPECT_TRUE(join_saw_all.load()) << sources << " sources, chains of " << length;
    }
  }
}

TEST(GraphStorage, GraphsOnReusedMemoryStartClean) {
  // A dropped graph's node chunks are cached and handed to the next graph
  // (Note [chunk cache]): nothing of the old nodes may leak into the new ones.
  Executor ex(2);
  const int n = kTsan ? 3000 : 20000;  // chunks of 64 KiB and more
  for (int round = 0; round < 3; ++round) {
    {
      Ladder ladder(n);  // every node with predecessors and successors
      ex.run(ladder.g).wait();
      ladder.expect_all_ran(1);
    }
    TaskGraph g;  // the same memory, now independent tasks and placeholders
    std::atomic<int> ran{0};
    for (int i = 0; i < n; ++i) {
      if (i % 3 == 0) {
        g.placeholder();
      } else {
        g.emplace([&] { ran++; });
      }
    }
    EXPECT_EQ(g.num_edges(), 0u);
    EXPECT_EQ(g.topological_order().size(), static_cast<size_t>(n));
    ex.run(g).wait();
    EXPECT_EQ(ran.load(), n - (n + 2) / 3);
  }
}

TEST(GraphStorage, ClearAndRebuildReusesTheGraph) {
  Executor ex(2);
  TaskGraph g;
  std::atomic<int> n{0};
  for (int round = 1; round <= 3; ++round) {
    g.clear();
    std::vector<Task> t;
    for (int i = 0; i < 100 * round; ++i) t.push_back(g.emplace([&] { n++; }));
    for (size_t i = 1; i < t.size(); ++i) t[i - 1].precede(t[i]);
    EXPECT_EQ(g.size(), static_cast<size_t>(100 * round));
    EXPECT_EQ(g.num_edges(), static_cast<size_t>(100 * round - 1));
    n = 0;
    ex.run(g).wait();
    EXPECT_EQ(n.load(), 100 * round);
  }
}

TEST(GraphStorage, TraceNamesEveryTaskOfAGraphWithManySources) {
  Executor ex(2);
  ex.enable_trace(true);
  TaskGraph g;
  for (int i = 0; i < 100; ++i) g.emplace([] {}).name("src" + std::to_string(i));
  ex.run(g).wait();
  const std::string path = ::testing::TempDir() + "ember_sources_trace.json";
  ex.write_trace(path);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  for (int i = 0; i < 100; ++i)
    EXPECT_NE(ss.str().find("\"name\":\"src" + std::to_string(i) + "\""), std::string::npos) << i;
  std::remove(path.c_str());
}

}  // namespace
