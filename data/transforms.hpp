// Image transforms and augmentations on whole batches, on any device.
//
// Each is a composition of ember ops (pad, gather, flip, where, comparisons,
// random fills), so the same code runs on the CPU in a loading task and on the
// GPU as a DataLoader device_transform, with no kernel of its own ("compose
// first, fuse second"). Random choices are drawn per image from the generator
// passed in, with Philox streams that are the same on both devices: the same
// seed gives the same crops, flips and cutouts on the CPU and on a GPU.
//
// Images are (N, C, H, W) or one (C, H, W). Use in a DataLoader:
//   o.device_transform = compose({
//       on_input([](const Tensor& x, Generator& g) { return random_crop(to_float(x), 32, 32, 4, g); }),
//       on_input([](const Tensor& x, Generator& g) { return random_horizontal_flip(x, 0.5, g); }),
//       on_input([](const Tensor& x, Generator&) { return normalize(x, {0.49, 0.48, 0.45}, {0.25, 0.24, 0.26}); })});
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include <ember/data/dataloader.hpp>
#include <ember/tensor/random.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::data {

// uint8 pixels in [0, 255] to `dtype` in [0, 1]; a floating input is only converted.
Tensor to_float(const Tensor& x, DType dtype = kFloat32);
// (x - mean[c]) / std[c] per channel c; mean and std hold C values or one for all.
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);
// The central height x width window (a view).
Tensor center_crop(const Tensor& x, int64_t height, int64_t width);
// Pads by `padding` on every side with `fill`, then takes a height x width
// window at a random position per image (as torchvision's RandomCrop).
Tensor random_crop(const Tensor& x, int64_t height, int64_t width, int64_t padding, Generator& gen, double fill = 0.0);
// Mirrors each image left-right (horizontal) or top-bottom (vertical) with probability p.
Tensor random_horizontal_flip(const Tensor& x, double p, Generator& gen);
Tensor random_vertical_flip(const Tensor& x, double p, Generator& gen);
// With probability p per image, sets a size x size square centred at a random
// pixel (clipped at the borders) to `fill` (Cutout, DeVries & Taylor 2017).
Tensor random_cutout(const Tensor& x, int64_t size, double p, Generator& gen, double fill = 0.0);

// torchvision's ColorJitter with its own factors per image, on floating
// images in [0, 1]: brightness, contrast and saturation strengths s draw a
// factor uniform in [max(0, 1 - s), 1 + s], hue (at most 0.5) a shift uniform
// in [-hue, hue] turns; 0 leaves that property alone and draws nothing. They
// apply in a fixed order: brightness (x * f), contrast (blended with the
// image's mean luminance), saturation (blended with the pixel's luminance,
// 0.299 R + 0.587 G + 0.114 B), each clamped to [0, 1], then hue (through
// HSV, as torchvision's adjust_hue). Contrast, saturation and hue need 1 or 3
// channels (on one channel saturation and hue change nothing).
Tensor color_jitter(const Tensor& x, double brightness, double contrast, double saturation, double hue,
                    Generator& gen);
// With probability p per image, every channel becomes the luminance (as
// torchvision's RandomGrayscale). Floating images of 1 or 3 channels.
Tensor random_grayscale(const Tensor& x, double p, Generator& gen);

// A box of an image: rows [top, top + height), columns [left, left + width).
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};
// Bilinear resampling of each image's box to height x width (PyTorch's
// interpolate(mode="bilinear", align_corners=False) of the cropped image).
// With antialias, as interpolate(..., antialias=True) (and PIL): shrinking
// averages every input under a filter as wide as the scale, so fine detail
// does not alias. boxes: one per image, or one for all. Floating images only
// (see to_float).
Tensor resized_crop(const Tensor& x, const std::vector<CropBox>& boxes, int64_t height, int64_t width,
                    bool antialias = false);
// The whole image resampled to height x width.
Tensor resize(const Tensor& x, int64_t height, int64_t width, bool antialias = false);
// torchvision's RandomResizedCrop boxes for n images of h x w: an area
// fraction uniform in `scale` and an aspect ratio log-uniform in `ratio`, ten
// tries, else the largest centred box of an allowed ratio. The numbers are
// drawn on the host, so one seed picks the same boxes for a batch on any device.
std::vector<CropBox> random_resized_crop_boxes(int64_t n, int64_t h, int64_t w, Generator& gen,
                                               std::pair<double, double> scale = {0.08, 1.0},
                                               std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});
// A random box per image (random_resized_crop_boxes) resampled to height x width.
Tensor random_resized_crop(const Tensor& x, int64_t height, int64_t width, Generator& gen,
                           std::pair<double, double> scale = {0.08, 1.0},
                           std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0}, bool antialias = false);

// A batch transform applying `fn` to the batch's input (the target is kept).
BatchTransform on_input(std::function<Tensor(const Tensor&, Generator&)> fn);
// Applies the steps in order, all drawing from the one generator.
BatchTransform compose(std::vector<BatchTransform> steps);

}  // namespace ember::data
