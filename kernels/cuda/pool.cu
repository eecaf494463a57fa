// CUDA kernels of 2-D max, average and adaptive average pooling and their
// backward ops on contiguous NCHW tensors, with the windows of
// kernels/cpu/pool.cpp (PyTorch's):
//   max:      rows oh*s - p + i*d for i < k, clipped to [0, H); NaN wins; index = ih * W + iw
//   avg:      rows [oh*s - p, min(oh*s - p + k, H + p)), divisor = that size (count_include_pad)
//             or the size clipped to [0, H) (otherwise)
//   adaptive: rows [floor(oh * H / OH), ceil((oh + 1) * H / OH))
// Forward: one thread per output element, summing its window in the compute
// type in the CPU's order. avg/adaptive backward gather: one thread per input
// element adds the contributions of the windows that cover it, in the CPU's
// (oh, ow) order, so results match the CPU bit for bit. max backward scatters
// through the saved indices with atomicAdd (float for 16-bit types, then
// rounded), checking each index (Note [index checks on CUDA]).
// Ceilings: forward reads each window (N*C*OH*OW*kH*kW loads, mostly from
// cache) and writes the output; backward the same in reverse. Memory-bound:
// bytes ~ (in + out) * itemsize.
#include <math_constants.h>

#include <ember/kernels/cuda/common.cuh>
#include <ember/kernels/cuda/index_check.cuh>
#include <ember/kernels/cuda/register.hpp>

namespace ember::cuda {
namespace {

struct PoolGeom {
  int64_t planes, H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
};

PoolGeom geom_of(const Tensor& in, const Tensor& out, const Pool2dArgs& a) {
  return {in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3), a.kernel[0], a.kernel[1],
          a.stride[0], a.stride[1], a.padding[0], a.padding[1], a.dilation[0], a.dilation[1], a.count_include_pad};
}

#define EMBER_GRID_STRIDE(i, n)                                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

// out, indices: (planes, OH, OW); x: (planes, H, W)
template <class T>
__global__ void max_pool2d_fwd_kernel(const T* x, T* out, int64_t* indices, PoolGeom g) {
  using M = Acc<T>;
  EMBER_GRID_STRIDE(o, g.planes * g.OH * g.OW) {
    const int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, p = o / (g.OW * g.OH);
    int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
    const int64_t he = min(hs + (g.kh - 1) * g.dh + 1, g.H), we = min(ws + (g.kw - 1) * g.dw + 1, g.W);
    if (hs < 0) hs += (-hs + g.dh - 1) / g.dh * g.dh;
    if (ws < 0) ws += (-ws + g.dw - 1) / g.dw * g.dw;
    const T* xp = x + p * g.H * g.W;
    M best = -CUDART_INF_F;
    int64_t best_i = hs < he && ws < we ? hs * g.W + ws : -1;  // an empty window gives -inf and -1
    for (int64_t ih = hs; ih < he; ih += g.dh)
      for (int64_t iw = ws; iw < we; iw += g.dw) {
        const M v = to_acc(xp[ih * g.W + iw]);
        if (v > best || v != v) {
          best = v;
          best_i = ih * g.W + iw;
        }
      }
    out[o] = from_acc<T>(best);
    indices[o] = best_i;
  }
}

// acc (planes, H*W), zeroed: acc[p, idx] += grad_out[p, k]; A is T (float/double) or float.
template <class T, class A>
__global__ void max_pool2d_bwd_kernel(const T* grad_out, const int64_t* indices, A* acc, int64_t planes, int64_t hw,
                                      int64_t ohw, unsigned long long* flag) {
  EMBER_GRID_STRIDE(k, planes * ohw) {
    const int64_t idx = indices[k];
    if (idx == -1) continue;  // empty window
    if (idx < 0 || idx >= hw) {
      flag_bad_index(flag, k);
      continue;
    }
    atomicAdd(acc + (k / ohw) * hw + idx, static_cast<A>(to_acc(grad_out[k])));
  }
}

// Rows [start, end) of avg_pool2d's window for output position o, and its divisor span.
struct AvgWindow {
  int64_t start, end, span;
};
__device__ __forceinline__ AvgWindow avg_window(int64_t o, int64_t stride, int64_t pad, int64_t k, int64_t in) {
  const int64_t s = o * stride - pad, e = min(s + k, in + pad);
  return {max(s, int64_t{0}), min(e, in), e - s};
}
__device__ __forceinline__ int64_t avg_divisor(const AvgWindow& rh, const AvgWindow& rw, bool include_pad) {
  return include_pad ? rh.span * rw.span : (rh.end - rh.start) * (rw.end - rw.start);
}

template <class T>
__global__ void avg_pool2d_fwd_kernel(const T* x, T* out, PoolGeom g) {
  using M = Acc<T>;
  EMBER_GRID_STRIDE(o, g.planes * g.OH * g.OW) {
    const int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, p = o / (g.OW * g.OH);
    const AvgWindow rh = avg_window(oh, g.sh, g.ph, g.kh, g.H), rw = avg_window(ow, g.sw, g.pw, g.kw, g.W);
    const T* xp = x + p * g.H * g.W;
    M sum = 0;
    int64_t div = 1;
    if (rh.start < rh.end && rw.start < rw.end) {
      div = avg_divisor(rh, rw, g.count_include_pad);
      for (int64_t ih = rh.start; ih < rh.end; ++ih)
        for (int64_t iw = rw.start; iw < rw.end; ++iw) sum += to_acc(xp[ih * g.W + iw]);
    }
    out[o] = from_acc<T>(sum / static_cast<M>(div));
  }
}

// grad_x[p, ih, iw] = sum over the windows covering (ih, iw) of grad_out / divisor.
template <class T>
__global__ void avg_pool2d_bwd_kernel(const T* grad_out, T* grad_x, PoolGeom g) {
  using M = Acc<T>;
  EMBER_GRID_STRIDE(i, g.planes * g.H * g.W) {
    const int64_t iw = i % g.W, ih = (i / g.W) % g.H, p = i / (g.W * g.H);
    // Windows with oh*s - p <= ih < oh*s - p + k.
    const int64_t oh_lo = ih + g.ph - g.kh < 0 ? 0 : (ih + g.ph - g.kh) / g.sh + 1;
    const int64_t oh_hi = min(g.OH - 1, (ih + g.ph) / g.sh);
    const int64_t ow_lo = iw + g.pw - g.kw < 0 ? 0 : (iw + g.pw - g.kw) / g.sw + 1;
    const int64_t ow_hi = min(g.OW - 1, (iw + g.pw) / g.sw);
    const T* gp = grad_out + p * g.OH * g.OW;
    M acc = 0;
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const AvgWindow rh = avg_window(oh, g.sh, g.ph, g.kh, g.H);
      for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const AvgWindow rw = avg_window(ow, g.sw, g.pw, g.kw, g.W);
        if (ih < rh.start || ih >= rh.end || iw < rw.start || iw >= rw.end) continue;
        acc += to_acc(gp[oh * g.OW + ow]) / static_cast<M>(avg_divisor(rh, rw, g.count_include_pad));
      }
    }
    grad_x[i] = from_acc<T>(acc);
  }
}

__device__ __forceinline__ int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
__device__ __forceinline__ int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <class T>
__global__ void adaptive_avg_pool2d_fwd_kernel(const T* x, T* out, PoolGeom g) {
  using M = Acc<T>;
  EMBER_GRID_STRIDE(o, g.planes * g.OH * g.OW) {
    const int64_t ow = o % g.OW, oh = (o / g.OW) % g.OH, p = o / (g.OW * g.OH);
    const int64_t hs = adaptive_start(oh, g.H, g.OH), he = adaptive_end(oh, g.H, g.OH);
    const int64_t ws = adaptive_start(ow, g.W, g.OW), we = adaptive_end(ow, g.W, g.OW);
    const T* xp = x + p * g.H * g.W;
    M sum = 0;
    for (int64_t ih = hs; ih < he; ++ih)
      for (int64_t iw = ws; iw < we; ++iw) sum += to_acc(xp[ih * g.W + iw]);
    out[o] = from_acc<T>(sum / static_cast<M>((he - hs) * (we - ws)));
  }
}

template <class T>
__global__ void adaptive_avg_pool2d_bwd_kernel(const T* grad_out, T* grad_x, PoolGeom g) {
  using M = Acc<T>;
  EMBER_GRID_STRIDE(i, g.planes * g.H * g.W) {
    const int64_t iw = i % g.W, ih = (i / g.W) % g.H, p = i / (g.W * g.H);
    // Outputs whose window [start, end) holds ih: oh in [floor(ih*OH/H), ceil((ih+1)*OH/H)).
    const int64_t oh_lo = ih * g.OH / g.H, oh_hi = min(g.OH, ((ih + 1) * g.OH + g.H - 1) / g.H);
    const int64_t ow_lo = iw * g.OW / g.W, ow_hi = min(g.OW, ((iw + 1) * g.OW + g.W - 1) / g.W);
    const T* gp = grad_out + p * g.OH * g.OW;
    M acc = 0;
    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
      const int64_t hs = adaptive_start(oh, g.H, g.OH), he = adaptive_end(oh, g.H, g.OH);
      if (ih < hs || ih >= he) continue;
      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
        const int64_t ws = adaptive_start(ow, g.W, g.OW), we = adaptive_end(ow, g.W, g.OW);
        if (iw < ws || iw >= we) continue;
        acc += to_acc(gp[oh * g.OW + ow]) / static_cast<M>((he - hs) * (we - ws));
      }
    }
    grad_x[i] = from_acc<T>(acc);
  }
}
#undef EMBER_GRID_STRIDE

void check_contiguous(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    EMBER_CHECK(t->is_contiguous() && t->dim() == 4, op, ": CUDA kernel expects contiguous 4-D operands, got ",
                t->describe());
}

void max_pool2d_kernel(const Tensor& out, const Tensor& indices, const Tensor& x, const Pool2dArgs& a) {
  check_contiguous("max_pool2d", {&out, &indices, &x});
  const PoolGeom g = geom_of(x, out, a);
  DeviceGuard guard(x.device().index);
  visit_floating(x.dtype(), "max_pool2d", [&]<class E>() {
    using T = CudaType<E>;
    max_pool2d_fwd_kernel<T><<<blocks_for(out.numel()), kThreads, 0, stream_of(x)>>>(
        device_ptr<const T>(x), device_ptr<T>(out), device_ptr<int64_t>(indices), g);
    EMBER_CUDA_LAUNCH_CHECK("max_pool2d");
  });
}

void max_pool2d_backward_kernel(const Tensor& grad_x, const Tensor& grad_out, const Tensor& indices) {
  const char* op = "max_pool2d_backward";
  check_contiguous(op, {&grad_x, &grad_out, &indices});
  const int64_t planes = grad_x.size(0) * grad_x.size(1), H = grad_x.size(2), W = grad_x.size(3);
  const int64_t ohw = grad_out.size(2) * grad_out.size(3);
  DeviceGuard guard(grad_x.device().index);
  cudaStream_t stream = stream_of(grad_x);
  IndexFlag flag(grad_x);
  visit_floating(grad_x.dtype(), op, [&]<class E>() {
    using T = CudaType<E>;
    using A = Acc<T>;  // atomics on float/double; 16-bit grads accumulate in float and are rounded once
    Tensor acc = is_reduced_v<T> ? empty(grad_x.shape(), TensorOptions(kFloat32, grad_x.device())) : grad_x;
    EMBER_CUDA_CHECK(cudaMemsetAsync(acc.data_ptr(), 0, acc.nbytes(), stream), op);  // 0 bits = +0.0
    max_pool2d_bwd_kernel<T, A><<<blocks_for(grad_out.numel()), kThreads, 0, stream>>>(
        device_ptr<const T>(grad_out), device_ptr<const int64_t>(indices), device_ptr<A>(acc), planes, H * W, ohw,
        flag.device());
    EMBER_CUDA_LAUNCH_CHECK(op);
    if (!acc.is_same(grad_x)) EMBER_KERNEL(copy, grad_x.device())(grad_x, acc, false);
  });
  const int64_t bad = flag.first_bad(op);
  if (bad >= 0)
    EMBER_FAIL(op, ": index ", read_index_value(indices, bad), " is out of range for an input plane of ", H, "x", W);
}

template <class Launch>
void pool_launch(const char* op, const Tensor& out, const Tensor& in, Launch launch) {
  check_contiguous(op, {&out, &in});
  DeviceGuard guard(in.device().index);
  visit_floating(in.dtype(), op, [&]<class E>() {
    using T = CudaType<E>;
    launch.template operator()<T>(blocks_for(out.numel()), stream_of(in), device_ptr<const T>(in), device_ptr<T>(out));
    EMBER_CUDA_LAUNCH_CHECK(op);
  });
}

void avg_pool2d_kernel(const Tensor& out, const Tensor& x, const Pool2dArgs& a) {
  const PoolGeom g = geom_of(x, out, a);
  pool_launch("avg_pool2d", out, x, [&]<class T>(unsigned blocks, cudaStream_t s, const T* in, T* o) {
    avg_pool2d_fwd_kernel<T><<<blocks, kThreads, 0, s>>>(in, o, g);
  });
}
void avg_pool2d_backward_kernel(const Tensor& grad_x, const Tensor& grad_out, const Pool2dArgs& a) {
  const PoolGeom g = geom_of(grad_x, grad_out, a);
  pool_launch("avg_pool2d_backward", grad_x, grad_out, [&]<class T>(unsigned blocks, cudaStream_t s, const T* in, T* o) {
    avg_pool2d_bwd_kernel<T><<<blocks, kThreads, 0, s>>>(in, o, g);
  });
}
void adaptive_avg_pool2d_kernel(const Tensor& out, const Tensor& x, const Pool2dArgs& a) {
  const PoolGeom g = geom_of(x, out, a);
  pool_launch("adaptive_avg_pool2d", out, x, [&]<class T>(unsigned blocks, cudaStream_t s, const T* in, T* o) {
    adaptive_avg_pool2d_fwd_kernel<T><<<blocks, kThreads, 0, s>>>(in, o, g);
  });
}
void adaptive_avg_pool2d_backward_kernel(const Tensor& grad_x, const Tensor& grad_out, const Pool2dArgs& a) {
  const PoolGeom g = geom_of(grad_x, grad_out, a);
  pool_launch("adaptive_avg_pool2d_backward", grad_x, grad_out,
              [&]<class T>(unsigned blocks, cudaStream_t s, const T* in, T* o) {
                adaptive_avg_pool2d_bwd_kernel<T><<<blocks, kThreads, 0, s>>>(in, o, g);
              });
}

}  // namespace

void register_pool_kernels(KernelTable& t) {
  t.max_pool2d = max_pool2d_kernel;
  t.max_pool2d_backward = max_pool2d_backward_kernel;
  t.avg_pool2d = avg_pool2d_kernel;
  t.avg_pool2d_backward = avg_pool2d_backward_kernel;
  t.adaptive_avg_pool2d = adaptive_avg_pool2d_kernel;
  t.adaptive_avg_pool2d_backward = adaptive_avg_pool2d_backward_kernel;
}

}  // namespace ember::cuda
