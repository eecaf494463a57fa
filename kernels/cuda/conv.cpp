// conv2d and its two backward ops (NCHW, groups, stride, padding, dilation)
// on CUDA through cuDNN 9.
//
// Two cuDNN APIs, one plan cache:
//  - the backend (graph) API, used by default: each problem is an operation
//    graph of one convolution node (forward, backward-data or
//    backward-filter); cuDNN's heuristic ranks engine configurations (mode A,
//    then the fallback list) and the first one that our precision rules allow
//    and that finalizes into an execution plan with at most kMaxWorkspace of
//    scratch is kept. Groups are implied by the shapes (w has C / groups input
//    channels), as in the descriptor API.
//  - the descriptor API (deprecated in cuDNN 9, still shipped): used when the
//    graph API has no plan for a problem (an engine list without a usable
//    entry, say for float64 on some versions), or everywhere after
//    set_cudnn_conv_api(CudnnConvApi::legacy). Algorithm from
//    cudnnGet*Algorithm_v7's ranking, same precision and workspace rules.
// cudnn_counts() says how many plans each API built; the CUDA tests run
// every case through both and compare each with the CPU.
//
// Plans: for each (device, dtype, shapes, args, direction, math mode, API,
// pointer alignments) the plan is built once per host thread (graph plans are
// bound to that thread's cuDNN handle) and cached. Workspace comes from
// ember's caching allocator on the current stream. Precision: float32 runs
// without TF32 (engines noted TENSOR_CORE or DOWN_CONVERT_INPUTS are skipped;
// FMA math on the descriptor API) unless cuda::set_allow_tf32(true); 16-bit
// types use tensor cores with float accumulation (engines noted
// REDUCED_PRECISION_REDUCTION are skipped); float64 computes in double.
// Every cuDNN call is checked; a failure names the call and the op.
// Empty problems never reach here: the meta functions answer them (zeros, or the bias).
// Ceilings per direction: 2 * N * O * (C / groups) * kH * kW * OH * OW FLOPs;
// bytes at best x + w + out. Compute-bound except for tiny channel counts.
#include <ember/kernels/cuda/register.hpp>

#include <atomic>

namespace ember::cuda {
namespace {
std::atomic<int> g_conv_api{static_cast<int>(CudnnConvApi::graph)};
std::atomic<int64_t> g_graph_plans{0}, g_legacy_plans{0};
}  // namespace

void set_cudnn_conv_api(CudnnConvApi api) { g_conv_api.store(static_cast<int>(api)); }
CudnnConvApi cudnn_conv_api() { return static_cast<CudnnConvApi>(g_conv_api.load()); }
int64_t batch_norm_cudnn_calls();  // norm_cudnn.cpp
int64_t cudnn_handles_created();   // cudnn.cpp
CudnnCounts cudnn_counts() {
  return {g_graph_plans.load(), g_legacy_plans.load(), batch_norm_cudnn_calls(), cudnn_handles_created()};
}
}  // namespace ember::cuda

#if defined(EMBER_WITH_CUDNN)
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <ember/kernels/cuda/alignment.hpp>
#include <ember/kernels/cuda/cudnn.hpp>
#include <ember/runtime/cuda_check.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

// Graph building reports "not possible" rather than throwing: the first failing call is kept in
// `why` and the builder returns an empty result (the caller falls back to the descriptor API).
#define EMBER_CUDNN_TRY(why, call) \
  do {                             \
    if (!(why).ok((call), #call)) return {}; \
  } while (0)

namespace ember::cuda {
namespace {

constexpr size_t kMaxWorkspace = size_t{1} << 30;
constexpr int kAlgoCandidates = 16;
constexpr int64_t kMaxEngineConfigs = 64;
constexpr size_t kMaxPlans = 1024;

enum class Direction : int { Forward = 0, BackwardData = 1, BackwardFilter = 2 };

cudnnDataType_t compute_type(DType dt) { return dt == kFloat64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT; }

int as_int(int64_t v, const char* op) {
  EMBER_CHECK(v >= 0 && v <= INT_MAX, op, ": size ", v, " is too large for cuDNN's 32-bit descriptors");
  return static_cast<int>(v);
}

// ---------------------------------------------------------------------------------------------
// Backend (graph) API

// The first failing call of a graph build, for conv_graph_check and the fallback decision.
struct Why {
  std::string what;
  bool ok(cudnnStatus_t s, const char* call) {
    if (s == CUDNN_STATUS_SUCCESS) return true;
    if (what.empty()) what = std::string(call) + ": " + cudnnGetErrorString(s);
    return false;
  }
};

// Owns one backend descriptor.
class BackendDesc {
 public:
  BackendDesc() = default;
  BackendDesc(const BackendDesc&) = delete;
  BackendDesc& operator=(const BackendDesc&) = delete;
  BackendDesc(BackendDesc&& o) noexcept : d_(o.d_) { o.d_ = nullptr; }
  BackendDesc& operator=(BackendDesc&& o) noexcept {
    std::swap(d_, o.d_);
    return *this;
  }
  ~BackendDesc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  cudnnStatus_t create(cudnnBackendDescriptorType_t type) { return cudnnBackendCreateDescriptor(type, &d_); }
  cudnnBackendDescriptor_t get() const { return d_; }
  explicit operator bool() const { return d_ != nullptr; }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};

// The graph's tensors: x (N, C, H, W), w (O, C / groups, kH, kW), y (N, O, OH, OW). In the
// backward ops the same uids name dx / dw and dy.
constexpr int64_t kUidX = 1, kUidW = 2, kUidY = 3;

BackendDesc tensor_desc(int64_t uid, cudnnDataType_t type, const Dims& s, int64_t alignment, Why& why) {
  BackendDesc d;
  EMBER_CUDNN_TRY(why, d.create(CUDNN_BACKEND_TENSOR_DESCRIPTOR));
  const int64_t dims[4] = {s[0], s[1], s[2], s[3]};
  const int64_t strides[4] = {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(d.get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(d.get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(d.get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(d.get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid));
  EMBER_CUDNN_TRY(why,
                  cudnnBackendSetAttribute(d.get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment));
  EMBER_CUDNN_TRY(why, cudnnBackendFinalize(d.get()));
  return d;
}

BackendDesc conv_desc(const Conv2dArgs& a, cudnnDataType_t compute, Why& why) {
  BackendDesc d;
  EMBER_CUDNN_TRY(why, d.create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR));
  const int64_t spatial = 2;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t pad[2] = {a.padding[0], a.padding[1]}, stride[2] = {a.stride[0], a.stride[1]},
                dilation[2] = {a.dilation[0], a.dilation[1]};
  cudnnBackendDescriptor_t c = d.get();
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(c, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride));
  EMBER_CUDNN_TRY(why, cudnnBackendFinalize(c));
  return d;
}

// The operation graph of one convolution node, with every descriptor it refers to kept alive.
struct ConvGraph {
  BackendDesc x, w, y, conv, node, graph;
};

// Builds and finalizes the graph; with `h` null, only the tensors, the convolution and the node (which
// need no GPU: conv_graph_check). Null result: `why` says which call failed.
std::unique_ptr<ConvGraph> build_graph(Direction dir, DType dt, const Dims& xs, const Dims& ws, const Dims& ys,
                                       const Conv2dArgs& a, const std::array<int64_t, 3>& align, cudnnHandle_t h,
                                       Why& why) {
  auto g = std::make_unique<ConvGraph>();
  cudnnDataType_t type;
  if (!cudnn_data_type_of(dt, type)) {
    why.what = "no cuDNN convolution for this dtype";
    return {};
  }
  g->x = tensor_desc(kUidX, type, xs, align[0], why);
  g->w = tensor_desc(kUidW, type, ws, align[1], why);
  g->y = tensor_desc(kUidY, type, ys, align[2], why);
  g->conv = conv_desc(a, compute_type(dt), why);
  if (!g->x || !g->w || !g->y || !g->conv) return {};
  const CudnnScaling s(dt);
  struct Attrs {
    cudnnBackendDescriptorType_t type;
    cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
  };
  static constexpr Attrs kAttrs[3] = {
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
       CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y},
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY},
      {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
       CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY}};
  const Attrs& at = kAttrs[static_cast<int>(dir)];
  EMBER_CUDNN_TRY(why, g->node.create(at.type));
  cudnnBackendDescriptor_t n = g->node.get();
  const cudnnBackendDescriptor_t xd = g->x.get(), wd = g->w.get(), yd = g->y.get(), cd = g->conv.get();
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(n, at.alpha, s.backend_type(), 1, s.one()));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(n, at.beta, s.backend_type(), 1, s.zero()));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(n, at.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(n, at.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &xd));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(n, at.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &wd));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(n, at.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &yd));
  EMBER_CUDNN_TRY(why, cudnnBackendFinalize(n));
  // Without a handle (conv_graph_check) stop at the node: the graph needs one on the first 9.x releases.
  if (h == nullptr) return g;
  EMBER_CUDNN_TRY(why, g->graph.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(g->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n));
  // Required by the first 9.x releases, deprecated by later ones (which take the device from
  // elsewhere): set, and if a release refuses it, let finalization decide.
  (void)cudnnBackendSetAttribute(g->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
  EMBER_CUDNN_TRY(why, cudnnBackendFinalize(g->graph.get()));
  return g;
}

// Whether an engine configuration keeps ember's precision rules (no TF32 for float32 unless
// allowed, float accumulation for 16-bit types) and needs runtime compilation exactly when
// `runtime_compiled` asks for it (precompiled engines are tried first, each engine once).
bool engine_allowed(cudnnBackendDescriptor_t cfg, DType dt, bool strict_fp32, bool runtime_compiled) {
  BackendDesc engine;
  if (engine.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR) != CUDNN_STATUS_SUCCESS) return false;
  cudnnBackendDescriptor_t e = engine.get();
  int64_t count = 0;
  if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &e) !=
      CUDNN_STATUS_SUCCESS)
    return false;
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t n_notes = 0;
  if (cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &n_notes, notes) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t i = 0; i < n_notes; ++i) {
    // float32 never down-converts its inputs (below TF32), and uses tensor cores only with TF32 allowed.
    if (dt == kFloat32 && notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return false;
    if (strict_fp32 && notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE) return false;
    if (dt.is_reduced_float() && notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return false;
  }
  cudnnBackendBehaviorNote_t behavior[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
  int64_t n_behavior = 0;
  if (cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                               CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &n_behavior, behavior) != CUDNN_STATUS_SUCCESS)
    return false;
  bool compiles = false;
  for (int64_t i = 0; i < n_behavior; ++i)
    compiles = compiles || behavior[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION;
  return compiles == runtime_compiled;
}

// The engine configurations cuDNN's heuristic proposes for a graph, best first.
std::vector<BackendDesc> engine_configs(const ConvGraph& g, cudnnBackendHeurMode_t mode, Why& why) {
  BackendDesc heur;
  EMBER_CUDNN_TRY(why, heur.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR));
  const cudnnBackendDescriptor_t graph = g.graph.get();
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph));
  EMBER_CUDNN_TRY(why, cudnnBackendSetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode));
  EMBER_CUDNN_TRY(why, cudnnBackendFinalize(heur.get()));
  int64_t available = 0;
  EMBER_CUDNN_TRY(why, cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &available, nullptr));
  available = std::min(available, kMaxEngineConfigs);
  if (available <= 0) return {};
  std::vector<BackendDesc> cfgs(static_cast<size_t>(available));
  std::vector<cudnnBackendDescriptor_t> raw(cfgs.size());
  for (size_t i = 0; i < cfgs.size(); ++i) {
    EMBER_CUDNN_TRY(why, cfgs[i].create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
    raw[i] = cfgs[i].get();
  }
  int64_t returned = 0;
  EMBER_CUDNN_TRY(why, cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                                CUDNN_TYPE_BACKEND_DESCRIPTOR, available, &returned, raw.data()));
  cfgs.resize(static_cast<size_t>(std::clamp<int64_t>(returned, 0, available)));
  return cfgs;
}

// An execution plan for a configuration, or an empty descriptor when it does not finalize or needs
// more than kMaxWorkspace.
BackendDesc execution_plan(cudnnHandle_t h, cudnnBackendDescriptor_t cfg, size_t& workspace) {
  BackendDesc plan;
  if (plan.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR) != CUDNN_STATUS_SUCCESS) return {};
  (void)cudnnBackendSetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);  // as above
  if (cudnnBackendSetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                               &cfg) != CUDNN_STATUS_SUCCESS ||
      cudnnBackendFinalize(plan.get()) != CUDNN_STATUS_SUCCESS)
    return {};
  int64_t bytes = 0, count = 0;
  if (cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count,
                               &bytes) != CUDNN_STATUS_SUCCESS ||
      bytes < 0 || static_cast<size_t>(bytes) > kMaxWorkspace)
    return {};
  workspace = static_cast<size_t>(bytes);
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Descriptor (legacy) API

struct LegacyDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = -1;
  ~LegacyDescriptors() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

// One cached problem: a graph execution plan, or the descriptor API's descriptors and algorithm.
struct ConvPlan {
  std::unique_ptr<ConvGraph> graph;  // kept alive with its plan, like the chosen configuration
  BackendDesc engine_config;
  BackendDesc exec;
  std::unique_ptr<LegacyDescriptors> legacy;
  size_t workspace = 0;
};

void set_tensor(cudnnTensorDescriptor_t d, cudnnDataType_t type, const Dims& s, const char* op) {
  EMBER_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, type, as_int(s[0], op), as_int(s[1], op),
                                               as_int(s[2], op), as_int(s[3], op)),
                    op);
}

// Builds the descriptors of a problem: x (N, C, H, W), w (O, C / groups, kH, kW), y (N, O, OH, OW).
std::unique_ptr<LegacyDescriptors> make_descriptors(DType dt, const Dims& xs, const Dims& ws, const Dims& ys,
                                                    const Conv2dArgs& a, cudnnMathType_t math, const char* op) {
  auto p = std::make_unique<LegacyDescriptors>();
  const cudnnDataType_t type = cudnn_data_type(dt, op);
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
                                                    CUDNN_CROSS_CORRELATION, compute_type(dt)),
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
// asked for), whose workspace query (query(algo, bytes), with the candidate's math set) succeeds and
// fits the cap; a candidate the query refuses is skipped, not an error.
template <class Perf, class Query>
bool pick(const Perf* perf, int count, cudnnMathType_t math, bool allow_conversion, LegacyDescriptors& p,
          size_t& workspace, Query query) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspace) continue;
    // With FMA asked for, the descriptor keeps FMA math: never a TF32 tensor-core kernel.
    if (math == CUDNN_FMA_MATH && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH)
      continue;
    // Never a kernel that down-converts float32 inputs below TF32.
    if (perf[i].mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && !allow_conversion) continue;
    const cudnnMathType_t use = math == CUDNN_FMA_MATH ? math : perf[i].mathType;
    EMBER_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, use), "conv2d");
    size_t bytes = 0;
    if (query(perf[i].algo, bytes) != CUDNN_STATUS_SUCCESS || bytes > kMaxWorkspace) continue;
    p.algo = static_cast<int>(perf[i].algo);
    workspace = bytes;
    return true;
  }
  return false;
}

void choose_algorithm(cudnnHandle_t h, Direction dir, DType dt, cudnnMathType_t math, LegacyDescriptors& p,
                      size_t& workspace, const char* op) {
  const bool allow_conversion = dt != kFloat32;
  int found = 0;
  bool ok = false;
  if (dir == Direction::Forward) {
    cudnnConvolutionFwdAlgoPerf_t perf[kAlgoCandidates];
    EMBER_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, kAlgoCandidates, &found, perf),
                      op);
    ok = pick(perf, found, math, allow_conversion, p, workspace, [&](cudnnConvolutionFwdAlgo_t algo, size_t& bytes) {
      return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, algo, &bytes);
    });
  } else if (dir == Direction::BackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[kAlgoCandidates];
    EMBER_CUDNN_CHECK(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, kAlgoCandidates, &found, perf), op);
    ok = pick(perf, found, math, allow_conversion, p, workspace, [&](cudnnConvolutionBwdDataAlgo_t algo, size_t& bytes) {
      return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, algo, &bytes);
    });
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kAlgoCandidates];
    EMBER_CUDNN_CHECK(
        cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, kAlgoCandidates, &found, perf), op);
    ok = pick(perf, found, math, allow_conversion, p, workspace,
              [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t& bytes) {
                return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, algo, &bytes);
              });
  }
  EMBER_CHECK(ok, op, ": cuDNN offers no algorithm for this convolution (", found, " candidates, none usable with ",
              math == CUDNN_FMA_MATH ? "FMA math" : "the requested math", " and at most ", kMaxWorkspace >> 20,
              " MiB of workspace)");
}

// ---------------------------------------------------------------------------------------------
// Plans

// A graph plan: heuristic mode A, then the fallback list; in each, engines needing no runtime
// compilation first. Null when none qualifies.
std::unique_ptr<ConvPlan> make_graph_plan(cudnnHandle_t h, Direction dir, DType dt, cudnnMathType_t math,
                                          const Dims& xs, const Dims& ws, const Dims& ys, const Conv2dArgs& a,
                                          const std::array<int64_t, 3>& align) {
  // The TF32 switch as read once for the plan's key (math): FMA math means no tensor cores.
  const bool strict_fp32 = dt == kFloat32 && math == CUDNN_FMA_MATH;
  Why why;
  auto plan = std::make_unique<ConvPlan>();
  plan->graph = build_graph(dir, dt, xs, ws, ys, a, align, h, why);
  if (!plan->graph || !plan->graph->graph) return {};
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    std::vector<BackendDesc> cfgs = engine_configs(*plan->graph, mode, why);
    for (bool runtime_compiled : {false, true}) {
      for (BackendDesc& cfg : cfgs) {
        if (!engine_allowed(cfg.get(), dt, strict_fp32, runtime_compiled)) continue;
        plan->exec = execution_plan(h, cfg.get(), plan->workspace);
        if (plan->exec) {
          plan->engine_config = std::move(cfg);
          return plan;
        }
      }
    }
  }
  return {};
}

using ConvKey = std::array<int64_t, 25>;  // [0] is the device

// A host thread's plans. Destroying a plan may unload kernels it loaded (runtime-compiled engines)
// while convolutions this thread queued, on any of its streams, still wait to run: before plans go
// (the cache starting over, or the thread exiting) every device they were made for is drained.
struct PlanCache {
  std::map<ConvKey, std::unique_ptr<ConvPlan>> plans;

  std::set<int> devices() const {
    std::set<int> out;
    for (const auto& entry : plans) out.insert(static_cast<int>(entry.first[0]));
    return out;
  }
  void clear(const char* op) {
    for (int d : devices()) {
      DeviceGuard guard(d);
      EMBER_CUDA_CHECK(cudaDeviceSynchronize(), op);
    }
    plans.clear();
  }
  ~PlanCache() {
    // At thread or process exit: nothing to report to, and the driver may already be shutting down.
    int previous = -1;
    if (plans.empty() || cudaGetDevice(&previous) != cudaSuccess) return;
    for (int d : devices())
      if (cudaSetDevice(d) == cudaSuccess) (void)cudaDeviceSynchronize();
    (void)cudaSetDevice(previous);
    (void)cudaGetLastError();
  }
};

// The cached plan for a problem, built on first use in this thread.
const ConvPlan& plan_for(cudnnHandle_t h, int device, Direction dir, DType dt, const Dims& xs, const Dims& ws,
                         const Dims& ys, const Conv2dArgs& a, const std::array<int64_t, 3>& align, const char* op) {
  thread_local PlanCache cache;
  const cudnnMathType_t math = math_for(dt);
  const bool graph_api = cudnn_conv_api() == CudnnConvApi::graph;
  const ConvKey key = {device,       static_cast<int>(dir), static_cast<int>(dt.kind), static_cast<int>(math),
                       graph_api,    xs[0],                 xs[1],                     xs[2],
                       xs[3],        ws[0],                 ws[1],                     ws[2],
                       ws[3],        a.stride[0],           a.stride[1],               a.padding[0],
                       a.padding[1], a.dilation[0],         a.dilation[1],             a.groups,
                       ys[2],        ys[3],                 align[0],                  align[1],
                       align[2]};
  auto it = cache.plans.find(key);
  if (it != cache.plans.end()) return *it->second;
  std::unique_ptr<ConvPlan> p;
  if (graph_api) p = make_graph_plan(h, dir, dt, math, xs, ws, ys, a, align);
  if (p) {
    g_graph_plans.fetch_add(1);
  } else {
    p = std::make_unique<ConvPlan>();
    p->legacy = make_descriptors(dt, xs, ws, ys, a, math, op);
    choose_algorithm(h, dir, dt, math, *p->legacy, p->workspace, op);
    g_legacy_plans.fetch_add(1);
  }
  if (cache.plans.size() >= kMaxPlans) cache.clear(op);  // starting over
  return *cache.plans.emplace(key, std::move(p)).first->second;
}

void check_operands(const char* op, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    EMBER_CHECK(t->is_cuda() && t->is_contiguous() && t->dim() == 4, op,
                ": CUDA kernel expects contiguous 4-D CUDA operands, got ", t->describe());
}

// Runs one direction: x, w, y are the (N, C, H, W), (O, C / groups, kH, kW) and (N, O, OH, OW)
// tensors of the problem (in the backward ops, dx or dw is the output and y holds dy).
void run_conv(const char* op, Direction dir, const Tensor& x, const Tensor& w, const Tensor& y,
              const Conv2dArgs& args) {
  check_operands(op, {&x, &w, &y});
  const int device = x.device().index;
  DeviceGuard guard(device);
  cudnnHandle_t h = cudnn_handle(device, current_stream(device).handle(), op);
  // What the plan may assume of each pointer, capped at 16 bytes (more buys cuDNN nothing).
  const std::array<int64_t, 3> align = {pointer_alignment(x.data_ptr(), 16), pointer_alignment(w.data_ptr(), 16),
                                        pointer_alignment(y.data_ptr(), 16)};
  const ConvPlan& p = plan_for(h, device, dir, x.dtype(), x.shape(), w.shape(), y.shape(), args, align, op);
  Tensor ws = empty({static_cast<int64_t>(p.workspace)}, TensorOptions(kUInt8, x.device()));
  if (p.exec) {
    void* ptrs[3] = {x.data_ptr(), w.data_ptr(), y.data_ptr()};
    const int64_t uids[3] = {kUidX, kUidW, kUidY};
    void* workspace = ws.data_ptr();
    BackendDesc pack;
    EMBER_CUDNN_CHECK(pack.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR), op);
    EMBER_CUDNN_CHECK(
        cudnnBackendSetAttribute(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs), op);
    EMBER_CUDNN_CHECK(
        cudnnBackendSetAttribute(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids), op);
    EMBER_CUDNN_CHECK(
        cudnnBackendSetAttribute(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace),
        op);
    EMBER_CUDNN_CHECK(cudnnBackendFinalize(pack.get()), op);
    EMBER_CUDNN_CHECK(cudnnBackendExecute(h, p.exec.get(), pack.get()), op);
    return;
  }
  const LegacyDescriptors& d = *p.legacy;
  const CudnnScaling s(x.dtype());
  switch (dir) {
    case Direction::Forward:
      EMBER_CUDNN_CHECK(cudnnConvolutionForward(h, s.one(), d.x, x.data_ptr(), d.w, w.data_ptr(), d.conv,
                                                static_cast<cudnnConvolutionFwdAlgo_t>(d.algo), ws.data_ptr(),
                                                p.workspace, s.zero(), d.y, y.data_ptr()),
                        op);
      break;
    case Direction::BackwardData:
      EMBER_CUDNN_CHECK(cudnnConvolutionBackwardData(h, s.one(), d.w, w.data_ptr(), d.y, y.data_ptr(), d.conv,
                                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(d.algo), ws.data_ptr(),
                                                     p.workspace, s.zero(), d.x, x.data_ptr()),
                        op);
      break;
    case Direction::BackwardFilter:
      EMBER_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, s.one(), d.x, x.data_ptr(), d.y, y.data_ptr(), d.conv,
                                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(d.algo),
                                                       ws.data_ptr(), p.workspace, s.zero(), d.w, w.data_ptr()),
                        op);
      break;
  }
}

// out: (N, O, OH, OW); x: (N, C, H, W); w: (O, C / groups, kH, kW); bias: (O) or undefined.
void conv2d_kernel(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args) {
  run_conv("conv2d", Direction::Forward, x, w, out, args);
  if (bias.defined())
    EMBER_KERNEL(add, x.device())(out, out, ops::view(bias, {1, bias.size(0), 1, 1}), BinaryArgs{});
}

// grad_x: (N, C, H, W) from grad_out: (N, O, OH, OW) and w: (O, C / groups, kH, kW).
void conv2d_backward_input_kernel(const Tensor& grad_x, const Tensor& grad_out, const Tensor& w, const Conv2dArgs& args) {
  run_conv("conv2d_backward_input", Direction::BackwardData, grad_x, w, grad_out, args);
}

// grad_w: (O, C / groups, kH, kW) from grad_out: (N, O, OH, OW) and x: (N, C, H, W).
void conv2d_backward_weight_kernel(const Tensor& grad_w, const Tensor& grad_out, const Tensor& x,
                                   const Conv2dArgs& args) {
  run_conv("conv2d_backward_weight", Direction::BackwardFilter, x, grad_w, grad_out, args);
}

}  // namespace

std::string conv_graph_check(int direction, DType dt, const Dims& x, const Dims& w, const Dims& y,
                             const Conv2dArgs& args) {
  EMBER_CHECK(direction >= 0 && direction <= 2, "conv_graph_check: direction ", direction, " is not 0, 1 or 2");
  EMBER_CHECK(x.size() == 4 && w.size() == 4 && y.size() == 4, "conv_graph_check: expects 4-D shapes");
  Why why;
  const std::unique_ptr<ConvGraph> g =
      build_graph(static_cast<Direction>(direction), dt, x, w, y, args, {16, 16, 16}, nullptr, why);
  return g ? std::string() : (why.what.empty() ? std::string("graph not built") : why.what);
}

void register_conv_kernels(KernelTable& t) {
  t.conv2d = conv2d_kernel;
  t.conv2d_backward_input = conv2d_backward_input_kernel;
  t.conv2d_backward_weight = conv2d_backward_weight_kernel;
}

}  // namespace ember::cuda

#else  // no cuDNN in this build: the conv slots stay empty ("no kernel for device cuda").

namespace ember::cuda {
std::string conv_graph_check(int, DType, const Dims&, const Dims&, const Dims&, const Conv2dArgs&) {
  return "this build has no cuDNN";
}
void register_conv_kernels(KernelTable&) {}
}  // namespace ember::cuda

#endif
