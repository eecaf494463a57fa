// Host helpers shared by the normalisation kernels (norm.cu, norm_layer.cu):
// parameters and statistics read as contiguous float64 device copies, results
// of parameter shape written back through the copy kernel (any dtype and
// layout), and the saved-statistics type.
#pragma once

#include <initializer_list>

#include <ember/kernels/cuda/common.cuh>
#include <ember/tensor/ops.hpp>

namespace ember::cuda::norm {

// Saved statistics: float64 for float64 input, float32 otherwise (M: the compute type).
template <class M> using StatOf = std::conditional_t<std::is_same_v<M, double>, double, float>;

// A float64 contiguous copy of an optional parameter (undefined stays undefined).
inline Tensor as_f64(const Tensor& t) { return t.defined() ? ops::contiguous(ops::to(t, kFloat64)) : Tensor(); }
inline const double* f64(const Tensor& t) { return t.defined() ? device_ptr<const double>(t) : nullptr; }
inline Tensor f64_buffer(int64_t n, const Tensor& like) { return empty({n}, TensorOptions(kFloat64, like.device())); }

// Lands float64 values in a parameter-shaped output of any floating dtype (no-op when dst is undefined).
inline void store_param(const Tensor& dst, const Tensor& values) {
  if (dst.defined()) EMBER_KERNEL(copy, dst.device())(dst, ops::view(values, dst.shape()), false);
}

inline unsigned grid_for(int64_t items) { return static_cast<unsigned>(std::clamp<int64_t>(items, 1, 65535)); }

inline void check_contiguous(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    EMBER_CHECK(t->is_contiguous(), op, ": CUDA kernel expects contiguous operands, got ", t->describe());
}

}  // namespace ember::cuda::norm
