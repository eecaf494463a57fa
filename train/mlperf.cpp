// MLPerfLogger (mlperf.hpp). A line: ":::MLLOG " then one JSON object with
// namespace, time_ms (wall clock, ms since the epoch), event_type
// (POINT_IN_TIME, INTERVAL_START, INTERVAL_END), key, value and metadata.
#include <ember/train/mlperf.hpp>

#include <chrono>
#include <iostream>

#include <nlohmann/json.hpp>

#include <ember/train/learner.hpp>

namespace ember::train {

namespace {

void log_line(std::ostream* out, const std::string& event_type, const std::string& key, const nlohmann::json& value,
              const nlohmann::json& metadata) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  nlohmann::ordered_json line = {{"namespace", ""}, {"time_ms", ms}, {"event_type", event_type},
                                 {"key", key},      {"value", value}, {"metadata", metadata}};
  (out ? *out : std::cout) << ":::MLLOG " << line.dump() << "\n" << std::flush;
}

}  // namespace

std::vector<CallbackNode> MLPerfLogger::nodes() {
  // Every node writes the log stream; after the progress bar's and recorder's output on the same events.
  const std::vector<std::string> after = {"progress.clear", "recorder.write"};
  auto node = [&](Event e, std::string name, std::vector<std::string> reads, std::function<void(Learner&)> fn) {
    return CallbackNode{.event = e, .name = "mlperf." + std::move(name), .reads = std::move(reads),
                        .writes = {"stdout", "mlperf"}, .after = after, .run = std::move(fn)};
  };
  auto epoch_num = [](const Learner& l) { return nlohmann::json{{"epoch_num", l.epoch() + 1}}; };
  auto log = [out = options_.out](const std::string& type, const std::string& key, const nlohmann::json& value,
                                  const nlohmann::json& metadata) { log_line(out, type, key, value, metadata); };
  return {
      node(Event::before_fit, "run_start", {}, [this, log](Learner&) {
        log("POINT_IN_TIME", "submission_benchmark", options_.benchmark, nlohmann::json::object());
        for (const auto& [k, v] : options_.constants) log("POINT_IN_TIME", k, v, nlohmann::json::object());
        for (const auto& [k, v] : options_.numbers) log("POINT_IN_TIME", k, v, nlohmann::json::object());
        log("INTERVAL_START", "run_start", nullptr, nlohmann::json::object());
      }),
      node(Event::before_epoch, "epoch_start", {}, [=, this](Learner& l) {
        log("INTERVAL_START", "epoch_start", nullptr, epoch_num(l));
      }),
      node(Event::before_validate, "eval_start", {}, [=, this](Learner& l) {
        log("INTERVAL_START", "eval_start", nullptr, epoch_num(l));
      }),
      node(Event::after_validate, "eval_stop", {"metrics." + options_.quality_metric}, [=, this](Learner& l) {
        log("INTERVAL_END", "eval_stop", nullptr, epoch_num(l));
        if (auto v = l.metric(options_.quality_metric)) {
          log("POINT_IN_TIME", "eval_accuracy", *v, epoch_num(l));
          if (*v >= options_.target) success_ = true;
        }
      }),
      node(Event::after_epoch, "epoch_stop", {}, [=, this](Learner& l) {
        log("INTERVAL_END", "epoch_stop", nullptr, epoch_num(l));
      }),
      node(Event::after_fit, "run_stop", {}, [this, log](Learner& l) {
        log("INTERVAL_END", "run_stop", nullptr,
            {{"status", success_ ? "success" : "aborted"}, {"epoch_num", l.epoch()}});
      }),
  };
}

}  // namespace ember::train
