// Executor::run / run_n: how a TaskGraph run moves through the workers.
//
// Note [graph run]: a run schedules the sources (Note [source splitting]).
// A node, once its body ran (or was skipped: cancelled or failed runs still
// walk the whole DAG), releases its successors. A successor with one
// predecessor is ready at once; others are ready when their join counter,
// decremented with acq_rel, reaches zero. One ready successor runs next on
// the same thread (continuation passing: no deque round-trip, cache-warm; see
// run_chain for which), the others are pushed for thieves. A node resets its
// own join as it starts
// (Note [join reset] in graph_node.hpp), so run_n repeats a graph without a
// pass over its nodes.
//
// Note [graph completions]: a run is over when every sink (node without
// successors) has finished: every node leads to a sink, and a node's last act
// on the graph is its last successor decrement, which comes before that
// successor, hence before some sink, finishes. So the run counts sinks, not
// nodes, and counts them in batches (Note [batched completions] in
// executor.cpp) keyed by the graph: a thread running nodes of one graph
// decrements `pending` once, when it moves on. The thread that takes pending
// to zero owns the end of the iteration: it starts the next one (run_n) or
// publishes completion. After its last successor decrement a node touches no
// memory of the graph or the run: both may be gone.
#include <ember/runtime/task_graph.hpp>

#include <algorithm>

namespace ember::runtime {

using detail::GraphNode;
using detail::Job;

namespace detail {

struct GraphRun : RunState {
  TaskGraph* graph = nullptr;
  int64_t iterations_left = 0;  // touched only by each iteration's finisher
  alignas(64) std::atomic<int64_t> pending{0};  // sinks of this iteration still to finish
  std::shared_ptr<GraphRun> self;  // keeps the state alive while running

  static void start_iteration(GraphRun& run, Executor& ex);
  static void finish_iteration(GraphRun& run, Executor& ex);
  static void finish_sinks(const void* graph, int64_t count) noexcept;
  static void execute_node(Job* job, Executor& ex);
  static int64_t run_chain(GraphNode* node, TaskGraph& graph, GraphRun& run, Executor& ex, bool chain);
  static void run_sources(TaskGraph& graph, uint32_t begin, uint32_t end, uint32_t leaf, Executor& ex);
};

namespace {

TaskGraph& graph_of(const Job* job) noexcept {
  return *static_cast<TaskGraph*>(const_cast<void*>(job->batch_key));
}

// Note [source splitting]: a graph with many sources (say a million
// independent tasks) does not push each one. One SourceRange job covers them;
// whoever runs a range pushes its upper half as a new range and keeps the
// lower half, down to `leaf` sources, which it runs in order. Thieves take big
// halves, each thread does O(log n) deque operations, and the deques do not
// grow with the number of sources. A range covers positions in the source list
// or, for a graph made mostly of sources, node indices (it skips non-sources).
// Each range holds one count of `pending` until it has read the graph for the
// last time (Note [graph completions]).
struct SourceRange : Job {
  SourceRange(TaskGraph* g, uint32_t b, uint32_t e, uint32_t l) : graph(g), begin(b), end(e), leaf(l) {
    exec = &run;
    label = "graph sources";
    batch_key = g;
  }
  static void run(Job* job, Executor& ex) {
    auto* self = static_cast<SourceRange*>(job);
    TaskGraph& g = *self->graph;
    const uint32_t b = self->begin, e = self->end, l = self->leaf;
    delete_job(self);
    GraphRun::run_sources(g, b, e, l, ex);
  }
  TaskGraph* graph;
  uint32_t begin, end, leaf;
};

constexpr size_t kLeavesPerThread = 8;

}  // namespace

// Runs one ready node, then keeps running one successor it makes ready: the
// one nearest in insertion order, usually nearest in memory too (the next
// task of a row of a wavefront, the next link of a chain), so a thread walks
// the graph in the order it was built and the hardware prefetcher keeps up.
// Returns the number of sinks it finished, for the caller to count
// (Note [graph completions]); `chain` is false while tracing (every node then
// gets its own job, so its own trace event).
inline int64_t GraphRun::run_chain(GraphNode* node, TaskGraph& graph, GraphRun& run, Executor& ex, bool chain) {
  const TaskGraph::Edge* successors = graph.successors_;
  int64_t sinks = 0;
  for (;;) {
    const int32_t preds = node->num_predecessors;
    if (preds > 1) node->join.store(preds, std::memory_order_relaxed);  // Note [join reset]
    if (node->has_work() && !run.cancelled.load(std::memory_order_relaxed)) {
      try {
        node->call();
      } catch (...) {
        run.fail(std::current_exception());
      }
    }
    const uint32_t n = node->num_successors;
    if (n == 0) {
      ++sinks;
      break;
    }
    const TaskGraph::Edge* succ = successors + node->first_successor;
    GraphNode* next = nullptr;
    uint32_t next_distance = 0;
    for (uint32_t k = 0; k < n; ++k) {
      GraphNode* s = &graph.nodes_[succ[k].to];
      if (s->num_predecessors > 1 && s->join.fetch_sub(1, std::memory_order_acq_rel) != 1) continue;
      const uint32_t distance = succ[k].to > succ[k].from ? succ[k].to - succ[k].from : succ[k].from - succ[k].to;
      if (!chain) {
        ex.schedule(s);
      } else if (next == nullptr) {
        next = s;
        next_distance = distance;
      } else if (distance < next_distance) {
        ex.schedule(next);
        next = s;
        next_distance = distance;
      } else {
        ex.schedule(s);
      }
    }
    if (next == nullptr) break;
    node = next;
  }
  return sinks;
}

void GraphRun::run_sources(TaskGraph& graph, uint32_t begin, uint32_t end, uint32_t leaf, Executor& ex) {
  while (end - begin > leaf) {
    const uint32_t mid = begin + (end - begin) / 2;
    graph.active_run_->pending.fetch_add(1, std::memory_order_relaxed);  // the new range's count
    ex.schedule(new_job<SourceRange>(&graph, mid, end, leaf));
    end = mid;
  }
  GraphRun& run = *graph.active_run_;
  const bool traced = ex.trace_enabled();  // traced: one job, so one trace event, per node
  int64_t sinks = 0;
  auto start = [&](GraphNode* node) {
    if (traced) {
      ex.schedule(node);
    } else {
      sinks += run_chain(node, graph, run, ex, true);
    }
  };
  if (graph.scan_sources_) {
    for (uint32_t i = begin; i < end; ++i) {
      GraphNode* node = &graph.nodes_[i];
      if (node->num_predecessors == 0) start(node);
    }
  } else {
    for (uint32_t i = begin; i < end; ++i) start(static_cast<GraphNode*>(graph.sources_[i]));
  }
  // The sinks run here and this range's own count, in one batch. Only the
  // key's address: the graph may be gone unless this thread holds a count.
  defer_completions(&graph, &GraphRun::finish_sinks, sinks + 1);
}

void GraphRun::start_iteration(GraphRun& run, Executor& ex) {
  TaskGraph& graph = *run.graph;
  const size_t n = graph.scan_sources_ ? graph.size() : graph.sources_.size();
  if (!graph.scan_sources_ && n <= TaskGraph::kPushEachSources) {
    run.pending.store(graph.num_sinks_, std::memory_order_relaxed);
    ex.schedule_batch(graph.sources_.data(), n);  // publishes the iteration's state
    return;
  }
  run.pending.store(graph.num_sinks_ + 1, std::memory_order_relaxed);  // + the first range
  const size_t leaf = std::max<size_t>(1, n / (kLeavesPerThread * static_cast<size_t>(ex.num_threads())));
  ex.schedule(new_job<SourceRange>(&graph, 0, static_cast<uint32_t>(n), static_cast<uint32_t>(leaf)));
}

void GraphRun::finish_sinks(const void* graph, int64_t count) noexcept {
  GraphRun& run = *static_cast<const TaskGraph*>(graph)->active_run_;
  if (run.pending.fetch_sub(count, std::memory_order_acq_rel) == count) finish_iteration(run, *run.executor);
}

void GraphRun::finish_iteration(GraphRun& run, Executor& ex) {
  if (--run.iterations_left > 0 && !run.cancelled.load(std::memory_order_relaxed)) {
    start_iteration(run, ex);
    return;
  }
  std::shared_ptr<GraphRun> keep_alive = std::move(run.self);
  run.graph->running_.store(false, std::memory_order_release);
  run.done.store(true, std::memory_order_seq_cst);
  ex.notify_condition_waiters();
  ex.end_run();
}

void GraphRun::execute_node(Job* job, Executor& ex) {
  TaskGraph& graph = graph_of(job);
  const int64_t sinks = run_chain(static_cast<GraphNode*>(job), graph, *graph.active_run_, ex, !ex.trace_enabled());
  if (sinks > 0) defer_completions(&graph, &GraphRun::finish_sinks, sinks);  // only the key's address
}

void execute_graph_node(Job* job, Executor& ex) { GraphRun::execute_node(job, ex); }

}  // namespace detail

RunHandle Executor::run(TaskGraph& graph) { return run_n(graph, 1); }

RunHandle Executor::run_n(TaskGraph& graph, int64_t n) {
  EMBER_CHECK(n >= 0, "Executor::run_n: n must be >= 0, got ", n);
  graph.begin_run_or_throw("Executor::run");
  auto run = std::make_shared<detail::GraphRun>();
  run->executor = this;
  run->graph = &graph;
  run->iterations_left = n;
  graph.current_run_ = run;
  try {
    graph.compile();
  } catch (...) {
    graph.running_.store(false, std::memory_order_release);
    throw;
  }
  if (n == 0 || graph.empty()) {
    graph.running_.store(false, std::memory_order_release);
    run->done.store(true, std::memory_order_release);
    return RunHandle(std::move(run));
  }
  graph.active_run_ = run.get();
  run->self = run;
  begin_run();
  detail::Participation participation(*this);  // sources go to the caller's deque when free
  detail::GraphRun::start_iteration(*run, *this);
  if (num_threads_ == 1) {  // Executor(1): run inline now
    detail::RunState& s = *run;
    wait_until([&] { return s.done.load(std::memory_order_acquire); });
  }
  return RunHandle(std::move(run));
}

}  // namespace ember::runtime
