// Optimizer bookkeeping: groups, state, state dicts.
#include <ember/nn/optim/optimizer.hpp>

#include <set>

namespace ember::optim {

std::vector<ParamGroup> single_group(const std::vector<Tensor>& params) {
  ParamGroup g;
  g.params = params;
  return {g};
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, std::map<std::string, double> defaults, const char* name)
    : name_(name), defaults_(std::move(defaults)) {
  EMBER_CHECK(!groups.empty(), name_, ": optimizer got an empty parameter list");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  std::set<const TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.impl());
  for (const auto& p : group.params) {
    EMBER_CHECK(p.defined(), name_, ": undefined parameter in a parameter group");
    EMBER_CHECK(p.is_leaf(), name_, ": can't optimize a non-leaf tensor ", p.describe());
    EMBER_CHECK(p.dtype().is_floating(), name_, ": parameters must be floating, got ", p.describe());
    EMBER_CHECK(seen.insert(p.impl()).second, name_, ": some parameters appear in more than one parameter group");
  }
  for (const auto& [k, v] : defaults_) group.options.emplace(k, v);
  for (const auto& [k, v] : group.options)
    EMBER_CHECK(defaults_.count(k), name_, ": unknown option '", k, "' in a parameter group");
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& g : groups_)
    for (auto& p : g.params) {
      if (set_to_none) {
        p.set_grad(Tensor());
      } else if (p.grad().defined()) {
        Tensor gr = p.grad();
        gr.zero_();
      }
    }
}

std::map<std::string, Tensor>& Optimizer::state_of(const Tensor& param) { return state_[param.impl()]; }
int64_t& Optimizer::step_of(const Tensor& param) { return steps_[param.impl()]; }

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  int64_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    for (const auto& [k, v] : groups_[gi].options)
      out["param_groups." + std::to_string(gi) + "." + k] = full({}, v, kFloat64);
    for (const auto& p : groups_[gi].params) {
      std::string prefix = "state." + std::to_string(index++) + ".";
      auto st = state_.find(p.impl());
      if (st != state_.end())
        for (const auto& [k, t] : st->second) out[prefix + k] = t;
      auto sp = steps_.find(p.impl());
      if (sp != steps_.end()) out[prefix + "step"] = full({}, sp->second, kInt64);
    }
  }
  return out;
}

// Replaces the whole state: hyper-parameters, buffers and step counts. Nothing
// changes unless every key checks out (state built aside, then swapped in).
void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  int64_t index = 0;
  std::set<std::string> used;
  std::vector<std::map<std::string, double>> options(groups_.size());
  std::map<const TensorImpl*, std::map<std::string, Tensor>> new_state;
  std::map<const TensorImpl*, int64_t> new_steps;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    options[gi] = groups_[gi].options;
    for (auto& [k, v] : options[gi]) {
      std::string key = "param_groups." + std::to_string(gi) + "." + k;
      auto it = state.find(key);
      EMBER_CHECK(it != state.end(), name_, ".load_state_dict: missing key '", key, "'");
      v = it->second.item<double>();
      used.insert(key);
    }
    for (const auto& p : groups_[gi].params) {
      std::string prefix = "state." + std::to_string(index++) + ".";
      std::map<std::string, Tensor> buffers;
      for (auto it = state.lower_bound(prefix); it != state.end() && it->first.rfind(prefix, 0) == 0; ++it) {
        std::string k = it->first.substr(prefix.size());
        used.insert(it->first);
        if (k == "step") {
          new_steps[p.impl()] = it->second.item<int64_t>();
          continue;
        }
        EMBER_CHECK(it->second.shape() == p.shape(), name_, ".load_state_dict: state '", it->first, "' has shape ",
                    it->second.shape(), " but the parameter has shape ", p.shape());
        buffers[k] = ops::clone(ops::to(ops::to(it->second, p.device()), p.dtype()));
      }
      if (!buffers.empty()) new_state[p.impl()] = std::move(buffers);
    }
  }
  for (const auto& [k, _] : state)
    EMBER_CHECK(used.count(k), name_, ".load_state_dict: unexpected key '", k,
                "' (does the checkpoint come from a different model or optimizer?)");
  for (size_t gi = 0; gi < groups_.size(); ++gi) groups_[gi].options = std::move(options[gi]);
  state_ = std::move(new_state);
  steps_ = std::move(new_steps);
}

}  // namespace ember::optim
