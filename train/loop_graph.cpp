// Loop regions to task graphs (Note [loop graph] in loop_graph.hpp).
#include <ember/train/loop_graph.hpp>

#include <algorithm>
#include <set>
#include <sstream>

#include <ember/runtime/error.hpp>

namespace ember::train {

namespace {

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// Slots are hierarchical: "metrics" covers "metrics.accuracy".
bool overlap(const std::string& a, const std::string& b) {
  const std::string& shorter = a.size() <= b.size() ? a : b;
  const std::string& longer = a.size() <= b.size() ? b : a;
  return longer.compare(0, shorter.size(), shorter) == 0 &&
         (longer.size() == shorter.size() || longer[shorter.size()] == '.');
}

bool touches(const std::vector<std::string>& slots, const std::string& slot) {
  for (const auto& s : slots)
    if (overlap(s, slot)) return true;
  return false;
}

bool shares(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& s : a)
    if (touches(b, s)) return true;
  return false;
}

// A hazard between an earlier node p and a later node q (RAW, WAR or WAW).
bool hazard(const LoopNode& p, const LoopNode& q) {
  return shares(p.writes, q.reads) || shares(p.writes, q.writes) || shares(p.reads, q.writes);
}

}  // namespace

const char* event_name(Event event) {
  switch (event) {
    case Event::before_fit: return "before_fit";
    case Event::before_epoch: return "before_epoch";
    case Event::before_batch: return "before_batch";
    case Event::after_pred: return "after_pred";
    case Event::after_loss: return "after_loss";
    case Event::after_backward: return "after_backward";
    case Event::after_step: return "after_step";
    case Event::after_batch: return "after_batch";
    case Event::before_validate: return "before_validate";
    case Event::after_validate: return "after_validate";
    case Event::after_epoch: return "after_epoch";
    case Event::after_fit: return "after_fit";
  }
  return "?";
}

void LoopRegion::add_core(LoopNode node) {
  EMBER_CHECK(static_cast<bool>(node.run), "loop region '", name_, "': core step '", node.name, "' has no function");
  items_.push_back({true, Event::before_fit, nodes_.size(), 1});
  nodes_.push_back(std::move(node));
}

void LoopRegion::add_event(Event event, std::vector<LoopNode> nodes) {
  for (const auto& n : nodes)
    EMBER_CHECK(static_cast<bool>(n.run), "loop region '", name_, "': node '", n.name, "' on ", event_name(event),
                " has no function");
  items_.push_back({false, event, nodes_.size(), nodes.size()});
  for (auto& n : nodes) nodes_.push_back(std::move(n));
}

std::vector<std::pair<size_t, size_t>> LoopRegion::edges() const {
  std::set<std::string> names;
  for (const auto& n : nodes_)
    EMBER_CHECK(names.insert(n.name).second, "loop region '", name_, "': two nodes are named '", n.name, "'");
  std::set<std::pair<size_t, size_t>> out;
  size_t prev_core = SIZE_MAX;
  for (size_t i = 0; i < items_.size(); ++i) {
    const Item& item = items_[i];
    // Program order: the core chain, and event nodes after the core step before them.
    for (size_t k = item.first; k < item.first + item.count; ++k)
      if (prev_core != SIZE_MAX) out.insert({prev_core, k});
    if (item.core) prev_core = item.first;
    // Hazards with every node of an earlier item.
    for (size_t j = 0; j < i; ++j)
      for (size_t p = items_[j].first; p < items_[j].first + items_[j].count; ++p)
        for (size_t q = item.first; q < item.first + item.count; ++q)
          if (hazard(nodes_[p], nodes_[q])) out.insert({p, q});
    if (item.core) continue;
    // Same event: `after`, writers before readers, and unordered writers refused.
    for (size_t a = item.first; a < item.first + item.count; ++a)
      for (size_t b = item.first; b < item.first + item.count; ++b) {
        if (a == b) continue;
        const LoopNode &na = nodes_[a], &nb = nodes_[b];
        if (has(nb.after, na.name)) out.insert({a, b});
        for (const auto& slot : na.writes) {
          if (touches(nb.writes, slot)) {
            EMBER_CHECK(has(na.after, nb.name) || has(nb.after, na.name), "loop region '", name_,
                        "': conflicting writers: '", na.name, "' and '", nb.name, "' both write '", slot, "' on ",
                        event_name(item.event), " and neither is ordered after the other (list one in the other's after)");
          } else if (touches(nb.reads, slot)) {
            out.insert({a, b});
          }
        }
      }
  }
  return {out.begin(), out.end()};
}

std::unique_ptr<runtime::TaskGraph> LoopRegion::build() const {
  auto graph = std::make_unique<runtime::TaskGraph>(name_);
  std::vector<runtime::Task> tasks;
  tasks.reserve(nodes_.size());
  for (const LoopNode& node : nodes_) tasks.push_back(graph->emplace([fn = &node.run] { (*fn)(); }).name(node.name));
  for (auto [from, to] : edges()) tasks[from].precede(tasks[to]);
  try {
    graph->validate();
  } catch (const Error& e) {
    EMBER_FAIL("loop region '", name_, "': ", e.what());
  }
  return graph;
}

std::string LoopRegion::describe() const {
  std::vector<std::vector<std::string>> preds(nodes_.size());
  for (auto [from, to] : edges()) preds[to].push_back(nodes_[from].name);
  std::ostringstream os;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    os << nodes_[i].name << " <-";
    for (const auto& p : preds[i]) os << ' ' << p;
    os << '\n';
  }
  return os.str();
}

}  // namespace ember::train
