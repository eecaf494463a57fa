// TraceRecorder: per-thread task timelines written as Chrome trace JSON.
//
// The executor records one complete ("ph":"X") event per executed task when
// tracing is on; write_json() produces {"traceEvents":[...]} that opens in
// Perfetto / chrome://tracing, one tid per worker ("caller" is tid 0).
// Invariant: each lane has its own mutex, so recording never contends across
// workers and a concurrent write_json() still sees complete events.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

namespace ember::runtime {

class TraceRecorder {
 public:
  // Lanes 0..num_lanes-1; lane_names[i] names lane i in the viewer.
  explicit TraceRecorder(std::vector<std::string> lane_names);

  void record(int lane, std::string name, int64_t begin_ns, int64_t end_ns);
  void clear();
  size_t num_events() const;

  // Writes {"traceEvents":[...],"displayTimeUnit":"ns"}.
  void write_json(std::ostream& os) const;
  // Same, to a file; throws ember::Error when the file cannot be written.
  void write_json_file(const std::string& path) const;

  // Monotonic clock in nanoseconds.
  static int64_t now_ns() noexcept;

 private:
  struct Event {
    std::string name;
    int64_t begin_ns;
    int64_t end_ns;
  };
  struct Lane {
    std::string name;
    mutable std::mutex mu;
    std::vector<Event> events;
  };
  std::vector<std::unique_ptr<Lane>> lanes_;
  int64_t origin_ns_;
};

}  // namespace ember::runtime
