// Parameter structs passed from an op's meta function to its kernels.
//
// Kernels receive tensors already allocated with their final shape and dtype
// plus one of these; they never allocate outputs or re-check user input.
#pragma once

#include <cstdint>
#include <vector>

#include <ember/tensor/dims.hpp>
#include <ember/tensor/scalar.hpp>

namespace ember {

class Tensor;

// Unary ops: a and b carry the op's scalars (leaky_relu slope, clamp bounds,
// softplus beta/threshold, pow exponent); mode picks a variant (gelu: 1 = tanh).
struct UnaryArgs {
  double a = 0.0;
  double b = 0.0;
  int mode = 0;
  bool has_a = true;  // clamp: min given
  bool has_b = true;  // clamp: max given
};

// The activation a linear layer may apply to its output in the GEMM's epilogue
// (cuBLASLt's RELU/GELU epilogues on CUDA). gelu_tanh is gelu(x, "tanh").
enum class Activation : int { none = 0, relu = 1, gelu_tanh = 2 };
const char* activation_name(Activation act);

// Binary ops: out = a op (alpha * b) for add/sub; mode picks a variant (gelu_backward: 1 = tanh).
struct BinaryArgs {
  double alpha = 1.0;
  int mode = 0;
};

// Reductions over `dims` (sorted, wrapped); out has x's shape with those dims
// set to 1 (keepdim form: the meta function squeezes afterwards).
struct ReduceArgs {
  Dims dims;
  double correction = 1.0;  // var/std
  double p = 2.0;           // norm
};

enum class Reduction : uint8_t { None = 0, Mean = 1, Sum = 2 };

struct CrossEntropyArgs {
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
};

struct Conv2dArgs {
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
};

struct Pool2dArgs {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg_pool2d
};

struct NormArgs {
  bool training = true;    // batch_norm
  double momentum = 0.1;   // batch_norm running stats
  double eps = 1e-5;
  int64_t groups = 1;      // group_norm
  int64_t norm_ndim = 1;   // layer_norm: number of trailing dims normalised
};

// Random fills: the Philox key and the counter base this call consumes from.
struct RandomArgs {
  double a = 0.0;  // uniform low, normal mean, randint low, dropout p
  double b = 1.0;  // uniform high, normal std, randint high
  uint64_t seed = 0;
  uint64_t offset = 0;
};

struct TopkArgs {
  int64_t k = 1;
  int64_t dim = -1;
  bool largest = true;
  bool sorted = true;
  bool descending = false;  // sort
  bool stable = false;      // sort
};

// One fused Adam/AdamW step (PyTorch's update rule); step is the 1-based step count.
struct AdamArgs {
  double lr = 3e-4;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // AdamW
  bool amsgrad = false;
  bool maximize = false;
  int64_t step = 1;
};

}  // namespace ember
