// The kernel dispatch table: one typed slot per op (from tensor/ops.def) per device.
//
// Kernels are registered explicitly: the first dispatch calls
// register_all_kernels() (defined in kernels/register.cpp), which fills the
// CPU table and, in a CUDA build, the CUDA table. No static initialisers, so
// a static link keeps every kernel. Meta functions call
//   EMBER_KERNEL(gelu, x.device())(out, x, args);
// which throws a clear error when the device has no kernel for the op.
#pragma once

#include <vector>

#include <ember/runtime/device.hpp>
#include <ember/tensor/op_params.hpp>

namespace ember {

class Tensor;

// ---- kernel signatures (outputs first, allocated by the meta function) ------
using UnaryKernel = void(const Tensor& out, const Tensor& x, const UnaryArgs& args);
using BinaryKernel = void(const Tensor& out, const Tensor& a, const Tensor& b, const BinaryArgs& args);
using WhereKernel = void(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b);
using MaskedFillKernel = void(const Tensor& out, const Tensor& x, const Tensor& mask, const Scalar& value);
// out = self + value * t1 (*|/) t2
using AddcKernel = void(const Tensor& out, const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value);
// Copies src into out, converting dtype; out and src have the same shape, any strides. non_blocking:
// a host<->device copy may return before it completes where the host side is pinned (see ops::copy_).
using CopyKernel = void(const Tensor& out, const Tensor& src, bool non_blocking);
using FillKernel = void(const Tensor& out, const Scalar& value);
// out[i] = start + i * step (linspace: a symmetric form that ends exactly at end).
using RangeKernel = void(const Tensor& out, double start, double step_or_end);
using EyeKernel = void(const Tensor& out);
using RandomKernel = void(const Tensor& out, const RandomArgs& args);
// out = x * mask / (1 - p); mask (same shape, dtype of x) gets 0 or 1/(1-p).
using DropoutKernel = void(const Tensor& out, const Tensor& mask, const Tensor& x, const RandomArgs& args);
using ReduceKernel = void(const Tensor& out, const Tensor& x, const ReduceArgs& args);
// values (may be undefined for argmax/argmin) and indices in keepdim shape.
using ArgReduceKernel = void(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t dim);
using DimKernel = void(const Tensor& out, const Tensor& x, int64_t dim);
// grad_in from grad_out and the forward output y.
using DimBackwardKernel = void(const Tensor& grad_in, const Tensor& grad_out, const Tensor& y, int64_t dim);
// input (N, C) logits or log-probs, target (N) int64, weight (C) or undefined.
using LossKernel = void(const Tensor& out, const Tensor& input, const Tensor& target, const Tensor& weight,
                        const CrossEntropyArgs& args);
using LossBackwardKernel = void(const Tensor& grad_input, const Tensor& grad_out, const Tensor& input,
                                const Tensor& target, const Tensor& weight, const CrossEntropyArgs& args);
using MatmulKernel = void(const Tensor& out, const Tensor& a, const Tensor& b);
// out = x @ w^T + bias (bias may be undefined).
using LinearKernel = void(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Activation act);
using Conv2dKernel = void(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias,
                          const Conv2dArgs& args);
// backward_input: out = grad_x, a = grad_out, b = weight; backward_weight: out = grad_w, a = grad_out, b = x.
using Conv2dBackwardKernel = void(const Tensor& out, const Tensor& a, const Tensor& b, const Conv2dArgs& args);
using MaxPool2dKernel = void(const Tensor& out, const Tensor& indices, const Tensor& x, const Pool2dArgs& args);
using MaxPool2dBackwardKernel = void(const Tensor& grad_x, const Tensor& grad_out, const Tensor& indices);
// Forward: out from x. Backward: out = grad_x from x = grad_out.
using Pool2dKernel = void(const Tensor& out, const Tensor& x, const Pool2dArgs& args);
// Forward of batch/layer/group norm. stat0/stat1: saved mean and inverse std.
using NormKernel = void(const Tensor& out, const Tensor& stat0, const Tensor& stat1, const Tensor& x,
                        const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, const NormArgs& args);
using NormBackwardKernel = void(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                const Tensor& stat0, const Tensor& stat1, const NormArgs& args);
// index_select: out = x.index_select(dim, index); gather: out = x.gather(dim, index);
// index_add/scatter_add: out (already a copy of self) += alpha * src scattered along dim.
using IndexKernel = void(const Tensor& out, const Tensor& x_or_src, int64_t dim, const Tensor& index);
using CatKernel = void(const Tensor& out, const std::vector<Tensor>& inputs, int64_t dim);
// pads: (left, right) pairs from the last dim backwards, as torch.nn.functional.pad.
using PadKernel = void(const Tensor& out, const Tensor& x, const Dims& pads, const Scalar& value);
using FlipKernel = void(const Tensor& out, const Tensor& x, const Dims& dims);
// The tensors of one multi-tensor Adam step: entry i of each list belongs to parameter i.
// max_exp_avg_sqs is empty unless amsgrad.
struct AdamTensorLists {
  std::vector<Tensor> params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs;
};
// Updates every params[i], exp_avgs[i], exp_avg_sqs[i] (and max_exp_avg_sqs[i] when amsgrad) in place;
// all contiguous, one device, one dtype (the meta function checks; entries may be empty).
using AdamKernel = void(const AdamTensorLists& tensors, const AdamArgs& args);
using TopkKernel = void(const Tensor& values, const Tensor& indices, const Tensor& x, const TopkArgs& args);

enum class Op : int {
#define EMBER_OP(name, sig, diff) name,
#include <ember/tensor/ops.def>
#undef EMBER_OP
  kCount
};

struct OpInfo {
  const char* name;
  bool differentiable;
};
const OpInfo& op_info(Op op);
inline constexpr int kNumOps = static_cast<int>(Op::kCount);

struct KernelTable {
#define EMBER_OP(name, sig, diff) sig* name = nullptr;
#include <ember/tensor/ops.def>
#undef EMBER_OP
  // True when the slot for op is filled (used by the op-list test).
  bool has(Op op) const;
};

// The table for a device kind (registration runs once, on first use).
const KernelTable& kernel_table(DeviceType type);

// Defined in kernels/register.cpp: fills the tables of the backends this build has.
void register_all_kernels(KernelTable* tables[kNumDeviceTypes]);

namespace detail {
[[noreturn]] void missing_kernel(const char* op, Device device);
template <class Fn>
Fn* get_kernel(Fn* KernelTable::*slot, Device device, const char* op) {
  Fn* fn = kernel_table(device.type).*slot;
  if (fn == nullptr) [[unlikely]] missing_kernel(op, device);
  return fn;
}
}  // namespace detail

}  // namespace ember

#define EMBER_KERNEL(op, device) (*::ember::detail::get_kernel(&::ember::KernelTable::op, (device), #op))
