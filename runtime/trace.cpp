// Chrome trace JSON writer for the executor's task timelines (see trace.hpp).
#include <ember/runtime/trace.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>

#include <ember/runtime/error.hpp>

namespace ember::runtime {
namespace {

void write_json_string(std::ostream& os, const std::string& s) {
  os << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': os << "\\\""; break;
      case '\\': os << "\\\\"; break;
      case '\n': os << "\\n"; break;
      case '\t': os << "\\t"; break;
      case '\r': os << "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          os << buf;
        } else {
          os << static_cast<char>(c);
        }
    }
  }
  os << '"';
}

// Chrome trace timestamps are microseconds; keep nanosecond precision.
void write_micros(std::ostream& os, int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ns / 1000),
                static_cast<long long>(ns % 1000));
  os << buf;
}

}  // namespace

TraceRecorder::TraceRecorder(std::vector<std::string> lane_names) : origin_ns_(now_ns()) {
  for (auto& name : lane_names) {
    lanes_.push_back(std::make_unique<Lane>());
    lanes_.back()->name = std::move(name);
  }
}

int64_t TraceRecorder::now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TraceRecorder::record(int lane, std::string name, int64_t begin_ns, int64_t end_ns) {
  Lane& l = *lanes_.at(static_cast<size_t>(lane));
  std::lock_guard lock(l.mu);
  l.events.push_back(Event{std::move(name), begin_ns, end_ns});
}

void TraceRecorder::clear() {
  for (auto& l : lanes_) {
    std::lock_guard lock(l->mu);
    l->events.clear();
  }
}

size_t TraceRecorder::num_events() const {
  size_t n = 0;
  for (auto& l : lanes_) {
    std::lock_guard lock(l->mu);
    n += l->events.size();
  }
  return n;
}

void TraceRecorder::write_json(std::ostream& os) const {
  os << "{\"traceEvents\":[";
  bool first = true;
  auto sep = [&] {
    if (!first) os << ",\n";
    first = false;
  };
  for (size_t tid = 0; tid < lanes_.size(); ++tid) {
    const Lane& l = *lanes_[tid];
    sep();
    os << R"({"name":"thread_name","ph":"M","pid":1,"tid":)" << tid << R"(,"args":{"name":)";
    write_json_string(os, l.name);
    os << "}}";
    std::lock_guard lock(l.mu);
    for (const Event& e : l.events) {
      sep();
      os << R"({"name":)";
      write_json_string(os, e.name);
      os << R"(,"cat":"task","ph":"X","pid":1,"tid":)" << tid << R"(,"ts":)";
      write_micros(os, e.begin_ns - origin_ns_);
      os << R"(,"dur":)";
      write_micros(os, e.end_ns - e.begin_ns);
      os << '}';
    }
  }
  os << "],\"displayTimeUnit\":\"ns\"}\n";
}

void TraceRecorder::write_json_file(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  EMBER_CHECK(out.good(), "write_trace: cannot open '", path, "' for writing");
  write_json(out);
  out.flush();
  EMBER_CHECK(out.good(), "write_trace: failed while writing '", path, "'");
}

}  // namespace ember::runtime
