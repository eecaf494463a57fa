// CPU-vs-CUDA comparison for the tests under tests/cuda/: the same inputs go
// through the CPU kernel and, copied to the GPU, through the CUDA kernel; the
// results must agree within a tolerance chosen by dtype and kind of op:
//   float64                 |a - b| <= 1e-10 + 1e-10 * |b|
//   float32                 |a - b| <= 1e-5 + rtol * |b|, rtol 1e-5 elementwise, 1e-4 reductions/conv
//   float16/bfloat16        |a - b| <= 1e-2 + 2e-2 * |b| (inputs rounded once, float compute on both sides)
//   integers, bool, indices exactly
// NaNs must sit at the same places and infinities be equal. The GPU result must
// live on the GPU (a kernel that fell back to the host would not).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu.hpp"
#include "test_util.hpp"

namespace ember::testing {

// The device the tests call the GPU: GPU 0, or the CPU in a rehearsal (support/gpu.hpp).
inline const Device kGpu = kRehearsal ? Device(kCPU) : Device{DeviceType::CUDA, 0};

// Whether a result lives where a GPU result should (anywhere in a rehearsal).
inline bool on_gpu(const Tensor& t) { return kRehearsal || t.is_cuda(); }
// A copy on kGpu (a rehearsal's copy is a clone: the same device would otherwise alias).
inline Tensor to_gpu(const Tensor& t) { return kRehearsal ? ops::clone(t) : ops::to(t, kGpu); }

// t copied to GPU 0 in the same layout (undefined stays undefined): a contiguous tensor as a plain
// copy; a view (transposed, sliced, expanded, offset into its storage) as the same view of a GPU copy
// of its whole storage, so the GPU kernel meets the strides, broadcasts and alignment the CPU one did.
inline Tensor gpu(const Tensor& t) {
  if (!t.defined() || (t.is_contiguous() && t.storage_offset() == 0)) return t.defined() ? to_gpu(t) : t;
  const auto elements = static_cast<int64_t>(t.storage()->nbytes / t.itemsize());
  Tensor storage_gpu = to_gpu(ops::as_strided(t, {elements}, {1}, 0));
  return ops::as_strided(storage_gpu, t.shape(), t.strides(), t.storage_offset());
}

// The same values on the CPU and on the GPU, each side in the same kind of layout.
struct CpuGpu {
  Tensor cpu, gpu;
};
inline CpuGpu contiguous_pair(const Tensor& t) { return {t, gpu(t)}; }
// Non-contiguous on both sides (a transposed copy viewed back; every other element for 1-D).
inline CpuGpu strided_pair(const Tensor& t) { return {non_contiguous(t), non_contiguous(gpu(t))}; }
// base broadcast to shape (stride-0 dims) on both sides.
inline CpuGpu expanded_pair(const Tensor& base, IntList shape) {
  return {ops::expand(base, shape), ops::expand(gpu(base), shape)};
}

inline constexpr double kRtolElementwise = 1e-5;
inline constexpr double kRtolReduction = 1e-4;

namespace detail {
// The rule both comparisons share: defined together, got on the GPU, equal dtypes, then per dtype
// |a - b| <= atol + rtol |b| with the absolute parts multiplied by atol_scale (float32's atol is atol32).
inline ::testing::AssertionResult matches(const Tensor& got, const Tensor& want, double rtol32, double atol32,
                                          double atol_scale) {
  if (!got.defined() || !want.defined()) {  // e.g. no weight gradient without affine parameters
    if (got.defined() == want.defined()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "one result is undefined";
  }
  if (!on_gpu(got)) return ::testing::AssertionFailure() << "GPU result is not on the GPU: " << got.describe();
  if (got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "dtypes differ: " << got.describe() << " vs " << want.describe();
  const DType dt = want.dtype();
  if (dt == kFloat64) return all_close(got, want, 1e-10 * atol_scale, 1e-10);
  if (dt == kFloat32) return all_close(got, want, atol32 * atol_scale, rtol32);
  if (dt.is_reduced_float()) return all_close(got, want, 1e-2 * atol_scale, 2e-2);
  return all_close(got, want, 0.0, 0.0);
}
}  // namespace detail

// got (computed on the GPU) against want (computed on the CPU).
inline ::testing::AssertionResult cuda_matches(const Tensor& got, const Tensor& want,
                                               double rtol32 = kRtolReduction) {
  return detail::matches(got, want, rtol32, 1e-5, 1.0);
}

// For long sums (convolutions, per-channel gradient sums over a batch): cuda_matches with the absolute
// tolerance scaled by s = max(1, RMS of want), since the rounding of a sum grows with its terms, not
// with its result, and a result near zero may carry an error of the terms' size:
//   float64 |a - b| <= 1e-10 s + 1e-10 |b|; float32 1e-4 s + 1e-4 |b|; 16-bit 1e-2 s + 2e-2 |b|.
inline ::testing::AssertionResult cuda_matches_rms(const Tensor& got, const Tensor& want) {
  double sq = 0.0;
  const std::vector<double> v = want.defined() ? to_vector(want) : std::vector<double>();
  for (double e : v) sq += e * e;
  const double scale = std::max(1.0, v.empty() ? 0.0 : std::sqrt(sq / static_cast<double>(v.size())));
  return detail::matches(got, want, kRtolReduction, 1e-4, scale);
}

// Sets a process-wide switch (cuda::set_allow_tf32, set_cudnn_conv_api, set_cudnn_batch_norm) for its
// lifetime and restores the previous value, also when the test fails with an exception: the later
// tests of the same process (one process per binary under compute-sanitizer) see the defaults.
template <class T>
class SwitchGuard {
 public:
  SwitchGuard(void (*set)(T), T (*get)(), T value) : set_(set), previous_(get()) { set_(value); }
  ~SwitchGuard() { set_(previous_); }
  SwitchGuard(const SwitchGuard&) = delete;
  SwitchGuard& operator=(const SwitchGuard&) = delete;

 private:
  void (*set_)(T);
  T previous_;
};

// A random tensor of dtype dt: normal values for floating dtypes, [lo, hi) integers otherwise.
inline Tensor random_of(IntList shape, DType dt, int64_t lo = -5, int64_t hi = 6) {
  if (dt.is_floating()) return ops::to(randn(shape, kFloat64), dt);
  if (dt == kBool) return ops::gt(randn(shape, kFloat64), scalar_tensor(0.0, kFloat64));
  if (dt == kUInt8) return ops::to(randint(0, hi > 0 ? hi : 1, shape, kInt64), dt);
  return ops::to(randint(lo, hi, shape, kInt64), dt);
}

}  // namespace ember::testing
