// Initialisers: the bounds and standard deviations of torch.nn.init.
#include <ember/nn/init.hpp>

#include <cmath>

#include <ember/tensor/ops.hpp>

namespace ember::nn::init {

std::pair<int64_t, int64_t> fans(const Tensor& w) {
  EMBER_CHECK(w.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got ", w.describe());
  int64_t receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= w.size(d);
  return {w.size(1) * receptive, w.size(0) * receptive};
}

double calculate_gain(const std::string& nl, double param) {
  if (nl == "linear" || nl == "sigmoid" || nl == "conv2d" || nl == "identity") return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nl == "selu") return 0.75;
  EMBER_FAIL("calculate_gain: unsupported nonlinearity '", nl, "'");
}

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) { return ember::uniform_(t, low, high, gen); }
Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) { return ember::normal_(t, mean, std, gen); }
Tensor& zeros_(Tensor& t) { return ops::fill_(t, 0.0); }
Tensor& ones_(Tensor& t) { return ops::fill_(t, 1.0); }
Tensor& constant_(Tensor& t, double value) { return ops::fill_(t, value); }

namespace {
double kaiming_std(const Tensor& t, double a, const std::string& mode, const std::string& nl) {
  EMBER_CHECK(mode == "fan_in" || mode == "fan_out", "kaiming init: mode must be 'fan_in' or 'fan_out', got '", mode, "'");
  auto [fan_in, fan_out] = fans(t);
  int64_t fan = mode == "fan_in" ? fan_in : fan_out;
  EMBER_CHECK(fan > 0, "kaiming init: cannot initialise a tensor with zero elements, got ", t.describe());
  return calculate_gain(nl, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, const std::string& mode, const std::string& nl, Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl);
  return ember::uniform_(t, -bound, bound, gen);
}

Tensor& kaiming_normal_(Tensor& t, double a, const std::string& mode, const std::string& nl, Generator* gen) {
  return ember::normal_(t, 0.0, kaiming_std(t, a, mode, nl), gen);
}

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fans(t);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return ember::uniform_(t, -bound, bound, gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fans(t);
  return ember::normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

}  // namespace ember::nn::init
