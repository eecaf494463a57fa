// batch norm in training through cuDNN (norm_cudnn.cpp), called first by
// norm.cu's kernels: each returns false, having done nothing, when cuDNN does
// not take the call (evaluation mode, the switch off, dtype, eps, sizes, or a
// build without cuDNN), and norm.cu then runs ember's own kernels. Same
// arguments as the NormKernel and NormBackwardKernel slots.
#pragma once

#include <ember/tensor/dispatch.hpp>

namespace ember::cuda {

bool cudnn_batch_norm_forward(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                              const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                              const Tensor& running_var, const NormArgs& args);

bool cudnn_batch_norm_backward(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                               const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                               const Tensor& save_invstd, const NormArgs& args);

}  // namespace ember::cuda
