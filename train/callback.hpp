// Callback: extends the training loop with nodes of its DAG (Note [loop graph]).
//
// A callback returns its nodes once, when fit() builds the loop: each hangs on
// an event, names the slots it reads and writes, and gets the Learner when it
// runs. It keeps its own state in members; what must survive a checkpoint it
// returns from state() and takes back in load_state() (exact resume).
//
// Use:
//   class CountBatches : public Callback {
//    public:
//     std::string name() const override { return "count"; }
//     std::vector<CallbackNode> nodes() override {
//       return {{.event = Event::after_batch, .name = "count.batches", .writes = {"count"},
//                .phases = kTrainPhase, .run = [this](Learner&) { ++n; }}};
//     }
//     int64_t n = 0;
//   };
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <ember/train/loop_graph.hpp>

namespace ember::train {

class Learner;

// Which batch loops a node on before_batch, after_pred, after_loss or after_batch joins.
enum Phase : unsigned { kTrainPhase = 1u, kValidPhase = 2u, kAllPhases = 3u };

struct CallbackNode {
  Event event = Event::after_batch;
  std::string name;  // unique in the loop; by convention "<callback>.<what>"
  std::vector<std::string> reads = {}, writes = {};
  std::vector<std::string> after = {};  // nodes of the same event to run first (absent ones ignored)
  unsigned phases = kAllPhases;         // batch events only
  std::function<void(Learner&)> run = {};
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual std::string name() const = 0;
  virtual std::vector<CallbackNode> nodes() = 0;
  // Numbers to carry across a checkpoint, and their restoration.
  virtual std::map<std::string, double> state() const { return {}; }
  virtual void load_state(const std::map<std::string, double>& state) { (void)state; }
};

}  // namespace ember::train
