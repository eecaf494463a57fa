// SGD: buf = momentum * buf + (1 - dampening) * g; p -= lr * (nesterov ? g + momentum * buf : buf).
#include <ember/nn/optim/sgd.hpp>

namespace ember::optim {

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o)
    : Optimizer(std::move(groups),
                {{"lr", o.lr}, {"momentum", o.momentum}, {"dampening", o.dampening},
                 {"weight_decay", o.weight_decay}, {"nesterov", o.nesterov ? 1.0 : 0.0}},
                "SGD") {
  EMBER_CHECK(o.lr >= 0, "SGD: invalid learning rate ", o.lr);
  EMBER_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening");
}

void SGD::step() {
  NoGradGuard guard;
  for (auto& group : param_groups()) {
    const double lr = group.options["lr"], momentum = group.options["momentum"];
    const double dampening = group.options["dampening"], wd = group.options["weight_decay"];
    const bool nesterov = group.options["nesterov"] != 0.0;
    for (auto& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (wd != 0.0) g = ops::add(g, p, wd);
      if (momentum != 0.0) {
        auto& st = state_of(p);
        auto it = st.find("momentum_buffer");
        if (it == st.end()) {
          it = st.emplace("momentum_buffer", ops::clone(g)).first;
        } else {
          it->second.mul_(momentum).add_(g, 1.0 - dampening);
        }
        g = nesterov ? ops::add(g, it->second, momentum) : it->second;
      }
      Tensor param = p;
      param.add_(g, -lr);
    }
  }
}

}  // namespace ember::optim
