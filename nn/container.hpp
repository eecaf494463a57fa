// Containers: Sequential (a chain of single-input modules) and ModuleList
// (an indexed list of modules, called by the owner's own forward).
#pragma once

#include <ember/nn/module.hpp>

namespace ember::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  template <class... M>
  explicit Sequential(std::shared_ptr<M>... modules) {
    (push_back(std::move(modules)), ...);
  }
  void push_back(std::shared_ptr<Module> m);
  std::string type_name() const override { return "Sequential"; }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return modules_.size(); }
  Module& operator[](size_t i) const { return *modules_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

class ModuleList : public Module {
 public:
  ModuleList() = default;
  void push_back(std::shared_ptr<Module> m);
  std::string type_name() const override { return "ModuleList"; }
  size_t size() const { return modules_.size(); }
  Module& operator[](size_t i) const { return *modules_.at(i); }
  std::shared_ptr<Module> at(size_t i) const { return modules_.at(i); }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

// out = relu(body(x) + shortcut(x)): the basic ResNet block (two 3x3 convs with
// batch norm; a 1x1 conv + batch norm shortcut when the shape changes).
class ResidualBlock : public Module {
 public:
  ResidualBlock(int64_t in_channels, int64_t out_channels, int64_t stride = 1);
  std::string type_name() const override { return "ResidualBlock"; }
  Tensor forward(const Tensor& x) override;  // x: (N, C_in, H, W)

 private:
  std::shared_ptr<Sequential> body_;
  std::shared_ptr<Sequential> shortcut_;  // null when identity
};

}  // namespace ember::nn
