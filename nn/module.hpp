// nn::Module: the base of every layer and model.
//
// A Module owns named parameters (tensors that require grad), named buffers
// (state that is saved but not trained, like BatchNorm's running stats) and
// named child modules, all in registration order. Names nest with dots
// ("features.0.weight"), as in PyTorch, for state_dict() and printing.
//
// Note [parameter identity]
// Layers keep Tensor handles to their parameters (this->weight) and the
// registry keeps the same handles. to(device)/to(dtype) therefore swap the data
// of the existing tensors in place (the TensorImpl is kept), so every handle,
// and any optimizer holding them, sees the moved parameter.
#pragma once

#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ember/autograd/functions.hpp>
#include <ember/autograd/grad_mode.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::nn {

class Module {
 public:
  virtual ~Module() = default;

  // The layer's type name and its constructor arguments, for printing ("Linear(in_features=4, ...)").
  virtual std::string type_name() const = 0;
  virtual std::string extra_repr() const { return ""; }
  // Single-input forward; modules with other signatures define their own call operators.
  virtual Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }

  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  // This module and every descendant, depth first, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules();

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves or converts every parameter and buffer in place (Note [parameter identity]).
  void to(Device device);
  void to(DType dtype);  // floating parameters and buffers only
  void zero_grad();
  int64_t num_parameters(bool trainable_only = false) const;

  // Parameters and buffers by dotted name.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in. strict: missing, unexpected and mis-shaped entries are one error listing them all.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void print(std::ostream& os, int indent = 0) const;

 protected:
  Tensor register_parameter(std::string name, Tensor value, bool requires_grad = true);
  Tensor register_buffer(std::string name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    check_name(name);
    children_.emplace_back(std::move(name), module);
    return module;
  }

 private:
  void check_name(const std::string& name) const;
  void collect(const std::string& prefix, bool recurse, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// Replaces the data of t with that of src, keeping t's identity and autograd state.
void set_data(const Tensor& t, const Tensor& src);

}  // namespace ember::nn
