// Tests of the float32 softmax / log_softmax (and backward) and cross-entropy
// fast paths (kernels/cpu/softmax_kernel.hpp through softmax.cpp and
// softmax_loss.cpp) on every CPU ISA path this machine has, against the
// reference kernels (the scalar path) and, for softmax, a double reference.
//
// Tolerances: softmax atol 1e-7 rtol 2e-6 (vexp is within 2 ulp, the sum is
// accumulated in double); log_softmax atol 2e-6 (an absolute error of log(sum)
// and of x - max); backward passes atol 1e-6 rtol 1e-5; cross entropy rtol
// 2e-6 on the loss and atol 1e-6 on gradients (a float exp against the
// reference's double one). Non-last dims and strided inputs take the
// reference path: bit-exact.
#include <cmath>
#include <string>

#include "fast_path_util.hpp"

namespace ember {
namespace {

using testing::all_close;
using testing::for_each_cpu_isa;
using testing::kTailSizes;
using testing::non_contiguous;
using testing::on_scalar;
using testing::randf;
using testing::to_vector;
using testing::with_specials;

constexpr double kInf = std::numeric_limits<double>::infinity();

// softmax / log_softmax of each row of x (rows, n) in double.
Tensor ref_rows(const Tensor& x, bool log) {
  const int64_t n = x.size(-1);
  std::vector<double> v = to_vector(x), out(v.size());
  for (size_t b = 0; b < v.size(); b += static_cast<size_t>(n)) {
    double m = -kInf, s = 0;
    for (int64_t k = 0; k < n; ++k) m = std::max(m, v[b + static_cast<size_t>(k)]);
    for (int64_t k = 0; k < n; ++k) s += std::exp(v[b + static_cast<size_t>(k)] - m);
    for (int64_t k = 0; k < n; ++k) {
      const double e = v[b + static_cast<size_t>(k)] - m;
      out[b + static_cast<size_t>(k)] = log ? e - std::log(s) : std::exp(e) / s;
    }
  }
  return testing::from_values(out, x.shape());
}

void check_forward(const Tensor& x, const std::string& what) {
  const Tensor s = ref_rows(x, false), l = ref_rows(x, true);
  for_each_cpu_isa([&] {
    EXPECT_TRUE(all_close(ops::softmax(x, -1), s, 1e-7, 2e-6)) << "softmax " << what;
    EXPECT_TRUE(all_close(ops::log_softmax(x, -1), l, 2e-6, 2e-6)) << "log_softmax " << what;
  });
}

TEST(SimdSoftmax, ForwardEveryRowLength) {
  manual_seed(401);
  for (int64_t n : kTailSizes) check_forward(randf({3, n}, 3.0), "n=" + std::to_string(n));
  // Rows longer than the 8192-float scratch row, and many short rows (parallel).
  check_forward(randf({2, 10001}, 3.0), "long rows");
  check_forward(randf({5000, 10}, 3.0), "many rows");
  check_forward(randf({4, 6, 33}, 10.0, 50.0), "3-D, large values");
}

TEST(SimdSoftmax, SpecialRows) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {3, 8, 13, 40}) {
    Tensor x = randf({5, n});
    float* p = x.data_ptr<float>();
    p[n / 2] = nan;                                        // row 0: NaN
    for (int64_t k = 0; k < n; ++k) p[n + k] = -inf;       // row 1: only -inf
    p[2 * n + 1] = -inf;                                   // row 2: one -inf (weight 0)
    p[3 * n + n - 1] = inf;                                // row 3: +inf
    const Tensor ref_s = on_scalar([&] { return ops::softmax(x, -1); });
    const Tensor ref_l = on_scalar([&] { return ops::log_softmax(x, -1); });
    for_each_cpu_isa([&] {
      const Tensor s = ops::softmax(x, -1), l = ops::log_softmax(x, -1);
      EXPECT_TRUE(all_close(s, ref_s, 1e-7, 2e-6)) << "n=" << n;
      EXPECT_TRUE(all_close(l, ref_l, 2e-6, 2e-6)) << "n=" << n;
      const auto sv = to_vector(s);
      for (int64_t k = 0; k < 2 * n; ++k) EXPECT_TRUE(std::isnan(sv[static_cast<size_t>(k)])) << k;
      EXPECT_EQ(sv[static_cast<size_t>(2 * n + 1)], 0.0);
      EXPECT_EQ(to_vector(l)[static_cast<size_t>(2 * n + 1)], -kInf);
    });
  }
}

TEST(SimdSoftmax, BackwardMatchesReference) {
  manual_seed(402);
  for (int64_t n : {1, 7, 8, 9, 100, 1025, 9000}) {
    const Tensor x = randf({4, n}, 2.0), g = randf({4, n});
    for (bool log : {false, true}) {
      const Tensor y = on_scalar([&] { return log ? ops::log_softmax(x, -1) : ops::softmax(x, -1); });
      const Tensor ref = on_scalar([&] { return log ? ops::log_softmax_backward(g, y, -1) : ops::softmax_backward(g, y, -1); });
      for_each_cpu_isa([&] {
        const Tensor d = log ? ops::log_softmax_backward(g, y, -1) : ops::softmax_backward(g, y, -1);
        EXPECT_TRUE(all_close(d, ref, 1e-6, 1e-5)) << (log ? "log_softmax" : "softmax") << " n=" << n;
      });
    }
  }
}

TEST(SimdSoftmax, OtherDimsAndStridedInputsTakeTheReferencePath) {
  manual_seed(403);
  const Tensor x = randf({9, 21}, 2.0);
  for (const Tensor& in : {non_contiguous(x), x.slice(1, 2, 19)}) {
    const Tensor ref = on_scalar([&] { return ops::softmax(in, -1); });
    for_each_cpu_isa([&] { EXPECT_TRUE(all_close(ops::softmax(in, -1), ref, 0, 0)); });
  }
  const Tensor ref0 = on_scalar([&] { return ops::log_softmax(x, 0); });
  for_each_cpu_isa([&] {
    EXPECT_TRUE(all_close(ops::log_softmax(x, 0), ref0, 0, 0));
    EXPECT_EQ(ops::softmax(zeros({3, 0}), -1).shape(), Dims({3, 0}));
    EXPECT_TRUE(all_close(ops::softmax(zeros({0, 3}), -1), zeros({0, 3})));
    EXPECT_TRUE(all_close(ops::softmax(tensor({{4.0}}, kFloat32), -1), ones({1, 1})));
  });
}

// ---- cross entropy --------------------------------------------------------------------------

struct CeCase {
  std::string name;
  bool weighted;
  CrossEntropyArgs args;
};

TEST(SimdCrossEntropy, ForwardAndBackwardMatchReference) {
  manual_seed(404);
  std::vector<CeCase> cases;
  for (Reduction red : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    for (double eps : {0.0, 0.1}) {
      for (bool w : {false, true}) {
        CrossEntropyArgs a;
        a.reduction = red;
        a.label_smoothing = eps;
        a.ignore_index = 1;
        cases.push_back({"red " + std::to_string(static_cast<int>(red)) + " eps " + std::to_string(eps) +
                             (w ? " weighted" : ""),
                         w, a});
      }
    }
  }
  for (int64_t C : {1, 2, 7, 8, 9, 33, 1000, 1027}) {
    const int64_t N = 37;
    const Tensor x = randf({N, C}, 3.0);
    const Tensor t = randint(0, C, {N});
    const Tensor w = ops::add(rand({C}), full({}, 0.5));
    for (const CeCase& c : cases) {
      const Tensor weight = c.weighted ? w : Tensor();
      const Tensor loss = on_scalar([&] { return ops::cross_entropy(x, t, weight, c.args); });
      const Tensor g = c.args.reduction == Reduction::None ? randf({N}) : full({}, 0.7);
      const Tensor grad = on_scalar([&] { return ops::cross_entropy_backward(g, x, t, weight, c.args); });
      for_each_cpu_isa([&] {
        EXPECT_TRUE(all_close(ops::cross_entropy(x, t, weight, c.args), loss, 1e-6, 2e-6)) << c.name << " C=" << C;
        EXPECT_TRUE(all_close(ops::cross_entropy_backward(g, x, t, weight, c.args), grad, 1e-6, 1e-5))
            << c.name << " C=" << C;
      });
    }
  }
}

TEST(SimdCrossEntropy, NaNLogitsAndSpatialInputs) {
  manual_seed(405);
  Tensor x = with_specials(randf({4, 20}), {25});  // row 1 holds a NaN
  const Tensor t = tensor({3, 4, 5, 6});
  CrossEntropyArgs none;
  none.reduction = Reduction::None;
  for_each_cpu_isa([&] {
    const auto l = to_vector(ops::cross_entropy(x, t, {}, none));
    EXPECT_TRUE(std::isnan(l[1]) && !std::isnan(l[0]) && !std::isnan(l[2]));
  });
  // (N, C, d) inputs take the reference path (classes at a stride): bit-exact.
  const Tensor xs = randf({3, 5, 7}), ts = randint(0, 5, {3, 7});
  const Tensor ref = on_scalar([&] { return ops::cross_entropy(xs, ts); });
  for_each_cpu_isa([&] { EXPECT_TRUE(all_close(ops::cross_entropy(xs, ts), ref, 0, 0)); });
}

}  // namespace
}  // namespace ember
