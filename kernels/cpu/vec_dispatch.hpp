// vec_dispatch: how unary.cpp and binary.cpp hand float32 work to the per-ISA
// fast kernels (vec_kernels.hpp).
//
// The strided loop (loops.hpp) coalesces the operands; when every run of its
// innermost dim is contiguous in the output and contiguous or broadcast (stride
// 0) in each input, each run goes to the ISA's unary_f32/binary_f32. That
// covers same-shape tensors, tensor op scalar, a row vector (bias) broadcast
// over rows and a column vector broadcast over columns, and slices whose rows
// are contiguous. Anything else (transposed or strided inner dims, dtypes other
// than float32, the scalar ISA path) returns false and the caller runs the
// reference kernel.
#pragma once

#include <optional>

#include <ember/kernels/cpu/loops.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>

namespace ember::cpu {

inline constexpr int64_t kF32 = static_cast<int64_t>(sizeof(float));

// out = op(x) through the fast kernel when the layout allows; false otherwise.
inline bool vec_unary(const Tensor& out, const Tensor& x, std::optional<VecUnary> op) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr || !op || x.dtype() != kFloat32 || out.dtype() != kFloat32 || out.numel() == 0) return false;
  const Loop<2> loop = make_loop<2>({&out, &x}, out.shape());
  const size_t in = loop.shape.size() - 1;
  if (loop.strides[0][in] != kF32 || loop.strides[1][in] != kF32) return false;
  const bool stream = use_streaming_stores(out.numel() * kF32);
  parallel_range(0, loop.numel, kGrain, [&](int64_t lo, int64_t hi) {
    for_each_range(loop, lo, hi, [&](char** p, const int64_t*, int64_t n) {
      vk->unary_f32(*op, reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), n, stream);
    });
  });
  return true;
}

// out = a op (alpha b) through the fast kernel when the layout allows; false otherwise.
inline bool vec_binary(const Tensor& out, const Tensor& a, const Tensor& b, VecBinary op, double alpha) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr || a.dtype() != kFloat32 || b.dtype() != kFloat32 || out.dtype() != kFloat32 || out.numel() == 0)
    return false;
  const Loop<3> loop = make_loop<3>({&out, &a, &b}, out.shape());
  const size_t in = loop.shape.size() - 1;
  const int64_t sa = loop.strides[1][in], sb = loop.strides[2][in];
  if (loop.strides[0][in] != kF32 || (sa != kF32 && sa != 0) || (sb != kF32 && sb != 0)) return false;
  const bool stream = use_streaming_stores(out.numel() * kF32);
  const float al = static_cast<float>(alpha);
  parallel_range(0, loop.numel, kGrain, [&](int64_t lo, int64_t hi) {
    for_each_range(loop, lo, hi, [&](char** p, const int64_t*, int64_t n) {
      vk->binary_f32(op, reinterpret_cast<float*>(p[0]), reinterpret_cast<const float*>(p[1]), sa / kF32,
                     reinterpret_cast<const float*>(p[2]), sb / kF32, n, al, stream);
    });
  });
  return true;
}

}  // namespace ember::cpu
