// Adam/AdamW: per-parameter state (exp_avg, exp_avg_sq, max_exp_avg_sq); each step is one fused
// multi-tensor call per group (ops::adam_step_ over lists).
#include <ember/nn/optim/adam.hpp>

#include <map>
#include <string>
#include <tuple>

#include <ember/tensor/factory.hpp>

namespace ember::optim {

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o, bool decoupled, const char* name)
    : Optimizer(std::move(groups),
                {{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", o.eps},
                 {"weight_decay", o.weight_decay}, {"amsgrad", o.amsgrad ? 1.0 : 0.0},
                 {"maximize", o.maximize ? 1.0 : 0.0}},
                name),
      decoupled_(decoupled) {
  EMBER_CHECK(o.lr >= 0, name, ": invalid learning rate ", o.lr);
  EMBER_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, name, ": invalid betas (", o.beta1, ", ", o.beta2, ")");
  EMBER_CHECK(o.eps >= 0, name, ": invalid epsilon ", o.eps);
}

void Adam::step() {
  NoGradGuard guard;
  for (auto& group : param_groups()) {
    AdamArgs args;
    args.lr = group.options["lr"];
    args.beta1 = group.options["beta1"];
    args.beta2 = group.options["beta2"];
    args.eps = group.options["eps"];
    args.weight_decay = group.options["weight_decay"];
    args.amsgrad = group.options["amsgrad"] != 0.0;
    args.maximize = group.options["maximize"] != 0.0;
    args.decoupled_weight_decay = decoupled_;
    // One multi-tensor step per (device, dtype, step count) among the parameters with gradients:
    // normally one per group (on CUDA, one launch per 256 parameters).
    std::map<std::tuple<std::string, int, int64_t>, AdamTensorLists> buckets;
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state_of(p);
      if (st.empty()) {
        st["exp_avg"] = zeros_like(p);
        st["exp_avg_sq"] = zeros_like(p);
        if (args.amsgrad) st["max_exp_avg_sq"] = zeros_like(p);
      }
      const int64_t step = ++step_of(p);
      AdamTensorLists& b = buckets[{p.device().str(), static_cast<int>(p.dtype().kind), step}];
      b.params.push_back(p);
      b.grads.push_back(ops::contiguous(g));
      b.exp_avgs.push_back(st["exp_avg"]);
      b.exp_avg_sqs.push_back(st["exp_avg_sq"]);
      if (args.amsgrad) b.max_exp_avg_sqs.push_back(st["max_exp_avg_sq"]);
    }
    for (auto& [key, tensors] : buckets) {
      args.step = std::get<2>(key);
      ops::adam_step_(tensors, args);
    }
  }
}

}  // namespace ember::optim
