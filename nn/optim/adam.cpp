// Adam/AdamW: per-parameter state (exp_avg, exp_avg_sq, max_exp_avg_sq) and one fused kernel call each.
#include <ember/nn/optim/adam.hpp>

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
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      auto& st = state_of(p);
      if (st.empty()) {
        st["exp_avg"] = zeros_like(p);
        st["exp_avg_sq"] = zeros_like(p);
        if (args.amsgrad) st["max_exp_avg_sq"] = zeros_like(p);
      }
      args.step = ++step_of(p);
      Tensor param = p;
      Tensor grad = ops::contiguous(g);
      Tensor none;
      ops::adam_step_(param, grad, st["exp_avg"], st["exp_avg_sq"], args.amsgrad ? st["max_exp_avg_sq"] : none, args);
    }
  }
}

}  // namespace ember::optim
