// ImageFolder: a labelled image dataset laid out as root/<class_name>/<image>,
// like torchvision.datasets.ImageFolder.
//
// Classes are root's subfolders sorted by name (a class's index is its position;
// names starting with '.' are skipped, so .git or .ipynb_checkpoints never
// become classes). Samples are the files under each class folder, recursively,
// whose extension is in the list (case-insensitive), grouped by class in class
// order and sorted by path within a class, so the order never depends on the
// file system. Other files are ignored.
//
// Invariant: the folder is scanned once, in the constructor; get() only reads
// and decodes one file, so it is const and safe from several threads at once.
// Images are not resized: a batch of images of different sizes is refused by
// collate() (resize them in a MapDataset or a transform first).
//
// Use: data::ImageFolder ds("/data/pets/train", {.channels = 3});
//      Example e = ds.get(0);   // e.input (3, H, W) uint8, e.target int64 class index
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ember/data/dataset.hpp>

namespace ember::data {

struct ImageFolderOptions {
  int channels = 0;                     // passed to decode_image: 0 = as stored, 1..4 = converted
  std::vector<std::string> extensions = {};  // e.g. {"png", ".JPG"}; empty = png jpg jpeg bmp tga gif ppm pgm
};

class ImageFolder : public Dataset {
 public:
  struct Sample {
    std::string path;
    int64_t class_index;
  };

  explicit ImageFolder(std::string root, ImageFolderOptions opts = {});
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  // input: (C, H, W) uint8; target: 0-dim int64, the class index.
  Example get(int64_t index) const override;
  std::string name() const override { return "ImageFolder '" + root_ + "'"; }

  const std::string& root() const { return root_; }
  const std::vector<std::string>& classes() const { return classes_; }
  const std::vector<Sample>& samples() const { return samples_; }

 private:
  std::string root_;
  ImageFolderOptions opts_;
  std::vector<std::string> classes_;
  std::vector<Sample> samples_;
};

}  // namespace ember::data
