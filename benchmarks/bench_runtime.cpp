// bench_runtime: ember's executor against a mutex-queue pool, std::async and
// oneTBB on the workloads: spawn-and-run of empty tasks, dependency
// cost, linear chain, binary tree, wavefront, parallel_for over 1e6 floats.
//
// Names are BM_<workload>_<runtime>. Per-item times are counters (per_task,
// per_edge, per_item, per_call: seconds per item, printed with an SI prefix)
// over real time; the CPU column is the whole process's CPU time, spinning
// included. Every runtime gets the same number of threads (EMBER_BENCH_THREADS,
// default 2): ember's Executor(n) is the caller plus n-1 workers, oneTBB is
// limited to n with global_control, the mutex-queue pool runs n threads while
// the submitter blocks, std::async starts a thread per call. oneTBB runs only
// when the build found it (EMBER_BENCH_WITH_TBB). Run with
// --benchmark_enable_random_interleaving=true --benchmark_repetitions=5 so
// every runtime sees the same machine load.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <ember/runtime/executor.hpp>
#include <ember/runtime/parallel_for.hpp>
#include <ember/runtime/task_graph.hpp>

#include "bench_runtime_baselines.hpp"

#ifdef EMBER_BENCH_WITH_TBB
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_group.h>
#endif

namespace {

using bench::Dag;
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
bench::MutexQueuePool& mutex_pool() {  // idle threads sleep on a condition variable
  static bench::MutexQueuePool pool(bench_threads());
  return pool;
}

void per_item(benchmark::State& state, int64_t items, const char* what) {
  state.counters[what] = benchmark::Counter(static_cast<double>(items),
                                            benchmark::Counter::kIsIterationInvariantRate |
                                                benchmark::Counter::kInvert);
}

constexpr int64_t kSpawnTasks = 1'000'000;
constexpr int64_t kAsyncTasks = 2'000;  // one OS thread each
constexpr int64_t kForItems = 1'000'000;

struct Workload {
  const char* name;
  Dag (*make)();
  const char* unit;  // per_task or per_edge
};
const Workload kWorkloads[] = {
    {"Edges", [] { return bench::make_bipartite(256); }, "per_edge"},  // 65,536 edges
    {"Chain", [] { return bench::make_chain(100'000); }, "per_task"},
    {"Tree", [] { return bench::make_tree(16); }, "per_task"},  // 65,535 tasks
    {"Wavefront", [] { return bench::make_wavefront(256); }, "per_task"},  // 65,536 tasks
};
int64_t items_of(const Workload& w, const Dag& d) {
  return std::string(w.unit) == "per_edge" ? static_cast<int64_t>(d.edges.size()) : d.n;
}

// ---- spawn-and-run of empty tasks ---------------------------------------------------

void BM_Spawn_Ember(benchmark::State& state) {  // TaskGroup::spawn
  Executor& ex = ember_pool();
  for (auto _ : state) {
    ember::runtime::TaskGroup tg(ex);
    for (int64_t i = 0; i < kSpawnTasks; ++i) tg.spawn([] {});
    tg.wait();
  }
  per_item(state, kSpawnTasks, "per_task");
}
void BM_SpawnGraph_Ember(benchmark::State& state) {  // build + run a graph of independent tasks
  Executor& ex = ember_pool();
  for (auto _ : state) {
    TaskGraph g;
    for (int64_t i = 0; i < kSpawnTasks; ++i) g.emplace([] {});
    ex.run(g).wait();
  }
  per_item(state, kSpawnTasks, "per_task");
}
void BM_Spawn_MutexPool(benchmark::State& state) {
  auto& pool = mutex_pool();
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

// ---- DAGs: prebuilt and run, or built and run -------------------------------------------

void build_ember(TaskGraph& g, const Dag& d) {
  std::vector<Task> t;
  t.reserve(static_cast<size_t>(d.n));
  for (int i = 0; i < d.n; ++i) t.push_back(g.emplace([] {}));
  for (auto [u, v] : d.edges) t[static_cast<size_t>(u)].precede(t[static_cast<size_t>(v)]);
}
void dag_ember(benchmark::State& state, const Workload& w) {
  const Dag d = w.make();
  TaskGraph g;
  build_ember(g, d);
  for (auto _ : state) ember_pool().run(g).wait();
  per_item(state, items_of(w, d), w.unit);
}
void dag_build_ember(benchmark::State& state, const Workload& w) {
  const Dag d = w.make();
  for (auto _ : state) {
    TaskGraph g;
    build_ember(g, d);
    ember_pool().run(g).wait();
  }
  per_item(state, items_of(w, d), w.unit);
}
void dag_mutex_pool(benchmark::State& state, const Workload& w) {
  const Dag d = w.make();
  bench::PoolGraph g(d);
  for (auto _ : state) g.run(mutex_pool());
  per_item(state, items_of(w, d), w.unit);
}

// ---- parallel_for over 1e6 small items -------------------------------------------------

std::vector<float>& for_data() {
  static std::vector<float> v(kForItems, 1.0f);
  return v;
}
auto for_body() {
  float* x = for_data().data();
  return [x](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) x[i] = x[i] * 0.5f + 1.0f;
  };
}

void BM_ParallelFor_Ember(benchmark::State& state) {
  Executor& ex = ember_pool();
  auto body = for_body();
  for (auto _ : state) {
    ember::runtime::parallel_for(ex, 0, kForItems, state.range(0), body);
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}
void BM_ParallelFor_MutexPool(benchmark::State& state) {  // ember's chunking, one task per chunk
  auto body = for_body();
  const int64_t chunks = 8 * bench_threads();
  const int64_t chunk = std::max<int64_t>(state.range(0), (kForItems + chunks - 1) / chunks);
  for (auto _ : state) {
    bench::pool_parallel_for(mutex_pool(), kForItems, chunk, body);
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}
void BM_ParallelFor_StdAsync(benchmark::State& state) {  // one static block per thread
  auto body = for_body();
  for (auto _ : state) {
    bench::async_parallel_for(bench_threads(), kForItems, body);
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}
void BM_ParallelFor_Serial(benchmark::State& state) {
  auto body = for_body();
  for (auto _ : state) {
    body(0, kForItems);
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}
// Per-call overhead on a small kernel: 4096 floats, inline (grain >= range)
// and pooled (grain 1024 -> 4 chunks).
void BM_ParallelForSmall_Ember(benchmark::State& state) {
  Executor& ex = ember_pool();
  auto body = for_body();
  for (auto _ : state) {
    ember::runtime::parallel_for(ex, 0, 4096, state.range(0), body);
    benchmark::ClobberMemory();
  }
  per_item(state, 1, "per_call");
}

#ifdef EMBER_BENCH_WITH_TBB

void BM_Spawn_TBB(benchmark::State& state) {  // task_group::run
  for (auto _ : state) {
    tbb::task_group tg;
    for (int64_t i = 0; i < kSpawnTasks; ++i) tg.run([] {});
    tg.wait();
  }
  per_item(state, kSpawnTasks, "per_task");
}

using ContinueNode = tbb::flow::continue_node<tbb::flow::continue_msg>;

struct TbbFlow {
  explicit TbbFlow(const Dag& d) {
    nodes.reserve(static_cast<size_t>(d.n));
    std::vector<bool> has_pred(static_cast<size_t>(d.n));
    for (int i = 0; i < d.n; ++i)
      nodes.push_back(std::make_unique<ContinueNode>(g, [](const tbb::flow::continue_msg&) {}));
    for (auto [u, v] : d.edges) {
      tbb::flow::make_edge(*nodes[static_cast<size_t>(u)], *nodes[static_cast<size_t>(v)]);
      has_pred[static_cast<size_t>(v)] = true;
    }
    for (int i = 0; i < d.n; ++i)
      if (!has_pred[static_cast<size_t>(i)]) sources.push_back(nodes[static_cast<size_t>(i)].get());
  }
  void run() {
    for (ContinueNode* s : sources) s->try_put(tbb::flow::continue_msg());
    g.wait_for_all();
  }
  tbb::flow::graph g;
  std::vector<std::unique_ptr<ContinueNode>> nodes;
  std::vector<ContinueNode*> sources;
};

void BM_SpawnGraph_TBB(benchmark::State& state) {  // build + run a flow graph of independent tasks
  const Dag d{static_cast<int>(kSpawnTasks), {}};
  for (auto _ : state) {
    TbbFlow f(d);
    f.run();
  }
  per_item(state, kSpawnTasks, "per_task");
}
void dag_tbb(benchmark::State& state, const Workload& w) {
  const Dag d = w.make();
  TbbFlow f(d);
  for (auto _ : state) f.run();
  per_item(state, items_of(w, d), w.unit);
}
void dag_build_tbb(benchmark::State& state, const Workload& w) {
  const Dag d = w.make();
  for (auto _ : state) {
    TbbFlow f(d);
    f.run();
  }
  per_item(state, items_of(w, d), w.unit);
}

template <class Partitioner>
void parallel_for_tbb(benchmark::State& state) {
  auto body = for_body();
  const auto grain = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, kForItems, grain),
                      [&](const tbb::blocked_range<int64_t>& r) { body(r.begin(), r.end()); }, Partitioner());
    benchmark::ClobberMemory();
  }
  per_item(state, kForItems, "per_item");
}
void BM_ParallelFor_TBBAuto(benchmark::State& s) { parallel_for_tbb<tbb::auto_partitioner>(s); }
void BM_ParallelFor_TBBSimple(benchmark::State& s) { parallel_for_tbb<tbb::simple_partitioner>(s); }

#endif  // EMBER_BENCH_WITH_TBB

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark(name.c_str(), fn)->UseRealTime()->MeasureProcessCPUTime();
  };
  using benchmark::kMicrosecond;
  using benchmark::kMillisecond;
  reg("BM_Spawn_Ember", BM_Spawn_Ember)->Unit(kMillisecond);
  reg("BM_Spawn_MutexPool", BM_Spawn_MutexPool)->Unit(kMillisecond);
  reg("BM_Spawn_StdAsync", BM_Spawn_StdAsync)->Unit(kMillisecond);
  reg("BM_SpawnGraph_Ember", BM_SpawnGraph_Ember)->Unit(kMillisecond);
  for (const Workload& w : kWorkloads) {
    const std::string base = std::string("BM_") + w.name;
    reg(base + "_Ember", [&w](benchmark::State& s) { dag_ember(s, w); })->Unit(kMicrosecond);
    reg(base + "_MutexPool", [&w](benchmark::State& s) { dag_mutex_pool(s, w); })->Unit(kMicrosecond);
  }
  reg("BM_EdgesBuild_Ember", [](benchmark::State& s) { dag_build_ember(s, kWorkloads[0]); })->Unit(kMicrosecond);
  for (const char* r : {"Ember", "MutexPool"}) {
    const auto fn = std::string(r) == "Ember" ? BM_ParallelFor_Ember : BM_ParallelFor_MutexPool;
    reg(std::string("BM_ParallelFor_") + r, fn)->Arg(1)->Arg(1024)->Unit(kMicrosecond);
  }
  reg("BM_ParallelFor_StdAsync", BM_ParallelFor_StdAsync)->Unit(kMicrosecond);
  reg("BM_ParallelFor_Serial", BM_ParallelFor_Serial)->Unit(kMicrosecond);
  reg("BM_ParallelForSmall_Ember", BM_ParallelForSmall_Ember)->Arg(4096)->Arg(1024);
#ifdef EMBER_BENCH_WITH_TBB
  reg("BM_Spawn_TBB", BM_Spawn_TBB)->Unit(kMillisecond);
  reg("BM_SpawnGraph_TBB", BM_SpawnGraph_TBB)->Unit(kMillisecond);
  for (const Workload& w : kWorkloads)
    reg(std::string("BM_") + w.name + "_TBB", [&w](benchmark::State& s) { dag_tbb(s, w); })->Unit(kMicrosecond);
  reg("BM_EdgesBuild_TBB", [](benchmark::State& s) { dag_build_tbb(s, kWorkloads[0]); })->Unit(kMicrosecond);
  reg("BM_ParallelFor_TBBAuto", BM_ParallelFor_TBBAuto)->Arg(1)->Arg(1024)->Unit(kMicrosecond);
  reg("BM_ParallelFor_TBBSimple", BM_ParallelFor_TBBSimple)->Arg(1)->Arg(1024)->Unit(kMicrosecond);
#endif
}

}  // namespace

int main(int argc, char** argv) {
#ifdef EMBER_BENCH_WITH_TBB
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                            static_cast<size_t>(bench_threads()));
#endif
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
