// Standard layers: Linear, Conv2d, normalisation, pooling, activations,
// dropout, embedding, flatten. Each is a thin Module over the public
// differentiable functions; the math lives in the ops.
//
// Defaults follow PyTorch: Linear and Conv2d use kaiming_uniform(a = sqrt(5))
// weights and uniform(+-1/sqrt(fan_in)) biases; BatchNorm momentum 0.1, eps 1e-5.
#pragma once

#include <ember/nn/module.hpp>

namespace ember::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, TensorOptions opts = {});
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;  // x: (*, in_features)
  void reset_parameters();
  Tensor weight;  // (out_features, in_features)
  Tensor bias;    // (out_features) or undefined
  int64_t in_features, out_features;
  // Applied to the output in the GEMM's epilogue (Linear + ReLU as one op); none by default.
  Activation activation = Activation::none;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1, int64_t padding = 0,
         int64_t dilation = 1, int64_t groups = 1, bool bias = true, TensorOptions opts = {});
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;  // x: (N, C_in, H, W)
  void reset_parameters();
  Tensor weight;  // (C_out, C_in / groups, k, k)
  Tensor bias;    // (C_out) or undefined
  int64_t in_channels, out_channels, kernel_size;
  Conv2dArgs args;
};

// Batch norm over (N, C) or (N, C, L) (BatchNorm1d) and (N, C, H, W) (BatchNorm2d).
class BatchNorm : public Module {
 public:
  BatchNorm(int64_t num_features, int expected_dims, double eps = 1e-5, double momentum = 0.1, bool affine = true,
            bool track_running_stats = true, TensorOptions opts = {});
  std::string type_name() const override { return expected_dims_ == 4 ? "BatchNorm2d" : "BatchNorm1d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t num_features;
  double eps, momentum;

 private:
  int expected_dims_;
};
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool track = true)
      : BatchNorm(n, 2, eps, momentum, affine, track) {}
};
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t n, double eps = 1e-5, double momentum = 0.1, bool affine = true, bool track = true)
      : BatchNorm(n, 4, eps, momentum, affine, track) {}
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::vector<int64_t> normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  std::vector<int64_t> normalized_shape;
  double eps;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true);
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;
  int64_t num_groups, num_channels;
  double eps;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  double p;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, TensorOptions opts = {});
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& indices) override;  // int64 indices -> (*, embedding_dim)
  Tensor weight;  // (num_embeddings, embedding_dim), N(0, 1) as PyTorch
  int64_t num_embeddings, embedding_dim;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel_size, int64_t stride = -1, int64_t padding = 0, int64_t dilation = 1, bool ceil_mode = false);
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Pool2dArgs args;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel_size, int64_t stride = -1, int64_t padding = 0, bool ceil_mode = false,
                     bool count_include_pad = true);
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  Pool2dArgs args;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::vector<int64_t> output_size);
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override;
  std::vector<int64_t> output_size;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return flatten(x, start_dim, end_dim); }
  int64_t start_dim, end_dim;
};

// ---- activations ----
class ReLU : public Module {
 public:
  std::string type_name() const override { return "ReLU"; }
  Tensor forward(const Tensor& x) override { return relu(x); }
};
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  double negative_slope;
};
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none") : approximate(std::move(approximate)) {}
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string approximate;
};
class SiLU : public Module {
 public:
  std::string type_name() const override { return "SiLU"; }
  Tensor forward(const Tensor& x) override { return silu(x); }
};
class Tanh : public Module {
 public:
  std::string type_name() const override { return "Tanh"; }
  Tensor forward(const Tensor& x) override { return tanh(x); }
};
class Sigmoid : public Module {
 public:
  std::string type_name() const override { return "Sigmoid"; }
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
};
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim(dim) {}
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override;
  Tensor forward(const Tensor& x) override { return softmax(x, dim); }
  int64_t dim;
};
class Identity : public Module {
 public:
  std::string type_name() const override { return "Identity"; }
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace ember::nn
