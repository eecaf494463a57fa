// CPU kernels of the classification losses and their backward passes:
//   nll_loss        loss_r = -w[t_r] * x[r, t_r]           (x holds log-probabilities)
//   cross_entropy   fused log_softmax + nll over the class dim, with label smoothing eps:
//                   loss_r = (1 - eps) * -w[t] logp[r, t] + eps / C * -sum_c w[c] logp[r, c]
// Input is (N, C, D) contiguous with D = d1 * d2 * ... (D = 1 for (N, C)); a row
// r = (n, d) reads its C classes at stride D; target is (N * D) int64. Rows whose
// target is ignore_index contribute 0 to the loss and 0 to the weight total;
// reduction Mean divides by the sum of w[t] over the other rows (NaN when that
// is empty), Sum adds, None writes one loss per row. Targets outside [0, C) are
// an ember::Error naming the value and C, raised before any work starts.
//
// Backward: nll puts -w[t] * g_r at (r, t); cross_entropy writes, with
// p = softmax(x) and W = sum_c w[c],
//   g_r * ((1 - eps) * w[t] * (p_c - [c == t]) + eps / C * (p_c * W - w[c])).
//
// float32 (N, C) inputs take the per-ISA fast path for the row work
// (softmax_kernel.hpp: logsumexp_f32, cross_entropy_grad_row_f32; reduce_kernel.hpp:
// sum/dot for label smoothing); the target element of a gradient row is
// recomputed in double as the reference does, so p_t - 1 keeps its accuracy.
//
// Ceilings: nll touches one element per row (bandwidth-bound on the target);
// cross_entropy reads each row of x twice (three times in backward; the
// second and third from cache), with one exp per element forward and
// backward: the reference is bound by libm's exp, the fast path by memory
// for C in the hundreds or more.
#include <ember/kernels/cpu/reduce_loop.hpp>
#include <ember/kernels/cpu/register.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>

namespace ember::cpu {
namespace {

// The (N, C, D) view of a loss input and its row-wise targets.
struct LossView {
  Tensor input, target, weight;  // contiguous; weight may be undefined
  int64_t rows = 0, C = 0, D = 1;
  const int64_t* t = nullptr;
  int64_t class_offset(int64_t r) const { return (r / D) * C * D + r % D; }  // element of (r, class 0)
};

LossView loss_view(const char* op, const Tensor& input, const Tensor& target, const Tensor& weight,
                   const CrossEntropyArgs& args) {
  LossView v;
  v.input = ops::contiguous(input);
  v.target = ops::contiguous(target);
  v.weight = weight.defined() ? ops::contiguous(weight) : Tensor();
  v.C = input.size(1);
  v.D = 1;
  for (int64_t d = 2; d < input.dim(); ++d) v.D *= input.size(d);
  v.rows = input.size(0) * v.D;
  v.t = v.target.numel() > 0 ? v.target.data_ptr<int64_t>() : nullptr;
  for (int64_t r = 0; r < v.rows; ++r) {
    const int64_t t = v.t[r];
    EMBER_CHECK(t == args.ignore_index || (t >= 0 && t < v.C), op, ": target ", t, " is out of bounds for ", v.C,
                " classes (expected a class index in [0, ", v.C, ") or ignore_index ", args.ignore_index,
                "; input ", input.describe(), ")");
  }
  return v;
}

// Per-row losses and target weights (0 for ignored rows) via row_fn(r, w_t) -> loss,
// then reduced into out as args.reduction asks.
template <class T, class RowFn>
void reduce_loss(const Tensor& out, const LossView& v, const CrossEntropyArgs& args, int64_t cost_per_row,
                 RowFn row_fn) {
  const T* pw = v.weight.defined() ? v.weight.template data_ptr<T>() : nullptr;
  std::vector<double> loss(static_cast<size_t>(v.rows)), wt(static_cast<size_t>(v.rows));
  parallel_range(0, v.rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, cost_per_row)),
                 [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t t = v.t[r];
      if (t == args.ignore_index) {
        loss[static_cast<size_t>(r)] = 0.0;
        wt[static_cast<size_t>(r)] = 0.0;
        continue;
      }
      const double w = pw ? static_cast<double>(load(pw[t])) : 1.0;
      wt[static_cast<size_t>(r)] = w;
      loss[static_cast<size_t>(r)] = row_fn(r, w);
    }
  });
  Tensor dst = contiguous_output(out);
  T* po = dst.data_ptr<T>();
  if (args.reduction == Reduction::None) {
    for (int64_t r = 0; r < v.rows; ++r) po[r] = store<T>(loss[static_cast<size_t>(r)]);
  } else {
    double total = 0.0, wsum = 0.0;
    for (int64_t r = 0; r < v.rows; ++r) {
      total += loss[static_cast<size_t>(r)];
      wsum += wt[static_cast<size_t>(r)];
    }
    po[0] = store<T>(args.reduction == Reduction::Mean ? total / wsum : total);
  }
  finish_output(out, dst);
}

// The coefficient g_r of row r in backward: grad per row (None) or grad / total weight (Mean).
template <class T>
struct RowGrad {
  std::vector<double> scale;  // per row
  RowGrad(const Tensor& grad_out, const LossView& v, const CrossEntropyArgs& args) {
    Tensor g = ops::contiguous(grad_out);
    const T* pg = g.data_ptr<T>();
    const T* pw = v.weight.defined() ? v.weight.template data_ptr<T>() : nullptr;
    scale.assign(static_cast<size_t>(v.rows), 0.0);
    double factor = 1.0;
    if (args.reduction == Reduction::Mean) {
      double wsum = 0.0;
      for (int64_t r = 0; r < v.rows; ++r)
        if (v.t[r] != args.ignore_index) wsum += pw ? static_cast<double>(load(pw[v.t[r]])) : 1.0;
      factor = 1.0 / wsum;
    }
    for (int64_t r = 0; r < v.rows; ++r) {
      if (v.t[r] == args.ignore_index) continue;
      const double g0 = static_cast<double>(load(pg[args.reduction == Reduction::None ? r : 0]));
      scale[static_cast<size_t>(r)] = g0 * factor;
    }
  }
};

// ---- nll_loss -------------------------------------------------------------------------------

void nll_loss_kernel(const Tensor& out, const Tensor& input, const Tensor& target, const Tensor& weight,
                     const CrossEntropyArgs& args) {
  const LossView v = loss_view("nll_loss", input, target, weight, args);
  visit_floating(input.dtype(), "nll_loss", [&]<class T>() {
    const T* px = v.input.numel() > 0 ? v.input.template data_ptr<T>() : nullptr;
    reduce_loss<T>(out, v, args, 1, [&](int64_t r, double w) {
      return -w * static_cast<double>(load(px[v.class_offset(r) + v.t[r] * v.D]));
    });
  });
}

void nll_loss_backward_kernel(const Tensor& grad_input, const Tensor& grad_out, const Tensor& input,
                              const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) {
  const LossView v = loss_view("nll_loss_backward", input, target, weight, args);
  visit_floating(input.dtype(), "nll_loss_backward", [&]<class T>() {
    const RowGrad<T> g(grad_out, v, args);
    const T* pw = v.weight.defined() ? v.weight.template data_ptr<T>() : nullptr;
    Tensor dst = contiguous_output(grad_input);
    T* pd = dst.data_ptr<T>();
    std::fill(pd, pd + dst.numel(), store<T>(0.0));
    for (int64_t r = 0; r < v.rows; ++r) {
      const int64_t t = v.t[r];
      if (t == args.ignore_index) continue;
      const double w = pw ? static_cast<double>(load(pw[t])) : 1.0;
      pd[v.class_offset(r) + t * v.D] = store<T>(-w * g.scale[static_cast<size_t>(r)]);
    }
    finish_output(grad_input, dst);
  });
}

// ---- cross_entropy --------------------------------------------------------------------------

// log(sum_c exp(x_c)) of one row (C values at stride D), shifted by the row max.
template <class T>
double row_logsumexp(const T* x, int64_t C, int64_t D) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) {
    const double v = static_cast<double>(load(x[c * D]));
    if (v > m || std::isnan(v)) m = v;
    if (std::isnan(m)) return m;
  }
  if (std::isinf(m)) return m;  // all -inf (or a +inf) makes the shift meaningless
  double s = 0.0;
  for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(load(x[c * D])) - m);
  return m + std::log(s);
}

// The float32 fast row kernels, when the input is (N, C) float32 (class weights float32 or none).
const VecKernels* fast_rows(const LossView& v) {
  const bool ok = v.input.dtype() == kFloat32 && v.D == 1 && v.C > 0 &&
                  (!v.weight.defined() || v.weight.dtype() == kFloat32);
  return ok ? vec_kernels() : nullptr;
}

void cross_entropy_kernel(const Tensor& out, const Tensor& input, const Tensor& target, const Tensor& weight,
                          const CrossEntropyArgs& args) {
  const LossView v = loss_view("cross_entropy", input, target, weight, args);
  const double eps = args.label_smoothing;
  const VecKernels* vk = fast_rows(v);
  visit_floating(input.dtype(), "cross_entropy", [&]<class T>() {
    const T* px = v.input.numel() > 0 ? v.input.template data_ptr<T>() : nullptr;
    const T* pw = v.weight.defined() ? v.weight.template data_ptr<T>() : nullptr;
    reduce_loss<T>(out, v, args, v.C * 4, [&](int64_t r, double w) {
      const T* x = px + v.class_offset(r);
      if constexpr (std::is_same_v<T, float>) {
        if (vk != nullptr) {
          // -w_t logp_t, and -sum_c w_c logp_c = W lse - sum_c w_c x_c for smoothing.
          const double lse = vk->logsumexp_f32(x, v.C);
          double loss = -w * (static_cast<double>(x[v.t[r]]) - lse);
          if (eps > 0.0) {
            const double wx = pw ? vk->dot_f32(pw, x, v.C) : vk->sum_f32(x, v.C);
            const double W = pw ? vk->sum_f32(pw, v.C) : static_cast<double>(v.C);
            loss = (1.0 - eps) * loss + eps / static_cast<double>(v.C) * (W * lse - wx);
          }
          return loss;
        }
      }
      const double lse = row_logsumexp(x, v.C, v.D);
      double loss = -w * (static_cast<double>(load(x[v.t[r] * v.D])) - lse);
      if (eps > 0.0) {
        double smooth = 0.0;  // -sum_c w_c logp_c
        for (int64_t c = 0; c < v.C; ++c) {
          const double wc = pw ? static_cast<double>(load(pw[c])) : 1.0;
          smooth -= wc * (static_cast<double>(load(x[c * v.D])) - lse);
        }
        loss = (1.0 - eps) * loss + eps / static_cast<double>(v.C) * smooth;
      }
      return loss;
    });
  });
}

void cross_entropy_backward_kernel(const Tensor& grad_input, const Tensor& grad_out, const Tensor& input,
                                   const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args) {
  const LossView v = loss_view("cross_entropy_backward", input, target, weight, args);
  const double eps = args.label_smoothing;
  const VecKernels* vk = fast_rows(v);
  visit_floating(input.dtype(), "cross_entropy_backward", [&]<class T>() {
    const RowGrad<T> g(grad_out, v, args);
    const T* px = v.input.numel() > 0 ? v.input.template data_ptr<T>() : nullptr;
    const T* pw = v.weight.defined() ? v.weight.template data_ptr<T>() : nullptr;
    double wtotal = static_cast<double>(v.C);
    if (pw) {
      wtotal = 0.0;
      for (int64_t c = 0; c < v.C; ++c) wtotal += static_cast<double>(load(pw[c]));
    }
    Tensor dst = contiguous_output(grad_input);
    T* pd = dst.data_ptr<T>();
    parallel_range(0, v.rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, v.C * 4)),
                   [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t base = v.class_offset(r), t = v.t[r];
        T* d = pd + base;
        if (t == args.ignore_index) {
          for (int64_t c = 0; c < v.C; ++c) d[c * v.D] = store<T>(0.0);
          continue;
        }
        const T* x = px + base;
        const double s = g.scale[static_cast<size_t>(r)];
        const double wt = pw ? static_cast<double>(load(pw[t])) : 1.0;
        if constexpr (std::is_same_v<T, float>) {
          if (vk != nullptr) {
            // d_c = s gc = A p_c - B w_c - [c == t] s (1 - eps) w_t; element t again in double.
            const double lse = vk->logsumexp_f32(x, v.C);
            const double A = s * ((1.0 - eps) * wt + eps * wtotal / static_cast<double>(v.C));
            const double B = s * eps / static_cast<double>(v.C);
            vk->cross_entropy_grad_row_f32(d, x, v.C, static_cast<float>(lse), static_cast<float>(A),
                                           static_cast<float>(B), pw);
            const double pt = std::exp(static_cast<double>(x[t]) - lse);
            d[t] = static_cast<float>(A * pt - B * wt - s * (1.0 - eps) * wt);
            continue;
          }
        }
        const double lse = row_logsumexp(x, v.C, v.D);
        for (int64_t c = 0; c < v.C; ++c) {
          const double p = std::exp(static_cast<double>(load(x[c * v.D])) - lse);
          const double wc = pw ? static_cast<double>(load(pw[c])) : 1.0;
          double gc = (1.0 - eps) * wt * (p - (c == t ? 1.0 : 0.0));
          if (eps > 0.0) gc += eps / static_cast<double>(v.C) * (p * wtotal - wc);
          d[c * v.D] = store<T>(s * gc);
        }
      }
    });
    finish_output(grad_input, dst);
  });
}

}  // namespace

void register_loss_kernels(KernelTable& t) {
  t.nll_loss = nll_loss_kernel;
  t.nll_loss_backward = nll_loss_backward_kernel;
  t.cross_entropy = cross_entropy_kernel;
  t.cross_entropy_backward = cross_entropy_backward_kernel;
}

}  // namespace ember::cpu
