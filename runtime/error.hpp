// ember::Error and the checking macros every layer uses.
//
// User mistakes (bad shapes, dtypes, devices, files) throw ember::Error with a
// message naming the op, what was expected and what was found. Internal
// invariants use EMBER_ASSERT, whose message names the file and line: seeing
// one means a bug in ember, not in the caller.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <utility>

namespace ember {

class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

namespace detail {

template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throw_error(std::string message);
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, std::string message);

}  // namespace detail
}  // namespace ember

// Throws ember::Error built from the message pieces when cond is false.
#define EMBER_CHECK(cond, ...)                                               \
  do {                                                                       \
    if (!(cond)) [[unlikely]]                                                \
      ::ember::detail::throw_error(::ember::detail::str_cat(__VA_ARGS__));   \
  } while (0)

// Unconditionally throws ember::Error.
#define EMBER_FAIL(...) ::ember::detail::throw_error(::ember::detail::str_cat(__VA_ARGS__))

// Internal invariant: a failure is an ember bug and names file and line.
#define EMBER_ASSERT(cond, ...)                                                     \
  do {                                                                              \
    if (!(cond)) [[unlikely]]                                                       \
      ::ember::detail::assert_fail(#cond, __FILE__, __LINE__,                       \
                                   ::ember::detail::str_cat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
