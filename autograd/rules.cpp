// The table of gradient rules: for each differentiable op of tensor/ops.def,
// where its rule lives. Adding a differentiable op means adding its rule in
// autograd/functions_*.cpp, a row here, and a gradcheck case.
#include <ember/autograd/rules.hpp>

#include <cstring>

namespace ember::autograd {
namespace {

struct RuleSite {
  const char* op;
  const char* site;
};

constexpr RuleSite kRules[] = {
    {"neg", "functions_elementwise.cpp: neg"}, {"abs", "functions_elementwise.cpp: abs"},
    {"sign", "functions_elementwise.cpp: sign"}, {"exp", "functions_elementwise.cpp: exp"},
    {"log", "functions_elementwise.cpp: log"}, {"log1p", "functions_elementwise.cpp: log1p"},
    {"sqrt", "functions_elementwise.cpp: sqrt"}, {"rsqrt", "functions_elementwise.cpp: rsqrt"},
    {"sin", "functions_elementwise.cpp: sin"}, {"cos", "functions_elementwise.cpp: cos"},
    {"tanh", "functions_elementwise.cpp: tanh"}, {"sigmoid", "functions_elementwise.cpp: sigmoid"},
    {"relu", "functions_elementwise.cpp: relu, relu_"}, {"leaky_relu", "functions_elementwise.cpp: leaky_relu"},
    {"gelu", "functions_elementwise.cpp: gelu"}, {"silu", "functions_elementwise.cpp: silu"},
    {"softplus", "functions_elementwise.cpp: softplus"}, {"pow_scalar", "functions_elementwise.cpp: pow(Tensor, Scalar)"},
    {"clamp", "functions_elementwise.cpp: clamp, clamp_"}, {"reciprocal", "functions_elementwise.cpp: reciprocal"},
    {"add", "functions_elementwise.cpp: add, operator+, add_"}, {"sub", "functions_elementwise.cpp: sub, operator-, sub_"},
    {"mul", "functions_elementwise.cpp: mul, operator*, mul_"}, {"div", "functions_elementwise.cpp: div, operator/, div_"},
    {"pow", "functions_elementwise.cpp: pow(Tensor, Tensor)"}, {"maximum", "functions_elementwise.cpp: maximum"},
    {"minimum", "functions_elementwise.cpp: minimum"}, {"gelu_backward", "functions_elementwise.cpp: gelu_backward"},
    {"relu_backward", "functions_elementwise.cpp: relu_backward"},
    {"where", "functions_elementwise.cpp: where"}, {"masked_fill", "functions_elementwise.cpp: masked_fill"},
    {"addcmul", "functions_elementwise.cpp: addcmul, addcmul_"}, {"addcdiv", "functions_elementwise.cpp: addcdiv, addcdiv_"},
    {"copy", "functions_views.cpp: clone, contiguous, to; inplace.cpp: copy_"},
    {"dropout", "functions_norm_index.cpp: dropout"},
    {"sum", "functions_reduce.cpp: sum"}, {"mean", "functions_reduce.cpp: mean"}, {"prod", "functions_reduce.cpp: prod"},
    {"amax", "functions_reduce.cpp: amax, max()"}, {"amin", "functions_reduce.cpp: amin, min()"},
    {"var", "functions_reduce.cpp: var"}, {"std", "functions_reduce.cpp: std"},
    {"logsumexp", "functions_reduce.cpp: logsumexp"}, {"norm", "functions_reduce.cpp: norm"},
    {"max_dim", "functions_reduce.cpp: max(x, dim)"}, {"min_dim", "functions_reduce.cpp: min(x, dim)"},
    {"cumsum", "functions_reduce.cpp: cumsum"}, {"softmax", "functions_reduce.cpp: softmax"},
    {"log_softmax", "functions_reduce.cpp: log_softmax"}, {"softmax_backward", "functions_reduce.cpp: softmax_backward"},
    {"log_softmax_backward", "functions_reduce.cpp: log_softmax_backward"}, {"nll_loss", "functions_reduce.cpp: nll_loss"},
    {"nll_loss_backward", "functions_reduce.cpp: nll_loss_backward"},
    {"cross_entropy", "functions_reduce.cpp: cross_entropy"},
    {"cross_entropy_backward", "functions_reduce.cpp: cross_entropy_backward (grad only; once-differentiable in logits)"},
    {"mm", "functions_nn.cpp: mm, matmul"}, {"bmm", "functions_nn.cpp: bmm, matmul"}, {"linear", "functions_nn.cpp: linear"},
    {"conv2d", "functions_nn.cpp: conv2d"}, {"conv2d_backward_input", "functions_nn.cpp: conv2d_backward_input"},
    {"conv2d_backward_weight", "functions_nn.cpp: conv2d_backward_weight"},
    {"max_pool2d", "functions_nn.cpp: max_pool2d, max_pool2d_with_indices"},
    {"max_pool2d_backward", "functions_nn.cpp: max_pool2d_backward"}, {"avg_pool2d", "functions_nn.cpp: avg_pool2d"},
    {"avg_pool2d_backward", "functions_nn.cpp: avg_pool2d_backward"},
    {"adaptive_avg_pool2d", "functions_nn.cpp: adaptive_avg_pool2d"},
    {"adaptive_avg_pool2d_backward", "functions_nn.cpp: adaptive_avg_pool2d_backward"},
    {"batch_norm", "functions_norm_index.cpp: batch_norm"},
    {"batch_norm_backward", "functions_norm_index.cpp: batch_norm_backward (once-differentiable)"},
    {"layer_norm", "functions_norm_index.cpp: layer_norm"},
    {"layer_norm_backward", "functions_norm_index.cpp: layer_norm_backward (once-differentiable)"},
    {"group_norm", "functions_norm_index.cpp: group_norm"},
    {"group_norm_backward", "functions_norm_index.cpp: group_norm_backward (once-differentiable)"},
    {"index_select", "functions_norm_index.cpp: index_select, embedding"},
    {"index_add", "functions_norm_index.cpp: index_add"}, {"gather", "functions_norm_index.cpp: gather"},
    {"scatter_add", "functions_norm_index.cpp: scatter_add"}, {"cat", "functions_norm_index.cpp: cat, stack"},
    {"pad", "functions_norm_index.cpp: pad"}, {"flip", "functions_norm_index.cpp: flip"},
    {"topk", "functions_reduce.cpp: topk"}, {"sort", "functions_reduce.cpp: sort"},
};

}  // namespace

const char* gradient_rule_site(Op op) {
  const char* name = op_info(op).name;
  for (const RuleSite& r : kRules)
    if (std::strcmp(r.op, name) == 0) return r.site;
  return "";
}

bool has_gradient_rule(Op op) { return gradient_rule_site(op)[0] != '\0'; }

}  // namespace ember::autograd
