// Meta functions of conv2d and its backward ops (NCHW).
//
// x: (N, C, H, W) or unbatched (C, H, W); w: (O, C / groups, kH, kW); bias: (O).
// Output size per spatial dim: floor((in + 2 * pad - dilation * (k - 1) - 1) / stride) + 1,
// which must be at least 1. Floating dtypes only (as PyTorch's CPU); x, w and
// bias share dtype and device. Kernels get contiguous 4-D operands.
// Pooling lives in ops_pool.cpp.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

void check_conv_args(const char* op, const Conv2dArgs& a) {
  EMBER_CHECK(a.groups > 0, op, ": groups must be positive, got ", a.groups);
  EMBER_CHECK(a.stride[0] > 0 && a.stride[1] > 0, op, ": stride must be positive, got [", a.stride[0], ", ",
              a.stride[1], "]");
  EMBER_CHECK(a.padding[0] >= 0 && a.padding[1] >= 0, op, ": padding must be non-negative, got [", a.padding[0],
              ", ", a.padding[1], "]");
  EMBER_CHECK(a.dilation[0] > 0 && a.dilation[1] > 0, op, ": dilation must be positive, got [", a.dilation[0], ", ",
              a.dilation[1], "]");
}

// The (N, O, OH, OW) output of a 4-D input shape x and weight shape w; checks channels and sizes.
Dims conv_output_shape(const char* op, IntList x, IntList w, const Conv2dArgs& a) {
  check_conv_args(op, a);
  for (int64_t v : x) EMBER_CHECK(v >= 0, op, ": invalid input shape ", x);
  EMBER_CHECK(w.size() == 4, op, ": expected a 4-D weight shape (out_channels, in_channels / groups, kH, kW), got ", w);
  for (int64_t v : w) EMBER_CHECK(v >= 0, op, ": invalid weight shape ", w);
  EMBER_CHECK(w[0] % a.groups == 0, op, ": out_channels (", w[0], ") must be divisible by groups (", a.groups,
              "), weight is ", w);
  EMBER_CHECK(x[1] == w[1] * a.groups, op, ": weight ", w, " with groups=", a.groups, " expects ", w[1] * a.groups,
              " input channels, but the input is ", x);
  EMBER_CHECK(w[2] > 0 && w[3] > 0, op, ": kernel size must be positive, weight is ", w);
  Dims out{x[0], w[0], 0, 0};
  for (int i = 0; i < 2; ++i) {
    const int64_t span = x[2 + i] + 2 * a.padding[i] - a.dilation[i] * (w[2 + i] - 1) - 1;
    out[2 + i] = span < 0 ? 0 : span / a.stride[i] + 1;
  }
  EMBER_CHECK(out[2] > 0 && out[3] > 0, op, ": input ", x, " padded by [", a.padding[0], ", ", a.padding[1],
              "] is smaller than the dilated kernel of weight ", w, " (dilation [", a.dilation[0], ", ",
              a.dilation[1], "]); output size would be [", out[2], ", ", out[3], "]");
  return out;
}

void check_pair(const char* op, const char* na, const Tensor& a, const char* nb, const Tensor& b) {
  EMBER_CHECK(a.defined() && b.defined(), op, ": undefined input tensor");
  EMBER_CHECK(a.dtype().is_floating(), op, ": expected a floating dtype, got ", na, " is ", a.describe());
  EMBER_CHECK(a.dtype() == b.dtype(), op, ": expected ", na, " and ", nb, " to have the same dtype, got ", na, " is ",
              a.describe(), ", ", nb, " is ", b.describe());
  EMBER_CHECK(a.device() == b.device(), op, ": expected ", na, " and ", nb, " on the same device, got ", na, " is ",
              a.describe(), ", ", nb, " is ", b.describe());
}

// A 3-D (C, H, W) shape gains a batch dim of 1.
Dims batched(IntList shape) {
  Dims s(shape);
  if (s.size() == 3) s.insert(0, 1);
  return s;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args) {
  check_pair("conv2d", "x", x, "w", w);
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, "conv2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got x is ",
              x.describe());
  EMBER_CHECK(w.dim() == 4, "conv2d: expected a 4-D weight (out_channels, in_channels / groups, kH, kW), got w is ",
              w.describe());
  const bool unbatched = x.dim() == 3;
  Tensor x4 = unbatched ? unsqueeze(x, 0) : x;
  Dims out_shape = conv_output_shape("conv2d", x4.shape(), w.shape(), args);
  if (bias.defined()) {
    EMBER_CHECK(bias.dtype() == x.dtype() && bias.device() == x.device(), "conv2d: bias ", bias.describe(),
                " must match the input's dtype and device, x is ", x.describe());
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv2d: expected bias of shape [", w.size(0),
                "], got bias is ", bias.describe(), " (w is ", w.describe(), ")");
  }
  Tensor out = empty(out_shape, x.options());
  if (out.numel() > 0 && (x4.numel() == 0 || w.numel() == 0)) {
    // Nothing to sum (no input channels, or an empty image that padding still covers): every output
    // is the bias or zero, on every device.
    out = zeros(out_shape, x.options());
    if (bias.defined()) out = add(out, view(bias, {1, w.size(0), 1, 1}));
  } else if (out.numel() > 0) {
    EMBER_KERNEL(conv2d, x.device())(out, contiguous(x4), contiguous(w), bias.defined() ? contiguous(bias) : bias, args);
  }
  return unbatched ? squeeze(out, 0) : out;
}

// grad_out: (N, O, OH, OW) or (O, OH, OW); w: (O, C / groups, kH, kW) -> grad_x of input_shape.
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, IntList input_shape, const Conv2dArgs& args) {
  const char* op = "conv2d_backward_input";
  check_pair(op, "grad_out", grad_out, "w", w);
  EMBER_CHECK(input_shape.size() == 3 || input_shape.size() == 4, op,
              ": expected a 3-D or 4-D input shape, got ", input_shape);
  EMBER_CHECK(w.dim() == 4, op, ": expected a 4-D weight, got w is ", w.describe());
  const bool unbatched = input_shape.size() == 3;
  Dims in4 = batched(input_shape);
  Dims expected = conv_output_shape(op, in4, w.shape(), args);
  Tensor go4 = unbatched && grad_out.dim() == 3 ? unsqueeze(grad_out, 0) : grad_out;
  EMBER_CHECK(go4.dim() == 4 && go4.shape() == expected && grad_out.dim() == static_cast<int64_t>(input_shape.size()),
              op, ": expected grad_out of shape ", unbatched ? IntList(expected.data() + 1, 3) : IntList(expected),
              " for input shape ", input_shape, " and w ", w.describe(), ", got grad_out is ", grad_out.describe());
  Tensor gx = empty(in4, grad_out.options());
  if (go4.numel() == 0 || w.numel() == 0) {
    gx = zeros(in4, grad_out.options());
  } else if (gx.numel() > 0) {
    EMBER_KERNEL(conv2d_backward_input, grad_out.device())(gx, contiguous(go4), contiguous(w), args);
  }
  return unbatched ? squeeze(gx, 0) : gx;
}

// grad_out: (N, O, OH, OW) or (O, OH, OW); x: (N, C, H, W) or (C, H, W) -> grad_w of weight_shape.
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, IntList weight_shape, const Conv2dArgs& args) {
  const char* op = "conv2d_backward_weight";
  check_pair(op, "grad_out", grad_out, "x", x);
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D or 4-D input, got x is ", x.describe());
  EMBER_CHECK(grad_out.dim() == x.dim(), op, ": expected grad_out with as many dims as x, got grad_out is ",
              grad_out.describe(), ", x is ", x.describe());
  const bool unbatched = x.dim() == 3;
  Tensor x4 = unbatched ? unsqueeze(x, 0) : x;
  Tensor go4 = unbatched ? unsqueeze(grad_out, 0) : grad_out;
  Dims expected = conv_output_shape(op, x4.shape(), weight_shape, args);
  EMBER_CHECK(go4.shape() == expected, op, ": expected grad_out of shape ",
              unbatched ? IntList(expected.data() + 1, 3) : IntList(expected), " for x ", x.describe(),
              " and weight shape ", weight_shape, ", got grad_out is ", grad_out.describe());
  if (go4.numel() == 0 || x4.numel() == 0) return zeros(weight_shape, grad_out.options());
  Tensor gw = empty(weight_shape, grad_out.options());
  if (gw.numel() > 0) EMBER_KERNEL(conv2d_backward_weight, grad_out.device())(gw, contiguous(go4), contiguous(x4), args);
  return gw;
}

}  // namespace ember::ops
