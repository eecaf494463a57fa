// Module bookkeeping: registration, traversal, device/dtype moves, state dicts, printing.
#include <ember/nn/module.hpp>

#include <ostream>
#include <set>
#include <sstream>

namespace ember::nn {

Tensor Module::forward(const Tensor&) {
  EMBER_FAIL(type_name(), ": this module has no single-input forward");
}

void Module::check_name(const std::string& name) const {
  EMBER_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(), ": invalid name '", name,
              "' (must be non-empty and contain no '.')");
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  EMBER_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), type_name(), ": name '", name,
              "' is already registered");
}

Tensor Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  check_name(name);
  if (value.defined()) value.requires_grad_(requires_grad);
  params_.emplace_back(std::move(name), value);
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value) {
  check_name(name);
  buffers_.emplace_back(std::move(name), value);
  return value;
}

void Module::collect(const std::string& prefix, bool recurse, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : buffers ? buffers_ : params_)
    if (t.defined()) out.emplace_back(prefix + n, t);
  if (!recurse) return;
  for (const auto& [n, child] : children_)
    if (child) child->collect(prefix + n + ".", true, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", recurse, true, out);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [name, m] = stack.back();
    stack.pop_back();
    out.emplace_back(name, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      if (it->second) stack.emplace_back(name.empty() ? it->first : name + "." + it->first, it->second.get());
  }
  return out;
}

void Module::train(bool on) {
  for (auto& [_, m] : named_modules()) m->training_ = on;
}

void set_data(const Tensor& t, const Tensor& src) {
  TensorImpl* dst = t.impl();
  const TensorImpl* s = src.impl();
  dst->storage = s->storage;
  dst->sizes = s->sizes;
  dst->strides = s->strides;
  dst->offset = s->offset;
  dst->dtype = s->dtype;
}

void Module::to(Device device) {
  NoGradGuard guard;
  for (auto& [_, t] : named_parameters()) {
    set_data(t, ops::to(t, device));
    if (t.grad().defined()) t.set_grad(ops::to(t.grad(), device));
  }
  for (auto& [_, t] : named_buffers()) set_data(t, ops::to(t, device));
}

void Module::to(DType dtype) {
  EMBER_CHECK(dtype.is_floating(), type_name(), ".to: expected a floating dtype, got ", dtype);
  NoGradGuard guard;
  for (auto& [_, t] : named_parameters())
    if (t.dtype().is_floating()) {
      set_data(t, ops::to(t, dtype));
      if (t.grad().defined()) t.set_grad(ops::to(t.grad(), dtype));
    }
  for (auto& [_, t] : named_buffers())
    if (t.dtype().is_floating()) set_data(t, ops::to(t, dtype));
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.set_grad(Tensor());
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& t : parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> own = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [n, t] : own) {
    auto it = state.find(n);
    if (it == state.end()) {
      missing.push_back(n);
    } else if (!(it->second.shape() == t.shape())) {
      std::ostringstream os;
      os << n << " (checkpoint " << it->second.shape() << ", model " << t.shape() << ")";
      mismatched.push_back(os.str());
    }
  }
  for (const auto& [n, _] : state)
    if (!own.count(n)) unexpected.push_back(n);
  if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::ostringstream os;
    os << "load_state_dict: error(s) loading state into " << type_name() << ":";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << "\n  " << what << ":";
      for (const auto& s : v) os << " " << s << ";";
    };
    list("missing keys", strict ? missing : std::vector<std::string>{});
    list("unexpected keys", strict ? unexpected : std::vector<std::string>{});
    list("size mismatch", mismatched);
    EMBER_FAIL(os.str());
  }
  NoGradGuard guard;
  for (auto& [n, t] : own) {
    auto it = state.find(n);
    if (it == state.end()) continue;
    Tensor dst = t;
    ops::copy_(dst, ops::to(it->second, t.device()));
  }
}

void Module::print(std::ostream& os, int indent) const {
  os << type_name() << "(" << extra_repr();
  if (!children_.empty()) {
    os << "\n";
    for (const auto& [n, child] : children_) {
      os << std::string(static_cast<size_t>(indent + 2), ' ') << "(" << n << "): ";
      if (child) child->print(os, indent + 2);
      else os << "None";
      os << "\n";
    }
    os << std::string(static_cast<size_t>(indent), ' ');
  }
  os << ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  m.print(os);
  return os;
}

}  // namespace ember::nn
