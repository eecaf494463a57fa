// Tests of TaskGraph on the Executor and the SerialExecutor: the public
// example, chains, trees, wavefronts and random DAGs against serial
// references, run_n, exceptions, cancellation, cycle errors, checked
// modification while running, DOT and trace output.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ember/runtime/chase_lev_deque.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/runtime/parallel_for.hpp>
#include <ember/runtime/serial_executor.hpp>
#include <ember/runtime/task_graph.hpp>

namespace {

using namespace ember::runtime;
constexpr bool kTsan = detail::kThreadSanitizer;

class GraphThreads : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Threads, GraphThreads, ::testing::Values(1, 2, 4, 8));

TEST(TaskGraph, PublicExample) {
  ember::runtime::Executor ex(2);
  ember::runtime::TaskGraph g;
  std::atomic<int> n{0};
  auto a = g.emplace([&] { n += 1; }).name("a");
  auto b = g.emplace([&] { n += 10; }).name("b");
  auto c = g.emplace([&] { n += 100; }).name("c");
  a.precede(b, c);
  ex.run_n(g, 3).wait();  // n == 333
  EXPECT_EQ(n.load(), 333);
  std::vector<std::atomic<int>> hits(1000);
  ember::runtime::parallel_for(ex, 0, 1000, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_EQ(a.name(), "a");
  EXPECT_EQ(a.num_successors(), 2u);
  EXPECT_EQ(c.num_predecessors(), 1u);
}

// Builds a graph from an edge list, runs it, and checks that every task ran
// exactly once and after all of its predecessors.
void check_dag(Executor& ex, int n, const std::vector<std::pair<int, int>>& edges, int runs = 1) {
  TaskGraph g;
  std::atomic<int64_t> clock{0};
  std::vector<std::atomic<int64_t>> stamp(static_cast<size_t>(n));
  std::vector<std::atomic<int>> count(static_cast<size_t>(n));
  std::vector<Task> tasks;
  for (int i = 0; i < n; ++i) {
    tasks.push_back(g.emplace([&, i] {
      count[static_cast<size_t>(i)].fetch_add(1);
      stamp[static_cast<size_t>(i)].store(clock.fetch_add(1) + 1);
    }));
  }
  for (auto [u, v] : edges) tasks[static_cast<size_t>(u)].precede(tasks[static_cast<size_t>(v)]);
  for (int r = 1; r <= runs; ++r) {
    clock.store(0);
    ex.run(g).wait();
    for (int i = 0; i < n; ++i) ASSERT_EQ(count[static_cast<size_t>(i)].load(), r) << "task " << i;
    for (auto [u, v] : edges)
      ASSERT_LT(stamp[static_cast<size_t>(u)].load(), stamp[static_cast<size_t>(v)].load())
          << u << " -> " << v;
  }
}

TEST_P(GraphThreads, LinearChain) {
  Executor ex(GetParam());
  const int n = kTsan ? 2000 : 20000;
  std::vector<std::pair<int, int>> edges;
  for (int i = 0; i + 1 < n; ++i) edges.emplace_back(i, i + 1);
  check_dag(ex, n, edges, 2);
}

TEST_P(GraphThreads, BinaryTree) {
  Executor ex(GetParam());
  const int n = (1 << (kTsan ? 10 : 14)) - 1;
  std::vector<std::pair<int, int>> edges;  // root -> children (fan-out) ...
  for (int i = 1; i < n; ++i) edges.emplace_back((i - 1) / 2, i);
  check_dag(ex, n, edges);
  std::vector<std::pair<int, int>> reduce;  // ... and leaves -> root (fan-in)
  for (int i = 1; i < n; ++i) reduce.emplace_back(i, (i - 1) / 2);
  check_dag(ex, n, reduce);
}

TEST_P(GraphThreads, Wavefront) {
  Executor ex(GetParam());
  const int side = kTsan ? 24 : 96;
  auto id = [&](int r, int c) { return r * side + c; };
  std::vector<std::pair<int, int>> edges;
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c) {
      if (r + 1 < side) edges.emplace_back(id(r, c), id(r + 1, c));
      if (c + 1 < side) edges.emplace_back(id(r, c), id(r, c + 1));
    }
  check_dag(ex, side * side, edges, 3);
}

TEST_P(GraphThreads, RandomDags) {
  Executor ex(GetParam());
  std::mt19937 rng(1234 + GetParam());
  for (int trial = 0; trial < (kTsan ? 5 : 30); ++trial) {
    const int n = std::uniform_int_distribution<int>(1, kTsan ? 100 : 400)(rng);
    const int m = std::uniform_int_distribution<int>(0, 4 * n)(rng);
    std::vector<std::pair<int, int>> edges;
    for (int e = 0; e < m && n > 1; ++e) {
      int u = std::uniform_int_distribution<int>(0, n - 1)(rng);
      int v = std::uniform_int_distribution<int>(0, n - 1)(rng);
      if (u == v) continue;
      if (u > v) std::swap(u, v);  // forward edges only: a DAG
      edges.emplace_back(u, v);
    }
    check_dag(ex, n, edges, 2);
  }
}

TEST_P(GraphThreads, RunNRunsTheSameGraphNTimes) {
  Executor ex(GetParam());
  TaskGraph g;
  std::atomic<int> a{0}, b{0};
  std::atomic<bool> order_ok{true};
  auto ta = g.emplace([&] { a.fetch_add(1); });
  auto tb = g.emplace([&] {
    if (b.load() + 1 != a.load()) order_ok = false;  // b runs after a, once per step
    b.fetch_add(1);
  });
  tb.succeed(ta);
  ex.run_n(g, 50).wait();
  EXPECT_EQ(a.load(), 50);
  EXPECT_EQ(b.load(), 50);
  EXPECT_TRUE(order_ok.load());
  ex.run_n(g, 0).wait();
  EXPECT_EQ(a.load(), 50);
  ex.run(g).wait();
  EXPECT_EQ(a.load(), 51);
  EXPECT_THROW(ex.run_n(g, -1), ember::Error);
}

TEST_P(GraphThreads, TasksSpawnNestedWorkAndParallelFor) {
  Executor ex(GetParam());
  TaskGraph g;
  std::atomic<int64_t> total{0};
  for (int t = 0; t < 8; ++t) {
    g.emplace([&] {
      TaskGroup tg(ex);
      for (int i = 0; i < 10; ++i) tg.spawn([&] { total.fetch_add(1); });
      parallel_for(ex, 0, 1000, 16, [&](int64_t lo, int64_t hi) { total.fetch_add(hi - lo); });
      tg.wait();
      TaskGraph inner;  // a graph run and waited from inside a task
      inner.emplace([&] { total.fetch_add(5); });
      ex.run(inner).wait();
    });
  }
  ex.run(g).wait();
  EXPECT_EQ(total.load(), 8 * (10 + 1000 + 5));
}

TEST_P(GraphThreads, FirstExceptionSurfacesRestCancelledExecutorReusable) {
  Executor ex(GetParam());
  TaskGraph g;
  std::atomic<int> after{0};
  std::atomic<bool> fail{true};
  auto root = g.emplace([&] {
    if (fail) throw std::runtime_error("root failed");
  }).name("root");
  for (int i = 0; i < 100; ++i) root.precede(g.emplace([&] { after.fetch_add(1); }));
  auto h = ex.run_n(g, 5);
  try {
    h.wait();
    FAIL() << "wait() should rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "root failed");
  }
  EXPECT_EQ(after.load(), 0);  // successors never started; run_n stopped
  EXPECT_FALSE(g.running());
  fail = false;
  ex.run(g).wait();  // reusable
  EXPECT_EQ(after.load(), 100);
}

TEST_P(GraphThreads, OnlyOneOfSeveralExceptionsSurfaces) {
  Executor ex(GetParam());
  TaskGraph g;
  for (int i = 0; i < 20; ++i) g.emplace([i] { throw std::runtime_error("e" + std::to_string(i)); });
  try {
    ex.run(g).wait();
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, 1), "e");
  }
}

TEST(TaskGraphCancel, ExplicitCancelSkipsTasksNotYetStarted) {
  Executor ex(2);
  TaskGraph g;
  std::atomic<bool> started{false}, release{false};
  std::atomic<int> after{0};
  auto gate = g.emplace([&] {
    started = true;
    while (!release) std::this_thread::yield();
  });
  Task prev = gate;
  for (int i = 0; i < 100; ++i) {
    auto t = g.emplace([&] { after.fetch_add(1); });
    prev.precede(t);
    prev = t;
  }
  auto h = ex.run(g);
  while (!started) std::this_thread::yield();
  h.cancel();
  release = true;
  h.wait();  // a cancelled run returns normally
  EXPECT_TRUE(h.cancelled());
  EXPECT_EQ(after.load(), 0);
  ex.run(g).wait();
  EXPECT_EQ(after.load(), 100);
}

TEST(TaskGraphCancel, CancelStopsRunN) {
  Executor ex(2);
  TaskGraph g;
  std::atomic<int> steps{0};
  g.emplace([&] {
    steps.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  });
  auto h = ex.run_n(g, 1000000);
  while (steps.load() < 5) std::this_thread::yield();
  h.cancel();
  h.wait();
  EXPECT_LT(steps.load(), 1000000);
  EXPECT_FALSE(g.running());
}

TEST(TaskGraph, CycleErrorNamesTheTasks) {
  TaskGraph g;
  auto a = g.emplace([] {}).name("a");
  auto b = g.emplace([] {}).name("b");
  auto c = g.emplace([] {}).name("c");
  auto d = g.emplace([] {}).name("d");
  d.precede(a);
  a.precede(b);
  b.precede(c);
  c.precede(a);
  Executor ex(2);
  try {
    ex.run(g);
    FAIL() << "a cyclic graph must not run";
  } catch (const ember::Error& e) {
    EXPECT_STREQ(e.what(), "TaskGraph: cycle detected: a -> b -> c -> a");
  }
  EXPECT_FALSE(g.running());
  SerialExecutor serial;
  EXPECT_THROW(serial.run(g), ember::Error);
  TaskGraph self_loop;
  auto s = self_loop.emplace([] {}).name("s");
  s.precede(s);
  EXPECT_THROW(
      {
        try {
          self_loop.validate();
        } catch (const ember::Error& e) {
          EXPECT_STREQ(e.what(), "TaskGraph: cycle detected: s -> s");
          throw;
        }
      },
      ember::Error);
}

TEST(TaskGraph, ModifyingOrRerunningWhileRunningIsAnError) {
  Executor ex(2);
  TaskGraph g("training_step");
  std::atomic<bool> release{false}, started{false};
  auto t = g.emplace([&] {
    started = true;
    while (!release) std::this_thread::yield();
  });
  auto h = ex.run(g);
  while (!started) std::this_thread::yield();
  EXPECT_TRUE(g.running());
  EXPECT_THROW(g.emplace([] {}), ember::Error);
  EXPECT_THROW(t.name("x"), ember::Error);
  EXPECT_THROW(t.precede(t), ember::Error);
  EXPECT_THROW(ex.run(g), ember::Error);
  release = true;
  h.wait();
  EXPECT_FALSE(g.running());
  g.emplace([] {});  // fine again
  EXPECT_EQ(g.size(), 2u);
}

TEST(TaskGraph, DotOutputContainsNamesAndEdges) {
  TaskGraph g("step");
  auto f = g.emplace([] {}).name("forward");
  auto b = g.emplace([] {}).name("backward");
  auto u = g.emplace([] {});
  f.precede(b);
  b.precede(u);
  std::ostringstream os;
  g.dump_dot(os);
  const std::string dot = os.str();
  EXPECT_EQ(dot.rfind("digraph \"step\" {", 0), 0u);
  EXPECT_NE(dot.find("label=\"forward\""), std::string::npos);
  EXPECT_NE(dot.find("label=\"backward\""), std::string::npos);
  EXPECT_NE(dot.find("label=\"task#2\""), std::string::npos);
  EXPECT_NE(dot.find("n0 -> n1;"), std::string::npos);
  EXPECT_NE(dot.find("n1 -> n2;"), std::string::npos);
  EXPECT_EQ(g.num_edges(), 2u);
}

TEST(TaskGraph, TraceOfAGraphRunHasTaskNames) {
  Executor ex(2);
  ex.enable_trace(true);
  TaskGraph g;
  auto fwd = g.emplace([] {}).name("forward");
  auto bwd = g.emplace([] {}).name("backward");
  fwd.precede(bwd);
  ex.run_n(g, 2).wait();
  const std::string path = ::testing::TempDir() + "ember_graph_trace.json";
  ex.write_trace(path);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string json = ss.str();
  EXPECT_EQ(json.rfind("{\"traceEvents\":[", 0), 0u);
  EXPECT_NE(json.find("\"name\":\"forward\",\"cat\":\"task\",\"ph\":\"X\""), std::string::npos);
  EXPECT_NE(json.find("\"name\":\"backward\""), std::string::npos);
  std::remove(path.c_str());
}

TEST(SerialExecutor, KahnOrderWithInsertionTieBreakIsDeterministic) {
  TaskGraph g;
  std::vector<int> order;
  std::vector<Task> t;
  for (int i = 0; i < 6; ++i) t.push_back(g.emplace([&order, i] { order.push_back(i); }));
  t[3].precede(t[0]);  // 3 -> 0, 5 -> 1, 1 -> 2
  t[5].precede(t[1]);
  t[1].precede(t[2]);
  SerialExecutor serial;
  serial.run_n(g, 2).wait();
  const std::vector<int> expected{3, 0, 4, 5, 1, 2};
  EXPECT_EQ(order, (std::vector<int>{3, 0, 4, 5, 1, 2, 3, 0, 4, 5, 1, 2}));
  const auto topo = g.topological_order();
  ASSERT_EQ(topo.size(), 6u);
  for (size_t i = 0; i < topo.size(); ++i) EXPECT_EQ(topo[i].index(), static_cast<size_t>(expected[i]));
}

TEST(SerialExecutor, SameResultsAsExecutorAndSameExceptionSemantics) {
  // A small "training step": y[i] = x[i] * 2, then a reduction, then an update.
  auto build = [](TaskGraph& g, std::vector<double>& x, std::vector<double>& y, double& loss) {
    auto fwd = g.emplace([&] {
      for (size_t i = 0; i < x.size(); ++i) y[i] = 2 * x[i];
    }).name("forward");
    auto red = g.emplace([&] {
      loss = 0;
      for (double v : y) loss += v;
    }).name("loss");
    auto upd = g.emplace([&] {
      for (double& v : x) v -= 0.001 * loss;
    }).name("update");
    fwd.precede(red);
    red.precede(upd);
  };
  std::vector<double> x1(100, 1.0), y1(100), x2(100, 1.0), y2(100);
  double l1 = 0, l2 = 0;
  TaskGraph g1, g2;
  build(g1, x1, y1, l1);
  build(g2, x2, y2, l2);
  Executor ex(4);
  SerialExecutor serial;
  ex.run_n(g1, 10).wait();
  serial.run_n(g2, 10).wait();
  EXPECT_EQ(x1, x2);
  EXPECT_EQ(l1, l2);

  TaskGraph bad;
  std::atomic<int> ran{0};
  auto first = bad.emplace([] { throw std::runtime_error("serial boom"); });
  first.precede(bad.emplace([&] { ran++; }));
  bad.emplace([&] { ran++; });  // later in order: skipped too
  auto h = serial.run(bad);
  EXPECT_TRUE(h.done());
  EXPECT_THROW(h.wait(), std::runtime_error);
  EXPECT_EQ(ran.load(), 0);
  EXPECT_FALSE(bad.running());
}

TEST(TaskGraph, EmptyGraphAndPlaceholders) {
  Executor ex(2);
  TaskGraph empty;
  ex.run(empty).wait();
  TaskGraph g;
  std::atomic<int> n{0};
  auto join = g.placeholder().name("join");
  auto a = g.emplace([&] { n++; });
  auto b = g.emplace([&] { n++; });
  join.succeed(a, b);
  join.precede(g.emplace([&] { n += 10; }));
  ex.run(g).wait();
  EXPECT_EQ(n.load(), 12);
  g.clear();
  EXPECT_TRUE(g.empty());
  EXPECT_EQ(g.num_edges(), 0u);
}

TEST(TaskGraph, DestroyingARunningGraphWaitsForTheRun) {
  Executor ex(2);
  std::atomic<int> n{0};
  {
    TaskGraph g;
    for (int i = 0; i < 50; ++i) g.emplace([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      n++;
    });
    ex.run(g);  // handle dropped on purpose
  }
  EXPECT_EQ(n.load(), 50);
}

}  // namespace
