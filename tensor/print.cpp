// Printing tensors, close to PyTorch's repr:
//   tensor([[ 1.5410, -0.2934],
//           [-2.1788,  0.5684]])
// Floats use 4 decimals, or scientific notation when the magnitudes span more
// than 1e3 or leave [1e-4, 1e8). Tensors over 1000 elements are summarised with
// "..." keeping 3 entries at each end of every dim. Non-default dtypes and
// non-cpu devices are appended, as PyTorch does.
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

#include <ember/tensor/ops.hpp>

namespace ember {
namespace {

constexpr int64_t kThreshold = 1000;
constexpr int64_t kEdge = 3;

struct Formatter {
  bool floating = false;
  bool sci = false;
  bool int_mode = false;  // floats that are all whole numbers print as "1."
  bool is_bool = false;
  int width = 1;

  std::string format(double v) const {
    char buf[64];
    if (is_bool) return v != 0.0 ? "True" : "False";
    if (!floating) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (std::isnan(v)) {
      return "nan";
    } else if (std::isinf(v)) {
      return v > 0 ? "inf" : "-inf";
    } else if (sci) {
      std::snprintf(buf, sizeof buf, "%.4e", v);
    } else if (int_mode) {
      std::snprintf(buf, sizeof buf, "%.0f.", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return buf;
  }
};

// Visits the (summarised) elements in order, reading each as double.
void collect(const Tensor& t, std::vector<double>& values) {
  if (t.dim() == 0) {
    values.push_back(t.item<double>());
    return;
  }
  const int64_t n = t.size(0);
  const bool summarise = t.numel() > kThreshold && n > 2 * kEdge;
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && i == kEdge) i = n - kEdge;
    collect(t.select(0, i), values);
  }
}

void print_rec(std::ostream& os, const Tensor& t, const Formatter& f, int indent, bool summarise_all) {
  if (t.dim() == 0) {
    std::string s = f.format(t.item<double>());
    os << std::string(static_cast<size_t>(std::max<int>(0, f.width - static_cast<int>(s.size()))), ' ') << s;
    return;
  }
  const int64_t n = t.size(0);
  const bool summarise = summarise_all && n > 2 * kEdge;
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && i == kEdge) {
      if (t.dim() == 1) os << "...";
      else os << "...";
      os << (t.dim() == 1 ? ", " : ",\n" + std::string(static_cast<size_t>(indent + 1), ' '));
      i = n - kEdge;
    }
    print_rec(os, t.select(0, i), f, indent + 1, summarise_all);
    if (i + 1 < n) {
      if (t.dim() == 1) os << ", ";
      else os << ',' << std::string(static_cast<size_t>(t.dim() - 1), '\n') << std::string(static_cast<size_t>(indent + 1), ' ');
    }
  }
  os << ']';
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t0) {
  if (!t0.defined()) return os << "[ undefined Tensor ]";
  Tensor t = t0.is_cpu() ? t0 : ops::to(t0, kCPU);
  const bool summarise = t.numel() > kThreshold;
  Formatter f;
  f.floating = t.dtype().is_floating();
  f.is_bool = t.dtype().is_bool();
  std::vector<double> values;
  if (t.numel() > 0) collect(t, values);
  if (f.floating) {
    double max_abs = 0, min_abs = INFINITY;
    bool all_int = true;
    for (double v : values) {
      if (!std::isfinite(v)) continue;
      double a = std::fabs(v);
      max_abs = std::max(max_abs, a);
      if (a > 0) min_abs = std::min(min_abs, a);
      if (v != std::nearbyint(v)) all_int = false;
    }
    if (all_int) {
      f.int_mode = true;
      f.sci = max_abs >= 1e8;
    } else {
      f.sci = max_abs >= 1e8 || (min_abs < 1e-4) || (min_abs != INFINITY && max_abs / min_abs > 1e3);
    }
  }
  for (double v : values) f.width = std::max<int>(f.width, static_cast<int>(f.format(v).size()));
  os << "tensor(";
  if (t.numel() == 0 && t.dim() > 0) {
    os << "[]";
    if (t.dim() > 1 || t.size(0) != 0) os << ", size=" << t.shape();
  } else {
    print_rec(os, t, f, 7, summarise);
  }
  if (t.dtype() != kFloat32 && t.dtype() != kInt64 && t.dtype() != kBool) os << ", dtype=" << t.dtype();
  if (!t0.is_cpu()) os << ", device='" << t0.device() << "'";
  return os << ')';
}

}  // namespace ember
