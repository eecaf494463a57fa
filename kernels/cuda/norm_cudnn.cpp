// batch_norm and batch_norm_backward in training mode through cuDNN 9
// (spatial mode: statistics per channel over N and every trailing dim).
//
// The input (N, C, *) is described to cuDNN as (N, C, S, 1) with S the product
// of the trailing dims, which is the same reduction. Parameters, running and
// saved statistics live in cuDNN's parameter type (float64 for float64 input,
// float32 otherwise: ember's saved-statistics type too); those of another
// dtype or layout travel as converted copies, and the running statistics and
// gradients are written back through the copy kernel. Without weight or bias,
// ones and zeros stand in. cuDNN's running variance is the unbiased one, like
// ember's CPU kernel; its saved inverse standard deviation uses the biased
// variance + eps, the same convention as ember's saved statistics, so a
// forward on either path pairs with a backward on either.
//
// Why the descriptor API: cuDNN 9's graph API expresses batch norm as a
// NORM_FORWARD / NORM_BACKWARD node whose engines target channels-last 16-bit
// layouts; ember's NCHW tensors of all four float dtypes are served by the
// (deprecated, shipped) cudnnBatchNormalization* calls, which need no plan:
// two descriptors per call.
//
// The entry points return false, without touching anything, for what cuDNN
// does not take (evaluation mode, bfloat16 and other dtypes, float64
// parameters or statistics with float32 input, eps below
// CUDNN_BN_MIN_EPSILON, sizes past its 32-bit descriptors, the switch off, or
// a call cuDNN itself answers CUDNN_STATUS_NOT_SUPPORTED): norm.cu then runs
// ember's own kernels.
#include <ember/kernels/cuda/register.hpp>

#include <atomic>

namespace ember::cuda {
namespace {
std::atomic<bool> g_use_cudnn_bn{true};
std::atomic<int64_t> g_cudnn_bn_calls{0};
}  // namespace

void set_cudnn_batch_norm(bool use) { g_use_cudnn_bn.store(use); }
bool cudnn_batch_norm() { return g_use_cudnn_bn.load(); }
int64_t batch_norm_cudnn_calls() { return g_cudnn_bn_calls.load(); }
}  // namespace ember::cuda

#if defined(EMBER_WITH_CUDNN)
#include <climits>
#include <initializer_list>

#include <ember/kernels/cuda/cudnn.hpp>
#include <ember/kernels/cuda/norm_cudnn.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::cuda {
namespace {

// The two tensor descriptors of one call: x as (N, C, S, 1) and the (1, C, 1, 1) parameters.
struct BnDescriptors {
  cudnnTensorDescriptor_t x = nullptr, param = nullptr;
  BnDescriptors(const Tensor& x_, DType param_type, const char* op) {
    const int64_t N = x_.size(0), C = x_.size(1), S = x_.numel() / (N * C);
    EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x), op);
    EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&param), op);
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, cudnn_data_type(x_.dtype(), op),
                                                 static_cast<int>(N), static_cast<int>(C), static_cast<int>(S), 1),
                      op);
    EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(param, CUDNN_TENSOR_NCHW, cudnn_data_type(param_type, op), 1,
                                                 static_cast<int>(C), 1, 1),
                      op);
  }
  BnDescriptors(const BnDescriptors&) = delete;
  BnDescriptors& operator=(const BnDescriptors&) = delete;
  ~BnDescriptors() {
    if (param) cudnnDestroyTensorDescriptor(param);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

DType param_type(const Tensor& x) { return x.dtype() == kFloat64 ? kFloat64 : kFloat32; }

// Whether cuDNN takes this call. `params` are the parameter-shaped tensors involved (weight, bias,
// running or saved statistics, parameter gradients; undefined ones ignored): a float64 one with
// float32 parameters would lose precision in cuDNN's float32 copy, so those calls stay with
// ember's kernels, which compute statistics in double. bfloat16 input stays there too (cuDNN's
// batch-norm calls are documented for half, float and double data).
bool supported(const Tensor& x, const NormArgs& args, std::initializer_list<const Tensor*> params) {
  if (!args.training || !cudnn_batch_norm()) return false;
  const DType dt = x.dtype();
  if (dt != kFloat32 && dt != kFloat64 && dt != kFloat16) return false;
  if (args.eps < CUDNN_BN_MIN_EPSILON || x.dim() < 2 || x.numel() == 0) return false;
  const DType pt = param_type(x);
  for (const Tensor* p : params)
    if (p->defined() && p->dtype() == kFloat64 && pt != kFloat64) return false;
  // cuDNN's descriptors hold int dimensions and strides.
  return x.numel() <= INT_MAX;
}

// t itself when it already is a contiguous tensor of type pt, else a converted contiguous copy.
Tensor as_param(const Tensor& t, DType pt) {
  return t.dtype() == pt && t.is_contiguous() ? t : ops::contiguous(ops::to(t, pt));
}

// Writes a parameter-type result back into dst (any dtype and layout) unless it already is dst.
void write_back(const Tensor& dst, const Tensor& values) {
  if (dst.defined() && !values.is_same(dst)) EMBER_KERNEL(copy, dst.device())(dst, values, false);
}

// cuDNN's answer to a call: true when it ran; false when it declined the problem as not supported
// (it does so before any work, so nothing was written and ember's kernels can take over); any
// other failure is an error naming the call and the op.
bool accepted(cudnnStatus_t st, const char* call, const char* op) {
  if (st == CUDNN_STATUS_NOT_SUPPORTED) return false;
  if (st != CUDNN_STATUS_SUCCESS) EMBER_FAIL(op, ": cuDNN call ", call, " failed: ", cudnnGetErrorString(st));
  return true;
}

void check_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    EMBER_CHECK(t->is_cuda() && t->is_contiguous(), op, ": cuDNN path expects contiguous CUDA operands, got ",
                t->describe());
}

}  // namespace

bool cudnn_batch_norm_forward(const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd, const Tensor& x,
                              const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                              const Tensor& running_var, const NormArgs& args) {
  if (!supported(x, args, {&weight, &bias, &running_mean, &running_var})) return false;
  const char* op = "batch_norm";
  const DType pt = param_type(x);
  check_operands(op, {&out, &save_mean, &save_invstd, &x});
  EMBER_CHECK(save_mean.dtype() == pt && save_invstd.dtype() == pt, op, ": saved statistics must be ", pt, ", got ",
              save_mean.describe(), " and ", save_invstd.describe());
  const int64_t C = x.size(1);
  const int device = x.device().index;
  DeviceGuard guard(device);
  const TensorOptions popts(pt, x.device());
  Tensor w = weight.defined() ? as_param(weight, pt) : ones({C}, popts);
  Tensor b = bias.defined() ? as_param(bias, pt) : zeros({C}, popts);
  Tensor rm = running_mean.defined() ? as_param(running_mean, pt) : Tensor();
  Tensor rv = running_var.defined() ? as_param(running_var, pt) : Tensor();
  cudnnHandle_t h = cudnn_handle(device, current_stream(device).handle(), op);
  const BnDescriptors d(x, pt, op);
  const CudnnScaling s(x.dtype());
  const cudnnStatus_t st = cudnnBatchNormalizationForwardTraining(
      h, CUDNN_BATCHNORM_SPATIAL, s.one(), s.zero(), d.x, x.data_ptr(), d.x, out.data_ptr(), d.param, w.data_ptr(),
      b.data_ptr(), args.momentum, rm.defined() ? rm.data_ptr() : nullptr, rv.defined() ? rv.data_ptr() : nullptr,
      args.eps, save_mean.data_ptr(), save_invstd.data_ptr());
  if (!accepted(st, "cudnnBatchNormalizationForwardTraining", op)) return false;
  write_back(running_mean, rm);
  write_back(running_var, rv);
  g_cudnn_bn_calls.fetch_add(1);
  return true;
}

bool cudnn_batch_norm_backward(const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                               const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                               const Tensor& save_invstd, const NormArgs& args) {
  if (!supported(x, args, {&weight, &save_mean, &save_invstd, &grad_weight, &grad_bias})) return false;
  const char* op = "batch_norm_backward";
  const DType pt = param_type(x);
  check_operands(op, {&grad_x, &grad_out, &x});
  const int64_t C = x.size(1);
  const int device = x.device().index;
  DeviceGuard guard(device);
  const TensorOptions popts(pt, x.device());
  Tensor w = weight.defined() ? as_param(weight, pt) : ones({C}, popts);
  Tensor mean = as_param(save_mean, pt), invstd = as_param(save_invstd, pt);
  // cuDNN always computes both parameter gradients: into the outputs when they fit, else scratch.
  auto target = [&](const Tensor& g) {
    return g.defined() && g.dtype() == pt && g.is_contiguous() ? g : empty({C}, popts);
  };
  Tensor gw = target(grad_weight), gb = target(grad_bias);
  cudnnHandle_t h = cudnn_handle(device, current_stream(device).handle(), op);
  const BnDescriptors d(x, pt, op);
  const CudnnScaling s(x.dtype());
  const cudnnStatus_t st = cudnnBatchNormalizationBackward(
      h, CUDNN_BATCHNORM_SPATIAL, s.one(), s.zero(), s.one(), s.zero(), d.x, x.data_ptr(), d.x, grad_out.data_ptr(),
      d.x, grad_x.data_ptr(), d.param, w.data_ptr(), gw.data_ptr(), gb.data_ptr(), args.eps, mean.data_ptr(),
      invstd.data_ptr());
  if (!accepted(st, "cudnnBatchNormalizationBackward", op)) return false;
  write_back(grad_weight, gw);
  write_back(grad_bias, gb);
  g_cudnn_bn_calls.fetch_add(1);
  return true;
}

}  // namespace ember::cuda

#else  // no cuDNN in this build: batch norm always runs on ember's kernels.

#include <ember/kernels/cuda/norm_cudnn.hpp>

namespace ember::cuda {
bool cudnn_batch_norm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                              const Tensor&, const Tensor&, const NormArgs&) {
  return false;
}
bool cudnn_batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                               const Tensor&, const Tensor&, const NormArgs&) {
  return false;
}
}  // namespace ember::cuda

#endif
