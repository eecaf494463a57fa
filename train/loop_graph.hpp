// The training loop as a DAG: the loop's own steps (fetch, forward, loss,
// backward, step, ...) and every callback are nodes that declare the state
// they read and write; the edges follow from those declarations.
//
// Note [loop graph]: a region of the loop (one training batch, one validation
// batch, the start of an epoch, ...) is a sequence of items in program order:
// core steps, and events (after_pred, after_loss, ...) on which callbacks hang
// their nodes. The region becomes one runtime::TaskGraph, built once per fit
// and run once per batch:
//   - the core steps run in their order, one after the other;
//   - a node on an event runs after the core step before that event;
//   - between items at different positions, every hazard on a named slot is an
//     edge from the earlier to the later: read-after-write, write-after-read and
//     write-after-write (so a node on after_pred that only reads "pred" runs
//     beside loss and backward, but one that writes "loss" runs before backward);
//   - nodes on the same event have no order of their own: a writer of a slot
//     runs before its readers there, `after` names nodes of that event to run
//     first (a name not present is ignored), and two writers of one slot that
//     `after` does not order are an error (conflicting writers), as is a cycle.
// A serial executor runs the graph in topological order (ties by insertion
// order: deterministic); the work-stealing executor runs independent nodes at
// once, which is why the declarations must be truthful.
//
// Slots are names: "input", "target", "pred", "loss", "grads", "params",
// "opt_state", "lr", "metrics.<name>", "stdout", "stop", or a callback's own.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ember/runtime/task_graph.hpp>

namespace ember::train {

enum class Event {
  before_fit,
  before_epoch,
  before_batch,
  after_pred,
  after_loss,
  after_backward,
  after_step,
  after_batch,
  before_validate,
  after_validate,
  after_epoch,
  after_fit,
};
const char* event_name(Event event);

struct LoopNode {
  std::string name;
  std::vector<std::string> reads, writes;
  std::vector<std::string> after;  // same-event nodes to run first (absent ones ignored)
  std::function<void()> run;
};

// One region of the loop (Note [loop graph]).
class LoopRegion {
 public:
  explicit LoopRegion(std::string name) : name_(std::move(name)) {}

  void add_core(LoopNode node);
  void add_event(Event event, std::vector<LoopNode> nodes);

  const std::string& name() const noexcept { return name_; }
  // Every node in insertion order (core steps and event nodes interleaved).
  const std::vector<LoopNode>& nodes() const noexcept { return nodes_; }
  // The dependency edges (from, to) as indices into nodes(), without duplicates.
  // Throws ember::Error naming the slot and both nodes for conflicting writers,
  // and for two nodes of one name.
  std::vector<std::pair<size_t, size_t>> edges() const;
  // The region as a task graph (named tasks; a cycle is an ember::Error naming
  // its nodes). The graph calls the nodes' functions; keep the region alive.
  std::unique_ptr<runtime::TaskGraph> build() const;
  // One line per node: "name <- dependencies", for logs and error messages.
  std::string describe() const;

 private:
  struct Item {
    bool core;
    Event event;  // when !core
    size_t first, count;  // its nodes in nodes_
  };
  std::string name_;
  std::vector<LoopNode> nodes_;
  std::vector<Item> items_;
};

}  // namespace ember::train
