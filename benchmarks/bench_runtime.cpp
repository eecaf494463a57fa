// bench_runtime: ember's executor against simple baselines and oneTBB.
//
// Per-item times are counters (per_task, per_edge, per_item, per_call: seconds
// per item, printed with an SI prefix) over real time, since the work runs on
// several threads. Every runtime gets the same number of threads
// (EMBER_BENCH_THREADS, default 2): ember's Executor(n) is the caller plus n-1
// workers, oneTBB is limited to n with global_control, the mutex-queue pool
// runs n threads while the submitter blocks, std::async starts one thread per
// task. oneTBB runs only when the build found it (EMBER_BENCH_WITH_TBB).
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <ember/runtime/executor.hpp>
#include <ember/runtime/parallel_for.hpp>
#include <ember/runtime/task_graph.hpp>

#ifdef EMBER_BENCH_WITH_TBB
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>
#endif

namespace {

using ember::runtime::Executor;
using ember::runtime::Task;
using ember::runtime::TaskGraph;

int bench_threads() {
  const char* env = std::getenv("EMBER_BENCH_THREADS");
  return env ? std::max(1, std::atoi(env)) : 2;
}

Executor& ember_pool() {
  static Executor ex(bench_threads());
  return ex;
}

void per_item(benchmark::State& state, int64_t items, const char* what) {
  // Seconds per item; printed with an SI prefix, e.g. per_task=85.2ns.
  state.counters[what] = benchmark::Counter(static_cast<double>(items),
                                            benchmark::Counter::kIsIterationInvariantRate |
                                                benchmark::Counter::kInvert);
}

constexpr int64_t kSpawnTasks = 1'000'000;
constexpr int64_t kAsyncTasks = 2'000;  // one OS thread each
constexpr int64_t kChain = 100'000;
constexpr int kTreeDepth = 16;          // 2^16 - 1 tasks
constexpr int kWaveSide = 256;          // 65536 tasks, ~131k edges
constexpr int kLayer = 256;             // 256 x 256 = 65536 edges
constexpr int64_t kForItems = 1'000'000;

// ---- baseline: one mutex-protected FIFO shared by every thread -------------------

class MutexQueuePool {
 public:
  explicit MutexQueuePool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~MutexQueuePool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
      ++outstanding_;
    }
    cv_.notify_one();
  }
  void wait_idle() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return outstanding_ == 0; });
  }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
      if (--outstanding_ == 0) idle_cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  int64_t outstanding_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

// ---- spawn-and-run of empty tasks -------------------------------------------------

void BM_Spawn_Ember_TaskGroup(benchmark::State& state) {
  Executor& ex = ember_pool();
  for (auto _ : state) {
    ember::runtime::TaskGroup tg(ex);
    for (int64_t i = 0; i < kSpawnTasks; ++i) tg.spawn([] {});
    tg.wait();
  }
  per_item(state, kSpawnTasks, "per_task");
}

void BM_Spawn_Ember_GraphBuildAndRun(benchmark::State& state) {
  Executor& ex = ember_pool();
  for (auto _ : state) {
    TaskGraph g;
    for (int64_t i = 0; i < kSpawnTasks; ++i) g.emplace([] {});
    ex.run(g).wait();
  }
  per_item(state, kSpawnTasks, "per_task");
}

void BM_Spawn_MutexQueuePool(benchmark::State& state) {
  MutexQueuePool pool(bench_threads());
  for (auto _ : state) {
    for (int64_t i = 0; i < kSpawnTasks; ++i) pool.submit([] {});
    pool.wait_idle();
  }
  per_item(state, kSpawnTasks, "per_task");
}

void BM_Spawn_StdAsync(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<std::future<void>> fs;
    fs.reserve(kAsyncTasks);
    for (int64_t i = 0; i < kAsyncTasks; ++i) fs.push_back(std::async(std::launch::async, [] {}));
    for (auto& f : fs) f.wait();
  }
  per_item(state, kAsyncTasks, "per_task");
}

// ---- graphs: built once, run many times ----------------------------------------------

void build_chain(TaskGraph& g, int64_t n) {
  Task prev = g.emplace([] {});
  for (int64_t i = 1; i < n; ++i) {
    Task t = g.emplace([] {});
    prev.precede(t);
    prev = t;
  }
}

void build_tree(TaskGraph& g, int depth) {
  const int n = (1 << depth) - 1;
  std::vector<Task> t;
  for (int i = 0; i < n; ++i) t.push_back(g.emplace([] {}));
  for (int i = 1; i < n; ++i) t[static_cast<size_t>((i - 1) / 2)].precede(t[static_cast<size_t>(i)]);
}

void build_wavefront(TaskGraph& g, int side) {
  std::vector<Task> t;
  for (int i = 0; i < side * side; ++i) t.push_back(g.emplace([] {}));
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c) {
      if (r + 1 < side) t[static_cast<size_t>(r * side + c)].precede(t[static_cast<size_t>((r + 1) * side + c)]);
      if (c + 1 < side) t[static_cast<size_t>(r * side + c)].precede(t[static_cast<size_t>(r * side + c + 1)]);
    }
}

void build_bipartite(TaskGraph& g, int k) {
  std::vector<Task> top, bottom;
  for (int i = 0; i < k; ++i) top.push_back(g.emplace([] {}));
  for (int i = 0; i < k; ++i) bottom.push_back(g.emplace([] {}));
  for (auto& a : top)
    for (auto& b : bottom) a.precede(b);
}

template <class Build>
void run_prebuilt(benchmark::State& state, Build build, int64_t items, const char* what) {
  Executor& ex = ember_pool();
  TaskGraph g;
  build(g);
  for (auto _ : state) ex.run(g).wait();
  per_item(state, items, what);
}

void BM_Chain_Ember(benchmark::State& s) { run_prebuilt(s, [](TaskGraph& g) { build_chain(g, kChain); }, kChain, "per_task"); }
void BM_Tree_Ember(benchmark::State& s) {
  run_prebuilt(s, [](TaskGraph& g) { build_tree(g, kTreeDepth); }, (1 << kTreeDepth) - 1, "per_task");
}
void BM_Wavefront_Ember(benchmark::State& s) {
  run_prebuilt(s, [](TaskGraph& g) { build_wavefront(g, kWaveSide); }, kWaveSide * kWaveSide, "per_task");
}
void BM_Edges_Ember_Run(benchmark::State& s) {
  run_prebuilt(s, [](TaskGraph& g) { build_bipartite(g, kLayer); }, kLayer * kLayer, "per_edge");
}
void BM_Edges_Ember_BuildAndRun(benchmark::State& state) {
  Executor& ex = ember_pool();
  for (auto _ : state) {
    TaskGraph g;
    build_bipartite(g, kLayer);
    ex.run(g).wait();
  }
  per_item(state, kLayer * kLayer, "per_edge");
}

// ---- parallel_for over 1e6 small items --------------------------------------------------

std::vector<float>& for_data() {
  static std::vector<float> v(kForItems, 1.0f);
  return v;
}

void BM_ParallelFor_Ember(benchmark::State& state) {
  Executor& ex = ember_pool();
  float* x = for_data().data();
  const int64_t grain = state.range(0);
  for (auto _ : state) {
    ember::runtime::parallel_for(ex, 0, kForItems, grain, [x](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) x[i] = x[i] * 0.5f + 1.0f;
    });
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}

// Per-call overhead on a small kernel: 4096 floats, inline (grain >= range)
// and pooled (grain 1024 -> 4 chunks).
void BM_ParallelFor_Ember_Small(benchmark::State& state) {
  Executor& ex = ember_pool();
  float* x = for_data().data();
  const int64_t grain = state.range(0);
  for (auto _ : state) {
    ember::runtime::parallel_for(ex, 0, 4096, grain, [x](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) x[i] = x[i] * 0.5f + 1.0f;
    });
    benchmark::ClobberMemory();
  }
  per_item(state, 1, "per_call");
}

void BM_ParallelFor_SerialLoop(benchmark::State& state) {
  float* x = for_data().data();
  for (auto _ : state) {
    for (int64_t i = 0; i < kForItems; ++i) x[i] = x[i] * 0.5f + 1.0f;
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}

#ifdef EMBER_BENCH_WITH_TBB

void BM_Spawn_TBB_TaskGroup(benchmark::State& state) {
  for (auto _ : state) {
    tbb::task_group tg;
    for (int64_t i = 0; i < kSpawnTasks; ++i) tg.run([] {});
    tg.wait();
  }
  per_item(state, kSpawnTasks, "per_task");
}

using ContinueNode = tbb::flow::continue_node<tbb::flow::continue_msg>;

struct TbbFlow {
  tbb::flow::graph g;
  std::vector<std::unique_ptr<ContinueNode>> nodes;
  std::vector<ContinueNode*> sources;
  ContinueNode* add() {
    nodes.push_back(std::make_unique<ContinueNode>(g, [](const tbb::flow::continue_msg&) {}));
    return nodes.back().get();
  }
  void run() {
    for (ContinueNode* s : sources) s->try_put(tbb::flow::continue_msg());
    g.wait_for_all();
  }
};

void tbb_chain(TbbFlow& f, int64_t n) {
  ContinueNode* prev = f.add();
  f.sources.push_back(prev);
  for (int64_t i = 1; i < n; ++i) {
    ContinueNode* t = f.add();
    tbb::flow::make_edge(*prev, *t);
    prev = t;
  }
}
void tbb_tree(TbbFlow& f, int depth) {
  const int n = (1 << depth) - 1;
  for (int i = 0; i < n; ++i) f.add();
  for (int i = 1; i < n; ++i) tbb::flow::make_edge(*f.nodes[static_cast<size_t>((i - 1) / 2)], *f.nodes[static_cast<size_t>(i)]);
  f.sources.push_back(f.nodes[0].get());
}
void tbb_wavefront(TbbFlow& f, int side) {
  for (int i = 0; i < side * side; ++i) f.add();
  auto at = [&](int r, int c) { return f.nodes[static_cast<size_t>(r * side + c)].get(); };
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c) {
      if (r + 1 < side) tbb::flow::make_edge(*at(r, c), *at(r + 1, c));
      if (c + 1 < side) tbb::flow::make_edge(*at(r, c), *at(r, c + 1));
    }
  f.sources.push_back(at(0, 0));
}
void tbb_bipartite(TbbFlow& f, int k) {
  for (int i = 0; i < 2 * k; ++i) f.add();
  for (int a = 0; a < k; ++a) {
    f.sources.push_back(f.nodes[static_cast<size_t>(a)].get());
    for (int b = 0; b < k; ++b) tbb::flow::make_edge(*f.nodes[static_cast<size_t>(a)], *f.nodes[static_cast<size_t>(k + b)]);
  }
}

template <class Build>
void tbb_run_prebuilt(benchmark::State& state, Build build, int64_t items, const char* what) {
  TbbFlow f;
  build(f);
  for (auto _ : state) f.run();
  per_item(state, items, what);
}

void BM_Spawn_TBB_FlowGraphBuildAndRun(benchmark::State& state) {
  for (auto _ : state) {
    TbbFlow f;
    for (int64_t i = 0; i < kSpawnTasks; ++i) f.sources.push_back(f.add());
    f.run();
  }
  per_item(state, kSpawnTasks, "per_task");
}
void BM_Chain_TBB_Flow(benchmark::State& s) { tbb_run_prebuilt(s, [](TbbFlow& f) { tbb_chain(f, kChain); }, kChain, "per_task"); }
void BM_Tree_TBB_Flow(benchmark::State& s) {
  tbb_run_prebuilt(s, [](TbbFlow& f) { tbb_tree(f, kTreeDepth); }, (1 << kTreeDepth) - 1, "per_task");
}
void BM_Wavefront_TBB_Flow(benchmark::State& s) {
  tbb_run_prebuilt(s, [](TbbFlow& f) { tbb_wavefront(f, kWaveSide); }, kWaveSide * kWaveSide, "per_task");
}
void BM_Edges_TBB_Flow_Run(benchmark::State& s) {
  tbb_run_prebuilt(s, [](TbbFlow& f) { tbb_bipartite(f, kLayer); }, kLayer * kLayer, "per_edge");
}
void BM_Edges_TBB_Flow_BuildAndRun(benchmark::State& state) {
  for (auto _ : state) {
    TbbFlow f;
    tbb_bipartite(f, kLayer);
    f.run();
  }
  per_item(state, kLayer * kLayer, "per_edge");
}

void BM_ParallelFor_TBB_Auto(benchmark::State& state) {
  float* x = for_data().data();
  const int64_t grain = state.range(0);
  for (auto _ : state) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, kForItems, static_cast<size_t>(grain)),
                      [x](const tbb::blocked_range<int64_t>& r) {
                        for (int64_t i = r.begin(); i < r.end(); ++i) x[i] = x[i] * 0.5f + 1.0f;
                      });
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}

void BM_ParallelFor_TBB_Simple(benchmark::State& state) {
  float* x = for_data().data();
  const int64_t grain = state.range(0);
  for (auto _ : state) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, kForItems, static_cast<size_t>(grain)),
                      [x](const tbb::blocked_range<int64_t>& r) {
                        for (int64_t i = r.begin(); i < r.end(); ++i) x[i] = x[i] * 0.5f + 1.0f;
                      },
                      tbb::simple_partitioner());
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}

#endif  // EMBER_BENCH_WITH_TBB

}  // namespace

BENCHMARK(BM_Spawn_Ember_TaskGroup)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spawn_Ember_GraphBuildAndRun)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spawn_MutexQueuePool)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spawn_StdAsync)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Edges_Ember_Run)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Edges_Ember_BuildAndRun)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Chain_Ember)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tree_Ember)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Wavefront_Ember)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParallelFor_Ember)->Arg(1)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParallelFor_SerialLoop)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParallelFor_Ember_Small)->Arg(4096)->Arg(1024)->UseRealTime();
#ifdef EMBER_BENCH_WITH_TBB
BENCHMARK(BM_Spawn_TBB_TaskGroup)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spawn_TBB_FlowGraphBuildAndRun)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Edges_TBB_Flow_Run)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Edges_TBB_Flow_BuildAndRun)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Chain_TBB_Flow)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tree_TBB_Flow)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Wavefront_TBB_Flow)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParallelFor_TBB_Auto)->Arg(1)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ParallelFor_TBB_Simple)->Arg(1)->Arg(1024)->UseRealTime()->Unit(benchmark::kMicrosecond);
#endif

int main(int argc, char** argv) {
#ifdef EMBER_BENCH_WITH_TBB
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(bench_threads()));
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
