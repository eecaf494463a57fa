// The README's linking example, built against the installed ember, plus checks
// of what it prints: exits non-zero when any is wrong.
#include <ember/ember.hpp>

#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

// The example, verbatim from README.md (main renamed).
int readme_example() {
  ember::manual_seed(0);
  ember::Tensor a = ember::randn({2, 3});
  ember::Tensor b = ember::arange(0, 6, ember::kFloat32).reshape({3, 2});
  ember::Tensor c = ember::matmul(a, b) + 1.0f;          // [2, 2]
  std::cout << c << "\n" << c.sum().item<float>() << "\n";
  try { ember::matmul(a, a); } catch (const ember::Error& e) { std::cout << e.what() << "\n"; }
  return 0;
}

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "consumer: FAILED: " << what << "\n";
    ++failures;
  }
}

}  // namespace

int main() {
  // Run the example with std::cout captured, then echo what it printed.
  std::ostringstream captured;
  std::streambuf* saved = std::cout.rdbuf(captured.rdbuf());
  try {
    readme_example();
  } catch (const std::exception& e) {
    std::cout.rdbuf(saved);
    std::cerr << "consumer: FAILED: the example threw: " << e.what() << "\n";
    return 1;
  }
  std::cout.rdbuf(saved);
  const std::string out = captured.str();
  std::cout << out;

  std::vector<std::string> lines;
  for (std::istringstream in(out); !in.eof();) {
    std::string line;
    std::getline(in, line);
    if (!line.empty()) lines.push_back(line);
  }
  // The tensor on two lines (tensor([[..., ...],\n [..., ...]])), the sum, the error message.
  check(lines.size() == 4, "expected 4 printed lines, got " + std::to_string(lines.size()));
  if (lines.size() == 4) {
    check(lines[0].rfind("tensor([[", 0) == 0, "line 1 should start the printed tensor: '" + lines[0] + "'");
    // Independent reference: the same seed gives the same a; sum(a @ b + 1) in double.
    ember::manual_seed(0);
    ember::Tensor a = ember::randn({2, 3});
    check(a.is_contiguous() && a.dtype() == ember::kFloat32, "randn gives contiguous float32");
    const float* pa = a.data_ptr<float>();
    double expected = 4.0;  // + 1 on each of the 4 entries
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j)
        for (int k = 0; k < 3; ++k) expected += static_cast<double>(pa[i * 3 + k]) * (k * 2 + j);  // b[k][j] = 2k + j
    double printed = std::nan("");
    try {
      printed = std::stod(lines[2]);
    } catch (const std::exception&) {
    }
    check(std::fabs(printed - expected) <= 1e-4 * (1.0 + std::fabs(expected)),
          "sum should be " + std::to_string(expected) + ", printed '" + lines[2] + "'");
    const std::string& msg = lines[3];
    check(msg.find("inner dimensions differ") != std::string::npos, "error lacks 'inner dimensions differ': " + msg);
    check(msg.find("[2, 3]") != std::string::npos, "error lacks the shapes: " + msg);
  }
  if (failures != 0) return 1;
  std::cout << "consumer: OK\n";
  return 0;
}
