// Sequential, ModuleList and the residual block.
#include <ember/nn/container.hpp>

#include <ember/nn/layers.hpp>

namespace ember::nn {

void Sequential::push_back(std::shared_ptr<Module> m) {
  EMBER_CHECK(m != nullptr, "Sequential: cannot add a null module");
  register_module(std::to_string(modules_.size()), m);
  modules_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : modules_) h = m->forward(h);
  return h;
}

void ModuleList::push_back(std::shared_ptr<Module> m) {
  EMBER_CHECK(m != nullptr, "ModuleList: cannot add a null module");
  register_module(std::to_string(modules_.size()), m);
  modules_.push_back(std::move(m));
}

ResidualBlock::ResidualBlock(int64_t in, int64_t out, int64_t stride) {
  body_ = register_module("body", std::make_shared<Sequential>(
      std::make_shared<Conv2d>(in, out, 3, stride, 1, 1, 1, false), std::make_shared<BatchNorm2d>(out),
      std::make_shared<ReLU>(), std::make_shared<Conv2d>(out, out, 3, 1, 1, 1, 1, false),
      std::make_shared<BatchNorm2d>(out)));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", std::make_shared<Sequential>(
        std::make_shared<Conv2d>(in, out, 1, stride, 0, 1, 1, false), std::make_shared<BatchNorm2d>(out)));
  }
}

Tensor ResidualBlock::forward(const Tensor& x) {
  Tensor skip = shortcut_ ? shortcut_->forward(x) : x;
  return relu(body_->forward(x) + skip);
}

}  // namespace ember::nn
