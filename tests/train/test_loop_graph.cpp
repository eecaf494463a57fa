// Loop regions (Note [loop graph]): which edges the reads and writes imply,
// the conflicting-writer and cycle errors, and that the built task graph runs
// each node after its dependencies on both executors.
#include <atomic>
#include <mutex>

#include "test_util.hpp"

using namespace ember;
using namespace ember::train;
using ember::testing::expect_error;

namespace {

using Edges = std::vector<std::pair<size_t, size_t>>;

std::string numbered(size_t i) {  // "n<i>" (snprintf: GCC 12 warns falsely on "n" + to_string)
  char buf[24];
  std::snprintf(buf, sizeof buf, "n%zu", i);
  return buf;
}

LoopNode node(std::string name, std::vector<std::string> reads, std::vector<std::string> writes,
              std::vector<std::string> after = {}, std::function<void()> run = [] {}) {
  return {std::move(name), std::move(reads), std::move(writes), std::move(after), std::move(run)};
}

}  // namespace

TEST(LoopGraph, CoreChainEventAnchorsAndHazards) {
  LoopRegion r("batch");
  r.add_core(node("forward", {"input"}, {"pred"}));                         // 0
  r.add_event(Event::after_pred, {node("metric", {"pred"}, {"acc"}),       // 1: beside loss and backward
                                  node("scale", {"pred"}, {"pred2"})});    // 2
  r.add_core(node("loss", {"pred"}, {"loss"}));                            // 3
  r.add_event(Event::after_loss, {node("regularise", {"loss"}, {"loss"})});  // 4: between loss and backward
  r.add_core(node("backward", {"loss"}, {"grads"}));                       // 5
  r.add_event(Event::after_backward, {node("report", {"acc", "grads"}, {})});  // 6
  r.add_core(node("overwrite", {}, {"pred"}));                             // 7: after the readers of pred (WAR)
  Edges e = r.edges();
  Edges want = {{0, 1}, {0, 2}, {0, 3}, {0, 7}, {1, 6}, {1, 7}, {2, 7}, {3, 4}, {3, 5}, {3, 7}, {4, 5}, {5, 6}, {5, 7}};
  EXPECT_EQ(e, want) << r.describe();
  std::string d = r.describe();
  EXPECT_NE(d.find("backward <- loss regularise"), std::string::npos) << d;
  EXPECT_NE(d.find("metric <- forward"), std::string::npos) << d;
}

TEST(LoopGraph, SameEventWritersBeforeReadersAndAfter) {
  LoopRegion r("epoch_end");
  r.add_event(Event::after_validate, {node("reader", {"metrics.accuracy"}, {"stdout"}),  // 0
                                      node("writer", {}, {"metrics.accuracy"}),          // 1
                                      node("other", {}, {"metrics.top5"}),               // 2: no overlap
                                      node("all", {"metrics"}, {"log"})});               // 3: reads every metric
  Edges e = r.edges();
  EXPECT_EQ(e, (Edges{{1, 0}, {1, 3}, {2, 3}})) << r.describe();

  LoopRegion ordered("ordered");
  ordered.add_event(Event::after_epoch, {node("b", {}, {"stdout"}, {"a", "absent"}), node("a", {}, {"stdout"})});
  EXPECT_EQ(ordered.edges(), (Edges{{1, 0}}));
  LoopRegion prefix("prefix");
  prefix.add_event(Event::after_epoch, {node("m", {"metricsX"}, {}), node("w", {}, {"metrics"})});
  EXPECT_TRUE(prefix.edges().empty()) << "'metricsX' is not inside 'metrics'";
}

TEST(LoopGraph, ConflictsCyclesAndDuplicatesAreErrors) {
  LoopRegion conflict("train_batch");
  conflict.add_event(Event::after_loss, {node("clip", {"grads"}, {"grads"}), node("noise", {}, {"grads"})});
  expect_error([&] { conflict.edges(); },
               {"train_batch", "conflicting writers", "'clip'", "'noise'", "'grads'", "after_loss"});
  LoopRegion nested("n");
  nested.add_event(Event::after_epoch, {node("a", {}, {"metrics"}), node("b", {}, {"metrics.accuracy"})});
  expect_error([&] { nested.edges(); }, {"conflicting writers"});

  LoopRegion cycle("valid_batch");
  cycle.add_event(Event::after_pred, {node("a", {"x"}, {"y"}), node("b", {"y"}, {"x"})});
  expect_error([&] { cycle.build(); }, {"valid_batch", "cycle", "a", "b"});
  LoopRegion after_cycle("c");
  after_cycle.add_event(Event::after_epoch, {node("a", {}, {}, {"b"}), node("b", {}, {}, {"a"})});
  expect_error([&] { after_cycle.build(); }, {"cycle"});

  LoopRegion twice("t");
  twice.add_core(node("step", {}, {}));
  twice.add_event(Event::after_step, {node("step", {}, {})});
  expect_error([&] { twice.edges(); }, {"two nodes are named 'step'"});
  expect_error([&] { LoopRegion("r").add_core({"empty", {}, {}, {}, {}}); }, {"core step 'empty' has no function"});
}

// Every node runs once, after all its dependencies, on the serial and on the work-stealing executor.
TEST(LoopGraph, BuiltGraphRespectsEveryEdge) {
  for (bool serial : {true, false}) {
    std::vector<std::atomic<int>> done(12);
    std::mutex m;
    std::vector<std::string> violations;
    LoopRegion r("run");
    std::vector<std::vector<size_t>> preds(12);
    auto tracked = [&](size_t i, std::vector<std::string> reads, std::vector<std::string> writes) {
      return node(numbered(i), std::move(reads), std::move(writes), {}, [&, i] {
        for (size_t p : preds[i])
          if (done[p].load() == 0) {
            std::lock_guard<std::mutex> lock(m);
            violations.push_back(numbered(i) + " ran before " + numbered(p));
          }
        done[i].fetch_add(1);
      });
    };
    r.add_core(tracked(0, {}, {"a"}));
    r.add_event(Event::after_pred, {tracked(1, {"a"}, {"b"}), tracked(2, {"a"}, {"c"}), tracked(3, {"b", "c"}, {"d"})});
    r.add_core(tracked(4, {"a"}, {"e"}));
    r.add_event(Event::after_loss, {tracked(5, {"e"}, {}), tracked(6, {"d"}, {}), tracked(7, {}, {"a"})});
    r.add_core(tracked(8, {"e"}, {"f"}));
    for (auto [from, to] : r.edges()) preds[to].push_back(from);
    auto graph = r.build();
    runtime::Executor pool(3);
    for (int rep = 0; rep < 20; ++rep) {
      for (auto& d : done) d.store(0);
      if (serial) runtime::SerialExecutor().run(*graph).wait();
      else pool.run(*graph).wait();
      for (size_t i = 0; i < 9; ++i) ASSERT_EQ(done[i].load(), 1) << "node n" << i;
    }
    EXPECT_TRUE(violations.empty()) << violations.front();
  }
}
