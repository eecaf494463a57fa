// Meta functions of batch, layer and group normalisation and their backward ops.
//
// Each forward returns (out, mean, invstd) where the statistics are float32
// (float64 for float64 input) with shapes:
//   batch_norm (N, C, *):   (C). In evaluation mode they are the running
//                           mean and 1 / sqrt(running_var + eps), so the
//                           backward's eval form can use them.
//   layer_norm (*, D...):   leading dims + a 1 for each normalised dim (as PyTorch)
//   group_norm (N, C, *):   (N, groups)
// batch_norm in training normalises with the biased batch variance and
// updates running_mean/running_var in place (unbiased variance, momentum),
// bumping their version counters. Each backward returns
// (grad_x, grad_weight, grad_bias): grad_weight is undefined when weight is;
// grad_bias (sum of grad_out over all but the affine dims) is always defined,
// in weight's dtype (x's when weight is undefined).
// weight, bias and running stats may be of any floating dtype; x is floating.
// Empty inputs: outputs of the right shape, statistics zero, running stats untouched.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

DType stat_dtype(DType x) { return x == kFloat64 ? kFloat64 : kFloat32; }

void check_input(const char* op, const Tensor& x, int64_t min_dim, const char* layout) {
  EMBER_CHECK(x.defined(), op, ": undefined input tensor");
  EMBER_CHECK(x.dtype().is_floating(), op, ": expected a floating input, got x is ", x.describe());
  EMBER_CHECK(x.dim() >= min_dim, op, ": expected an input of shape ", layout, ", got x is ", x.describe());
}

// An optional parameter (weight, bias, running stat, saved stat) must have the given shape.
void check_param(const char* op, const char* name, const Tensor& p, IntList shape, const Tensor& x) {
  if (!p.defined()) return;
  EMBER_CHECK(p.dtype().is_floating(), op, ": expected a floating ", name, ", got ", name, " is ", p.describe());
  EMBER_CHECK(p.device() == x.device(), op, ": expected ", name, " on the input's device, got ", name, " is ",
              p.describe(), ", x is ", x.describe());
  EMBER_CHECK(p.shape() == shape, op, ": expected ", name, " of shape ", shape, " for x ", x.describe(), ", got ",
              name, " is ", p.describe());
}

void check_grad(const char* op, const Tensor& grad_out, const Tensor& x) {
  EMBER_CHECK(grad_out.defined(), op, ": undefined grad_out");
  EMBER_CHECK(grad_out.shape() == x.shape() && grad_out.dtype() == x.dtype() && grad_out.device() == x.device(), op,
              ": expected grad_out like x, got grad_out is ", grad_out.describe(), ", x is ", x.describe());
}

Tensor maybe_contiguous(const Tensor& t) { return t.defined() ? contiguous(t) : t; }

// (grad_x, grad_weight, grad_bias) allocated for a backward op; zeros when x is empty.
std::tuple<Tensor, Tensor, Tensor> backward_outputs(const Tensor& x, const Tensor& weight, IntList param_shape) {
  Tensor gx = empty(x.shape(), x.options());
  TensorOptions popts(weight.defined() ? weight.dtype() : x.dtype(), x.device());
  const bool empty_x = x.numel() == 0;
  Tensor gw = weight.defined() ? (empty_x ? zeros(param_shape, popts) : empty(param_shape, popts)) : Tensor();
  Tensor gb = empty_x ? zeros(param_shape, popts) : empty(param_shape, popts);
  return {gx, gw, gb};
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                              const Tensor& running_mean, const Tensor& running_var,
                                              const NormArgs& args) {
  const char* op = "batch_norm";
  check_input(op, x, 2, "(N, C, *)");
  const int64_t C = x.size(1);
  check_param(op, "weight", weight, {C}, x);
  check_param(op, "bias", bias, {C}, x);
  check_param(op, "running_mean", running_mean, {C}, x);
  check_param(op, "running_var", running_var, {C}, x);
  EMBER_CHECK(running_mean.defined() == running_var.defined(), op,
              ": running_mean and running_var must both be given or both be undefined");
  EMBER_CHECK(args.training || running_mean.defined(), op,
              ": running_mean and running_var are required in evaluation mode (x is ", x.describe(), ")");
  EMBER_CHECK(args.eps >= 0.0, op, ": eps must be non-negative, got ", args.eps);
  const int64_t per_channel = C > 0 ? x.numel() / C : 0;
  EMBER_CHECK(!args.training || per_channel != 1, op,
              ": expected more than 1 value per channel when training, got x is ", x.describe());
  Tensor out = empty(x.shape(), x.options());
  TensorOptions sopts(stat_dtype(x.dtype()), x.device());
  if (x.numel() == 0) return {out, zeros({C}, sopts), zeros({C}, sopts)};
  Tensor mean = empty({C}, sopts), invstd = empty({C}, sopts);
  EMBER_KERNEL(batch_norm, x.device())(out, mean, invstd, contiguous(x), maybe_contiguous(weight),
                                       maybe_contiguous(bias), running_mean, running_var, args);
  if (args.training && running_mean.defined()) {
    running_mean.bump_version();
    running_var.bump_version();
  }
  return {out, mean, invstd};
}

std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                                       const Tensor& save_mean, const Tensor& save_invstd,
                                                       const NormArgs& args) {
  const char* op = "batch_norm_backward";
  check_input(op, x, 2, "(N, C, *)");
  check_grad(op, grad_out, x);
  const int64_t C = x.size(1);
  check_param(op, "weight", weight, {C}, x);
  EMBER_CHECK(save_mean.defined() && save_invstd.defined(), op, ": save_mean and save_invstd are required");
  check_param(op, "save_mean", save_mean, {C}, x);
  check_param(op, "save_invstd", save_invstd, {C}, x);
  auto [gx, gw, gb] = backward_outputs(x, weight, {C});
  if (x.numel() > 0) {
    EMBER_KERNEL(batch_norm_backward, x.device())(gx, gw, gb, contiguous(grad_out), contiguous(x),
                                                  maybe_contiguous(weight), contiguous(save_mean),
                                                  contiguous(save_invstd), args);
  }
  return {gx, gw, gb};
}

namespace {
// Checks x's trailing dims against normalized_shape; returns the statistics' shape.
Dims layer_norm_stat_shape(const char* op, const Tensor& x, IntList normalized_shape) {
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  EMBER_CHECK(k >= 1, op, ": normalized_shape must have at least one dim, x is ", x.describe());
  bool match = x.dim() >= k;
  for (int64_t i = 0; match && i < k; ++i) match = x.size(x.dim() - k + i) == normalized_shape[static_cast<size_t>(i)];
  EMBER_CHECK(match, op, ": expected an input whose trailing dims are normalized_shape ", normalized_shape,
              ", got x is ", x.describe());
  Dims stat(x.shape());
  for (int64_t i = 0; i < k; ++i) stat[static_cast<size_t>(x.dim() - k + i)] = 1;
  return stat;
}
}  // namespace

std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& x, IntList normalized_shape, const Tensor& weight,
                                              const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_input(op, x, 1, "(*, normalized_shape)");
  Dims stat = layer_norm_stat_shape(op, x, normalized_shape);
  check_param(op, "weight", weight, normalized_shape, x);
  check_param(op, "bias", bias, normalized_shape, x);
  EMBER_CHECK(eps >= 0.0, op, ": eps must be non-negative, got ", eps);
  Tensor out = empty(x.shape(), x.options());
  TensorOptions sopts(stat_dtype(x.dtype()), x.device());
  if (x.numel() == 0) return {out, zeros(stat, sopts), zeros(stat, sopts)};
  Tensor mean = empty(stat, sopts), rstd = empty(stat, sopts);
  NormArgs args;
  args.eps = eps;
  args.norm_ndim = static_cast<int64_t>(normalized_shape.size());
  EMBER_KERNEL(layer_norm, x.device())(out, mean, rstd, contiguous(x), maybe_contiguous(weight), maybe_contiguous(bias),
                                       Tensor(), Tensor(), args);
  return {out, mean, rstd};
}

std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x, IntList normalized_shape,
                                                       const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  const char* op = "layer_norm_backward";
  check_input(op, x, 1, "(*, normalized_shape)");
  check_grad(op, grad_out, x);
  Dims stat = layer_norm_stat_shape(op, x, normalized_shape);
  check_param(op, "weight", weight, normalized_shape, x);
  EMBER_CHECK(mean.defined() && rstd.defined(), op, ": mean and rstd are required");
  check_param(op, "mean", mean, stat, x);
  check_param(op, "rstd", rstd, stat, x);
  auto [gx, gw, gb] = backward_outputs(x, weight, normalized_shape);
  if (x.numel() > 0) {
    NormArgs args;
    args.norm_ndim = static_cast<int64_t>(normalized_shape.size());
    EMBER_KERNEL(layer_norm_backward, x.device())(gx, gw, gb, contiguous(grad_out), contiguous(x),
                                                  maybe_contiguous(weight), contiguous(mean), contiguous(rstd), args);
  }
  return {gx, gw, gb};
}

namespace {
void check_groups(const char* op, const Tensor& x, int64_t groups) {
  EMBER_CHECK(groups > 0 && x.size(1) % groups == 0, op, ": expected the number of channels to be divisible by groups=",
              groups, ", got x is ", x.describe());
}
}  // namespace

std::tuple<Tensor, Tensor, Tensor> group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                                              double eps) {
  const char* op = "group_norm";
  check_input(op, x, 2, "(N, C, *)");
  check_groups(op, x, groups);
  const int64_t N = x.size(0), C = x.size(1);
  check_param(op, "weight", weight, {C}, x);
  check_param(op, "bias", bias, {C}, x);
  EMBER_CHECK(eps >= 0.0, op, ": eps must be non-negative, got ", eps);
  Tensor out = empty(x.shape(), x.options());
  TensorOptions sopts(stat_dtype(x.dtype()), x.device());
  if (x.numel() == 0) return {out, zeros({N, groups}, sopts), zeros({N, groups}, sopts)};
  Tensor mean = empty({N, groups}, sopts), rstd = empty({N, groups}, sopts);
  NormArgs args;
  args.eps = eps;
  args.groups = groups;
  EMBER_KERNEL(group_norm, x.device())(out, mean, rstd, contiguous(x), maybe_contiguous(weight), maybe_contiguous(bias),
                                       Tensor(), Tensor(), args);
  return {out, mean, rstd};
}

std::tuple<Tensor, Tensor, Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups,
                                                       const Tensor& weight, const Tensor& mean, const Tensor& rstd) {
  const char* op = "group_norm_backward";
  check_input(op, x, 2, "(N, C, *)");
  check_grad(op, grad_out, x);
  check_groups(op, x, groups);
  const int64_t N = x.size(0), C = x.size(1);
  check_param(op, "weight", weight, {C}, x);
  EMBER_CHECK(mean.defined() && rstd.defined(), op, ": mean and rstd are required");
  check_param(op, "mean", mean, {N, groups}, x);
  check_param(op, "rstd", rstd, {N, groups}, x);
  auto [gx, gw, gb] = backward_outputs(x, weight, {C});
  if (x.numel() > 0) {
    NormArgs args;
    args.groups = groups;
    EMBER_KERNEL(group_norm_backward, x.device())(gx, gw, gb, contiguous(grad_out), contiguous(x),
                                                  maybe_contiguous(weight), contiguous(mean), contiguous(rstd), args);
  }
  return {gx, gw, gb};
}

}  // namespace ember::ops
