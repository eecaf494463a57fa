// The ember side of tools/safetensors_interop.py (the CTest test safetensors_interop):
// `write PATH` saves the interop spec with save_safetensors; `check PATH` loads a
// file with load_safetensors and fails unless it holds exactly the spec.
// The spec must match SPEC and METADATA in tools/safetensors_interop.py.
//
// Usage: ember_safetensors_interop write|check PATH [--skip NAME]...
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <ember/ember.hpp>

using namespace ember;

namespace {

struct SpecTensor {
  const char* name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<double> floats;  // floating dtypes
  std::vector<int64_t> ints;   // integral and bool dtypes
};

const std::vector<SpecTensor>& spec() {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  static const std::vector<SpecTensor> tensors = [&] {
    std::vector<SpecTensor> s = {
        {"f32", kFloat32, {2, 4}, {0.0, -0.0, 1.5, -2.25, std::ldexp(1.0, -149), std::ldexp(1.0, 127), inf, nan}, {}},
        {"f64", kFloat64, {4}, {0.1, -1e300, std::ldexp(1.0, -1074), -inf}, {}},
        {"f16", kFloat16, {2, 2}, {65504.0, -std::ldexp(1.0, -24), 1365.0 / 4096, -inf}, {}},
        {"bf16", kBFloat16, {3}, {3.140625, -std::ldexp(1.0, 100), nan}, {}},
        {"i64", kInt64, {2}, {}, {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}},
        {"i32", kInt32, {2, 2}, {}, {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 0, -7}},
        {"u8", kUInt8, {4}, {}, {0, 1, 128, 255}},
        {"flags", kBool, {3}, {}, {1, 0, 1}},
        {"scalar", kFloat32, {}, {2.5}, {}},
        {"empty", kFloat32, {0, 3}, {}, {}},
        {"empty_i64", kInt64, {2, 0}, {}, {}},
        {"layer.0.weight", kFloat32, {2, 3, 4}, {}, {}},
    };
    for (int i = 0; i < 24; ++i) s.back().floats.push_back(i * 0.25 - 3);
    return s;
  }();
  return tensors;
}

const nn::Metadata kMetadata = {{"format", "pt"}, {"epoch", "3"}, {"note", "ember \u2713 safetensors"}};

Tensor make(const SpecTensor& s) {
  Tensor flat = s.dtype.is_floating() ? ember::tensor(s.floats, kFloat64) : ember::tensor(s.ints, kInt64);
  return ops::to(flat, s.dtype).reshape(IntList(s.shape.data(), s.shape.size()));
}

// Why got differs from the spec, or "" (NaN matches NaN, -0.0 must stay -0.0).
std::string difference(const SpecTensor& s, const Tensor& got) {
  if (!(got.dtype() == s.dtype)) return std::string("dtype ") + got.dtype().name() + ", expected " + s.dtype.name();
  if (got.shape().vec() != s.shape) return "shape " + got.describe();
  const int64_t n = got.numel();
  if (s.dtype.is_floating()) {
    Tensor g = ops::contiguous(ops::to(got, kFloat64));
    for (int64_t i = 0; i < n; ++i) {
      double want = s.floats[static_cast<size_t>(i)], have = g.data_ptr<double>()[i];
      bool same = (std::isnan(want) && std::isnan(have)) || (want == have && std::signbit(want) == std::signbit(have));
      if (!same) return "element " + std::to_string(i) + " is " + std::to_string(have) + ", expected " + std::to_string(want);
    }
  } else {
    Tensor g = ops::contiguous(ops::to(got, kInt64));
    for (int64_t i = 0; i < n; ++i)
      if (g.data_ptr<int64_t>()[i] != s.ints[static_cast<size_t>(i)])
        return "element " + std::to_string(i) + " is " + std::to_string(g.data_ptr<int64_t>()[i]) + ", expected " +
               std::to_string(s.ints[static_cast<size_t>(i)]);
  }
  return "";
}

int check(const std::string& path, const std::set<std::string>& skip) {
  nn::Metadata metadata;
  nn::TensorMap loaded = nn::load_safetensors(path, &metadata);
  int problems = 0;
  auto problem = [&](const std::string& what) {
    std::fprintf(stderr, "ember check of %s: %s\n", path.c_str(), what.c_str());
    ++problems;
  };
  size_t expected = 0;
  for (const auto& s : spec()) {
    if (skip.count(s.name)) continue;
    ++expected;
    auto it = loaded.find(s.name);
    if (it == loaded.end()) {
      problem(std::string("tensor '") + s.name + "' is missing");
      continue;
    }
    std::string why = difference(s, it->second);
    if (!why.empty()) problem(std::string("tensor '") + s.name + "': " + why);
  }
  if (loaded.size() != expected) problem("holds " + std::to_string(loaded.size()) + " tensors, expected " + std::to_string(expected));
  if (metadata != kMetadata) problem("metadata differs from the spec");
  return problems == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> skip;
  for (int i = 3; i + 1 < argc; i += 2)
    if (std::strcmp(argv[i], "--skip") == 0) skip.insert(argv[i + 1]);
  const bool args_ok = argc >= 3 && (argc - 3) == static_cast<int>(2 * skip.size());
  try {
    if (args_ok && std::strcmp(argv[1], "write") == 0) {
      nn::TensorMap tensors;
      for (const auto& s : spec())
        if (!skip.count(s.name)) tensors[s.name] = make(s);
      nn::save_safetensors(argv[2], tensors, kMetadata);
      return 0;
    }
    if (args_ok && std::strcmp(argv[1], "check") == 0) return check(argv[2], skip);
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: %s write|check PATH [--skip NAME]...\n", argv[0]);
  return 2;
}
