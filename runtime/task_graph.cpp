// TaskGraph construction, validation (cycle errors, topological order), DOT
// output, and compile(): the run-time layout built once per structural change.
// How a run moves through the workers is in graph_run.cpp.
//
// Note [graph layout]: edges are appended to one array in insertion order.
// When each node's outgoing edges are contiguous there (the usual way to
// build: "for each task, precede its successors"), that array is already the
// successor list of every node: add_edge records each node's first edge, and
// compile() has nothing to sort. Otherwise compile() sorts a copy by source
// (stable, so successors keep their insertion order). Counters kept while
// building (sources, sinks, join == num_predecessors) spare compile() a pass
// over the nodes, except to list the sources of a graph with few of them; a
// graph made mostly of sources is scanned by its runs instead.
#include <ember/runtime/task_graph.hpp>

#include <functional>
#include <limits>
#include <queue>

namespace ember::runtime {

using detail::GraphNode;
using detail::Job;

namespace {

// Successor lists by index, in edge insertion order (compressed sparse rows):
// successors of i are targets[offsets[i] .. offsets[i + 1]).
struct Adjacency {
  std::vector<uint32_t> offsets;
  std::vector<uint32_t> targets;
};

template <class Edges>
Adjacency build_adjacency(size_t n, const Edges& edges) {
  Adjacency adj;
  adj.offsets.assign(n + 1, 0);
  for (const auto& e : edges) ++adj.offsets[e.from + 1];
  for (size_t i = 0; i < n; ++i) adj.offsets[i + 1] += adj.offsets[i];
  adj.targets.resize(edges.size());
  std::vector<uint32_t> cursor(adj.offsets.begin(), adj.offsets.end() - 1);
  for (const auto& e : edges) adj.targets[cursor[e.from]++] = e.to;
  return adj;
}

}  // namespace

// ---- Task -------------------------------------------------------------------------

Task& Task::name(std::string name) {
  EMBER_CHECK(node_ != nullptr, "Task::name: empty task handle");
  graph_->check_not_running("rename a task");
  std::string& stored = graph_->names_[index_];
  stored = std::move(name);
  node_->label = stored.c_str();
  return *this;
}

const std::string& Task::name() const {
  static const std::string kNoName;
  EMBER_CHECK(node_ != nullptr, "Task::name: empty task handle");
  auto it = graph_->names_.find(index_);
  return it == graph_->names_.end() ? kNoName : it->second;
}

void Task::add_edge(const Task& from, const Task& to) {
  EMBER_CHECK(from.node_ && to.node_, "Task::precede: empty task handle");
  EMBER_CHECK(from.graph_ == to.graph_, "Task::precede: '", from.graph_->display_name(from.index_),
              "' and '", to.graph_->display_name(to.index_), "' belong to different graphs");
  TaskGraph& g = *from.graph_;
  g.check_not_running("add a dependency");
  GraphNode& f = *from.node_;
  GraphNode& t = *to.node_;
  EMBER_CHECK(g.edges_.size() < std::numeric_limits<uint32_t>::max() &&
                  t.num_predecessors < std::numeric_limits<int32_t>::max(),
              "TaskGraph '", g.name_, "': too many dependencies");
  const bool extends_group = f.num_successors == 0 || g.edges_.back().from == from.index_;
  g.edges_.push_back(TaskGraph::Edge{from.index_, to.index_});  // the only step that can throw
  if (f.num_successors == 0) {
    f.first_successor = static_cast<uint32_t>(g.edges_.size() - 1);
    --g.num_sinks_;
  }
  g.grouped_ = g.grouped_ && extends_group;
  if (t.num_predecessors == 0) --g.num_sources_;
  ++f.num_successors;
  ++t.num_predecessors;
  t.join.store(t.num_predecessors, std::memory_order_relaxed);  // Note [join reset]
  g.forward_only_ = g.forward_only_ && from.index_ < to.index_;
  ++g.version_;
}

// ---- TaskGraph ---------------------------------------------------------------------

TaskGraph::TaskGraph() : TaskGraph("taskgraph") {}
TaskGraph::TaskGraph(std::string name) : name_(std::move(name)) {}

TaskGraph::~TaskGraph() {
  if (running()) {
    if (auto run = current_run_.lock(); run && run->executor)
      run->executor->wait_until([&] { return run->done.load(std::memory_order_acquire); });
  }
  destroy_callables();
}

void TaskGraph::throw_running(const char* what) const {
  EMBER_FAIL("TaskGraph '", name_, "': cannot ", what, " while the graph is running");
}

std::string TaskGraph::display_name(size_t index) const {
  auto it = names_.find(static_cast<uint32_t>(index));
  return it == names_.end() || it->second.empty() ? "task#" + std::to_string(index) : it->second;
}

GraphNode& TaskGraph::new_node() {
  check_not_running("add a task");
  EMBER_CHECK(nodes_.size() < detail::NodeArena::kMaxNodes, "TaskGraph '", name_, "': too many tasks");
  GraphNode& node = nodes_.emplace_back();
  node.exec = &detail::execute_graph_node;
  node.batch_key = this;
  ++num_sources_;
  ++num_sinks_;
  ++version_;
  return node;
}

void TaskGraph::discard_last_node() noexcept {
  nodes_.pop_back();
  --num_sources_;
  --num_sinks_;
}

void TaskGraph::destroy_callables() noexcept {
  for (const Destructor& d : destructors_) d.destroy(d.object);
  destructors_.clear();
  callable_bytes_.clear();
}

void TaskGraph::clear() {
  check_not_running("clear the graph");
  destroy_callables();
  nodes_.clear();
  names_.clear();
  edges_.clear();
  sorted_edges_.clear();
  grouped_ = true;
  forward_only_ = true;
  successors_ = nullptr;
  sources_.clear();
  num_sources_ = 0;
  num_sinks_ = 0;
  ++version_;
}

namespace {

std::string cycle_message(const Adjacency& adj, const std::vector<int>& indegree,
                          const std::function<std::string(size_t)>& name_of) {
  // Every node left with indegree > 0 lies on or behind a cycle: a DFS over
  // them finds a back edge, and the DFS path from its target is the cycle.
  const size_t n = indegree.size();
  std::vector<char> color(n, 0);  // 0 new, 1 on the path, 2 done
  for (size_t root = 0; root < n; ++root) {
    if (indegree[root] == 0 || color[root] != 0) continue;
    std::vector<std::pair<size_t, size_t>> path{{root, adj.offsets[root]}};
    color[root] = 1;
    while (!path.empty()) {
      auto& [u, next] = path.back();
      if (next == adj.offsets[u + 1]) {
        color[u] = 2;
        path.pop_back();
        continue;
      }
      const size_t v = adj.targets[next++];
      if (indegree[v] == 0 || color[v] == 2) continue;
      if (color[v] == 1) {
        std::string msg = "TaskGraph: cycle detected: ";
        size_t start = 0;
        while (path[start].first != v) ++start;
        for (size_t i = start; i < path.size(); ++i) msg += name_of(path[i].first) + " -> ";
        return msg + name_of(v);
      }
      color[v] = 1;
      path.emplace_back(v, adj.offsets[v]);
    }
  }
  return "TaskGraph: cycle detected";
}

}  // namespace

std::vector<Task> TaskGraph::topological_order() const {
  const size_t n = nodes_.size();
  const Adjacency adj = build_adjacency(n, edges_);
  std::vector<int> indegree(n);
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i) {
    indegree[i] = nodes_[i].num_predecessors;
    if (indegree[i] == 0) ready.push(i);
  }
  std::vector<Task> order;
  order.reserve(n);
  auto* self = const_cast<TaskGraph*>(this);
  while (!ready.empty()) {
    const size_t i = ready.top();
    ready.pop();
    order.push_back(Task(self, &self->nodes_[i], static_cast<uint32_t>(i)));
    for (uint32_t k = adj.offsets[i]; k < adj.offsets[i + 1]; ++k)
      if (--indegree[adj.targets[k]] == 0) ready.push(adj.targets[k]);
  }
  if (order.size() != n)
    EMBER_FAIL(cycle_message(adj, indegree, [&](size_t i) { return display_name(i); }));
  return order;
}

void TaskGraph::validate() const {
  if (forward_only_) return;  // edges only go forward in insertion order: a DAG
  // Plain Kahn (no tie-breaking): only the count of ordered nodes matters.
  const size_t n = nodes_.size();
  const Adjacency adj = build_adjacency(n, edges_);
  std::vector<int> indegree(n);
  std::vector<uint32_t> ready;
  for (size_t i = 0; i < n; ++i) {
    indegree[i] = nodes_[i].num_predecessors;
    if (indegree[i] == 0) ready.push_back(static_cast<uint32_t>(i));
  }
  size_t ordered = 0;
  while (!ready.empty()) {
    const uint32_t i = ready.back();
    ready.pop_back();
    ++ordered;
    for (uint32_t k = adj.offsets[i]; k < adj.offsets[i + 1]; ++k)
      if (--indegree[adj.targets[k]] == 0) ready.push_back(adj.targets[k]);
  }
  if (ordered != n) EMBER_FAIL(cycle_message(adj, indegree, [&](size_t i) { return display_name(i); }));
}

void TaskGraph::compile() {
  if (compiled_version_ == version_) return;
  validate();
  if (grouped_) {
    sorted_edges_.clear();
    successors_ = edges_.data();
  } else {
    // Counting sort by source; first_successor ends at each range's end and is
    // walked back to its start by the edges taken in reverse order.
    sorted_edges_.resize(edges_.size());
    uint32_t offset = 0;
    nodes_.for_each([&](GraphNode& node) {
      offset += node.num_successors;
      node.first_successor = offset;
    });
    for (size_t e = edges_.size(); e-- > 0;) sorted_edges_[--nodes_[edges_[e].from].first_successor] = edges_[e];
    successors_ = sorted_edges_.data();
  }
  const auto n = static_cast<int64_t>(nodes_.size());
  scan_sources_ = n > static_cast<int64_t>(kPushEachSources) && num_sources_ * 4 >= n;
  sources_.clear();
  if (!scan_sources_) {
    sources_.reserve(static_cast<size_t>(num_sources_));
    nodes_.for_each([&](GraphNode& node) {
      if (node.num_predecessors == 0) sources_.push_back(&node);
    });
  }
  compiled_version_ = version_;
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
  const size_t n = nodes_.size();
  const Adjacency adj = build_adjacency(n, edges_);
  os << "digraph " << quoted(name_) << " {\n";
  for (size_t i = 0; i < n; ++i) os << "  n" << i << " [label=" << quoted(display_name(i)) << "];\n";
  for (size_t i = 0; i < n; ++i)
    for (uint32_t k = adj.offsets[i]; k < adj.offsets[i + 1]; ++k)
      os << "  n" << i << " -> n" << adj.targets[k] << ";\n";
  os << "}\n";
}

}  // namespace ember::runtime
