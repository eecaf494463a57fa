// CIFAR-10, binary version (cifar-10-binary.tar.gz, folder cifar-10-batches-bin).
//
// Layout: a file is a run of 3073-byte records: one label byte (0..9), then a
// 32x32 image as three 1024-byte planes, R then G then B, each row-major. That
// is already ember's (C, H, W) order, so images are copied plane for plane.
// The train split is data_batch_1.bin .. data_batch_5.bin concatenated in that
// order (50000 images); the test split is test_batch.bin (10000).
//
// Invariant: nothing is guessed. A missing file, a size that is not a whole
// number of records, or a label above 9 is an ember::Error naming the file and
// the byte offset; a split holds only records that passed the checks.
//
// Use: auto train = data::load_cifar10("/data/cifar-10-batches-bin", "train");
//      auto ds = std::make_shared<data::TensorDataset>(train.images, train.labels);
#pragma once

#include <array>
#include <string>

#include <ember/tensor/tensor.hpp>

namespace ember::data {

struct CifarSplit {
  Tensor images;  // (N, 3, 32, 32) uint8
  Tensor labels;  // (N) int64, 0..9
};

inline constexpr std::array<const char*, 10> kCifar10Classes = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

// Reads one CIFAR-10 binary batch file.
CifarSplit read_cifar10_file(const std::string& path);

// split: "train" or "test". `dir` holds the .bin files, or holds the folder
// cifar-10-batches-bin that does (the tarball's layout).
CifarSplit load_cifar10(const std::string& dir, const std::string& split);

}  // namespace ember::data
