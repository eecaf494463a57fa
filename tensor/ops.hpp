// ember::ops: the raw ops. Each checks its inputs, computes the output shape
// and dtype, allocates, and dispatches to the device's kernel. No gradients:
// user code calls the public functions in autograd/functions.hpp (ember::add,
// ember::matmul, ...), which record the graph and then call these.
//
// Meta functions live in tensor/ops_<family>.cpp, one file per op family.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include <ember/tensor/dispatch.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::ops {

// ---- unary (ops_unary.cpp) --------------------------------------------------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// approximate: "none" (erf form) or "tanh".
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor pow(const Tensor& x, const Scalar& exponent);
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor reciprocal(const Tensor& x);
Tensor logical_not(const Tensor& x);
// Applies a unary op in place on x (used by relu_, clamp_).
Tensor& unary_(Op op, Tensor& x, const UnaryArgs& args);

// ---- binary (ops_binary.cpp) ------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha = 1);
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
// d gelu(x) * grad, for the gelu gradient rule.
Tensor gelu_backward(const Tensor& grad, const Tensor& x, const std::string& approximate = "none");
// ReLU's gradient in one pass: grad where y > 0 (or y is NaN), else 0; y is relu's output or input.
Tensor relu_backward(const Tensor& grad, const Tensor& y);
// In place: self = self op b (b broadcast to self's shape; result dtype must be self's).
Tensor& binary_(Op op, Tensor& self, const Tensor& b, const Scalar& alpha = 1);
// A 0-dim tensor holding a scalar, used for `tensor op scalar`. Its dtype follows
// PyTorch's rule for wrapped numbers: it does not promote a tensor of the same kind.
Tensor scalar_tensor(const Scalar& s, const Tensor& like);
// The dtype of `a op b` under PyTorch's promotion rules (dimensioned tensors win over 0-dim ones).
DType result_type(const Tensor& a, const Tensor& b);
// The broadcast shape of two shapes, or an error naming op and both shapes.
Dims broadcast_shapes(IntList a, IntList b, const char* op);

// ---- ternary ------------------------------------------------------------------
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value);
Tensor addcmul(const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value = 1);
Tensor addcdiv(const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value = 1);
Tensor& addcmul_(Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value = 1);
Tensor& addcdiv_(Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value = 1);

// ---- copies and views (ops_copy.cpp, views.cpp) -----------------------------------
// Copies src into dst (broadcasting src, converting dtype, across devices). A host<->device copy
// returns when the data has arrived, unless non_blocking is set and the host side is a pinned tensor
// (pin_memory, empty_pinned) that the copy reads or writes directly: then it is queued on the device's
// current stream and the caller synchronises (the stream, an event) before reading a host destination
// or writing a host source. Pinned blocks of ember's own stay reserved until such copies complete.
Tensor& copy_(Tensor& dst, const Tensor& src, bool non_blocking = false);
Tensor& fill_(Tensor& dst, const Scalar& value);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to(const Tensor& x, DType dtype);
// non_blocking: as copy_; a non-blocking copy from a GPU to the host lands in a new pinned tensor.
Tensor to(const Tensor& x, Device device, bool non_blocking = false);
// A pinned copy of CPU tensor x (x itself when already pinned); ember::Error without a GPU backend/device.
Tensor pin_memory(const Tensor& x);
// Whether x is a CPU tensor in page-locked memory (ember's or registered by the user).
bool is_pinned(const Tensor& x);
Tensor view(const Tensor& x, IntList shape);
Tensor reshape(const Tensor& x, IntList shape);
Tensor permute(const Tensor& x, IntList dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor t(const Tensor& x);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, std::optional<int64_t> start, std::optional<int64_t> end, int64_t step);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, IntList shape);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim);
Tensor as_strided(const Tensor& x, IntList sizes, IntList strides, std::optional<int64_t> offset);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim);
std::vector<Tensor> split_with_sizes(const Tensor& x, IntList sizes, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
// The shape a view/reshape asks for, with one -1 inferred; errors name op and numel.
Dims infer_shape(IntList shape, int64_t numel, const char* op);

// ---- reductions (ops_reduce.cpp). Empty dims = all dims. ---------------------------
Tensor sum(const Tensor& x, IntList dims = {}, bool keepdim = false, std::optional<DType> dtype = {});
Tensor mean(const Tensor& x, IntList dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, IntList dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, IntList dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, IntList dims = {}, bool keepdim = false);
Tensor var(const Tensor& x, IntList dims = {}, double correction = 1.0, bool keepdim = false);
Tensor std(const Tensor& x, IntList dims = {}, double correction = 1.0, bool keepdim = false);
Tensor logsumexp(const Tensor& x, IntList dims, bool keepdim = false);
Tensor norm(const Tensor& x, double p = 2.0, IntList dims = {}, bool keepdim = false);
// (values, indices) along one dim.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over everything
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = {}, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = {}, bool keepdim = false);
Tensor cumsum(const Tensor& x, int64_t dim);

// ---- softmax and losses (ops_softmax.cpp) --------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim);
Tensor log_softmax_backward(const Tensor& grad, const Tensor& y, int64_t dim);
// input (N, C) or (N, C, d1, ...): log-probabilities for nll_loss, logits for cross_entropy.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = {},
                const CrossEntropyArgs& args = {});
Tensor nll_loss_backward(const Tensor& grad, const Tensor& log_probs, const Tensor& target,
                         const Tensor& weight, const CrossEntropyArgs& args);
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                     const CrossEntropyArgs& args = {});
Tensor cross_entropy_backward(const Tensor& grad, const Tensor& logits, const Tensor& target,
                              const Tensor& weight, const CrossEntropyArgs& args);

// ---- linear algebra (ops_linalg.cpp) -------------------------------------------------
Tensor mm(const Tensor& a, const Tensor& b);        // (n, k) @ (k, m)
Tensor bmm(const Tensor& a, const Tensor& b);       // (B, n, k) @ (B, k, m)
Tensor matmul(const Tensor& a, const Tensor& b);    // numpy semantics, batch broadcasting
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = {},
              Activation act = Activation::none);  // act(x @ w^T + b)
// Applies act to out in place: the linear epilogue of kernels that cannot fuse it.
void apply_activation_(const Tensor& out, Activation act);

// ---- convolution and pooling (ops_conv.cpp, ops_pool.cpp) -------------------------------
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, const Conv2dArgs& args = {});
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, IntList input_shape, const Conv2dArgs& args);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, IntList weight_shape, const Conv2dArgs& args);
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dArgs& args);
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, IntList input_shape);
Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& args);
Tensor avg_pool2d_backward(const Tensor& grad_out, IntList input_shape, const Pool2dArgs& args);
Tensor adaptive_avg_pool2d(const Tensor& x, IntList output_size);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, IntList input_shape);

// ---- normalisation (ops_norm.cpp) ------------------------------------------------------
// Each returns (out, saved_mean, saved_invstd). running stats are updated in place when training.
std::tuple<Tensor, Tensor, Tensor> batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                              const Tensor& running_mean, const Tensor& running_var,
                                              const NormArgs& args);
std::tuple<Tensor, Tensor, Tensor> batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                                       const Tensor& save_mean, const Tensor& save_invstd,
                                                       const NormArgs& args);
std::tuple<Tensor, Tensor, Tensor> layer_norm(const Tensor& x, IntList normalized_shape, const Tensor& weight,
                                              const Tensor& bias, double eps = 1e-5);
std::tuple<Tensor, Tensor, Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x, IntList normalized_shape,
                                                       const Tensor& weight, const Tensor& mean, const Tensor& rstd);
std::tuple<Tensor, Tensor, Tensor> group_norm(const Tensor& x, int64_t groups, const Tensor& weight,
                                              const Tensor& bias, double eps = 1e-5);
std::tuple<Tensor, Tensor, Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups,
                                                       const Tensor& weight, const Tensor& mean, const Tensor& rstd);

// ---- indexing and shape (ops_index.cpp) ---------------------------------------------------
Tensor embedding(const Tensor& weight, const Tensor& indices);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
Tensor one_hot(const Tensor& indices, int64_t num_classes = -1);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor pad(const Tensor& x, IntList pads, const Scalar& value = 0.0);
Tensor flip(const Tensor& x, IntList dims);
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);

// ---- optimizer steps (ops_optim.cpp) ----------------------------------------------------
// One fused pass of Adam/AdamW over a parameter and its state (max_exp_avg_sq may be undefined unless amsgrad).
void adam_step_(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const AdamArgs& args);
// The same step over many parameters at once (one device, one dtype, one step count): on CUDA one
// multi-tensor launch per 256 parameters instead of one launch each.
void adam_step_(const AdamTensorLists& tensors, const AdamArgs& args);

}  // namespace ember::ops
