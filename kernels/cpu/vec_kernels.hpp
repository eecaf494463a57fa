// vec_kernels: the float32 fast paths of the memory-bound CPU kernels, one
// table of functions per ISA.
//
// The family kernels (unary.cpp, binary.cpp, reduce.cpp, softmax.cpp,
// softmax_loss.cpp, norm.cpp, optim.cpp) are the reference: any strides, every
// dtype. Each checks its fast-path conditions (float32, a contiguous layout)
// and, when `vec_kernels()` is not null (the active ISA is avx2 or avx512),
// calls the entry here instead; on the scalar path it keeps the reference.
// The entries are written once with Vf (elementwise_kernel.hpp,
// reduce_kernel.hpp, softmax_kernel.hpp, norm_kernel.hpp, optim_kernel.hpp)
// and compiled per ISA by the matching *_avx2.cpp / *_avx512.cpp.
//
// Every entry is serial over the pointers it is given: callers split the work
// with parallel_range, in chunks fixed by the shape alone, so results are the
// same for any thread count. `stream` asks for non-temporal stores of the
// output (use_streaming_stores() decides): for outputs much larger than the
// caches they save the read-for-ownership of each line, a third of the
// traffic of a copy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember::cpu {

enum class VecUnary : int { relu, neg, abs, exp, log, sigmoid, tanh, silu, gelu_erf, gelu_tanh };
enum class VecBinary : int { add, sub, mul, div, maximum, minimum, relu_backward };

// Count, mean and sum of squared deviations of a group; start from {0, 0, 0}.
// (Plain aggregates: no inline member functions, which the per-ISA files
// would compile with their own flags; see vec.hpp, Note [per-ISA namespaces].)
struct Moments {
  double n, mean, m2;
};
// acc = the moments of acc's group followed by b's (Chan's formula). Built for
// baseline x86-64 in vec_kernels.cpp; per-ISA code may call it.
void merge_moments(Moments* acc, const Moments& b);

// The per-element constants of one Adam step, rounded to float as optim.cpp's reference does.
struct AdamConsts {
  float b1, b2, eps, step_size, inv_bc2_sqrt, decay, l2, sign;
};

// X(return type, name, parameters): every per-ISA entry.
#define EMBER_VEC_KERNEL_LIST(X)                                                                                     \
  /* out[i] = op(x[i]), i < n */                                                                                     \
  X(void, unary_f32, (VecUnary op, float* out, const float* x, int64_t n, bool stream))                              \
  /* out[i] = a[i * sa] op b[i * sb] (sa, sb in {0, 1}); add/sub scale b by alpha */                                 \
  X(void, binary_f32,                                                                                                \
    (VecBinary op, float* out, const float* a, int64_t sa, const float* b, int64_t sb, int64_t n, float alpha,      \
     bool stream))                                                                                                   \
  /* sum of x[0, n), accumulated in double; the order depends on n only */                                   \
  X(double, sum_f32, (const float* x, int64_t n))                                                                    \
  /* max of x[0, n), n >= 1; NaN when any element is NaN */                                                          \
  X(float, max_f32, (const float* x, int64_t n))                                                                     \
  /* sum of a[i] * b[i], as sum_f32 */                                                                               \
  X(double, dot_f32, (const float* a, const float* b, int64_t n))                                                    \
  /* softmax (log = false) or log_softmax of `rows` contiguous rows of n */                                          \
  X(void, softmax_rows_f32, (float* y, const float* x, int64_t rows, int64_t n, bool log, bool stream))              \
  /* softmax: dx = y (g - sum(g y)); log_softmax: dx = g - exp(y) sum(g) */                                          \
  X(void, softmax_backward_rows_f32,                                                                                 \
    (float* dx, const float* g, const float* y, int64_t rows, int64_t n, bool log, bool stream))                     \
  /* log(sum(exp(x))) of x[0, n), n >= 1, shifted by the max */                                                      \
  X(double, logsumexp_f32, (const float* x, int64_t n))                                                              \
  /* d[c] = A exp(x[c] - lse) - B w[c] (w null: 1), c < n */                                                         \
  X(void, cross_entropy_grad_row_f32,                                                                                \
    (float* d, const float* x, int64_t n, float lse, float A, float B, const float* w))                             \
  /* merges the moments of x[0, n) into *acc */                                                                      \
  X(void, moments_f32, (const float* x, int64_t n, Moments* acc))                                                    \
  /* per row of D: mean, rstd = 1 / sqrt(var + eps), y = (x - mean) rstd w + b (w, b may be null) */                 \
  X(void, layer_norm_rows_f32,                                                                                       \
    (float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, int64_t rows, int64_t D,   \
     double eps, bool stream))                                                                                       \
  /* per row: dx; adds g xhat into gw_acc[D] and g into gb_acc[D] (doubles) when not null */                         \
  X(void, layer_norm_backward_rows_f32,                                                                              \
    (float* dx, double* gw_acc, double* gb_acc, const float* g, const float* x, const float* w, const float* mean,    \
     const float* rstd, int64_t rows, int64_t D, bool stream))                                                       \
  /* y = (x - m) scale + shift, i < n */                                                                             \
  X(void, affine_f32, (float* y, const float* x, int64_t n, float m, float scale, float shift, bool stream))         \
  /* *sum_g += sum(g), *sum_gx += sum(g (x - m)) over i < n */                                                       \
  X(void, norm_backward_sums_f32, (const float* g, const float* x, int64_t n, float m, double* sum_g, double* sum_gx)) \
  /* dx = k (g - mean_g - (x - m) proj), i < n */                                                                    \
  X(void, norm_backward_apply_f32,                                                                                   \
    (float* dx, const float* g, const float* x, int64_t n, float k, float mean_g, float m, float proj, bool stream))  \
  /* one Adam step over n elements (vmax null without amsgrad) */                                                    \
  X(void, adam_f32, (float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamConsts& c))    \
  /* bfloat16 bits <-> float, i < n, exactly as BFloat16's conversions (round to nearest even, quiet NaNs) */        \
  X(void, bf16_to_f32, (float* out, const uint16_t* x, int64_t n))                                                   \
  X(void, f32_to_bf16, (uint16_t* out, const float* x, int64_t n))

#define EMBER_VEC_DECLARE(ret, name, params) ret name params;
namespace avx2 {
EMBER_VEC_KERNEL_LIST(EMBER_VEC_DECLARE)
}
namespace avx512 {
EMBER_VEC_KERNEL_LIST(EMBER_VEC_DECLARE)
}
#undef EMBER_VEC_DECLARE

struct VecKernels {
#define EMBER_VEC_MEMBER(ret, name, params) ret(*name) params;
  EMBER_VEC_KERNEL_LIST(EMBER_VEC_MEMBER)
#undef EMBER_VEC_MEMBER
};

// The active ISA's table, or nullptr on the scalar path (use the reference kernels).
const VecKernels* vec_kernels();

// Whether an output of `bytes` should be written with non-temporal stores:
// true from the size of the last-level cache up (EMBER_STREAM_MIN_BYTES overrides).
bool use_streaming_stores(int64_t bytes);

}  // namespace ember::cpu
