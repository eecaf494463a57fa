// Grad mode: whether the public functions record the autograd graph.
//
// Thread-local, on by default. NoGradGuard turns recording off for a scope
// (optimizer steps, evaluation); EnableGradGuard turns it back on inside one.
// The engine itself runs rules with grad mode set to create_graph.
#pragma once

namespace ember {

namespace detail {
inline thread_local bool grad_enabled = true;
}  // namespace detail

struct GradMode {
  static bool is_enabled() { return detail::grad_enabled; }
  static void set_enabled(bool on) { detail::grad_enabled = on; }
};

// Sets grad mode for a scope and restores the previous mode on exit.
class AutoGradMode {
 public:
  explicit AutoGradMode(bool on) : prev_(GradMode::is_enabled()) { GradMode::set_enabled(on); }
  ~AutoGradMode() { GradMode::set_enabled(prev_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool prev_;
};

class NoGradGuard : public AutoGradMode {
 public:
  NoGradGuard() : AutoGradMode(false) {}
};

class EnableGradGuard : public AutoGradMode {
 public:
  EnableGradGuard() : AutoGradMode(true) {}
};

}  // namespace ember
