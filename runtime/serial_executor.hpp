// SerialExecutor: runs a TaskGraph on the calling thread, deterministically.
//
// Same interface as Executor's graph API (run, run_n -> RunHandle with wait()),
// for debugging and reproducible runs: tasks execute in Kahn order with ties
// broken by insertion order (TaskGraph::topological_order). run() returns after
// the work is done; the first exception is rethrown by wait() and the tasks
// after it are skipped. Kernels called from the tasks still use the pool.
#pragma once

#include <cstdint>

#include <ember/runtime/executor.hpp>
#include <ember/runtime/task_graph.hpp>

namespace ember::runtime {

class SerialExecutor {
 public:
  SerialExecutor() = default;

  // Throws ember::Error for a cyclic or already-running graph.
  RunHandle run(TaskGraph& graph);
  RunHandle run_n(TaskGraph& graph, int64_t n);
  int num_threads() const noexcept { return 1; }
};

}  // namespace ember::runtime
