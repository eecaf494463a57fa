// ember-demo: a tour of ember's tensors in one screen of output: creation,
// views that share storage, broadcasting, reductions, matmul, printing, and
// the error a shape mistake produces. Uses the public API only.
//
// Usage: ember-demo [--seed N]
#include <ember/ember.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

void section(const char* title) { std::cout << "\n== " << title << " ==\n"; }

void show(const std::string& what, const ember::Tensor& t) {
  std::cout << what << "  (" << t.describe() << ")\n" << t << "\n";
}

int usage(const char* argv0, int code) {
  (code == 0 ? std::cout : std::cerr) << "usage: " << argv0 << " [--seed N]\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return usage(argv[0], 0);
    if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::cerr << argv[0] << ": unknown argument '" << arg << "'\n";
      return usage(argv[0], 2);
    }
  }

  try {
    ember::manual_seed(seed);

    section("creation");
    show("zeros({2, 3})", ember::zeros({2, 3}));
    show("arange(0, 6) as float64", ember::arange(0, 6, ember::kFloat64));
    show("tensor({{1, 2}, {3, 4}})", ember::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}}));
    ember::Tensor x = ember::randn({3, 4});
    show("randn({3, 4}) (seeded: the same numbers on every run and device)", x);

    section("views share storage");
    ember::Tensor m = ember::arange(0, 12, ember::kFloat32).reshape({3, 4});
    show("m = arange(12).reshape({3, 4})", m);
    ember::Tensor col = m.select(1, 1);
    show("col = m.select(1, 1): column 1, a strided view", col);
    show("m.t(): transposed, not copied", m.t());
    show("m.slice(1, 0, 4, 2): every other column", m.slice(1, 0, 4, 2));
    col.fill_(-1.0f);
    show("after col.fill_(-1), m is", m);

    section("broadcasting");
    ember::Tensor row = ember::tensor({10.0f, 20.0f, 30.0f, 40.0f});  // [4]
    ember::Tensor colv = ember::tensor({1.0f, 2.0f, 3.0f}).reshape({3, 1});  // [3, 1]
    show("[3, 4] + [4]", m + row);
    show("[3, 1] * [4] -> [3, 4]", colv * row);
    show("relu(x) * 2 - 1", ember::relu(x) * 2.0f - 1.0f);

    section("reductions");
    show("m.sum()", m.sum());
    show("sum(m, {0}) (over rows)", ember::sum(m, {0}));
    show("mean(m, {1}, keepdim)", ember::mean(m, {1}, true));
    show("amax(x, {1})", ember::amax(x, {1}));
    show("argmax(x, 1)", ember::argmax(x, 1));
    show("softmax(x, 1): rows sum to 1", ember::softmax(x, 1));

    section("matmul");
    ember::Tensor a = ember::randn({2, 3});
    ember::Tensor b = ember::arange(0, 6, ember::kFloat32).reshape({3, 2});
    ember::Tensor c = ember::matmul(a, b) + 1.0f;
    show("matmul(randn({2, 3}), arange(6).reshape({3, 2})) + 1", c);
    std::cout << "c.sum().item<float>() = " << c.sum().item<float>() << "\n";

    section("a clear error");
    try {
      ember::matmul(a, a);
    } catch (const ember::Error& e) {
      std::cout << "matmul(a, a) threw ember::Error:\n  " << e.what() << "\n";
    }
  } catch (const ember::Error& e) {
    std::cerr << "ember-demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
