// Loads an MNIST-format split and checks images and labels agree.
#include <ember/data/fashion_mnist.hpp>

#include <filesystem>

#include <ember/data/idx.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::data {
namespace {
std::string find_file(const std::string& dir, const std::string& stem) {
  for (const char* ext : {"", ".gz"}) {
    std::string p = dir + "/" + stem + ext;
    if (std::filesystem::exists(p)) return p;
  }
  EMBER_FAIL("load_mnist_split: no '", stem, "' or '", stem, ".gz' in '", dir,
             "' (on Debian: apt-get install dataset-fashion-mnist)");
}
}  // namespace

ImageSplit load_mnist_split(const std::string& dir, const std::string& split, double mean, double std) {
  EMBER_CHECK(split == "train" || split == "test", "load_mnist_split: split must be 'train' or 'test', got '", split, "'");
  const std::string prefix = split == "train" ? "train" : "t10k";
  std::string image_path = find_file(dir, prefix + "-images-idx3-ubyte");
  std::string label_path = find_file(dir, prefix + "-labels-idx1-ubyte");
  Tensor images = read_idx(image_path);
  Tensor labels = read_idx(label_path);
  EMBER_CHECK(images.dim() == 3 && images.dtype() == kUInt8, "load_mnist_split: '", image_path,
              "' should hold (N, H, W) uint8 images, got ", images.describe());
  EMBER_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "load_mnist_split: '", label_path, "' holds ",
              labels.describe(), " labels for ", images.size(0), " images in '", image_path, "'");
  ImageSplit out;
  Tensor x = ops::to(images, kFloat32).reshape({images.size(0), 1, images.size(1), images.size(2)});
  out.images = ops::div(ops::sub(ops::div(x, ops::scalar_tensor(255.0, x)), ops::scalar_tensor(mean, x)),
                        ops::scalar_tensor(std, x));
  out.labels = ops::to(labels, kInt64);
  return out;
}

}  // namespace ember::data
