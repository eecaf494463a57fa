// Bilinear resampling and random resized crops (transforms.hpp), composed of
// gathers and a lerp so they run on whatever device holds the batch. The
// per-image sampling positions are computed on the host (O(N * (H + W)) work)
// and moved to the batch's device once.
#include <ember/data/transforms.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::data {

namespace {

// Source positions of `out` outputs sampling a run of `in` inputs starting at
// `start` (align_corners = false; negative positions clamp to the first input,
// as PyTorch's bilinear interpolation does): the two neighbours and the
// weight of the second.
void sample_axis(int64_t start, int64_t in, int64_t out, int64_t* i0, int64_t* i1, double* weight) {
  const double step = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t o = 0; o < out; ++o) {
    const double s = std::max((static_cast<double>(o) + 0.5) * step - 0.5, 0.0);
    const int64_t lo = std::min(static_cast<int64_t>(s), in - 1);
    i0[o] = start + lo;
    i1[o] = start + std::min(lo + 1, in - 1);
    weight[o] = std::min(s - static_cast<double>(lo), 1.0);
  }
}

// Per-image indices (N, n) int64 and weights (N, n) of one axis, on `like`'s device and dtype.
struct AxisPlan {
  Tensor i0, i1, w;
};
AxisPlan plan_axis(const std::vector<CropBox>& boxes, int64_t images, bool rows, int64_t out, const Tensor& like) {
  std::vector<int64_t> i0(static_cast<size_t>(images * out)), i1(i0.size());
  std::vector<double> w(i0.size());
  for (int64_t k = 0; k < images; ++k) {
    const CropBox& b = boxes[boxes.size() == 1 ? 0 : static_cast<size_t>(k)];
    const size_t at = static_cast<size_t>(k * out);
    sample_axis(rows ? b.top : b.left, rows ? b.height : b.width, out, &i0[at], &i1[at], &w[at]);
  }
  auto to_device = [&](Tensor t) { return like.device() == kCPU ? t : t.to(like.device()); };
  return {to_device(tensor(i0, TensorOptions(kInt64)).view({images, out})),
          to_device(tensor(i1, TensorOptions(kInt64)).view({images, out})),
          to_device(ops::to(tensor(w, TensorOptions(kFloat64)), like.dtype()).view({images, out}))};
}

}  // namespace

Tensor resized_crop(const Tensor& x, const std::vector<CropBox>& boxes, int64_t height, int64_t width) {
  EMBER_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), "resized_crop: expected images (N, C, H, W) or (C, H, W), got ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
  if (x.dim() == 3) return resized_crop(x.unsqueeze(0), boxes, height, width).squeeze(0);
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
  const AxisPlan r = plan_axis(boxes, n, true, height, x), q = plan_axis(boxes, n, false, width, x);
  // Rows first: (N, C, height, W), then columns: (N, C, height, width); each a gather of both neighbours and a lerp.
  auto lerp = [](const Tensor& a, const Tensor& b, const Tensor& t) { return ops::add(a, ops::mul(ops::sub(b, a), t)); };
  const Dims row_idx{n, c, height, w};
  Tensor r0 = ops::gather(x, 2, r.i0.view({n, 1, height, 1}).expand(row_idx));
  Tensor r1 = ops::gather(x, 2, r.i1.view({n, 1, height, 1}).expand(row_idx));
  Tensor rows = lerp(r0, r1, r.w.view({n, 1, height, 1}));
  const Dims col_idx{n, c, height, width};
  Tensor c0 = ops::gather(rows, 3, q.i0.view({n, 1, 1, width}).expand(col_idx));
  Tensor c1 = ops::gather(rows, 3, q.i1.view({n, 1, 1, width}).expand(col_idx));
  return lerp(c0, c1, q.w.view({n, 1, 1, width}));
}

Tensor resize(const Tensor& x, int64_t height, int64_t width) {
  EMBER_CHECK(x.defined() && x.dim() >= 2, "resize: expected images (N, C, H, W) or (C, H, W), got ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
  return resized_crop(x, {CropBox{0, 0, x.size(-2), x.size(-1)}}, height, width);
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
                           std::pair<double, double> ratio) {
  EMBER_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4), "random_resized_crop: expected images (N, C, H, W) or (C, H, W), got ",
              x.defined() ? x.describe() : std::string("an undefined tensor"));
  const int64_t n = x.dim() == 4 ? x.size(0) : 1;
  return resized_crop(x, random_resized_crop_boxes(n, x.size(-2), x.size(-1), gen, scale, ratio), height, width);
}

}  // namespace ember::data
