// CUDA kernels of the shape ops that move data: cat, pad (constant), flip, as
// kernels/cpu/index_shape.cpp.
//   cat:  each input (outer, size_k * inner) is copied into its column range of
//         out (outer, total * inner): one launch per non-empty input, one
//         thread per element, written once per element size.
//   pad:  out is filled with the value (the fill kernel), then the overlap of
//         x and out (negative pads crop) is copied with the copy kernel.
//   flip: one thread per output element reads x through its strides with the
//         flipped coordinates reversed.
// Ceilings: zero FLOPs; each reads its input once and writes its output once
// (pad also writes the border): memory-bound.
#include <ember/kernels/cuda/index_common.cuh>
#include <ember/kernels/cuda/register.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

#define EMBER_GRID_STRIDE(i, n)                                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// dst rows of out_row elements get src (rows = (outer, in_row)) at their first in_row columns.
template <class U>
__global__ void cat_fwd_kernel(const U* src, U* dst, const __grid_constant__ FlatShape<2> rows, int64_t out_row) {
  EMBER_GRID_STRIDE(e, rows.sizes[0] * rows.sizes[1]) {
    int64_t off = 0;
    rows.unravel(e, [&](int d, int64_t c) { off += d == 0 ? c * out_row : c; });
    dst[off] = src[e];
  }
}

// out (contiguous) = x with the dims whose bit is set in `flipped` reversed. geom: a = x strides.
template <class U>
__global__ void flip_fwd_kernel(const U* x, U* out, IndexGeom g, uint32_t flipped, int64_t n) {
  EMBER_GRID_STRIDE(e, n) {
    int64_t off = 0;
    g.shape.unravel(e, [&](int d, int64_t c) {
      off += ((flipped & (1u << d)) ? g.shape.sizes[d] - 1 - c : c) * g.stride_a[d];
    });
    out[e] = x[off];
  }
}
#undef EMBER_GRID_STRIDE

// out: contiguous; inputs: contiguous, out's dtype, non-empty, equal to out except in dim.
void cat_kernel(const Tensor& out, const std::vector<Tensor>& inputs, int64_t dim) {
  EMBER_CHECK(out.is_contiguous(), "cat: CUDA kernel expects a contiguous output, got ", out.describe());
  int64_t outer = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= out.size(i);
  const int64_t out_row = out.numel() / std::max<int64_t>(outer, 1);
  DeviceGuard guard(out.device().index);
  cudaStream_t stream = stream_of(out);
  int64_t column = 0;
  for (const Tensor& in : inputs) {
    EMBER_CHECK(in.is_contiguous() && in.dtype() == out.dtype() && in.device() == out.device(), "cat: CUDA kernel ",
                "expects contiguous inputs of the output's dtype and device, got ", in.describe(), " for out ",
                out.describe());
    const int64_t in_row = in.numel() / std::max<int64_t>(outer, 1);
    if (in.numel() == 0) continue;
    visit_itemsize(out.itemsize(), [&]<class U>() {
      cat_fwd_kernel<U><<<blocks_for(in.numel()), kThreads, 0, stream>>>(device_ptr<const U>(in),
                                                                         device_ptr<U>(out) + column,
                                                                         FlatShape<2>{outer, in_row}, out_row);
      EMBER_CUDA_LAUNCH_CHECK("cat");
    });
    column += in_row;
  }
}

// out = x padded with `value`; pads are (left, right) pairs from the last dim backwards, negative ones crop.
void pad_kernel(const Tensor& out, const Tensor& x, const Dims& pads, const Scalar& value) {
  EMBER_KERNEL(fill, out.device())(out, value);
  const int64_t nd = x.dim();
  Tensor dst = out, src = x;
  for (size_t k = 0; 2 * k < pads.size(); ++k) {
    const int64_t d = nd - 1 - static_cast<int64_t>(k);
    const int64_t left = pads[2 * k], right = pads[2 * k + 1];
    const int64_t len = x.size(d) - std::max<int64_t>(-left, 0) - std::max<int64_t>(-right, 0);
    if (len <= 0) return;  // nothing of x survives the crop
    dst = ops::narrow(dst, d, std::max<int64_t>(left, 0), len);
    src = ops::narrow(src, d, std::max<int64_t>(-left, 0), len);
  }
  if (src.numel() > 0) EMBER_KERNEL(copy, out.device())(dst, src, false);
}

// out (contiguous) = x with the listed dims reversed.
void flip_kernel(const Tensor& out, const Tensor& x, const Dims& dims) {
  EMBER_CHECK(out.is_contiguous(), "flip: CUDA kernel expects a contiguous output, got ", out.describe());
  const IndexGeom g = make_geom("flip", x.shape(), x.strides(), x.strides());
  uint32_t flipped = 0;
  for (int64_t d : dims) flipped |= 1u << d;
  DeviceGuard guard(x.device().index);
  visit_itemsize(x.itemsize(), [&]<class U>() {
    flip_fwd_kernel<U><<<blocks_for(out.numel()), kThreads, 0, stream_of(x)>>>(device_ptr<const U>(x),
                                                                               device_ptr<U>(out), g, flipped,
                                                                               out.numel());
    EMBER_CUDA_LAUNCH_CHECK("flip");
  });
}

}  // namespace

void register_index_shape_kernels(KernelTable& t) {
  t.cat = cat_kernel;
  t.pad = pad_kernel;
  t.flip = flip_kernel;
}

}  // namespace ember::cuda
