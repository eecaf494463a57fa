// Batch image transforms (transforms.hpp), written with ember ops only so they
// run wherever the batch lives. Per-image random numbers are drawn as tensors
// on the batch's device (no host round trip on a GPU).
#include <ember/data/transforms.hpp>

#include <algorithm>
#include <array>
#include <cmath>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::data {

namespace {

// Calls fn on x as a 4-dim (N, C, H, W) batch and returns the result in x's rank.
template <class Fn>
Tensor on_images(const char* op, const Tensor& x, Fn&& fn) {
  EMBER_CHECK(x.defined(), op, ": undefined input");
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected images (N, C, H, W) or (C, H, W), got ", x.describe());
  if (x.dim() == 4) return fn(x);
  return fn(x.unsqueeze(0)).squeeze(0);
}

Tensor scalar_like(double v, const Tensor& like) { return ops::scalar_tensor(v, like); }

void check_probability(const char* op, double p) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, op, ": p must be in [0, 1], got ", p);
}

// (N, 1, 1, 1) bool on x's device: true for the images an augmentation applies to.
Tensor chosen(const Tensor& x, double p, Generator& gen) {
  Tensor u = rand({x.size(0), 1, 1, 1}, TensorOptions(kFloat32, x.device()), &gen);
  return ops::lt(u, ops::scalar_tensor(p, u));
}

// Uniform integers in [0, high) per image, shaped (N, 1, 1) on x's device.
Tensor per_image_int(const Tensor& x, int64_t high, Generator& gen) {
  return randint(0, high, {x.size(0), 1, 1}, TensorOptions(kInt64, x.device()), &gen);
}

// Uniform factors in [lo, hi] per image, shaped (N, 1, 1, 1) on x's device, in x's dtype.
Tensor per_image_factor(const Tensor& x, double lo, double hi, Generator& gen) {
  Tensor u = rand({x.size(0), 1, 1, 1}, TensorOptions(kFloat32, x.device()), &gen);
  return ops::to(ops::add(ops::mul(u, scalar_like(hi - lo, u)), scalar_like(lo, u)), x.dtype());
}

// (N, 1, H, W) luminance of floating images: 0.299 R + 0.587 G + 0.114 B, or the one channel.
Tensor luminance(const char* op, const Tensor& b) {
  const int64_t c = b.size(1);
  EMBER_CHECK(c == 1 || c == 3, op, ": expected 1 (grey) or 3 (RGB) channels, got images ", b.describe());
  if (c == 1) return b;
  Tensor weights = tensor(std::vector<double>{0.299, 0.587, 0.114}, TensorOptions(kFloat64)).to(b.device(), b.dtype());
  return ops::sum(ops::mul(b, weights.view({1, 3, 1, 1})), {1}, /*keepdim=*/true);
}

// b + f (a - b) clamped to [0, 1]: a blended towards b (f < 1) or away from it (f > 1).
Tensor blend(const Tensor& a, const Tensor& b, const Tensor& f) {
  return ops::clamp(ops::add(b, ops::mul(f, ops::sub(a, b))), 0.0, 1.0);
}

// torchvision's adjust_hue on (N, 3, H, W) images: RGB to HSV, the hue turned
// by shift (N, 1, 1, 1, in turns) modulo 1, back to RGB.
Tensor shift_hue(const Tensor& b, const Tensor& shift) {
  auto k = [&](double v) { return scalar_like(v, b); };
  const Tensor r = b.narrow(1, 0, 1), g = b.narrow(1, 1, 1), bl = b.narrow(1, 2, 1);
  const Tensor v = ops::maximum(ops::maximum(r, g), bl), lo = ops::minimum(ops::minimum(r, g), bl);
  const Tensor grey = ops::eq(v, lo), chroma = ops::sub(v, lo);
  const Tensor s = ops::div(chroma, ops::where(grey, k(1), v));
  const Tensor divisor = ops::where(grey, k(1), chroma);
  const Tensor rc = ops::div(ops::sub(v, r), divisor), gc = ops::div(ops::sub(v, g), divisor),
               bc = ops::div(ops::sub(v, bl), divisor);
  const Tensor is_r = ops::eq(v, r), is_g = ops::eq(v, g);
  Tensor h = ops::where(is_r, ops::sub(bc, gc),
                        ops::where(is_g, ops::add(ops::sub(rc, bc), k(2)), ops::add(ops::sub(gc, rc), k(4))));
  // (h / 6 + 1) mod 1, plus the shift, modulo 1: each sum is within one turn of [0, 1).
  auto wrap = [&](const Tensor& t) {
    return ops::where(ops::lt(t, k(0)), ops::add(t, k(1)), ops::where(ops::ge(t, k(1)), ops::sub(t, k(1)), t));
  };
  h = wrap(ops::add(wrap(ops::add(ops::div(h, k(6)), k(1))), shift));
  // Back: sector i = floor(6 h) in 0..5, f its fraction.
  const Tensor h6 = ops::mul(h, k(6));
  Tensor sector = ops::to(ops::ge(h6, k(1)), b.dtype());
  for (int j = 2; j < 6; ++j) sector = ops::add(sector, ops::to(ops::ge(h6, k(j)), b.dtype()));
  const Tensor f = ops::sub(h6, sector);
  auto unit = [&](const Tensor& t) { return ops::clamp(ops::mul(v, ops::sub(k(1), t)), 0.0, 1.0); };
  const Tensor p = unit(s), q = unit(ops::mul(s, f)), t = unit(ops::mul(s, ops::sub(k(1), f)));
  auto pick = [&](const std::array<const Tensor*, 6>& by_sector) {
    Tensor out = *by_sector[5];
    for (int j = 4; j >= 0; --j) out = ops::where(ops::eq(sector, k(j)), *by_sector[static_cast<size_t>(j)], out);
    return out;
  };
  return ops::cat({pick({&v, &q, &p, &p, &t, &v}), pick({&t, &v, &v, &q, &p, &p}), pick({&p, &p, &t, &v, &v, &q})}, 1);
}

void check_floating(const char* op, const Tensor& x) {
  EMBER_CHECK(x.dtype().is_floating(), op, ": expected floating images in [0, 1] (see to_float), got ", x.describe());
}

Tensor random_flip(const char* op, const Tensor& x, int64_t dim, double p, Generator& gen) {
  check_probability(op, p);
  return on_images(op, x, [&](const Tensor& b) {
    if (b.size(0) == 0) return b;
    return ops::where(chosen(b, p, gen), ops::flip(b, {dim}), b);
  });
}

}  // namespace

Tensor to_float(const Tensor& x, DType dtype) {
  EMBER_CHECK(x.defined(), "to_float: undefined input");
  EMBER_CHECK(dtype.is_floating(), "to_float: the target dtype must be floating, got ", dtype);
  if (x.dtype().is_floating()) return ops::to(x, dtype);
  EMBER_CHECK(x.dtype() == kUInt8, "to_float: expected uint8 pixels or a floating tensor, got ", x.describe());
  Tensor f = ops::to(x, dtype);
  return ops::div(f, scalar_like(255.0, f));
}

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  return on_images("normalize", x, [&](const Tensor& b) {
    EMBER_CHECK(b.dtype().is_floating(), "normalize: expected floating images (see to_float), got ", x.describe());
    const int64_t c = b.size(1);
    for (double s : std) EMBER_CHECK(s > 0.0, "normalize: std values must be > 0, got ", s);
    auto per_channel = [&](const std::vector<double>& v, const char* what) {
      EMBER_CHECK(static_cast<int64_t>(v.size()) == c || v.size() == 1, "normalize: ", what, " has ", v.size(),
                  " values for ", c, " channels of ", x.describe());
      Tensor t = tensor(v, TensorOptions(kFloat64)).to(b.device(), b.dtype());
      return t.view({1, static_cast<int64_t>(v.size()), 1, 1});
    };
    return ops::div(ops::sub(b, per_channel(mean, "mean")), per_channel(std, "std"));
  });
}

Tensor center_crop(const Tensor& x, int64_t height, int64_t width) {
  return on_images("center_crop", x, [&](const Tensor& b) {
    const int64_t h = b.size(2), w = b.size(3);
    EMBER_CHECK(height >= 1 && width >= 1 && height <= h && width <= w, "center_crop: a ", height, " x ", width,
                " window does not fit images ", x.describe());
    return b.narrow(2, (h - height) / 2, height).narrow(3, (w - width) / 2, width);
  });
}

Tensor random_crop(const Tensor& x, int64_t height, int64_t width, int64_t padding, Generator& gen, double fill) {
  return on_images("random_crop", x, [&](const Tensor& b) {
    EMBER_CHECK(padding >= 0, "random_crop: padding must be >= 0, got ", padding);
    const int64_t n = b.size(0), c = b.size(1);
    const int64_t hp = b.size(2) + 2 * padding, wp = b.size(3) + 2 * padding;
    EMBER_CHECK(height >= 1 && width >= 1 && height <= hp && width <= wp, "random_crop: a ", height, " x ", width,
                " window does not fit images ", x.describe(), " padded by ", padding);
    if (n == 0 || c == 0) return empty({n, c, height, width}, b.options());
    Tensor padded = padding > 0 ? ops::pad(b, {padding, padding, padding, padding}, fill) : b;
    // Flat index of window pixel (i, j) of image k: (top_k + i) * wp + (left_k + j).
    Tensor top = per_image_int(b, hp - height + 1, gen), left = per_image_int(b, wp - width + 1, gen);
    const TensorOptions idx_opts(kInt64, b.device());
    Tensor rows = ops::add(top, arange(0, height, idx_opts).view({1, height, 1}));
    Tensor cols = ops::add(left, arange(0, width, idx_opts).view({1, 1, width}));
    Tensor flat = ops::add(ops::mul(rows, ops::scalar_tensor(wp, rows)), cols);  // (N, height, width)
    Tensor index = flat.reshape({n, 1, height * width}).expand({n, c, height * width});
    return ops::gather(ops::contiguous(padded).view({n, c, hp * wp}), 2, index).view({n, c, height, width});
  });
}

Tensor random_horizontal_flip(const Tensor& x, double p, Generator& gen) {
  return random_flip("random_horizontal_flip", x, 3, p, gen);
}

Tensor random_vertical_flip(const Tensor& x, double p, Generator& gen) {
  return random_flip("random_vertical_flip", x, 2, p, gen);
}

Tensor random_cutout(const Tensor& x, int64_t size, double p, Generator& gen, double fill) {
  check_probability("random_cutout", p);
  return on_images("random_cutout", x, [&](const Tensor& b) {
    EMBER_CHECK(size >= 1, "random_cutout: size must be >= 1, got ", size);
    const int64_t n = b.size(0), h = b.size(2), w = b.size(3);
    if (n == 0 || h == 0 || w == 0) return b;
    const TensorOptions idx_opts(kInt64, b.device());
    // The square covers rows [cy - size/2, cy - size/2 + size), likewise columns.
    auto inside = [&](int64_t extent, IntList shape) {
      Tensor centre = per_image_int(b, extent, gen).view({n, 1, 1, 1});
      Tensor lo = ops::sub(centre, ops::scalar_tensor(size / 2, centre));
      Tensor pos = arange(0, extent, idx_opts).view(shape);
      return ops::logical_and(ops::ge(pos, lo), ops::lt(pos, ops::add(lo, ops::scalar_tensor(size, lo))));
    };
    Tensor apply = chosen(b, p, gen);
    Tensor in_rows = inside(h, {1, 1, h, 1});
    Tensor in_cols = inside(w, {1, 1, 1, w});
    Tensor mask = ops::logical_and(apply, ops::logical_and(in_rows, in_cols));  // (N, 1, H, W)
    return ops::where(mask, ops::to(ops::scalar_tensor(fill, b), b.dtype()), b);
  });
}

Tensor color_jitter(const Tensor& x, double brightness, double contrast, double saturation, double hue,
                    Generator& gen) {
  for (auto [name, v] : {std::pair{"brightness", brightness}, {"contrast", contrast}, {"saturation", saturation}})
    EMBER_CHECK(std::isfinite(v) && v >= 0.0, "color_jitter: ", name, " must be finite and >= 0, got ", v);
  EMBER_CHECK(hue >= 0.0 && hue <= 0.5, "color_jitter: hue must be in [0, 0.5], got ", hue);
  return on_images("color_jitter", x, [&](const Tensor& b) {
    check_floating("color_jitter", b);
    EMBER_CHECK(b.size(1) == 1 || b.size(1) == 3 || (contrast == 0 && saturation == 0 && hue == 0),
                "color_jitter: contrast, saturation and hue expect 1 (grey) or 3 (RGB) channels, got images ",
                b.describe());
    if (b.size(0) == 0) return b;
    auto factor = [&](double strength) { return per_image_factor(b, std::max(0.0, 1.0 - strength), 1.0 + strength, gen); };
    Tensor out = b;
    if (brightness > 0) out = ops::clamp(ops::mul(out, factor(brightness)), 0.0, 1.0);  // blended with black
    if (contrast > 0) out = blend(out, ops::mean(luminance("color_jitter", out), {1, 2, 3}, true), factor(contrast));
    if (saturation > 0) out = blend(out, luminance("color_jitter", out), factor(saturation));
    if (hue > 0) {
      Tensor shift = per_image_factor(b, -hue, hue, gen);
      if (out.size(1) == 3) out = shift_hue(out, shift);  // a grey image has no hue
    }
    return out;
  });
}

Tensor random_grayscale(const Tensor& x, double p, Generator& gen) {
  check_probability("random_grayscale", p);
  return on_images("random_grayscale", x, [&](const Tensor& b) {
    check_floating("random_grayscale", b);
    if (b.size(0) == 0) return b;
    Tensor grey = luminance("random_grayscale", b).expand(b.shape());
    return ops::where(chosen(b, p, gen), grey, b);
  });
}

BatchTransform on_input(std::function<Tensor(const Tensor&, Generator&)> fn) {
  EMBER_CHECK(static_cast<bool>(fn), "on_input: no function");
  return [fn = std::move(fn)](Batch batch, Generator& gen) {
    batch.input = fn(batch.input, gen);
    return batch;
  };
}

BatchTransform compose(std::vector<BatchTransform> steps) {
  for (size_t i = 0; i < steps.size(); ++i) EMBER_CHECK(static_cast<bool>(steps[i]), "compose: step ", i, " is empty");
  return [steps = std::move(steps)](Batch batch, Generator& gen) {
    for (const auto& step : steps) batch = step(std::move(batch), gen);
    return batch;
  };
}

}  // namespace ember::data
