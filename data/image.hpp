// Image decoding (PNG, JPEG, BMP, TGA, GIF first frame, PPM/PGM) with stb_image,
// into uint8 tensors laid out (C, H, W) like PyTorch's.
//
// Why here: ImageFolder and user datasets decode files inside DataLoader tasks,
// so decoding must be safe to call from several threads at once. It is: every
// call works on its own buffers through stbi_load_from_memory, and ember never
// touches stb_image's global settings (no vertical flip, no HDR gamma).
//
// Invariant: the result is a contiguous uint8 CPU tensor of shape (C, H, W),
// C = `channels` when it is given (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; stb
// converts, grey from RGB by its integer luminance (77 R + 150 G + 29 B) >> 8),
// else the channels the file stores. Every failure is an ember::Error naming
// the file (or the caller's `name`) and stb's reason.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <ember/tensor/tensor.hpp>

namespace ember::data {

// Decodes an encoded image held in memory; `name` is used in error messages.
// channels: 0 = as stored, 1..4 = converted to that many.
Tensor decode_image(std::span<const uint8_t> bytes, const std::string& name, int channels = 0);  // -> (C, H, W) uint8

// Reads the file at `path` and decodes it (errors name the path).
Tensor read_image(const std::string& path, int channels = 0);  // -> (C, H, W) uint8

}  // namespace ember::data
