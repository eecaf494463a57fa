// ProgressBar and Recorder (progress.hpp).
#include <ember/train/progress.hpp>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <ember/runtime/file_io.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/train/learner.hpp>
#include <ember/train/plot.hpp>

namespace ember::train {

namespace {

std::ostream& stream(std::ostream* out) { return out ? *out : std::cout; }

void write_atomically(const std::string& path, const std::string& text) {
  runtime::write_file_atomically(path, text, "Recorder");
}

// Columns: epoch, then train_loss, valid_loss, the other metrics sorted, then lr and epoch_time.
std::vector<std::string> columns(const std::vector<std::map<std::string, double>>& history) {
  std::set<std::string> names;
  for (const auto& row : history)
    for (const auto& [k, _] : row) names.insert(k);
  std::vector<std::string> cols;
  for (const char* first : {"epoch", "train_loss", "valid_loss"})
    if (names.erase(first)) cols.push_back(first);
  std::vector<std::string> last;
  for (const char* end : {"iteration", "lr", "epoch_time"})
    if (names.erase(end)) last.push_back(end);
  cols.insert(cols.end(), names.begin(), names.end());
  cols.insert(cols.end(), last.begin(), last.end());
  return cols;
}

std::string format_value(const std::string& col, double v) {
  char buf[32];
  if (std::isnan(v)) return "nan";
  if (col == "epoch" || col == "iteration") std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (col == "epoch_time") std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (col == "lr") std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

std::vector<CallbackNode> ProgressBar::nodes() {
  EMBER_CHECK(every_ >= 1, "ProgressBar: every must be >= 1, got ", every_);
  return {{.event = Event::after_batch, .name = "progress.bar", .reads = {"loss"}, .writes = {"stdout"},
           .phases = kTrainPhase,
           .run = [this](Learner& l) {
             const int64_t k = l.batch() + 1, n = l.num_batches();
             if (k % every_ != 0 && k != n && k != 1) return;
             const int width = 30, filled = static_cast<int>(width * k / std::max<int64_t>(n, 1));
             char line[160];
             std::snprintf(line, sizeof line, "\r  epoch %lld [%-*s] %lld/%lld loss %.4f",
                           static_cast<long long>(l.epoch() + 1), width, std::string(static_cast<size_t>(filled), '#').c_str(),
                           static_cast<long long>(k), static_cast<long long>(n), ops::to(l.loss.detach(), kCPU).item<double>());
             stream(out_) << line << std::flush;
           }},
          {.event = Event::before_validate, .name = "progress.clear", .writes = {"stdout"},
           .run = [this](Learner&) { stream(out_) << '\r' << std::string(79, ' ') << '\r' << std::flush; }}};
}

std::vector<CallbackNode> Recorder::nodes() {
  return {{.event = Event::after_epoch, .name = "recorder.write", .reads = {"metrics", "history"},
           .writes = {"stdout", "recorder.files"}, .run = [this](Learner& l) {
             if (options_.print) print_row(l);
             write_files(l);
           }}};
}

void Recorder::print_row(const Learner& l) {
  const auto& history = l.history();
  if (history.empty()) return;
  std::vector<std::string> cols = columns(history);
  std::ostringstream os;
  os << '\r';
  if (!header_printed_) {
    for (const auto& c : cols) os << (c == cols.front() ? "" : "  ") << std::setw(static_cast<int>(std::max<size_t>(c.size(), 8))) << c;
    os << "\n";
    header_printed_ = true;
  }
  for (const auto& c : cols) {
    auto it = history.back().find(c);
    os << (c == cols.front() ? "" : "  ") << std::setw(static_cast<int>(std::max<size_t>(c.size(), 8)))
       << (it == history.back().end() ? "" : format_value(c, it->second));
  }
  os << "\n";
  stream(options_.out) << os.str() << std::flush;
}

void Recorder::write_files(const Learner& l) const {
  const auto& history = l.history();
  std::vector<std::string> cols = columns(history);
  if (!options_.csv_path.empty()) {
    std::ostringstream os;
    for (size_t i = 0; i < cols.size(); ++i) os << (i ? "," : "") << cols[i];
    os << "\n";
    for (const auto& row : history) {
      for (size_t i = 0; i < cols.size(); ++i) {
        auto it = row.find(cols[i]);
        char buf[32] = "";
        if (it != row.end()) std::snprintf(buf, sizeof buf, "%.10g", it->second);
        os << (i ? "," : "") << buf;
      }
      os << "\n";
    }
    write_atomically(options_.csv_path, os.str());
  }
  if (!options_.jsonl_path.empty()) {
    std::string text;
    for (const auto& row : history) text += nlohmann::json(row).dump() + "\n";
    write_atomically(options_.jsonl_path, text);
  }
  if (!options_.plot_path.empty() && !history.empty()) {
    auto series = [&](const std::string& name) {
      Series s{name, {}, {}};
      for (const auto& row : history) {
        auto e = row.find("epoch"), v = row.find(name);
        if (e != row.end() && v != row.end()) s.x.push_back(e->second), s.y.push_back(v->second);
      }
      return s;
    };
    Panel losses{"loss", "epoch", {}, false};
    Panel others{"metrics", "epoch", {}, false};
    for (const auto& c : cols) {
      if (c == "epoch" || c == "iteration" || c == "epoch_time" || c == "lr") continue;
      (c.find("loss") != std::string::npos ? losses : others).series.push_back(series(c));
    }
    std::vector<Panel> panels{losses};
    if (!others.series.empty()) panels.push_back(others);
    write_plot_png(options_.plot_path, panels);
  }
}

}  // namespace ember::train
