// Bilinear resampling, with or without antialiasing, and random resized crops
// (transforms.hpp), composed of gathers, multiplies and adds so they run on
// whatever device holds the batch. The per-image taps are computed on the host
// (O(N * (H + W) * taps) work) and moved to the batch's device once.
#include <ember/data/transforms.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::data {

namespace {

// Note [resampling taps]
// Both resamplings are separable: each output row (then column) is a weighted
// sum of a few input rows (columns) of its box. An axis plan holds, per image
// and output position, `taps` input positions and their weights (zero for the
// unused ones of a short window), computed on the host; the batch is then
// resampled with one gather and one multiply-add per tap and axis.
//   bilinear (align_corners = false, as PyTorch's): the two neighbours of the
//     source position (o + 0.5) * in / out - 0.5, negative positions clamped
//     to the first input;
//   antialiased (PyTorch's antialias=True, which follows PIL): a triangle
//     filter centred at (o + 0.5) * scale, scale = in / out, reaching
//     max(scale, 1) inputs each side and scaled by 1 / max(scale, 1), its
//     weights over the inputs inside the box normalised to sum 1. Shrinking,
//     every input under the window contributes, so nothing aliases.
int64_t tap_count(int64_t in, int64_t out, bool antialias) {
  if (!antialias) return 2;
  const double support = std::max(static_cast<double>(in) / static_cast<double>(out), 1.0);
  return static_cast<int64_t>(std::ceil(support)) * 2 + 1;
}

// The taps of `out` outputs over the run of `in` inputs starting at `start`:
// idx[o * taps + t] and w[o * taps + t].
void axis_taps(int64_t start, int64_t in, int64_t out, bool antialias, int64_t taps, int64_t* idx, double* w) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    int64_t* i = idx + o * taps;
    double* wt = w + o * taps;
    if (!antialias) {
      const double s = std::max((static_cast<double>(o) + 0.5) * scale - 0.5, 0.0);
      const int64_t lo = std::min(static_cast<int64_t>(s), in - 1);
      const double frac = std::min(s - static_cast<double>(lo), 1.0);
      i[0] = start + lo, wt[0] = 1.0 - frac;
      i[1] = start + std::min(lo + 1, in - 1), wt[1] = frac;
      continue;
    }
    const double support = std::max(scale, 1.0), inv = 1.0 / support;
    const double centre = scale * (static_cast<double>(o) + 0.5);
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(centre - support + 0.5), 0);
    const int64_t count = std::min<int64_t>(static_cast<int64_t>(centre + support + 0.5), in) - lo;
    double total = 0;
    for (int64_t t = 0; t < taps; ++t) {
      const double d = std::fabs((static_cast<double>(t + lo) - centre + 0.5) * inv);
      wt[t] = t < count ? std::max(0.0, 1.0 - d) : 0.0;
      i[t] = start + std::min(lo + t, in - 1);
      total += wt[t];
    }
    if (total > 0)
      for (int64_t t = 0; t < taps; ++t) wt[t] /= total;
  }
}

// One axis for every image: indices (taps, N, out) int64 and weights (taps, N, out) on `like`'s device and dtype.
struct AxisPlan {
  Tensor idx, w;
  int64_t taps;
};
AxisPlan plan_axis(const std::vector<CropBox>& boxes, int64_t images, bool rows, int64_t out, bool antialias,
                   const Tensor& like) {
  auto length = [&](const CropBox& b) { return rows ? b.height : b.width; };
  int64_t taps = 0;
  for (const CropBox& b : boxes) taps = std::max(taps, tap_count(length(b), out, antialias));
  std::vector<int64_t> by_output(static_cast<size_t>(out * taps));
  std::vector<double> w_by_output(by_output.size());
  std::vector<int64_t> idx(static_cast<size_t>(taps * images * out));
  std::vector<double> w(idx.size());
  for (int64_t k = 0; k < images; ++k) {
    const CropBox& b = boxes[boxes.size() == 1 ? 0 : static_cast<size_t>(k)];
    axis_taps(rows ? b.top : b.left, length(b), out, antialias, taps, by_output.data(), w_by_output.data());
    for (int64_t o = 0; o < out; ++o)
      for (int64_t t = 0; t < taps; ++t) {
        const auto at = static_cast<size_t>((t * images + k) * out + o), from = static_cast<size_t>(o * taps + t);
        idx[at] = by_output[from];
        w[at] = w_by_output[from];
      }
  }
  auto to_device = [&](Tensor t) { return like.device() == kCPU ? t : t.to(like.device()); };
  return {to_device(tensor(idx, TensorOptions(kInt64)).view({taps, images, out})),
          to_device(ops::to(tensor(w, TensorOptions(kFloat64)), like.dtype()).view({taps, images, out})), taps};
}

// src resampled along dim (2: rows, 3: columns) to `out` positions: the plan's taps, gathered and summed.
Tensor resample_axis(const Tensor& src, int64_t dim, const AxisPlan& plan, int64_t out) {
  Dims shape = src.shape(), per_image{src.size(0), 1, 1, 1};
  shape[static_cast<size_t>(dim)] = out;
  per_image[static_cast<size_t>(dim)] = out;
  Tensor sum;
  for (int64_t t = 0; t < plan.taps; ++t) {
    Tensor term = ops::mul(ops::gather(src, dim, plan.idx.select(0, t).view(per_image).expand(shape)),
                           plan.w.select(0, t).view(per_image));
    sum = sum.defined() ? ops::add(sum, term) : term;
  }
  return sum;
}

}  // namespace

Tensor resized_crop(const Tensor& x, const std::vector<CropBox>& boxes, int64_t height, int64_t width, bool antialias) {
  EMBER_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), "resized_crop: expected images (N, C, H, W) or (C, H, W), got ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
  if (x.dim() == 3) return resized_crop(x.unsqueeze(0), boxes, height, width, antialias).squeeze(0);
  EMBER_CHECK(x.dtype().is_floating(), "resized_crop: expected floating images (see to_float), got ", x.describe());
  EMBER_CHECK(height >= 1 && width >= 1, "resized_crop: output size ", height, " x ", width, " must be positive");
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  EMBER_CHECK(boxes.size() == 1 || static_cast<int64_t>(boxes.size()) == n, "resized_crop: ", boxes.size(),
              " boxes for ", n, " images (give one per image, or one for all)");
  for (size_t k = 0; k < boxes.size(); ++k) {
    const CropBox& b = boxes[k];
    EMBER_CHECK(b.height >= 1 && b.width >= 1 && b.top >= 0 && b.left >= 0 && b.top + b.height <= h &&
                    b.left + b.width <= w,
                "resized_crop: box ", k, " (top ", b.top, ", left ", b.left, ", ", b.height, " x ", b.width,
                ") is not inside the ", h, " x ", w, " images of ", x.describe());
  }
  if (n == 0 || c == 0) return empty({n, c, height, width}, x.options());
  // Rows first: (N, C, height, W), then columns: (N, C, height, width). Note [resampling taps].
  Tensor rows = resample_axis(x, 2, plan_axis(boxes, n, true, height, antialias, x), height);
  return resample_axis(rows, 3, plan_axis(boxes, n, false, width, antialias, x), width);
}

Tensor resize(const Tensor& x, int64_t height, int64_t width, bool antialias) {
  EMBER_CHECK(x.defined() && x.dim() >= 2, "resize: expected images (N, C, H, W) or (C, H, W), got ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
  return resized_crop(x, {CropBox{0, 0, x.size(-2), x.size(-1)}}, height, width, antialias);
}

std::vector<CropBox> random_resized_crop_boxes(int64_t n, int64_t h, int64_t w, Generator& gen,
                                               std::pair<double, double> scale, std::pair<double, double> ratio) {
  EMBER_CHECK(n >= 0 && h >= 1 && w >= 1, "random_resized_crop_boxes: ", n, " images of ", h, " x ", w);
  EMBER_CHECK(scale.first > 0 && scale.first <= scale.second && scale.second <= 1.0,
              "random_resized_crop: scale must satisfy 0 < lo <= hi <= 1, got (", scale.first, ", ", scale.second, ")");
  EMBER_CHECK(ratio.first > 0 && ratio.first <= ratio.second, "random_resized_crop: ratio must satisfy 0 < lo <= hi, got (",
              ratio.first, ", ", ratio.second, ")");
  constexpr int kTries = 10;
  Tensor u = rand({std::max<int64_t>(n, 1), kTries, 4}, TensorOptions(kFloat64), &gen);  // host draws: device-free
  const double* p = u.data_ptr<double>();
  const double area = static_cast<double>(h * w), log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
  std::vector<CropBox> boxes;
  boxes.reserve(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    std::optional<CropBox> found;
    for (int t = 0; t < kTries && !found; ++t) {
      const double* d = p + (k * kTries + t) * 4;
      const double target = area * (scale.first + d[0] * (scale.second - scale.first));
      const double aspect = std::exp(log_lo + d[1] * (log_hi - log_lo));
      const auto bw = static_cast<int64_t>(std::lround(std::sqrt(target * aspect)));
      const auto bh = static_cast<int64_t>(std::lround(std::sqrt(target / aspect)));
      if (bw < 1 || bh < 1 || bw > w || bh > h) continue;
      const int64_t top = std::min(static_cast<int64_t>(d[2] * static_cast<double>(h - bh + 1)), h - bh);
      const int64_t left = std::min(static_cast<int64_t>(d[3] * static_cast<double>(w - bw + 1)), w - bw);
      found = CropBox{top, left, bh, bw};
    }
    if (!found) {  // the largest centred box whose aspect ratio is allowed
      const double in_ratio = static_cast<double>(w) / static_cast<double>(h);
      int64_t bw = w, bh = h;
      if (in_ratio < ratio.first) bh = std::max<int64_t>(1, std::lround(static_cast<double>(w) / ratio.first));
      else if (in_ratio > ratio.second) bw = std::max<int64_t>(1, std::lround(static_cast<double>(h) * ratio.second));
      found = CropBox{(h - bh) / 2, (w - bw) / 2, bh, bw};
    }
    boxes.push_back(*found);
  }
  return boxes;
}

Tensor random_resized_crop(const Tensor& x, int64_t height, int64_t width, Generator& gen, std::pair<double, double> scale,
                           std::pair<double, double> ratio, bool antialias) {
  EMBER_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), "random_resized_crop: expected images (N, C, H, W) or (C, H, W), got ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
  const int64_t n = x.dim() == 4 ? x.size(0) : 1;
  return resized_crop(x, random_resized_crop_boxes(n, x.size(-2), x.size(-1), gen, scale, ratio), height, width,
                      antialias);
}

}  // namespace ember::data
