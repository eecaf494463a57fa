// Layer constructors (parameter shapes and PyTorch's default initialisation) and forwards.
#include <ember/nn/layers.hpp>

#include <cmath>
#include <sstream>

#include <ember/nn/init.hpp>

namespace ember::nn {
namespace {

template <class... A>
std::string repr(const A&... a) {
  std::ostringstream os;
  (os << ... << a);
  return os.str();
}
const char* py_bool(bool b) { return b ? "True" : "False"; }

// PyTorch's reset_parameters for Linear and Conv: kaiming_uniform(a = sqrt(5)) and a fan-in uniform bias.
void reset_weight_and_bias(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    int64_t fan_in = init::fans(weight).first;
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

}  // namespace

// ---- Linear ----
Linear::Linear(int64_t in, int64_t out, bool with_bias, TensorOptions opts) : in_features(in), out_features(out) {
  EMBER_CHECK(in >= 0 && out >= 0, "Linear: feature counts must be non-negative, got ", in, " and ", out);
  Tensor w = empty({out, in}, opts);
  Tensor b = with_bias ? empty({out}, opts) : Tensor();
  reset_weight_and_bias(w, b);
  weight = register_parameter("weight", w);
  if (with_bias) bias = register_parameter("bias", b);
}
void Linear::reset_parameters() {
  NoGradGuard g;
  reset_weight_and_bias(weight, bias);
}
std::string Linear::extra_repr() const {
  std::string s =
      repr("in_features=", in_features, ", out_features=", out_features, ", bias=", py_bool(bias.defined()));
  if (activation != Activation::none) s += std::string(", activation=") + activation_name(activation);
  return s;
}
Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias, activation); }

// ---- Conv2d ----
Conv2d::Conv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
               bool with_bias, TensorOptions opts)
    : in_channels(in), out_channels(out), kernel_size(k) {
  EMBER_CHECK(groups > 0 && in % groups == 0 && out % groups == 0, "Conv2d: in_channels (", in, ") and out_channels (",
              out, ") must both be divisible by groups (", groups, ")");
  EMBER_CHECK(k > 0 && stride > 0 && dilation > 0 && padding >= 0, "Conv2d: kernel_size, stride and dilation must be positive and padding non-negative");
  args.stride[0] = args.stride[1] = stride;
  args.padding[0] = args.padding[1] = padding;
  args.dilation[0] = args.dilation[1] = dilation;
  args.groups = groups;
  Tensor w = empty({out, in / groups, k, k}, opts);
  Tensor b = with_bias ? empty({out}, opts) : Tensor();
  reset_weight_and_bias(w, b);
  weight = register_parameter("weight", w);
  if (with_bias) bias = register_parameter("bias", b);
}
void Conv2d::reset_parameters() {
  NoGradGuard g;
  reset_weight_and_bias(weight, bias);
}
std::string Conv2d::extra_repr() const {
  std::string s = repr(in_channels, ", ", out_channels, ", kernel_size=(", kernel_size, ", ", kernel_size, "), stride=(",
                       args.stride[0], ", ", args.stride[1], ")");
  if (args.padding[0]) s += repr(", padding=(", args.padding[0], ", ", args.padding[1], ")");
  if (args.dilation[0] != 1) s += repr(", dilation=(", args.dilation[0], ", ", args.dilation[1], ")");
  if (args.groups != 1) s += repr(", groups=", args.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}
Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, args); }

// ---- BatchNorm ----
BatchNorm::BatchNorm(int64_t n, int expected_dims, double eps, double momentum, bool affine, bool track, TensorOptions opts)
    : num_features(n), eps(eps), momentum(momentum), expected_dims_(expected_dims) {
  if (affine) {
    weight = register_parameter("weight", ones({n}, opts));
    bias = register_parameter("bias", zeros({n}, opts));
  }
  if (track) {
    running_mean = register_buffer("running_mean", zeros({n}, opts));
    running_var = register_buffer("running_var", ones({n}, opts));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kInt64));
  }
}
std::string BatchNorm::extra_repr() const {
  return repr(num_features, ", eps=", eps, ", momentum=", momentum, ", affine=", py_bool(weight.defined()),
              ", track_running_stats=", py_bool(running_mean.defined()));
}
Tensor BatchNorm::forward(const Tensor& x) {
  if (expected_dims_ == 4) {
    EMBER_CHECK(x.dim() == 4, type_name(), ": expected 4-D input (N, C, H, W), got ", x.describe());
  } else {
    EMBER_CHECK(x.dim() == 2 || x.dim() == 3, type_name(), ": expected 2-D or 3-D input, got ", x.describe());
  }
  EMBER_CHECK(x.size(1) == num_features, type_name(), ": expected ", num_features, " channels, got ", x.describe());
  const bool use_batch_stats = is_training() || !running_mean.defined();
  if (is_training() && num_batches_tracked.defined()) {
    Tensor n = num_batches_tracked;
    n.add_(1);
  }
  return batch_norm(x, weight, bias, running_mean, running_var, use_batch_stats, momentum, eps);
}

// ---- LayerNorm / GroupNorm ----
LayerNorm::LayerNorm(std::vector<int64_t> shape, double eps, bool affine) : normalized_shape(std::move(shape)), eps(eps) {
  if (affine) {
    weight = register_parameter("weight", ones(normalized_shape));
    bias = register_parameter("bias", zeros(normalized_shape));
  }
}
std::string LayerNorm::extra_repr() const {
  return repr(IntList(normalized_shape), ", eps=", eps, ", elementwise_affine=", py_bool(weight.defined()));
}
Tensor LayerNorm::forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

GroupNorm::GroupNorm(int64_t groups, int64_t channels, double eps, bool affine)
    : num_groups(groups), num_channels(channels), eps(eps) {
  EMBER_CHECK(groups > 0 && channels % groups == 0, "GroupNorm: num_channels (", channels,
              ") must be divisible by num_groups (", groups, ")");
  if (affine) {
    weight = register_parameter("weight", ones({channels}));
    bias = register_parameter("bias", zeros({channels}));
  }
}
std::string GroupNorm::extra_repr() const {
  return repr(num_groups, ", ", num_channels, ", eps=", eps, ", affine=", py_bool(weight.defined()));
}
Tensor GroupNorm::forward(const Tensor& x) { return group_norm(x, num_groups, weight, bias, eps); }

// ---- Dropout / Embedding ----
Dropout::Dropout(double p) : p(p) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability has to be between 0 and 1, got ", p);
}
std::string Dropout::extra_repr() const { return repr("p=", p, ", inplace=False"); }
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }

Embedding::Embedding(int64_t n, int64_t dim, TensorOptions opts) : num_embeddings(n), embedding_dim(dim) {
  weight = register_parameter("weight", randn({n, dim}, opts));
}
std::string Embedding::extra_repr() const { return repr(num_embeddings, ", ", embedding_dim); }
Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

// ---- pooling ----
namespace {
Pool2dArgs pool_args(int64_t k, int64_t stride, int64_t padding, int64_t dilation, bool ceil_mode) {
  Pool2dArgs a;
  a.kernel[0] = a.kernel[1] = k;
  a.stride[0] = a.stride[1] = stride > 0 ? stride : k;
  a.padding[0] = a.padding[1] = padding;
  a.dilation[0] = a.dilation[1] = dilation;
  a.ceil_mode = ceil_mode;
  return a;
}
}  // namespace

MaxPool2d::MaxPool2d(int64_t k, int64_t stride, int64_t padding, int64_t dilation, bool ceil_mode)
    : args(pool_args(k, stride, padding, dilation, ceil_mode)) {}
std::string MaxPool2d::extra_repr() const {
  return repr("kernel_size=", args.kernel[0], ", stride=", args.stride[0], ", padding=", args.padding[0],
              ", dilation=", args.dilation[0], ", ceil_mode=", py_bool(args.ceil_mode));
}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, args); }

AvgPool2d::AvgPool2d(int64_t k, int64_t stride, int64_t padding, bool ceil_mode, bool count_include_pad)
    : args(pool_args(k, stride, padding, 1, ceil_mode)) {
  args.count_include_pad = count_include_pad;
}
std::string AvgPool2d::extra_repr() const {
  return repr("kernel_size=", args.kernel[0], ", stride=", args.stride[0], ", padding=", args.padding[0]);
}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, args); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::vector<int64_t> size) : output_size(std::move(size)) {
  if (output_size.size() == 1) output_size.push_back(output_size[0]);
  EMBER_CHECK(output_size.size() == 2, "AdaptiveAvgPool2d: output_size must have 1 or 2 entries");
}
std::string AdaptiveAvgPool2d::extra_repr() const { return repr("output_size=", IntList(output_size)); }
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

std::string Flatten::extra_repr() const { return repr("start_dim=", start_dim, ", end_dim=", end_dim); }
std::string LeakyReLU::extra_repr() const { return repr("negative_slope=", negative_slope); }
std::string GELU::extra_repr() const { return approximate == "none" ? "" : repr("approximate='", approximate, "'"); }
std::string Softmax::extra_repr() const { return repr("dim=", dim); }

}  // namespace ember::nn
