// Progress and records: a progress bar during training batches, and a
// Recorder that prints a row per epoch and keeps the history on disk (CSV,
// JSON lines, a PNG of the curves).
//
// The Recorder rewrites its files from Learner::history() at every epoch's
// end (to a temporary file, then renamed), so after a resume from a
// checkpoint, whose history travels with it, the files hold the whole run.
#pragma once

#include <iosfwd>
#include <string>

#include <ember/train/callback.hpp>

namespace ember::train {

class ProgressBar : public Callback {
 public:
  // Redraws every `every` batches (and at the last one) on `out` (std::cout when null).
  explicit ProgressBar(int64_t every = 20, std::ostream* out = nullptr) : every_(every), out_(out) {}
  std::string name() const override { return "progress"; }
  std::vector<CallbackNode> nodes() override;

 private:
  int64_t every_;
  std::ostream* out_;
};

struct RecorderOptions {
  bool print = true;           // a table row per epoch on `out`
  std::ostream* out = nullptr;  // std::cout when null
  std::string csv_path;        // empty: no file
  std::string jsonl_path;
  std::string plot_path;       // PNG: losses, and the other metrics, against epochs
};

class Recorder : public Callback {
 public:
  explicit Recorder(RecorderOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "recorder"; }
  std::vector<CallbackNode> nodes() override;

 private:
  void print_row(const Learner& l);
  void write_files(const Learner& l) const;
  RecorderOptions options_;
  bool header_printed_ = false;
};

}  // namespace ember::train
