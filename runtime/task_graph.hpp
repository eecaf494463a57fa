// TaskGraph: a reusable DAG of tasks, run by an Executor or a SerialExecutor.
//
// Build once, run many times: the training loop runs the same DAG every step
// (Executor::run_n re-runs it without rebuilding). Taskflow-style API:
//   TaskGraph g;
//   auto a = g.emplace([] { ... }).name("a");
//   auto b = g.emplace([] { ... }).name("b");
//   a.precede(b);                 // or b.succeed(a)
//   ex.run(g).wait();
// Invariants: a graph is modified only while it is not running (checked: an
// ember::Error); one run of a graph at a time (checked); a cyclic graph is an
// ember::Error naming the tasks on the cycle. Task handles stay valid until the
// graph is cleared or destroyed (destroying a running graph waits for the run).
// Storage (graph_node.hpp, Note [graph layout] in task_graph.cpp): one 64-byte
// node per task with the callable inline when small; successor lists are
// ranges of one edge array per graph.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ember/runtime/executor.hpp>
#include <ember/runtime/graph_node.hpp>

namespace ember::runtime {

class TaskGraph;

namespace detail {
struct GraphRun;
}  // namespace detail

// Lightweight handle to one task of a TaskGraph (copyable, compares by identity).
class Task {
 public:
  Task() = default;

  // this -> each of others.
  template <class... Tasks>
  Task& precede(const Tasks&... others) {
    (add_edge(*this, others), ...);
    return *this;
  }
  // each of others -> this.
  template <class... Tasks>
  Task& succeed(const Tasks&... others) {
    (add_edge(others, *this), ...);
    return *this;
  }
  Task& name(std::string name);
  // The name given with name(name); empty when none was given (errors and
  // DOT output then say "task#<index>").
  const std::string& name() const;
  size_t index() const noexcept { return index_; }  // insertion order within its graph
  size_t num_successors() const noexcept { return node_->num_successors; }
  size_t num_predecessors() const noexcept { return static_cast<size_t>(node_->num_predecessors); }
  bool valid() const noexcept { return node_ != nullptr; }
  bool operator==(const Task& other) const noexcept { return node_ == other.node_; }

 private:
  friend class TaskGraph;
  Task(TaskGraph* graph, detail::GraphNode* node, uint32_t index) noexcept
      : graph_(graph), node_(node), index_(index) {}
  static void add_edge(const Task& from, const Task& to);
  TaskGraph* graph_ = nullptr;
  detail::GraphNode* node_ = nullptr;
  uint32_t index_ = 0;
};

class TaskGraph {
 public:
  TaskGraph();
  explicit TaskGraph(std::string name);
  ~TaskGraph();
  TaskGraph(const TaskGraph&) = delete;
  TaskGraph& operator=(const TaskGraph&) = delete;

  // Adds a task running fn(); exceptions thrown by fn surface from wait().
  template <class F>
  Task emplace(F&& fn);
  // Adds a task that does nothing (a join point).
  Task placeholder() {
    detail::GraphNode& node = new_node();
    return Task(this, &node, static_cast<uint32_t>(nodes_.size() - 1));
  }

  size_t size() const noexcept { return nodes_.size(); }
  bool empty() const noexcept { return nodes_.size() == 0; }
  size_t num_edges() const noexcept { return edges_.size(); }
  bool running() const noexcept { return running_.load(std::memory_order_acquire); }
  const std::string& name() const noexcept { return name_; }
  void clear();

  // Kahn's algorithm, ties broken by insertion order (the SerialExecutor's
  // order). Throws "TaskGraph: cycle detected: a -> b -> a" on a cycle.
  std::vector<Task> topological_order() const;
  // Throws the cycle error when the graph is not a DAG.
  void validate() const;
  // Graphviz DOT: one node per task (labelled by name), one edge per dependency.
  void dump_dot(std::ostream& os) const;

 private:
  friend class Task;
  friend class Executor;
  friend class SerialExecutor;
  friend struct detail::GraphRun;

  struct Edge {
    uint32_t from, to;
  };
  // A run pushes up to this many sources one by one; more are split into
  // ranges (Note [source splitting] in graph_run.cpp).
  static constexpr size_t kPushEachSources = 32;
  struct Destructor {
    void* object;
    void (*destroy)(void*) noexcept;
  };

  // Appends a placeholder node (checks that the graph is not running).
  detail::GraphNode& new_node();
  // Undoes new_node() when the task's callable could not be stored.
  void discard_last_node() noexcept;
  void check_not_running(const char* what) const {
    if (running()) [[unlikely]] throw_running(what);
  }
  [[noreturn]] void throw_running(const char* what) const;
  std::string display_name(size_t index) const;
  void destroy_callables() noexcept;
  // Validates and builds the run-time layout once per structural change:
  // the successor ranges and the source list (Note [graph layout]).
  void compile();
  // Marks the graph running; throws if it already is.
  void begin_run_or_throw(const char* who);

  // Read by every task of a run; written only between runs.
  detail::GraphRun* active_run_ = nullptr;
  const Edge* successors_ = nullptr;  // node.first_successor indexes this

  std::string name_;
  detail::NodeArena nodes_;  // stable addresses
  detail::ByteArena callable_bytes_;  // callables too large for a node
  std::vector<Destructor> destructors_;  // callables that are not trivially destructible
  std::unordered_map<uint32_t, std::string> names_;  // named tasks only
  std::vector<Edge> edges_;  // insertion order
  std::vector<Edge> sorted_edges_;  // edges_ grouped by source, when edges_ is not
  bool grouped_ = true;  // each node's outgoing edges are contiguous in edges_
  bool forward_only_ = true;  // every edge goes from a lower to a higher index: a DAG
  std::atomic<bool> running_{false};
  uint64_t version_ = 0;
  uint64_t compiled_version_ = ~uint64_t{0};
  int64_t num_sources_ = 0;  // nodes without predecessors
  int64_t num_sinks_ = 0;  // nodes without successors
  bool scan_sources_ = false;  // sources are dense: runs scan the nodes instead of a list
  std::vector<detail::Job*> sources_;  // when !scan_sources_
  std::weak_ptr<detail::RunState> current_run_;
};

// ---- template definitions ----------------------------------------------------

template <class F>
Task TaskGraph::emplace(F&& fn) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_v<Fn&>, "TaskGraph::emplace: the task must be callable with no arguments");
  detail::GraphNode& node = new_node();
  const auto index = static_cast<uint32_t>(nodes_.size() - 1);
  try {
    void* object;
    if constexpr (detail::kFitsInline<Fn>) {
      object = ::new (static_cast<void*>(node.storage)) Fn(std::forward<F>(fn));
      node.invoke = &detail::invoke_inline<Fn>;
    } else {
      object = ::new (callable_bytes_.allocate(sizeof(Fn), alignof(Fn))) Fn(std::forward<F>(fn));
      ::new (static_cast<void*>(node.storage)) Fn*(static_cast<Fn*>(object));
      node.invoke = &detail::invoke_boxed<Fn>;
    }
    if constexpr (!std::is_trivially_destructible_v<Fn>) {
      try {
        destructors_.push_back(Destructor{object, &detail::destroy_object<Fn>});
      } catch (...) {
        detail::destroy_object<Fn>(object);
        throw;
      }
    }
  } catch (...) {
    discard_last_node();
    throw;
  }
  return Task(this, &node, index);
}

}  // namespace ember::runtime
