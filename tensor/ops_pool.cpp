// Meta functions of 2-D pooling (NCHW or unbatched CHW): max (with int64
// indices into each H*W plane, as PyTorch), average, adaptive average, and
// their backward ops.
//
// Output size per spatial dim, as PyTorch:
//   out = floor((in + 2 * pad - dilation * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0)) / stride) + 1,
//   and with ceil_mode the last window must start inside the input or left padding.
// pad must be at most half the kernel. A stride of 0 means "equal to the
// kernel" (PyTorch's stride=None). Floating dtypes only. Kernels get
// contiguous 4-D operands and write every element of their outputs.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

Pool2dArgs checked_args(const char* op, Pool2dArgs a, bool allow_dilation) {
  for (int i = 0; i < 2; ++i)
    if (a.stride[i] == 0) a.stride[i] = a.kernel[i];
  EMBER_CHECK(a.kernel[0] > 0 && a.kernel[1] > 0, op, ": kernel size must be positive, got [", a.kernel[0], ", ",
              a.kernel[1], "]");
  EMBER_CHECK(a.stride[0] > 0 && a.stride[1] > 0, op, ": stride must be positive, got [", a.stride[0], ", ",
              a.stride[1], "]");
  EMBER_CHECK(a.dilation[0] > 0 && a.dilation[1] > 0, op, ": dilation must be positive, got [", a.dilation[0], ", ",
              a.dilation[1], "]");
  EMBER_CHECK(allow_dilation || (a.dilation[0] == 1 && a.dilation[1] == 1), op, ": dilation is not supported, got [",
              a.dilation[0], ", ", a.dilation[1], "]");
  for (int i = 0; i < 2; ++i) {
    EMBER_CHECK(a.padding[i] >= 0 && a.padding[i] <= a.kernel[i] / 2, op,
                ": padding must be non-negative and at most half the kernel size, got padding [", a.padding[0], ", ",
                a.padding[1], "] for kernel [", a.kernel[0], ", ", a.kernel[1], "]");
  }
  return a;
}

// (N, C, OH, OW) for a 4-D input shape.
Dims pool_output_shape(const char* op, IntList x, const Pool2dArgs& a) {
  EMBER_CHECK(x[1] > 0 && x[2] > 0 && x[3] > 0, op, ": expected non-empty channel and spatial dims, got input ", x);
  Dims out{x[0], x[1], 0, 0};
  for (int i = 0; i < 2; ++i) {
    const int64_t in = x[2 + i], s = a.stride[i], p = a.padding[i];
    int64_t o = floor_div(in + 2 * p - a.dilation[i] * (a.kernel[i] - 1) - 1 + (a.ceil_mode ? s - 1 : 0), s) + 1;
    if (a.ceil_mode && (o - 1) * s >= in + p) --o;
    out[2 + i] = o;
  }
  EMBER_CHECK(out[2] > 0 && out[3] > 0, op, ": output size is too small: input ", x, " with kernel [", a.kernel[0],
              ", ", a.kernel[1], "], stride [", a.stride[0], ", ", a.stride[1], "], padding [", a.padding[0], ", ",
              a.padding[1], "], dilation [", a.dilation[0], ", ", a.dilation[1], "] gives [", out[2], ", ", out[3],
              "]");
  return out;
}

// x must be a floating 3-D or 4-D tensor; returns it as 4-D.
Tensor batched_input(const char* op, const Tensor& x) {
  EMBER_CHECK(x.defined(), op, ": undefined input tensor");
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got ",
              x.describe());
  EMBER_CHECK(x.dtype().is_floating(), op, ": expected a floating dtype, got ", x.describe());
  return x.dim() == 3 ? unsqueeze(x, 0) : x;
}

Dims batched_shape(const char* op, IntList shape) {
  EMBER_CHECK(shape.size() == 3 || shape.size() == 4, op, ": expected a 3-D or 4-D input shape, got ", shape);
  Dims s(shape);
  if (s.size() == 3) s.insert(0, 1);
  return s;
}

// grad_out of a backward op must have the forward output's shape (same batching as input_shape).
void check_grad_shape(const char* op, const Tensor& grad_out, IntList input_shape, const Dims& expected4) {
  Dims expected = expected4;
  if (input_shape.size() == 3) expected.erase(0);
  EMBER_CHECK(grad_out.shape() == expected, op, ": expected grad_out of shape ", expected, " for input shape ",
              input_shape, ", got grad_out is ", grad_out.describe());
}

Tensor unbatch(const Tensor& t, size_t ndim) { return ndim == 3 ? squeeze(t, 0) : t; }

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dArgs& args) {
  const char* op = "max_pool2d";
  Tensor x4 = batched_input(op, x);
  Pool2dArgs a = checked_args(op, args, true);
  Dims shape = pool_output_shape(op, x4.shape(), a);
  Tensor out = empty(shape, x.options());
  Tensor indices = empty(shape, TensorOptions(kInt64, x.device()));
  if (out.numel() > 0) EMBER_KERNEL(max_pool2d, x.device())(out, indices, contiguous(x4), a);
  const size_t nd = static_cast<size_t>(x.dim());
  return {unbatch(out, nd), unbatch(indices, nd)};
}

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, IntList input_shape) {
  const char* op = "max_pool2d_backward";
  EMBER_CHECK(grad_out.defined() && indices.defined(), op, ": undefined input tensor");
  EMBER_CHECK(grad_out.dtype().is_floating(), op, ": expected a floating grad_out, got ", grad_out.describe());
  EMBER_CHECK(indices.dtype() == kInt64, op, ": expected int64 indices, got ", indices.describe());
  EMBER_CHECK(grad_out.device() == indices.device(), op, ": expected grad_out and indices on the same device, got ",
              grad_out.describe(), " and ", indices.describe());
  Dims in4 = batched_shape(op, input_shape);
  EMBER_CHECK(grad_out.shape() == indices.shape() && grad_out.dim() == static_cast<int64_t>(input_shape.size()), op,
              ": expected grad_out and indices of the same shape with as many dims as the input shape ", input_shape,
              ", got grad_out is ", grad_out.describe(), ", indices is ", indices.describe());
  Tensor go4 = input_shape.size() == 3 ? unsqueeze(grad_out, 0) : grad_out;
  Tensor idx4 = input_shape.size() == 3 ? unsqueeze(indices, 0) : indices;
  EMBER_CHECK(go4.size(0) == in4[0] && go4.size(1) == in4[1], op, ": grad_out ", grad_out.describe(),
              " does not match the batch and channel dims of the input shape ", input_shape);
  Tensor gx = empty(in4, grad_out.options());
  if (gx.numel() > 0) {
    if (go4.numel() == 0) gx = zeros(in4, grad_out.options());
    else EMBER_KERNEL(max_pool2d_backward, grad_out.device())(gx, contiguous(go4), contiguous(idx4));
  }
  return unbatch(gx, input_shape.size());
}

Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& args) {
  const char* op = "avg_pool2d";
  Tensor x4 = batched_input(op, x);
  Pool2dArgs a = checked_args(op, args, false);
  Tensor out = empty(pool_output_shape(op, x4.shape(), a), x.options());
  if (out.numel() > 0) EMBER_KERNEL(avg_pool2d, x.device())(out, contiguous(x4), a);
  return unbatch(out, static_cast<size_t>(x.dim()));
}

Tensor avg_pool2d_backward(const Tensor& grad_out, IntList input_shape, const Pool2dArgs& args) {
  const char* op = "avg_pool2d_backward";
  EMBER_CHECK(grad_out.defined(), op, ": undefined input tensor");
  EMBER_CHECK(grad_out.dtype().is_floating(), op, ": expected a floating grad_out, got ", grad_out.describe());
  Dims in4 = batched_shape(op, input_shape);
  Pool2dArgs a = checked_args(op, args, false);
  check_grad_shape(op, grad_out, input_shape, pool_output_shape(op, in4, a));
  Tensor go4 = input_shape.size() == 3 ? unsqueeze(grad_out, 0) : grad_out;
  Tensor gx = empty(in4, grad_out.options());
  if (gx.numel() > 0) EMBER_KERNEL(avg_pool2d_backward, grad_out.device())(gx, contiguous(go4), a);
  return unbatch(gx, input_shape.size());
}

Tensor adaptive_avg_pool2d(const Tensor& x, IntList output_size) {
  const char* op = "adaptive_avg_pool2d";
  Tensor x4 = batched_input(op, x);
  EMBER_CHECK(output_size.size() == 1 || output_size.size() == 2, op,
              ": expected output_size of 1 or 2 values, got ", output_size);
  const int64_t oh = output_size[0], ow = output_size[output_size.size() - 1];
  EMBER_CHECK(oh >= 0 && ow >= 0, op, ": output_size must be non-negative, got ", output_size);
  EMBER_CHECK(x4.size(1) > 0 && x4.size(2) > 0 && x4.size(3) > 0, op,
              ": expected non-empty channel and spatial dims, got x is ", x.describe());
  Tensor out = empty({x4.size(0), x4.size(1), oh, ow}, x.options());
  if (out.numel() > 0) EMBER_KERNEL(adaptive_avg_pool2d, x.device())(out, contiguous(x4), Pool2dArgs{});
  return unbatch(out, static_cast<size_t>(x.dim()));
}

Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, IntList input_shape) {
  const char* op = "adaptive_avg_pool2d_backward";
  EMBER_CHECK(grad_out.defined(), op, ": undefined input tensor");
  EMBER_CHECK(grad_out.dtype().is_floating(), op, ": expected a floating grad_out, got ", grad_out.describe());
  Dims in4 = batched_shape(op, input_shape);
  EMBER_CHECK(grad_out.dim() == static_cast<int64_t>(input_shape.size()), op, ": expected grad_out with ",
              input_shape.size(), " dims for input shape ", input_shape, ", got grad_out is ", grad_out.describe());
  Tensor go4 = input_shape.size() == 3 ? unsqueeze(grad_out, 0) : grad_out;
  EMBER_CHECK(go4.size(0) == in4[0] && go4.size(1) == in4[1], op, ": grad_out ", grad_out.describe(),
              " does not match the batch and channel dims of the input shape ", input_shape);
  Tensor gx = empty(in4, grad_out.options());
  if (gx.numel() > 0) {
    if (go4.numel() == 0) gx = zeros(in4, grad_out.options());
    else EMBER_KERNEL(adaptive_avg_pool2d_backward, grad_out.device())(gx, contiguous(go4), Pool2dArgs{});
  }
  return unbatch(gx, input_shape.size());
}

}  // namespace ember::ops
