// conv2d and its two backward ops (NCHW, groups, stride, padding, dilation)
// on CUDA through cuDNN 9's convolution API.
//
// Why this API: cuDNN 9 offers the backend graph API and the older
// descriptor API (deprecated, still shipped). We use the descriptor API: it
// covers every configuration the CPU kernel accepts (grouped, strided,
// dilated, float32/float64/float16/bfloat16) with a handful of well-known
// calls, which matters for a backend whose tests first run on a GPU after it
// is written. Moving to the graph API is contained in this file.
//
// Plans: for each (device, dtype, shapes, args, direction, math mode) the
// descriptors and the algorithm are chosen once, from cuDNN's heuristic
// ranking (the first algorithm that succeeds with at most kMaxWorkspace of
// scratch), and cached for the life of the process. Workspace comes from
// ember's caching allocator on the current stream. Precision: float32 runs
// with FMA math only (no TF32) unless cuda::set_allow_tf32(true); 16-bit types
// use tensor cores with float accumulation; float64 computes in double.
// Every cuDNN call is checked; a failure names the call and the op.
// Ceilings per direction: 2 * N * O * (C / groups) * kH * kW * OH * OW FLOPs;
// bytes at best x + w + out. Compute-bound except for tiny channel counts.
#include <ember/kernels/cuda/register.hpp>

#if defined(EMBER_WITH_CUDNN)
#include <cudnn.h>

#include <array>
#include <climits>
#include <map>
#include <memory>
#include <mutex>

#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/cuda_stream.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

#define EMBER_CUDNN_CHECK(call, op)                                                                      \
  do {                                                                                                   \
    const cudnnStatus_t ember_cudnn_status_ = (call);                                                    \
    if (ember_cudnn_status_ != CUDNN_STATUS_SUCCESS) [[unlikely]]                                        \
      EMBER_FAIL((op), ": cuDNN call ", #call, " failed: ", cudnnGetErrorString(ember_cudnn_status_)); \
  } while (0)

namespace ember::cuda {
namespace {

constexpr int kMaxDevices = 64;
constexpr size_t kMaxWorkspace = size_t{1} << 30;
constexpr int kAlgoCandidates = 16;

enum class Direction : int { Forward = 0, BackwardData = 1, BackwardFilter = 2 };

// One cuDNN handle per device and host thread (a handle is bound to one stream at a time);
// created on first use and kept for the life of the thread, like the cuBLASLt handles.
cudnnHandle_t handle_for(int device, cudaStream_t stream, const char* op) {
  EMBER_CHECK(device >= 0 && device < kMaxDevices, op, ": device index ", device, " out of range");
  thread_local std::array<cudnnHandle_t, kMaxDevices> handles{};
  if (handles[static_cast<size_t>(device)] == nullptr) {
    DeviceGuard guard(device);
    EMBER_CUDNN_CHECK(cudnnCreate(&handles[static_cast<size_t>(device)]), op);
  }
  cudnnHandle_t h = handles[static_cast<size_t>(device)];
  EMBER_CUDNN_CHECK(cudnnSetStream(h, stream), op);
  return h;
}

cudnnDataType_t cudnn_type(DType dt, const char* op) {
  switch (dt.kind) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: EMBER_FAIL(op, ": cuDNN has no convolution for ", dt);
  }
}

// The shape of one convolution problem: what a plan is keyed on.
struct ConvKey {
  std::array<int64_t, 21> v{};
  bool operator<(const ConvKey& o) const { return v < o.v; }
};

// Descriptors and the chosen algorithm of one cached problem (owned; the destroy calls run only if
// building the plan fails, and cannot report errors from a destructor).
struct ConvPlan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = -1;
  size_t workspace = 0;
  ~ConvPlan() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

int as_int(int64_t v, const char* op) {
  EMBER_CHECK(v >= 0 && v <= INT_MAX, op, ": size ", v, " is too large for cuDNN's 32-bit descriptors");
  return static_cast<int>(v);
}

void set_tensor(cudnnTensorDescriptor_t d, cudnnDataType_t type, const Dims& s, const char* op) {
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, type, as_int(s[0], op), as_int(s[1], op),
                                               as_int(s[2], op), as_int(s[3], op)),
                    op);
}

// Builds the descriptors of a problem: x (N, C, H, W), w (O, C / groups, kH, kW), y (N, O, OH, OW).
std::unique_ptr<ConvPlan> make_descriptors(DType dt, const Dims& xs, const Dims& ws, const Dims& ys,
                                           const Conv2dArgs& a, cudnnMathType_t math, const char* op) {
  auto p = std::make_unique<ConvPlan>();
  const cudnnDataType_t type = cudnn_type(dt, op);
  const cudnnDataType_t compute = dt == kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->x), op);
  EMBER_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p->y), op);
  EMBER_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p->w), op);
  EMBER_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p->conv), op);
  set_tensor(p->x, type, xs, op);
  set_tensor(p->y, type, ys, op);
  EMBER_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p->w, type, CUDNN_TENSOR_NCHW, as_int(ws[0], op), as_int(ws[1], op),
                                               as_int(ws[2], op), as_int(ws[3], op)),
                    op);
  EMBER_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p->conv, as_int(a.padding[0], op), as_int(a.padding[1], op),
                                                    as_int(a.stride[0], op), as_int(a.stride[1], op),
                                                    as_int(a.dilation[0], op), as_int(a.dilation[1], op),
                                                    CUDNN_CROSS_CORRELATION, compute),
                    op);
  EMBER_CUDNN_CHECK(cudnnSetConvolutionGroupCount(p->conv, as_int(a.groups, op)), op);
  EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(p->conv, math), op);
  return p;
}

// The math mode for a dtype: FMA only for float32 (no TF32) unless allowed, tensor cores for 16-bit.
cudnnMathType_t math_for(DType dt) {
  if (dt == kFloat32) return allow_tf32() ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  if (dt.is_reduced_float()) return CUDNN_TENSOR_OP_MATH;
  return CUDNN_DEFAULT_MATH;
}

// Picks the first heuristic candidate that succeeded, keeps the requested math (no TF32 when FMA was
// asked for) and fits the workspace cap.
template <class Perf>
bool pick(const Perf* perf, int count, cudnnMathType_t math, ConvPlan& p) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspace) continue;
    // With FMA asked for, the descriptor keeps FMA math: never a TF32 tensor-core kernel.
    if (math == CUDNN_FMA_MATH && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH)
      continue;
    p.algo = static_cast<int>(perf[i].algo);
    p.workspace = perf[i].memory;
    if (perf[i].mathType != math && math != CUDNN_FMA_MATH)
      EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, perf[i].mathType), "conv2d");
    return true;
  }
  return false;
}

void choose_algorithm(cudnnHandle_t h, Direction dir, cudnnMathType_t math, ConvPlan& p, const char* op) {
  int found = 0;
  bool ok = false;
  if (dir == Direction::Forward) {
    cudnnConvolutionFwdAlgoPerf_t perf[kAlgoCandidates];
    EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, kAlgoCandidates, &found, perf),
                      op);
    ok = pick(perf, found, math, p);
    if (ok) {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y,
                                                                static_cast<cudnnConvolutionFwdAlgo_t>(p.algo),
                                                                &p.workspace),
                        op);
    }
  } else if (dir == Direction::BackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[kAlgoCandidates];
    EMBER_CUDNN_CHECK(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, kAlgoCandidates, &found, perf), op);
    ok = pick(perf, found, math, p);
    if (ok) {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x,
                                                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo),
                                                                     &p.workspace),
                        op);
    }
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kAlgoCandidates];
    EMBER_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, kAlgoCandidates, &found, perf), op);
    ok = pick(perf, found, math, p);
    if (ok) {
      EMBER_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                            h, p.x, p.y, p.conv, p.w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), &p.workspace),
                        op);
    }
  }
  EMBER_CHECK(ok, op, ": cuDNN offers no algorithm for this convolution (", found, " candidates, none usable with ",
              math == CUDNN_FMA_MATH ? "FMA math" : "the requested math", " and at most ", kMaxWorkspace >> 20,
              " MiB of workspace)");
}

// The cached plan for a problem, built on first use (Note: plans are immutable once cached).
const ConvPlan& plan_for(cudnnHandle_t h, int device, Direction dir, DType dt, const Dims& xs, const Dims& ws,
                         const Dims& ys, const Conv2dArgs& a, const char* op) {
  static std::mutex mutex;
  // Never destroyed: plans live as long as the process, like the handles (no teardown-order questions at exit).
  static auto& cache = *new std::map<ConvKey, std::unique_ptr<ConvPlan>>();
  const cudnnMathType_t math = math_for(dt);
  ConvKey key;
  key.v = {device, static_cast<int>(dir), static_cast<int>(dt.kind), static_cast<int>(math), xs[0], xs[1], xs[2],
           xs[3], ws[0], ws[1], ws[2], ws[3], a.stride[0], a.stride[1], a.padding[0], a.padding[1], a.dilation[0],
           a.dilation[1], a.groups, ys[2], ys[3]};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  std::unique_ptr<ConvPlan> p = make_descriptors(dt, xs, ws, ys, a, math, op);
  choose_algorithm(h, dir, math, *p, op);
  return *cache.emplace(key, std::move(p)).first->second;
}

// alpha = 1, beta = 0 in the scaling type cuDNN expects (double for float64 data, float otherwise).
struct Scaling {
  explicit Scaling(DType dt) : dbl(dt == kFloat64) {}
  float f1 = 1.0f, f0 = 0.0f;
  double d1 = 1.0, d0 = 0.0;
  bool dbl;
  const void* one() const { return dbl ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return dbl ? static_cast<const void*>(&d0) : &f0; }
};

void check_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    EMBER_CHECK(t->is_cuda() && t->is_contiguous() && t->dim() == 4, op,
                ": CUDA kernel expects contiguous 4-D CUDA operands, got ", t->describe());
}

// out: (N, O, OH, OW); x: (N, C, H, W); w: (O, C / groups, kH, kW); bias: (O) or undefined.
void conv2d_kernel(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args) {
  const char* op = "conv2d";
  check_operands(op, {&out, &x, &w});
  const int device = x.device().index;
  DeviceGuard guard(device);
  cudnnHandle_t h = handle_for(device, current_stream(device).handle(), op);
  const ConvPlan& p = plan_for(h, device, Direction::Forward, x.dtype(), x.shape(), w.shape(), out.shape(), args, op);
  Tensor ws = empty({static_cast<int64_t>(p.workspace)}, TensorOptions(kUInt8, x.device()));
  const Scaling s(x.dtype());
  EMBER_CUDNN_CHECK(cudnnConvolutionForward(h, s.one(), p.x, x.data_ptr(), p.w, w.data_ptr(), p.conv,
                                            static_cast<cudnnConvolutionFwdAlgo_t>(p.algo), ws.data_ptr(), p.workspace,
                                            s.zero(), p.y, out.data_ptr()),
                    op);
  if (bias.defined())
    EMBER_KERNEL(add, x.device())(out, out, ops::view(bias, {1, bias.size(0), 1, 1}), BinaryArgs{});
}

// grad_x: (N, C, H, W) from grad_out: (N, O, OH, OW) and w: (O, C / groups, kH, kW).
void conv2d_backward_input_kernel(const Tensor& grad_x, const Tensor& grad_out, const Tensor& w, const Conv2dArgs& args) {
  const char* op = "conv2d_backward_input";
  check_operands(op, {&grad_x, &grad_out, &w});
  const int device = grad_x.device().index;
  DeviceGuard guard(device);
  cudnnHandle_t h = handle_for(device, current_stream(device).handle(), op);
  const ConvPlan& p = plan_for(h, device, Direction::BackwardData, grad_x.dtype(), grad_x.shape(), w.shape(),
                               grad_out.shape(), args, op);
  Tensor ws = empty({static_cast<int64_t>(p.workspace)}, TensorOptions(kUInt8, grad_x.device()));
  const Scaling s(grad_x.dtype());
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardData(h, s.one(), p.w, w.data_ptr(), p.y, grad_out.data_ptr(), p.conv,
                                                 static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo), ws.data_ptr(),
                                                 p.workspace, s.zero(), p.x, grad_x.data_ptr()),
                    op);
}

// grad_w: (O, C / groups, kH, kW) from grad_out: (N, O, OH, OW) and x: (N, C, H, W).
void conv2d_backward_weight_kernel(const Tensor& grad_w, const Tensor& grad_out, const Tensor& x,
                                   const Conv2dArgs& args) {
  const char* op = "conv2d_backward_weight";
  check_operands(op, {&grad_w, &grad_out, &x});
  const int device = x.device().index;
  DeviceGuard guard(device);
  cudnnHandle_t h = handle_for(device, current_stream(device).handle(), op);
  const ConvPlan& p = plan_for(h, device, Direction::BackwardFilter, x.dtype(), x.shape(), grad_w.shape(),
                               grad_out.shape(), args, op);
  Tensor ws = empty({static_cast<int64_t>(p.workspace)}, TensorOptions(kUInt8, x.device()));
  const Scaling s(x.dtype());
  EMBER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, s.one(), p.x, x.data_ptr(), p.y, grad_out.data_ptr(), p.conv,
                                                   static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), ws.data_ptr(),
                                                   p.workspace, s.zero(), p.w, grad_w.data_ptr()),
                    op);
}

}  // namespace

void register_conv_kernels(KernelTable& t) {
  t.conv2d = conv2d_kernel;
  t.conv2d_backward_input = conv2d_backward_input_kernel;
  t.conv2d_backward_weight = conv2d_backward_weight_kernel;
}

}  // namespace ember::cuda

#else  // no cuDNN in this build: the conv slots stay empty ("no kernel for device cuda").

namespace ember::cuda {
void register_conv_kernels(KernelTable&) {}
}  // namespace ember::cuda

#endif
