// Registration of the CUDA kernels (compiled only in a CUDA build).
//
// register_cuda_kernels() installs the caching allocator for DeviceType::CUDA
// and calls one register_<family>_kernels() per family file (same basenames as
// kernels/cpu/). Ops without a CUDA kernel keep an empty slot, and dispatch
// reports "no kernel for device cuda" clearly.
#pragma once

#include <cstdint>
#include <string>

#include <ember/tensor/dispatch.hpp>

namespace ember::cuda {

// Fills the CUDA kernel table and installs the CUDA allocator. Safe to call
// on a machine without a GPU: nothing here touches the device.
void register_cuda_kernels(KernelTable& t);

// Number of usable GPUs; 0 when the driver or device is missing (any error counts as none).
// (Defined in runtime/cuda_stream.cpp.)
int device_count();

void register_unary_kernels(KernelTable& t);   // unary.cu: all unary elementwise ops
void register_binary_kernels(KernelTable& t);  // binary.cu: binary + where, masked_fill, addcmul, addcdiv
void register_copy_kernels(KernelTable& t);    // copy.cu: copy (any device pair), fill, arange, linspace, eye
void register_random_kernels(KernelTable& t);  // random.cu: uniform, normal, randint, dropout
void register_reduce_kernels(KernelTable& t);  // reduce.cu: sum, mean, prod, amax, amin, var, std, logsumexp, norm
void register_arg_reduce_kernels(KernelTable& t);  // reduce_arg.cu: max_dim, min_dim, argmax, argmin, cumsum
void register_softmax_kernels(KernelTable& t);  // softmax.cu: softmax, log_softmax and their backward
void register_loss_kernels(KernelTable& t);     // softmax_loss.cu: nll_loss, cross_entropy and their backward
void register_conv_kernels(KernelTable& t);    // conv.cpp: conv2d and its backward ops (cuDNN)
void register_pool_kernels(KernelTable& t);    // pool.cu: max/avg/adaptive-avg pool2d and their backward
void register_norm_kernels(KernelTable& t);    // norm.cu, norm_layer.cu: batch/layer/group norm and their backward
void register_index_kernels(KernelTable& t);   // index.cu (+ index_shape.cu, sort.cu): index ops, cat/pad/flip, topk/sort
void register_linalg_kernels(KernelTable& t);  // linalg.cpp: mm, bmm, linear (cuBLASLt)
void register_optim_kernels(KernelTable& t);   // optim.cu: adam_step

// TF32 tensor cores for float32 GEMMs and convolutions (off by default: full float32 precision).
void set_allow_tf32(bool allow);
bool allow_tf32();

// Whether this build links cuDNN (found at configure time); without it conv2d has no CUDA kernel.
bool built_with_cudnn();

// Which cuDNN API builds convolution plans (conv.cpp): the backend graph API (default; a problem it
// has no plan for falls back to the descriptor API) or the deprecated descriptor API everywhere.
// Applies to plans built after the call; plans already cached keep theirs.
enum class CudnnConvApi { graph, legacy };
void set_cudnn_conv_api(CudnnConvApi api);
CudnnConvApi cudnn_conv_api();

// Batch norm in training (forward and backward) through cuDNN (default) or ember's own kernels
// (norm.cu). Evaluation mode, and what cuDNN cannot take (bfloat16 or another dtype, float64
// parameters with float32 input, an eps below its minimum, sizes past its 32-bit descriptors, a
// call it answers "not supported"), run on ember's kernels.
void set_cudnn_batch_norm(bool use);
bool cudnn_batch_norm();

// What went through cuDNN so far in this process: convolution plans built, by the API that built
// them, batch-norm calls (forward and backward), and cuDNN handles created (one per host thread
// and device at a time: a thread's handle is lent to a later thread once it exits).
struct CudnnCounts {
  int64_t conv_graph_plans = 0;
  int64_t conv_legacy_plans = 0;
  int64_t batch_norm_calls = 0;
  int64_t handles = 0;
};
CudnnCounts cudnn_counts();

// Builds (without a GPU or a handle) the cuDNN backend descriptors of one convolution, up to its
// operation node: direction 0 = forward, 1 = backward data, 2 = backward filter; x, w, y are the
// 4-D shapes of the problem. Returns "" when cuDNN finalizes them all, else the first failing call
// and its status. For tests.
std::string conv_graph_check(int direction, DType dt, const Dims& x, const Dims& w, const Dims& y,
                             const Conv2dArgs& args);

}  // namespace ember::cuda
