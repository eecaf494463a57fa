// Out-of-line throw helpers, so that the checking macros stay small at call sites.
#include <ember/runtime/error.hpp>

namespace ember::detail {

void throw_error(std::string message) { throw Error(std::move(message)); }

void assert_fail(const char* expr, const char* file, int line, std::string message) {
  std::string text = str_cat("internal error (ember bug) at ", file, ":", line, ": ", expr);
  if (!message.empty()) text += ": " + message;
  throw Error(std::move(text));
}

}  // namespace ember::detail
