// Meta functions of the fused optimizer steps.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const AdamArgs& args) {
  EMBER_CHECK(param.dtype().is_floating(), "adam_step: expected a floating parameter, got ", param.describe());
  auto check = [&](const Tensor& t, const char* what) {
    EMBER_CHECK(t.defined() && t.shape() == param.shape() && t.dtype() == param.dtype() && t.device() == param.device(),
                "adam_step: ", what, " must match the parameter ", param.describe(), ", got ", t.describe());
    EMBER_CHECK(t.is_contiguous(), "adam_step: ", what, " must be contiguous");
  };
  check(param, "param");
  check(grad, "grad");
  check(exp_avg, "exp_avg");
  check(exp_avg_sq, "exp_avg_sq");
  if (args.amsgrad) check(max_exp_avg_sq, "max_exp_avg_sq");
  EMBER_CHECK(args.step >= 1, "adam_step: step must be at least 1, got ", args.step);
  EMBER_CHECK(args.lr >= 0 && args.eps >= 0 && args.beta1 >= 0 && args.beta1 < 1 && args.beta2 >= 0 && args.beta2 < 1,
              "adam_step: invalid hyper-parameters (lr ", args.lr, ", betas ", args.beta1, ", ", args.beta2, ", eps ",
              args.eps, ")");
  if (param.numel() > 0) EMBER_KERNEL(adam_step, param.device())(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, args);
  param.bump_version();
  exp_avg.bump_version();
  exp_avg_sq.bump_version();
  if (args.amsgrad) max_exp_avg_sq.bump_version();
}

}  // namespace ember::ops
