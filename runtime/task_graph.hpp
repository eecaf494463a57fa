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
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <ember/runtime/executor.hpp>

namespace ember::runtime {

class TaskGraph;

namespace detail {
struct GraphRun;

// One task of a graph. It is also the Job pushed to the deques when it
// becomes ready; `join` counts the predecessors still running in this run.
struct GraphNode : Job {
  TaskGraph* graph = nullptr;
  size_t index = 0;
  std::function<void()> fn;
  std::string name;
  std::vector<GraphNode*> successors;
  int num_predecessors = 0;
  std::atomic<int> join{0};
  GraphRun* run = nullptr;
  // The given name, else "task#<index>" (errors, DOT).
  std::string display_name() const { return name.empty() ? "task#" + std::to_string(index) : name; }
};

// Stable-address node storage: chunks of 256 nodes that never move.
class NodeStore {
 public:
  GraphNode& emplace_back() {
    if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<GraphNode[]>(kChunk));
    ++size_;
    return (*this)[size_ - 1];
  }
  GraphNode& operator[](size_t i) noexcept { return chunks_[i / kChunk][i % kChunk]; }
  const GraphNode& operator[](size_t i) const noexcept { return chunks_[i / kChunk][i % kChunk]; }
  size_t size() const noexcept { return size_; }
  void clear() noexcept {
    chunks_.clear();
    size_ = 0;
  }

 private:
  static constexpr size_t kChunk = 256;
  std::vector<std::unique_ptr<GraphNode[]>> chunks_;
  size_t size_ = 0;
};
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
  size_t index() const;  // insertion order within its graph
  size_t num_successors() const;
  size_t num_predecessors() const;
  bool valid() const noexcept { return node_ != nullptr; }
  bool operator==(const Task& other) const noexcept { return node_ == other.node_; }

 private:
  friend class TaskGraph;
  explicit Task(detail::GraphNode* node) : node_(node) {}
  static void add_edge(const Task& from, const Task& to);
  detail::GraphNode* node_ = nullptr;
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
  Task emplace(F&& fn) {
    return emplace_function(std::function<void()>(std::forward<F>(fn)));
  }
  // Adds a task that does nothing (a join point).
  Task placeholder() { return emplace_function(nullptr); }

  size_t size() const noexcept { return nodes_.size(); }
  bool empty() const noexcept { return nodes_.size() == 0; }
  size_t num_edges() const noexcept { return num_edges_; }
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

  Task emplace_function(std::function<void()> fn);
  void check_not_running(const char* what) const;
  // Validates (cached per structural version) and returns the source nodes.
  const std::vector<detail::Job*>& prepare_run();
  // Marks the graph running; throws if it already is.
  void begin_run_or_throw(const char* who);

  std::string name_;
  detail::NodeStore nodes_;  // stable addresses
  size_t num_edges_ = 0;
  std::atomic<bool> running_{false};
  uint64_t version_ = 0;
  uint64_t validated_version_ = ~uint64_t{0};
  std::vector<detail::Job*> sources_;
  std::weak_ptr<detail::RunState> current_run_;
};

}  // namespace ember::runtime
