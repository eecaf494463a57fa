// norm_vec: the float32 fast paths of layer norm and batch norm (forward and
// backward) that norm.cpp tries before its reference loops: the work split
// (fixed by the shape, so results do not depend on the thread count) over the
// per-ISA kernels of norm_kernel.hpp. Each returns false, having done nothing,
// when the active ISA has no fast kernels; norm.cpp checks dtypes and layouts.
//
// Shapes: layer norm sees x as (R, D) rows; batch norm as (N, C, S) with
// S = prod(*) > 1 (contiguous, as the meta functions pass them). Parameters of
// batch norm arrive as doubles (norm.cpp's load_param), so their dtype does
// not matter; layer norm's weight/bias must be float32 (or null).
#pragma once

#include <cstdint>
#include <vector>

#include <ember/tensor/op_params.hpp>

namespace ember::cpu {

bool vec_layer_norm_f32(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        int64_t R, int64_t D, double eps);

// Writes dx; fills gw and gb (D each) with the column sums of g * xhat and g.
bool vec_layer_norm_backward_f32(float* dx, std::vector<double>& gw, std::vector<double>& gb, const float* g,
                                 const float* x, const float* w, const float* mean, const float* rstd, int64_t R,
                                 int64_t D);

// The per-channel inputs and outputs of batch norm forward, as norm.cpp holds them.
struct BatchNormF32 {
  const float* x;
  float* y;
  int64_t N, C, S;
  const std::vector<double>& weight;        // empty: 1
  const std::vector<double>& bias;          // empty: 0
  const std::vector<double>& running_mean;  // used when !args.training
  const std::vector<double>& running_var;
  float* save_mean;
  float* save_invstd;
  std::vector<double>& batch_mean;  // training: the batch statistics for the running-stat update
  std::vector<double>& unbiased_var;
};
bool vec_batch_norm_f32(const BatchNormF32& bn, const NormArgs& args);

// Writes dx; fills gw[c] = sum g (x - mean) invstd and gb[c] = sum g.
bool vec_batch_norm_backward_f32(float* dx, std::vector<double>& gw, std::vector<double>& gb, const float* g,
                                 const float* x, int64_t N, int64_t C, int64_t S, const std::vector<double>& weight,
                                 const std::vector<double>& mean, const std::vector<double>& invstd,
                                 const NormArgs& args);

}  // namespace ember::cpu
