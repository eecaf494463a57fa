// Accuracy of the vectorised transcendental functions (kernels/cpu/vec_math.hpp)
// through the float32 fast paths of exp, log, tanh, sigmoid, silu and gelu, on
// each vector ISA path this machine has. Over dense sweeps of the input range
// (plus every binade for log, tiny and huge inputs, and the specials) the
// result must be within the bound stated in vec_math.hpp of the exactly
// rounded value, computed in double with libm. The distance is in ulps of
// the float grid at the result (adjacent floats are 1 apart, subnormals too).
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

#include "fast_path_util.hpp"

namespace ember {
namespace {

using testing::ulp_distance;

struct MathCase {
  std::string name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> exact;
  int64_t max_ulp;  // the bound stated in vec_math.hpp
  // gelu_tanh below x = -1: relative error <= 4e-7 (1 + |2u|) instead (see vec_math.hpp).
  bool tanh_tail = false;
};

double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double gelu_tanh_2u(double x) { return 2.0 * std::sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x); }

const std::vector<MathCase>& math_cases() {
  static const std::vector<MathCase> cases = {
      {"exp", [](const Tensor& x) { return ops::exp(x); }, [](double x) { return std::exp(x); }, 2, false},
      {"log", [](const Tensor& x) { return ops::log(x); }, [](double x) { return std::log(x); }, 2, false},
      {"tanh", [](const Tensor& x) { return ops::tanh(x); }, [](double x) { return std::tanh(x); }, 3, false},
      // 1 / (1 + exp(-x)) in double overflows only where the result is below 1e-300.
      {"sigmoid", [](const Tensor& x) { return ops::sigmoid(x); }, [](double x) { return 1.0 / (1.0 + std::exp(-x)); },
       3, false},
      {"silu", [](const Tensor& x) { return ops::silu(x); }, [](double x) { return x / (1.0 + std::exp(-x)); }, 4, false},
      {"gelu_tanh", [](const Tensor& x) { return ops::gelu(x, "tanh"); },
       [](double x) { return x / (1.0 + std::exp(-gelu_tanh_2u(x))); }, 3, true},
      {"gelu", [](const Tensor& x) { return ops::gelu(x); }, [](double x) { return x * phi(x); }, 6, false},
  };
  return cases;
}

// Whether got is within the case's bound of the exact value at x.
bool within_bound(const MathCase& c, float x, float got, double exact) {
  const float want = static_cast<float>(exact);
  if (ulp_distance(got, want) <= c.max_ulp) return true;
  const double err = std::fabs(static_cast<double>(got) - exact);
  if (err <= 64 * 1.401298464324817e-45) return true;  // an underflowed factor (vec_math.hpp)
  return c.tanh_tail && x < -1.0f && err <= 4e-7 * (1.0 + std::fabs(gelu_tanh_2u(x))) * std::fabs(exact);
}

// Evenly spaced values over [lo, hi] plus the floats just around zero and the specials.
std::vector<float> sweep(double lo, double hi, int n) {
  std::vector<float> v;
  for (int i = 0; i <= n; ++i) v.push_back(static_cast<float>(lo + (hi - lo) * i / n));
  for (float f : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-45f, -1e-45f, 1e-7f, -1e-7f, 3e-4f, -3e-4f}) v.push_back(f);
  for (double f : {INFINITY, -INFINITY, NAN}) v.push_back(static_cast<float>(f));
  return v;
}

// Positive floats from every binade (subnormals included), and the non-positive specials.
std::vector<float> binades() {
  std::vector<float> v;
  for (uint32_t bits = 1; bits < 0x7f800000u; bits += 0x1fffu) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    v.push_back(f);
  }
  for (float f : {1.0f, 0.0f, -0.0f, -1.0f, 0.999999f, 1.000001f}) v.push_back(f);
  for (double f : {INFINITY, -INFINITY, NAN}) v.push_back(static_cast<float>(f));
  return v;
}

std::vector<float> inputs_for(const std::string& name) {
  if (name == "exp") return sweep(-110.0, 95.0, 400000);
  if (name == "log") return binades();
  if (name == "tanh") return sweep(-12.0, 12.0, 400000);
  return sweep(-120.0, 120.0, 400000);
}

TEST(VecMath, WithinStatedUlpsOfTheExactResult) {
  for (const MathCase& c : math_cases()) {
    const std::vector<float> in = inputs_for(c.name);
    const Tensor x = tensor(in, kFloat32);
    for (cpu::Isa isa : cpu::supported_cpu_isas()) {
      if (isa == cpu::Isa::scalar) continue;  // libm's float functions: not what vec_math.hpp bounds
      cpu::CpuIsaGuard guard(isa);
      const Tensor y = c.op(x);
      const float* py = y.data_ptr<float>();
      int64_t worst = 0, failures = 0;
      size_t worst_at = 0, first_failure = 0;
      for (size_t i = 0; i < in.size(); ++i) {
        const double exact = c.exact(static_cast<double>(in[i]));
        const int64_t d = ulp_distance(py[i], static_cast<float>(exact));
        if (d > worst) {
          worst = d;
          worst_at = i;
        }
        if (!within_bound(c, in[i], py[i], exact) && failures++ == 0) first_failure = i;
      }
      std::printf("%-9s %-6s max error %lld ulp at x = %.9g (got %.9g, exact %.9g)\n", c.name.c_str(),
                  cpu::isa_name(isa), static_cast<long long>(worst), static_cast<double>(in[worst_at]),
                  static_cast<double>(py[worst_at]), c.exact(static_cast<double>(in[worst_at])));
      EXPECT_EQ(failures, 0) << c.name << " on " << cpu::isa_name(isa) << ": first out of bound at x = "
                             << in[first_failure] << ": got " << py[first_failure] << ", exact "
                             << c.exact(static_cast<double>(in[first_failure]));
    }
  }
}

}  // namespace
}  // namespace ember
