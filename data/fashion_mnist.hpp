// Fashion-MNIST (and MNIST) from IDX files, as normalised float tensors.
//
// Looks for train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in a folder
// (Debian's dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist).
#pragma once

#include <string>

#include <ember/tensor/tensor.hpp>

namespace ember::data {

struct ImageSplit {
  Tensor images;  // (N, 1, 28, 28) float32, normalised with the given mean and std
  Tensor labels;  // (N) int64
};

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// split: "train" or "test". Images become (x / 255 - mean) / std.
ImageSplit load_mnist_split(const std::string& dir, const std::string& split, double mean = 0.2860, double std = 0.3530);

}  // namespace ember::data
