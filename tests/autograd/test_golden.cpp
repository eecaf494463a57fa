// Parity with PyTorch: recomputes the composite model of
// tools/make_golden_autograd.py (conv2d, batch_norm, gelu, linear, layer_norm,
// cross_entropy) and compares the loss and every gradient with PyTorch's,
// per element: |a - b| <= 1e-6 + 1e-5 |b| (float32), 1e-12 + 1e-10 |b| (float64).
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <test_util.hpp>

namespace ember {
namespace {

const char* kParams[] = {"x", "conv_w", "conv_b", "bn_w", "bn_b", "lin_w", "lin_b", "ln_w", "ln_b"};

nlohmann::json load_golden() {
  std::string path = std::string(EMBER_TEST_DATA_DIR) + "/autograd_golden.json";
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  return nlohmann::json::parse(f);
}

Tensor model(std::map<std::string, Tensor>& p, const Tensor& target) {
  Conv2dArgs conv;
  conv.padding[0] = conv.padding[1] = 1;
  Tensor h = conv2d(p["x"], p["conv_w"], p["conv_b"], conv);
  h = batch_norm(h, p["bn_w"], p["bn_b"], {}, {}, true, 0.1, 1e-5);
  h = gelu(h);
  h = flatten(h, 1);
  h = linear(h, p["lin_w"], p["lin_b"]);
  h = layer_norm(h, {5}, p["ln_w"], p["ln_b"], 1e-5);
  return cross_entropy(h, target);
}

void check_case(const nlohmann::json& doc, const std::string& name, DType dt, double atol, double rtol) {
  SCOPED_TRACE(name);
  const auto& c = doc["cases"][name];
  std::map<std::string, Tensor> p;
  for (const char* k : kParams) {
    const auto& in = c["inputs"][k];
    std::vector<int64_t> shape = in["shape"].get<std::vector<int64_t>>();
    p[k] = testing::from_values(in["values"].get<std::vector<double>>(), shape, dt).requires_grad_();
  }
  Tensor target = tensor(doc["target"].get<std::vector<int64_t>>());
  Tensor loss = model(p, target);
  EXPECT_EQ(loss.dtype(), dt);
  EXPECT_TRUE(testing::all_close(loss, testing::from_values({c["loss"].get<double>()}, {}), atol, rtol));
  loss.backward();
  for (const char* k : kParams) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(p[k].grad().defined());
    Tensor want = testing::from_values(c["grads"][k].get<std::vector<double>>(), p[k].shape());
    EXPECT_TRUE(testing::all_close(p[k].grad(), want, atol, rtol));
  }
}

TEST(AutogradGolden, CompositeModelMatchesPyTorchFloat32) { check_case(load_golden(), "float32", kFloat32, 1e-6, 1e-5); }
TEST(AutogradGolden, CompositeModelMatchesPyTorchFloat64) { check_case(load_golden(), "float64", kFloat64, 1e-12, 1e-10); }

}  // namespace
}  // namespace ember
