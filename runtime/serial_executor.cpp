// SerialExecutor: deterministic single-thread graph runs (see serial_executor.hpp).
#include <ember/runtime/serial_executor.hpp>

namespace ember::runtime {

RunHandle SerialExecutor::run(TaskGraph& graph) { return run_n(graph, 1); }

RunHandle SerialExecutor::run_n(TaskGraph& graph, int64_t n) {
  EMBER_CHECK(n >= 0, "SerialExecutor::run_n: n must be >= 0, got ", n);
  const std::vector<Task> order = graph.topological_order();  // throws on a cycle
  graph.begin_run_or_throw("SerialExecutor::run");
  auto state = std::make_shared<detail::RunState>();
  for (int64_t iteration = 0; iteration < n && !state->cancelled.load(std::memory_order_relaxed);
       ++iteration) {
    for (const Task& task : order) {
      detail::GraphNode& node = graph.nodes_[task.index()];
      if (!node.has_work()) continue;
      try {
        node.call();
      } catch (...) {
        state->fail(std::current_exception());
        break;
      }
    }
  }
  graph.running_.store(false, std::memory_order_release);
  state->done.store(true, std::memory_order_release);
  return RunHandle(std::move(state));
}

}  // namespace ember::runtime
