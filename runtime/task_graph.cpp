// TaskGraph construction, validation (cycle errors, topological order), DOT
// output, and Executor::run/run_n: how a graph run moves through the workers.
//
// Note [graph run]: a run resets every node's `join` to its predecessor count
// and `pending` to the node count, then schedules the sources. A finishing
// node decrements each successor's join (acq_rel); the one that reaches zero
// makes it ready — the first ready successor runs next on the same thread (no
// deque round-trip), the others are pushed for thieves. Every node then
// decrements `pending`; the thread that takes it to zero owns the end of the
// iteration: it starts the next one (run_n) or publishes completion. Cancelled
// or failed runs still walk the whole DAG, skipping the task bodies.
#include <ember/runtime/task_graph.hpp>

#include <functional>
#include <queue>

namespace ember::runtime {

using detail::GraphNode;
using detail::Job;

namespace detail {

struct GraphRun : RunState {
  TaskGraph* graph = nullptr;
  int64_t iterations_left = 0;  // touched only by each iteration's finisher
  alignas(64) std::atomic<int64_t> pending{0};
  std::shared_ptr<GraphRun> self;  // keeps the state alive while running

  static void start_iteration(GraphRun& run, Executor& ex, const std::vector<Job*>& sources);
  static void finish_iteration(GraphRun& run, Executor& ex);
  static void execute_node(Job* job, Executor& ex);
};

}  // namespace detail


// ---- Task -------------------------------------------------------------------------

Task& Task::name(std::string name) {
  EMBER_CHECK(node_ != nullptr, "Task::name: empty task handle");
  node_->graph->check_not_running("rename a task");
  node_->name = std::move(name);
  node_->label = node_->name.c_str();
  return *this;
}

const std::string& Task::name() const {
  EMBER_CHECK(node_ != nullptr, "Task::name: empty task handle");
  return node_->name;
}

size_t Task::index() const { return node_->index; }
size_t Task::num_successors() const { return node_->successors.size(); }
size_t Task::num_predecessors() const { return static_cast<size_t>(node_->num_predecessors); }

void Task::add_edge(const Task& from, const Task& to) {
  EMBER_CHECK(from.node_ && to.node_, "Task::precede: empty task handle");
  EMBER_CHECK(from.node_->graph == to.node_->graph, "Task::precede: '", from.node_->display_name(),
              "' and '", to.node_->display_name(), "' belong to different graphs");
  TaskGraph& g = *from.node_->graph;
  g.check_not_running("add a dependency");
  from.node_->successors.push_back(to.node_);
  ++to.node_->num_predecessors;
  ++g.num_edges_;
  ++g.version_;
}

// ---- TaskGraph ---------------------------------------------------------------------

TaskGraph::TaskGraph() : TaskGraph("taskgraph") {}
TaskGraph::TaskGraph(std::string name) : name_(std::move(name)) {}

TaskGraph::~TaskGraph() {
  if (!running()) return;
  if (auto run = current_run_.lock(); run && run->executor)
    run->executor->wait_until([&] { return run->done.load(std::memory_order_acquire); });
}

void TaskGraph::check_not_running(const char* what) const {
  EMBER_CHECK(!running(), "TaskGraph '", name_, "': cannot ", what, " while the graph is running");
}

Task TaskGraph::emplace_function(std::function<void()> fn) {
  check_not_running("add a task");
  GraphNode& node = nodes_.emplace_back();
  node.graph = this;
  node.index = nodes_.size() - 1;
  node.fn = std::move(fn);
  node.exec = &detail::GraphRun::execute_node;
  ++version_;
  return Task(&node);
}

void TaskGraph::clear() {
  check_not_running("clear the graph");
  nodes_.clear();
  sources_.clear();
  num_edges_ = 0;
  ++version_;
}

namespace {

std::string cycle_message(const detail::NodeStore& nodes, const std::vector<int>& indegree) {
  // Every node left with indegree > 0 lies on or behind a cycle: a DFS over
  // them finds a back edge, and the DFS path from its target is the cycle.
  const size_t n = nodes.size();
  std::vector<char> color(n, 0);  // 0 new, 1 on the path, 2 done
  for (size_t root = 0; root < n; ++root) {
    if (indegree[root] == 0 || color[root] != 0) continue;
    std::vector<std::pair<size_t, size_t>> path{{root, 0}};
    color[root] = 1;
    while (!path.empty()) {
      auto& [u, next] = path.back();
      if (next == nodes[u].successors.size()) {
        color[u] = 2;
        path.pop_back();
        continue;
      }
      const size_t v = nodes[u].successors[next++]->index;
      if (indegree[v] == 0 || color[v] == 2) continue;
      if (color[v] == 1) {
        std::string msg = "TaskGraph: cycle detected: ";
        size_t start = 0;
        while (path[start].first != v) ++start;
        for (size_t i = start; i < path.size(); ++i) msg += nodes[path[i].first].display_name() + " -> ";
        return msg + nodes[v].display_name();
      }
      color[v] = 1;
      path.emplace_back(v, 0);
    }
  }
  return "TaskGraph: cycle detected";
}

}  // namespace

std::vector<Task> TaskGraph::topological_order() const {
  const size_t n = nodes_.size();
  std::vector<int> indegree(n);
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i) {
    indegree[i] = nodes_[i].num_predecessors;
    if (indegree[i] == 0) ready.push(i);
  }
  std::vector<Task> order;
  order.reserve(n);
  while (!ready.empty()) {
    const size_t i = ready.top();
    ready.pop();
    order.push_back(Task(const_cast<GraphNode*>(&nodes_[i])));
    for (GraphNode* s : nodes_[i].successors)
      if (--indegree[s->index] == 0) ready.push(s->index);
  }
  if (order.size() != n) EMBER_FAIL(cycle_message(nodes_, indegree));
  return order;
}

void TaskGraph::validate() const {
  // Plain Kahn (no tie-breaking): only the count of ordered nodes matters.
  const size_t n = nodes_.size();
  std::vector<int> indegree(n);
  std::vector<size_t> ready;
  for (size_t i = 0; i < n; ++i) {
    indegree[i] = nodes_[i].num_predecessors;
    if (indegree[i] == 0) ready.push_back(i);
  }
  size_t ordered = 0;
  while (!ready.empty()) {
    const size_t i = ready.back();
    ready.pop_back();
    ++ordered;
    for (const GraphNode* s : nodes_[i].successors)
      if (--indegree[s->index] == 0) ready.push_back(s->index);
  }
  if (ordered != n) EMBER_FAIL(cycle_message(nodes_, indegree));
}

const std::vector<Job*>& TaskGraph::prepare_run() {
  if (validated_version_ != version_) {
    validate();
    sources_.clear();
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].num_predecessors == 0) sources_.push_back(&nodes_[i]);
    validated_version_ = version_;
  }
  return sources_;
}

void TaskGraph::begin_run_or_throw(const char* who) {
  bool expected = false;
  EMBER_CHECK(running_.compare_exchange_strong(expected, true, std::memory_order_acq_rel),
              who, ": TaskGraph '", name_,
              "' is already running; wait for the previous run before starting another");
}

void TaskGraph::dump_dot(std::ostream& os) const {
  auto quoted = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + '"';
  };
  os << "digraph " << quoted(name_) << " {\n";
  for (size_t i = 0; i < nodes_.size(); ++i)
    os << "  n" << i << " [label=" << quoted(nodes_[i].display_name()) << "];\n";
  for (size_t i = 0; i < nodes_.size(); ++i)
    for (const GraphNode* s : nodes_[i].successors) os << "  n" << i << " -> n" << s->index << ";\n";
  os << "}\n";
}

// ---- running a graph on the Executor (Note [graph run]) --------------------------------

namespace detail {

void GraphRun::start_iteration(GraphRun& run, Executor& ex, const std::vector<Job*>& sources) {
  detail::NodeStore& nodes = run.graph->nodes_;
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].join.store(nodes[i].num_predecessors, std::memory_order_relaxed);
    nodes[i].run = &run;
  }
  run.pending.store(static_cast<int64_t>(run.graph->size()), std::memory_order_relaxed);
  ex.schedule_batch(sources.data(), sources.size());  // publishes the resets
}

void GraphRun::finish_iteration(GraphRun& run, Executor& ex) {
  if (--run.iterations_left > 0 && !run.cancelled.load(std::memory_order_relaxed)) {
    start_iteration(run, ex, run.graph->sources_);
    return;
  }
  std::shared_ptr<GraphRun> keep_alive = std::move(run.self);
  run.graph->running_.store(false, std::memory_order_release);
  run.done.store(true, std::memory_order_seq_cst);
  ex.notify_condition_waiters();
  ex.end_run();
}

void GraphRun::execute_node(Job* job, Executor& ex) {
  auto* node = static_cast<GraphNode*>(job);
  GraphRun& run = *node->run;
  const bool chain = !ex.trace_enabled();  // traced runs push every node, one event each
  for (;;) {
    if (node->fn && !run.cancelled.load(std::memory_order_relaxed)) {
      try {
        node->fn();
      } catch (...) {
        run.fail(std::current_exception());
      }
    }
    GraphNode* next = nullptr;
    for (GraphNode* s : node->successors) {
      if (s->join.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        if (chain && next == nullptr) {
          next = s;
        } else {
          ex.schedule(s);
        }
      }
    }
    if (run.pending.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      finish_iteration(run, ex);
      return;
    }
    if (next == nullptr) return;
    node = next;
  }
}

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
  const std::vector<Job*>* sources = nullptr;
  try {
    sources = &graph.prepare_run();
  } catch (...) {
    graph.running_.store(false, std::memory_order_release);
    throw;
  }
  if (n == 0 || graph.empty()) {
    graph.running_.store(false, std::memory_order_release);
    run->done.store(true, std::memory_order_release);
    return RunHandle(std::move(run));
  }
  run->self = run;
  begin_run();
  detail::Participation participation(*this);  // sources go to the caller's deque when free
  detail::GraphRun::start_iteration(*run, *this, *sources);
  if (num_threads_ == 1) {  // Executor(1): run inline now
    detail::RunState& s = *run;
    wait_until([&] { return s.done.load(std::memory_order_acquire); });
  }
  return RunHandle(std::move(run));
}

}  // namespace ember::runtime
