// Meta functions of the fused optimizer steps: the single-parameter Adam step
// is the multi-tensor one with a list of one, so both check and dispatch the same way.
#include <string>

#include <ember/tensor/ops.hpp>

namespace ember::ops {

void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const AdamArgs& args) {
  AdamTensorLists t;
  t.params = {param};
  t.grads = {grad};
  t.exp_avgs = {exp_avg};
  t.exp_avg_sqs = {exp_avg_sq};
  if (args.amsgrad) t.max_exp_avg_sqs = {max_exp_avg_sq};
  adam_step_(t, args);
}

void adam_step_(const AdamTensorLists& t, const AdamArgs& args) {
  const size_t count = t.params.size();
  auto check_size = [&](const std::vector<Tensor>& list, const char* what) {
    EMBER_CHECK(list.size() == count, "adam_step: ", count, " parameters but ", list.size(), " ", what);
  };
  check_size(t.grads, "grads");
  check_size(t.exp_avgs, "exp_avgs");
  check_size(t.exp_avg_sqs, "exp_avg_sqs");
  if (args.amsgrad) check_size(t.max_exp_avg_sqs, "max_exp_avg_sqs (amsgrad)");
  EMBER_CHECK(args.step >= 1, "adam_step: step must be at least 1, got ", args.step);
  EMBER_CHECK(args.lr >= 0 && args.eps >= 0 && args.beta1 >= 0 && args.beta1 < 1 && args.beta2 >= 0 && args.beta2 < 1,
              "adam_step: invalid hyper-parameters (lr ", args.lr, ", betas ", args.beta1, ", ", args.beta2, ", eps ",
              args.eps, ")");
  if (count == 0) return;
  const Tensor& first = t.params[0];
  bool any_elements = false;
  for (size_t i = 0; i < count; ++i) {
    const Tensor& param = t.params[i];
    // "param 3" in a list, just "param" for a single parameter.
    std::string at;
    if (count != 1) at.append(" ").append(std::to_string(i));
    EMBER_CHECK(param.defined() && param.dtype().is_floating(), "adam_step: expected a floating param", at, ", got ",
                param.defined() ? param.describe() : std::string("an undefined tensor"));
    EMBER_CHECK(param.dtype() == first.dtype() && param.device() == first.device(), "adam_step: param", at, " ",
                param.describe(), " differs in dtype or device from param 0 ", first.describe(),
                " (one step takes one dtype on one device)");
    auto check = [&](const Tensor& x, const char* what) {
      EMBER_CHECK(x.defined() && x.shape() == param.shape() && x.dtype() == param.dtype() &&
                      x.device() == param.device(),
                  "adam_step: ", what, at, " must match the parameter ", param.describe(), ", got ",
                  x.defined() ? x.describe() : std::string("an undefined tensor"));
      EMBER_CHECK(x.is_contiguous(), "adam_step: ", what, at, " must be contiguous");
    };
    check(param, "param");
    check(t.grads[i], "grad");
    check(t.exp_avgs[i], "exp_avg");
    check(t.exp_avg_sqs[i], "exp_avg_sq");
    if (args.amsgrad) check(t.max_exp_avg_sqs[i], "max_exp_avg_sq");
    any_elements = any_elements || param.numel() > 0;
  }
  if (any_elements) EMBER_KERNEL(adam_step, first.device())(t, args);
  for (size_t i = 0; i < count; ++i) {
    t.params[i].bump_version();
    t.exp_avgs[i].bump_version();
    t.exp_avg_sqs[i].bump_version();
    if (args.amsgrad) t.max_exp_avg_sqs[i].bump_version();
  }
}

}  // namespace ember::ops
