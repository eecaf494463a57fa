// Printing tensors, close to PyTorch's repr:
//   tensor([[ 1.5410, -0.2934],
//           [-2.1788,  0.5684]])
// Floats use 4 decimals, or scientific notation when the magnitudes span more
// than 1e3 or leave [1e-4, 1e8]. Tensors over 1000 elements are summarised with
// "..." keeping 3 entries at each end of every dim; rows wrap at 80 columns.
// Non-default dtypes and non-cpu devices are appended, as PyTorch does.
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

constexpr int kLineWidth = 80;

std::string pad_to(const std::string& s, int width) {
  return std::string(static_cast<size_t>(std::max<int>(0, width - static_cast<int>(s.size()))), ' ') + s;
}

// As PyTorch's _tensor_str: vectors wrap at kLineWidth, with " ..." standing in for
// the summarised middle; higher dims join their slices with dim - 1 newlines.
void print_rec(std::ostream& os, const Tensor& t, const Formatter& f, int indent, bool summarise_all) {
  if (t.dim() == 0) {
    os << pad_to(f.format(t.item<double>()), f.width);
    return;
  }
  const int64_t n = t.size(0);
  const bool summarise = summarise_all && n > 2 * kEdge;
  if (t.dim() == 1) {
    std::vector<std::string> items;
    for (int64_t i = 0; i < n; ++i) {
      if (summarise && i == kEdge) {
        items.push_back(" ...");
        i = n - kEdge;
      }
      items.push_back(pad_to(f.format(t.select(0, i).item<double>()), f.width));
    }
    const size_t per_line = static_cast<size_t>(std::max(1, (kLineWidth - indent) / (f.width + 2)));
    os << '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) os << (i % per_line == 0 ? ",\n" + std::string(static_cast<size_t>(indent + 1), ' ') : ", ");
      os << items[i];
    }
    os << ']';
    return;
  }
  // Built with append: GCC 12 at -O3 gives a false -Wrestrict for "," + std::string(...).
  std::string sep(1, ',');
  sep.append(static_cast<size_t>(t.dim() - 1), '\n').append(static_cast<size_t>(indent + 1), ' ');
  os << '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && i == kEdge) {
      os << "..." << sep;
      i = n - kEdge;
    }
    print_rec(os, t.select(0, i), f, indent + 1, summarise_all);
    if (i + 1 < n) os << sep;
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
    // As PyTorch: scientific when the nonzero finite magnitudes span more than 1e3 or
    // exceed 1e8 (or, for non-whole values, go below 1e-4).
    const bool wide = min_abs != INFINITY && (max_abs / min_abs > 1e3 || max_abs > 1e8);
    f.int_mode = all_int;
    f.sci = wide || (!all_int && min_abs < 1e-4);
  }
  for (double v : values) f.width = std::max<int>(f.width, static_cast<int>(f.format(v).size()));
  os << "tensor(";
  if (t.numel() == 0 && t.dim() > 0) {
    os << "[]";
    if (t.dim() > 1 || t.size(0) != 0) {
      os << ", size=(";  // a Python tuple, as PyTorch prints it
      for (int64_t i = 0; i < t.dim(); ++i) os << (i ? ", " : "") << t.size(i);
      os << (t.dim() == 1 ? ",)" : ")");
    }
  } else {
    print_rec(os, t, f, 7, summarise);
  }
  if (t.dtype() != kFloat32 && t.dtype() != kInt64 && t.dtype() != kBool) os << ", dtype=" << t.dtype();
  if (!t0.is_cpu()) os << ", device='" << t0.device() << "'";
  return os << ')';
}

}  // namespace ember
