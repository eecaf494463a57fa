// mm, bmm and linear on CUDA through cuBLASLt (float32/float64/float16/bfloat16);
// integer dtypes use the naive kernel of kernels/cuda/gemm.cu.
//
// Layout: ember matrices are row-major, cuBLAS is column-major, so C = A B is
// computed as C^T = B^T A^T: a row-major (r x c) matrix with unit column stride
// *is* its transpose in column-major order with leading dimension = its row
// stride; a column-major one (a transposed view) is used with op T. Other
// layouts are made contiguous first. linear(x, w, b) = x w^T + b uses the bias
// epilogue (the bias is per row of C^T, i.e. per output feature), falling back
// to a separate broadcast add when cuBLASLt offers no algorithm with it.
//
// Plans: the descriptors and the heuristic's algorithm are built once per
// problem (device, types, epilogue, layouts, pointer alignments) and cached per
// host thread, so a repeated GEMM costs one cublasLtMatmul call on the host.
//
// Precision: float32 computes in full float32 unless set_allow_tf32(true)
// (TF32 tensor cores: ~10 bits of mantissa in the products); 16-bit types
// accumulate in float32; float64 in float64.
// Ceilings: 2*M*N*K FLOPs; bytes (M*K + K*N + M*N) * itemsize. Large GEMMs
// are compute-bound (H100 SXM: ~51 TFLOP/s float32 without TF32, ~495 TF32,
// ~990 dense float16/bfloat16, ~67 float64).
#include <cublasLt.h>

#include <array>
#include <atomic>
#include <memory>
#include <unordered_map>
#include <utility>

#include <ember/kernels/cuda/alignment.hpp>
#include <ember/kernels/cuda/gemm.hpp>
#include <ember/kernels/cuda/register.hpp>
#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/cuda_stream.hpp>
#include <ember/runtime/handle_pool.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

#define EMBER_CUBLAS_CHECK(call, op)                                                                     \
  do {                                                                                                   \
    const cublasStatus_t ember_cublas_status_ = (call);                                                  \
    if (ember_cublas_status_ != CUBLAS_STATUS_SUCCESS) [[unlikely]]                                      \
      EMBER_FAIL((op), ": cuBLASLt call ", #call, " failed: ", cublasLtGetStatusName(ember_cublas_status_), \
                 " (", cublasLtGetStatusString(ember_cublas_status_), ")");                              \
  } while (0)

namespace ember::cuda {
namespace {

std::atomic<bool> g_allow_tf32{false};
constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // cuBLAS's recommendation for Hopper
constexpr int kMaxDevices = 64;

// The calling thread's cuBLASLt handle for a device, lent by a pool that takes it back when the
// thread exits (runtime/handle_pool.hpp); the pool lives as long as the process.
cublasLtHandle_t lt_handle(int device) {
  static auto* pool = new HandlePool<cublasLtHandle_t>([](int d) {
    DeviceGuard guard(d);
    cublasLtHandle_t h = nullptr;
    EMBER_CUBLAS_CHECK(cublasLtCreate(&h), "matmul");
    return h;
  });
  EMBER_CHECK(device >= 0 && device < kMaxDevices, "cuBLASLt: device index ", device, " out of range");
  return pool->acquire(device);
}

// One operand of C^T = B^T A^T as cuBLASLt sees it.
struct Operand {
  const void* ptr = nullptr;
  bool trans = false;
  int64_t rows = 0, cols = 0, ld = 0;  // the stored column-major matrix
  int64_t batch_stride = 0;            // elements
};

// Describes row-major logical X (r x c, strides sr, sc) as X^T in column-major
// order; false when neither layout fits (the caller makes X contiguous).
bool as_transposed(const void* ptr, int64_t r, int64_t c, int64_t sr, int64_t sc, int64_t sb, Operand& o) {
  o.ptr = ptr;
  o.batch_stride = sb;
  if ((sc == 1 || c == 1) && (r == 1 || sr >= std::max<int64_t>(c, 1))) {
    o.trans = false;
    o.rows = c;
    o.cols = r;
    o.ld = r == 1 ? std::max<int64_t>(c, 1) : sr;
    return true;
  }
  if ((sr == 1 || r == 1) && (c == 1 || sc >= std::max<int64_t>(r, 1))) {
    o.trans = true;
    o.rows = r;
    o.cols = c;
    o.ld = c == 1 ? std::max<int64_t>(r, 1) : sc;
    return true;
  }
  return false;
}

// x as a 3-D batch (B, r, c) operand; x is made contiguous when its layout does not fit.
Operand operand_of(Tensor& x) {
  Operand o;
  if (as_transposed(x.data_ptr(), x.size(1), x.size(2), x.stride(1), x.stride(2), x.stride(0), o)) return o;
  x = ops::contiguous(x);
  bool ok = as_transposed(x.data_ptr(), x.size(1), x.size(2), x.stride(1), x.stride(2), x.stride(0), o);
  EMBER_ASSERT(ok, "a contiguous matrix always has a cuBLAS layout");
  return o;
}

struct LtTypes {
  cudaDataType_t data;
  cublasComputeType_t compute;
  cudaDataType_t scale;
};

LtTypes lt_types(DType dt) {
  switch (dt.kind) {
    case DType::Float32:
      return {CUDA_R_32F, g_allow_tf32.load() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case DType::Float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F, CUDA_R_64F};
    case DType::Float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case DType::BFloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    default: EMBER_FAIL("matmul: cuBLASLt has no path for ", dt);
  }
}

// RAII for the cuBLASLt descriptors.
struct Desc {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~Desc() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

void make_layout(const char* op, cublasLtMatrixLayout_t* layout, cudaDataType_t type, int64_t rows, int64_t cols,
                 int64_t ld, int64_t batch, int64_t batch_stride) {
  EMBER_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(layout, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld),
                     op);
  if (batch > 1) {
    const int32_t count = static_cast<int32_t>(batch);
    EMBER_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)),
                       op);
    EMBER_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                        &batch_stride, sizeof(batch_stride)),
                       op);
  }
}

// The cuBLASLt epilogue for a bias (or none) and an activation.
cublasLtEpilogue_t epilogue_of(bool bias, Activation act) {
  switch (act) {
    case Activation::relu: return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case Activation::gelu_tanh: return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    case Activation::none: break;
  }
  return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

// A plan: the descriptors of one problem and the algorithm cuBLASLt's heuristic chose for it
// (found == false: none, the caller falls back). Built once per problem, then reused: only the
// bias pointer changes between calls.
struct Plan {
  Desc d;
  cublasLtMatmulHeuristicResult_t heuristic{};
  bool found = false;
};

// Everything a plan depends on: device, types, epilogue, both operands' layouts, the output's
// shape and the alignments of the four matrix pointers and of the bias (which restrict the algorithms).
using PlanKey = std::array<int64_t, 23>;

struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the words
    for (int64_t v : k) h = (h ^ static_cast<uint64_t>(v)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

// Per host thread, so a plan's descriptor (whose bias pointer is set per call) is never shared.
// Bounded: a process that sees very many shapes starts over rather than grow without end.
std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash>& plan_cache() {
  thread_local std::unordered_map<PlanKey, std::unique_ptr<Plan>, PlanKeyHash> cache;
  return cache;
}
constexpr size_t kMaxPlans = 4096;

std::unique_ptr<Plan> make_plan(const char* op, int device, const LtTypes& types, cublasLtEpilogue_t epi,
                                const Operand& lhs, const Operand& rhs, int64_t batch, int64_t M, int64_t N,
                                const uint32_t (&align)[4], const void* bias_ptr) {
  auto plan = std::make_unique<Plan>();
  Desc& d = plan->d;
  EMBER_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d.desc, types.compute, types.scale), op);
  const cublasOperation_t ta = lhs.trans ? CUBLAS_OP_T : CUBLAS_OP_N, tb = rhs.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
  EMBER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), op);
  EMBER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), op);
  if (epi != CUBLASLT_EPILOGUE_DEFAULT)
    EMBER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), op);
  const bool bias = epi == CUBLASLT_EPILOGUE_BIAS || epi == CUBLASLT_EPILOGUE_RELU_BIAS ||
                    epi == CUBLASLT_EPILOGUE_GELU_BIAS;
  if (bias) {
    EMBER_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &types.data,
                                                      sizeof(types.data)),
                       op);
    // The heuristic reads the bias pointer's alignment (cuBLASLt has no preference attribute for it):
    // set the first call's pointer; later calls share the plan only with a bias of the same alignment.
    EMBER_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(d.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr, sizeof(bias_ptr)), op);
  }
  make_layout(op, &d.a, types.data, lhs.rows, lhs.cols, lhs.ld, batch, lhs.batch_stride);
  make_layout(op, &d.b, types.data, rhs.rows, rhs.cols, rhs.ld, batch, rhs.batch_stride);
  make_layout(op, &d.c, types.data, N, M, N, batch, M * N);
  EMBER_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&d.pref), op);
  const uint64_t ws_bytes = kWorkspaceBytes;
  EMBER_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                          sizeof(ws_bytes)),
                     op);
  // Views may start anywhere: let the heuristic pick only kernels the actual pointers satisfy.
  const cublasLtMatmulPreferenceAttributes_t attrs[4] = {
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
      CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
  for (int i = 0; i < 4; ++i)
    EMBER_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, attrs[i], &align[i], sizeof(align[i])), op);
  int found = 0;
  const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(lt_handle(device), d.desc, d.a, d.b, d.c, d.c, d.pref, 1,
                                                           &plan->heuristic, &found);
  // No algorithm is "not supported"; with an epilogue any refusal counts as none (the caller then
  // runs the plain product and the epilogue's ops), as versions differ in how they refuse one.
  if (hs != CUBLAS_STATUS_NOT_SUPPORTED && epi == CUBLASLT_EPILOGUE_DEFAULT) EMBER_CUBLAS_CHECK(hs, op);
  plan->found = hs == CUBLAS_STATUS_SUCCESS && found > 0;
  return plan;
}

// One cuBLASLt matmul: out (B, M, N) contiguous = act(a (B, M, K) @ b (B, K, N) [+ bias (N)]).
// Returns false (nothing launched) when cuBLASLt offers no algorithm for this problem.
bool lt_matmul(const char* op, const Tensor& out, Tensor a, Tensor b, const Tensor& bias, Activation act) {
  const int device = out.device().index;
  const int64_t batch = out.size(0), M = out.size(1), N = out.size(2);
  const LtTypes types = lt_types(out.dtype());
  // C^T (N x M) = op(B^T) (N x K) * op(A^T) (K x M): cuBLAS's "A" is our b, its "B" is our a.
  Operand lhs = operand_of(b), rhs = operand_of(a);
  const cublasLtEpilogue_t epi = epilogue_of(bias.defined(), act);
  const uint32_t align[4] = {pointer_alignment(lhs.ptr), pointer_alignment(rhs.ptr), pointer_alignment(out.data_ptr()),
                             pointer_alignment(out.data_ptr())};
  const void* bias_ptr = bias.defined() ? bias.data_ptr() : nullptr;
  const int64_t bias_align = bias.defined() ? pointer_alignment(bias_ptr) : 0;
  const PlanKey key = {device,   types.data, types.compute, types.scale, epi,        lhs.trans,       rhs.trans,
                       batch,    M,          N,             lhs.rows,    lhs.cols,   lhs.ld,          lhs.batch_stride,
                       rhs.rows, rhs.cols,   rhs.ld,        rhs.batch_stride,        align[0],        align[1],
                       align[2], align[3],   bias_align};
  DeviceGuard guard(device);
  auto& cache = plan_cache();
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::unique_ptr<Plan> plan = make_plan(op, device, types, epi, lhs, rhs, batch, M, N, align, bias_ptr);
    if (cache.size() >= kMaxPlans) cache.clear();
    it = cache.emplace(key, std::move(plan)).first;
  }
  Plan& plan = *it->second;
  if (!plan.found) return false;
  if (bias.defined()) {
    EMBER_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(plan.d.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias_ptr, sizeof(bias_ptr)),
        op);
  }
  // Stream-ordered scratch from the caching allocator (Note [stream ownership]).
  Tensor workspace =
      empty({static_cast<int64_t>(plan.heuristic.workspaceSize)}, TensorOptions(kUInt8, out.device()));
  const float alpha_f = 1.0f, beta_f = 0.0f;
  const double alpha_d = 1.0, beta_d = 0.0;
  const bool dbl = types.scale == CUDA_R_64F;
  EMBER_CUBLAS_CHECK(cublasLtMatmul(lt_handle(device), plan.d.desc, dbl ? static_cast<const void*>(&alpha_d) : &alpha_f,
                                    lhs.ptr, plan.d.a, rhs.ptr, plan.d.b,
                                    dbl ? static_cast<const void*>(&beta_d) : &beta_f, out.data_ptr(), plan.d.c,
                                    out.data_ptr(), plan.d.c, &plan.heuristic.algo, workspace.data_ptr(),
                                    plan.heuristic.workspaceSize, current_stream(device).handle()),
                     op);
  return true;
}

// out (B, M, N) = act(a (B, M, K) @ b (B, K, N) [+ bias (N)]), any dtype (act: floating only). The bias
// and activation go into cuBLASLt's epilogue; where it has no algorithm with them, the plain product is
// followed by the add and activation kernels.
void batched_gemm(const char* op, const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& bias,
                  Activation act = Activation::none) {
  EMBER_CHECK(out.is_cuda() && out.is_contiguous(), op, ": CUDA kernel expects a contiguous CUDA output, got ",
              out.describe());
  const int64_t K = a.size(2);
  if (out.numel() == 0) return;
  const Device dev = out.device();
  if (K == 0) {  // empty inner dimension: out = 0 (+ bias)
    EMBER_KERNEL(fill, dev)(out, Scalar(0));
    if (bias.defined()) EMBER_KERNEL(add, dev)(out, out, bias, BinaryArgs{});
    ops::apply_activation_(out, act);
    return;
  }
  if (!out.dtype().is_floating()) {
    gemm_naive(op, out, a, b);
    if (bias.defined()) EMBER_KERNEL(add, dev)(out, out, bias, BinaryArgs{});
    return;
  }
  Tensor bias_c = bias.defined() ? ops::contiguous(bias) : Tensor();
  // cuBLASLt has no alignment preference for the bias: its epilogue kernels may assume 16 bytes, so
  // a bias view starting elsewhere is copied (N elements) into a fresh, aligned allocation.
  if (bias_c.defined() && pointer_alignment(bias_c.data_ptr()) < 16) bias_c = ops::clone(bias_c);
  // cuBLASLt's GELU epilogue is its own approximation, not documented to float32 accuracy: it is fused
  // for 16-bit outputs only (within their rounding); float32/64 apply ember's gelu after the product.
  const Activation fused = act == Activation::gelu_tanh && !out.dtype().is_reduced_float() ? Activation::none : act;
  if ((bias_c.defined() || fused != Activation::none) && lt_matmul(op, out, a, b, bias_c, fused)) {
    if (fused != act) ops::apply_activation_(out, act);
    return;
  }
  EMBER_CHECK(lt_matmul(op, out, a, b, Tensor(), Activation::none), op, ": cuBLASLt found no algorithm for ",
              a.describe(), " @ ", b.describe());
  if (bias_c.defined()) EMBER_KERNEL(add, dev)(out, out, bias_c, BinaryArgs{});
  ops::apply_activation_(out, act);
}

// a: (M, K), b: (K, N), out: (M, N)
void mm_kernel(const Tensor& out, const Tensor& a, const Tensor& b) {
  batched_gemm("mm", ops::unsqueeze(out, 0), ops::unsqueeze(a, 0), ops::unsqueeze(b, 0), Tensor());
}

// a: (B, M, K), b: (B, K, N), out: (B, M, N)
void bmm_kernel(const Tensor& out, const Tensor& a, const Tensor& b) { batched_gemm("bmm", out, a, b, Tensor()); }

// x: (M, K), w: (N, K), bias: (N) or undefined, out: (M, N)
void linear_kernel(const Tensor& out, const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
  batched_gemm("linear", ops::unsqueeze(out, 0), ops::unsqueeze(x, 0), ops::unsqueeze(ops::transpose(w, 0, 1), 0), bias,
               act);
}

}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }

void register_linalg_kernels(KernelTable& t) {
  t.mm = mm_kernel;
  t.bmm = bmm_kernel;
  t.linear = linear_kernel;
}

}  // namespace ember::cuda
