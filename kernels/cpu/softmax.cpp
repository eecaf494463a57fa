// CPU kernels of softmax and log_softmax along one dim, and their backward
// passes from the forward output y:
//   softmax:      y = exp(x - max) / sum exp(x - max)
//   log_softmax:  y = x - max - log(sum exp(x - max))
//   softmax_backward:      grad_in = y * (g - sum(g * y))
//   log_softmax_backward:  grad_in = g - exp(y) * sum(g)
// Subtracting the max keeps exp in range; sums accumulate in double. A row
// holding NaN, or only -inf, gives NaN, as in PyTorch.
//
// float32 along the last dim of a contiguous tensor takes the per-ISA fast
// path (softmax_kernel.hpp, through vec_softmax below), a block of rows per task.
//
// Ceilings: forward reads x twice (three times along a non-last dim) and
// writes y once; one exp per element (two for float16/bfloat16 softmax,
// which recompute rather than keep a rounded intermediate). Backward reads
// g and y twice and writes once, ~3 FLOPs per element (plus an exp for
// log_softmax). The reference is bound by libm's exp (about 1/6 of the copy
// bandwidth over rows of 1024); the fast path reads each row from memory once
// and reaches 70-90% (benchmarks/RESULTS.md, "CPU memory-bound kernels").
#include <ember/kernels/cpu/reduce_loop.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>

namespace ember::cpu {
namespace {

template <class M>
inline M nan_max(M a, M v) {
  return (v > a || std::isnan(v)) && !std::isnan(a) ? v : a;
}

// Softmax in float32/float64 keeps exp(x - max) in y and rescales it afterwards;
// float16/bfloat16 recompute it rather than keep a rounded intermediate.
template <class T, bool Log>
inline constexpr bool kKeepExp = !Log && std::is_same_v<T, OpMath<T>>;

// One contiguous row of n elements (the inner == 1 case).
template <class T, bool Log>
void softmax_row(const T* xs, T* ys, int64_t n) {
  using M = OpMath<T>;
  M mx = -std::numeric_limits<M>::infinity();
  for (int64_t k = 0; k < n; ++k) mx = nan_max(mx, load(xs[k]));
  double sum = 0.0;
  for (int64_t k = 0; k < n; ++k) {
    const M e = std::exp(load(xs[k]) - mx);
    if constexpr (kKeepExp<T, Log>) ys[k] = e;
    sum += static_cast<double>(e);
  }
  const M scale = static_cast<M>(Log ? std::log(sum) : 1.0 / sum);
  for (int64_t k = 0; k < n; ++k) {
    if constexpr (Log) ys[k] = store<T>(load(xs[k]) - mx - scale);
    else if constexpr (kKeepExp<T, Log>) ys[k] = store<T>(ys[k] * scale);
    else ys[k] = store<T>(std::exp(load(xs[k]) - mx) * scale);
  }
}

// softmax (Log = false) or log_softmax of x along dim into out (x's shape).
template <class T, bool Log>
void softmax_impl(const Tensor& out, const Tensor& x, int64_t dim) {
  using M = OpMath<T>;
  const ReduceLayout L = dim_layout(x, dim);
  const int64_t n = L.n, inner = L.inner;
  if (n == 0) return;
  Tensor dst = contiguous_output(out);
  T* po = dst.data_ptr<T>();
  const T* px = static_cast<const T*>(L.src.data_ptr());
  const Tiles tiles(L);
  parallel_range(0, tiles.count, tiles.grain(), [&](int64_t lo, int64_t hi) {
    if (inner == 1) {
      for (int64_t t = lo; t < hi; ++t) softmax_row<T, Log>(px + t * n, po + t * n, n);
      return;
    }
    auto mx = scratch<M>(tiles.width);
    auto sum = scratch<double>(tiles.width);
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t w = tiles.cols(t);
      const T* xs = px + tiles.in_offset(t);
      T* ys = po + tiles.in_offset(t);
      for (int64_t i = 0; i < w; ++i) {
        mx[i] = -std::numeric_limits<M>::infinity();
        sum[i] = 0.0;
      }
      for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < w; ++i) mx[i] = nan_max(mx[i], load(xs[k * inner + i]));
      for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < w; ++i) {
          M e = std::exp(load(xs[k * inner + i]) - mx[i]);
          if constexpr (kKeepExp<T, Log>) ys[k * inner + i] = e;
          sum[i] += static_cast<double>(e);
        }
      for (int64_t i = 0; i < w; ++i) sum[i] = Log ? std::log(sum[i]) : 1.0 / sum[i];
      for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < w; ++i) {
          const int64_t at = k * inner + i;
          if constexpr (Log) ys[at] = store<T>(load(xs[at]) - mx[i] - static_cast<M>(sum[i]));
          else if constexpr (kKeepExp<T, Log>) ys[at] = store<T>(ys[at] * static_cast<M>(sum[i]));
          else ys[at] = store<T>(std::exp(load(xs[at]) - mx[i]) * static_cast<M>(sum[i]));
        }
    }
  });
  finish_output(out, dst);
}

// Backward from y: Log = false gives y * (g - sum(g y)), Log = true gives g - exp(y) sum(g).
template <class T, bool Log>
void softmax_backward_impl(const Tensor& grad_in, const Tensor& grad_out, const Tensor& y, int64_t dim) {
  using M = OpMath<T>;
  const ReduceLayout G = dim_layout(grad_out, dim), Y = dim_layout(y, dim);
  const int64_t n = G.n, inner = G.inner;
  if (n == 0) return;
  Tensor dst = contiguous_output(grad_in);
  T* pd = dst.data_ptr<T>();
  const T* pg = static_cast<const T*>(G.src.data_ptr());
  const T* py = static_cast<const T*>(Y.src.data_ptr());
  const Tiles tiles(G);
  parallel_range(0, tiles.count, tiles.grain(), [&](int64_t lo, int64_t hi) {
    if (inner == 1) {
      for (int64_t t = lo; t < hi; ++t) {
        const T *g = pg + t * n, *v = py + t * n;
        T* d = pd + t * n;
        double dot = 0.0;
        for (int64_t k = 0; k < n; ++k)
          dot += Log ? static_cast<double>(load(g[k])) : static_cast<double>(load(g[k])) * static_cast<double>(load(v[k]));
        const M s = static_cast<M>(dot);
        for (int64_t k = 0; k < n; ++k) {
          if constexpr (Log) d[k] = store<T>(load(g[k]) - std::exp(load(v[k])) * s);
          else d[k] = store<T>(load(v[k]) * (load(g[k]) - s));
        }
      }
      return;
    }
    auto dot = scratch<double>(tiles.width);
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t w = tiles.cols(t), off = tiles.in_offset(t);
      for (int64_t i = 0; i < w; ++i) dot[i] = 0.0;
      for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < w; ++i) {
          const int64_t at = off + k * inner + i;
          if constexpr (Log) dot[i] += static_cast<double>(load(pg[at]));
          else dot[i] += static_cast<double>(load(pg[at])) * static_cast<double>(load(py[at]));
        }
      for (int64_t k = 0; k < n; ++k)
        for (int64_t i = 0; i < w; ++i) {
          const int64_t at = off + k * inner + i;
          const M g = load(pg[at]), v = load(py[at]), s = static_cast<M>(dot[i]);
          if constexpr (Log) pd[at] = store<T>(g - std::exp(v) * s);
          else pd[at] = store<T>(v * (g - s));
        }
    }
  });
  finish_output(grad_in, dst);
}

// The float32 fast path over the last dim: out (and g) = f(ins...) row by row; false
// (run the reference) unless every tensor is float32 and contiguous.
bool vec_rows_ok(const Tensor& out, std::initializer_list<const Tensor*> ins, int64_t dim) {
  if (vec_kernels() == nullptr || out.dim() == 0 || out.numel() == 0 || dim != out.dim() - 1) return false;
  if (out.dtype() != kFloat32 || !out.is_contiguous()) return false;
  for (const Tensor* t : ins)
    if (t->dtype() != kFloat32 || !t->is_contiguous()) return false;
  return true;
}

bool vec_softmax(const Tensor& out, const Tensor& x, int64_t dim, bool log) {
  if (!vec_rows_ok(out, {&x}, dim)) return false;
  const VecKernels* vk = vec_kernels();
  const int64_t n = x.size(dim), rows = x.numel() / n;
  const bool stream = use_streaming_stores(out.numel() * 4);
  float* y = out.data_ptr<float>();
  const float* px = x.data_ptr<float>();
  parallel_range(0, rows, std::max<int64_t>(1, kGrain / n), [&](int64_t lo, int64_t hi) {
    vk->softmax_rows_f32(y + lo * n, px + lo * n, hi - lo, n, log, stream);
  });
  return true;
}

bool vec_softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& y, int64_t dim, bool log) {
  if (!vec_rows_ok(grad_in, {&grad_out, &y}, dim)) return false;
  const VecKernels* vk = vec_kernels();
  const int64_t n = y.size(dim), rows = y.numel() / n;
  const bool stream = use_streaming_stores(grad_in.numel() * 4);
  float* d = grad_in.data_ptr<float>();
  const float* pg = grad_out.data_ptr<float>();
  const float* py = y.data_ptr<float>();
  parallel_range(0, rows, std::max<int64_t>(1, kGrain / n), [&](int64_t lo, int64_t hi) {
    vk->softmax_backward_rows_f32(d + lo * n, pg + lo * n, py + lo * n, hi - lo, n, log, stream);
  });
  return true;
}

void softmax_kernel(const Tensor& out, const Tensor& x, int64_t dim) {
  if (vec_softmax(out, x, dim, false)) return;
  visit_floating(x.dtype(), "softmax", [&]<class T>() { softmax_impl<T, false>(out, x, dim); });
}
void log_softmax_kernel(const Tensor& out, const Tensor& x, int64_t dim) {
  if (vec_softmax(out, x, dim, true)) return;
  visit_floating(x.dtype(), "log_softmax", [&]<class T>() { softmax_impl<T, true>(out, x, dim); });
}
void softmax_backward_kernel(const Tensor& grad_in, const Tensor& grad_out, const Tensor& y, int64_t dim) {
  if (vec_softmax_backward(grad_in, grad_out, y, dim, false)) return;
  visit_floating(y.dtype(), "softmax_backward",
                 [&]<class T>() { softmax_backward_impl<T, false>(grad_in, grad_out, y, dim); });
}
void log_softmax_backward_kernel(const Tensor& grad_in, const Tensor& grad_out, const Tensor& y, int64_t dim) {
  if (vec_softmax_backward(grad_in, grad_out, y, dim, true)) return;
  visit_floating(y.dtype(), "log_softmax_backward",
                 [&]<class T>() { softmax_backward_impl<T, true>(grad_in, grad_out, y, dim); });
}

}  // namespace

void register_softmax_kernels(KernelTable& t) {
  t.softmax = softmax_kernel;
  t.log_softmax = log_softmax_kernel;
  t.softmax_backward = softmax_backward_kernel;
  t.log_softmax_backward = log_softmax_backward_kernel;
  register_loss_kernels(t);
}

}  // namespace ember::cpu
