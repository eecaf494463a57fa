// PLACEHOLDER (being written): meta functions of this family.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

std::tuple<Tensor, Tensor, Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean, const Tensor& running_var, const NormArgs& args) { EMBER_FAIL("batch_norm: not implemented yet"); }
std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean, const Tensor& save_invstd, const NormArgs& args) { EMBER_FAIL("batch_norm_backward: not implemented yet"); }
std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& x, IntList normalized_shape, const Tensor& weight, const Tensor& bias, double eps) { EMBER_FAIL("layer_norm: not implemented yet"); }
std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x, IntList normalized_shape, const Tensor& weight, const Tensor& mean, const Tensor& rstd) { EMBER_FAIL("layer_norm_backward: not implemented yet"); }
std::tuple<Tensor, Tensor, Tensor> group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) { EMBER_FAIL("group_norm: not implemented yet"); }
std::tuple<Tensor, Tensor, Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& mean, const Tensor& rstd) { EMBER_FAIL("group_norm_backward: not implemented yet"); }

}  // namespace ember::ops
