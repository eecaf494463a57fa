// Per-family registration functions of the CPU kernels, called once from
// kernels/register.cpp. Each family's .cpp defines its function and fills its
// slots of the table explicitly.
#pragma once

#include <ember/tensor/dispatch.hpp>

namespace ember::cpu {

void register_unary_kernels(KernelTable& t);
void register_binary_kernels(KernelTable& t);    // binary, ternary (where, masked_fill, addcmul, addcdiv)
void register_copy_kernels(KernelTable& t);      // copy, fill, arange, linspace, eye
void register_random_kernels(KernelTable& t);    // uniform, normal, randint, dropout
void register_reduce_kernels(KernelTable& t);    // reductions, arg-reductions, cumsum
void register_softmax_kernels(KernelTable& t);   // softmax, log_softmax, losses
void register_linalg_kernels(KernelTable& t);    // mm, bmm, linear
void register_conv_kernels(KernelTable& t);      // conv2d and its backward
void register_pool_kernels(KernelTable& t);      // max/avg/adaptive pooling and backward
void register_norm_kernels(KernelTable& t);      // batch/layer/group norm and backward
void register_index_kernels(KernelTable& t);
void register_optim_kernels(KernelTable& t);     // adam_step     // index_select, index_add, gather, scatter_add, one_hot, cat, pad, flip, topk, sort

}  // namespace ember::cpu
