// CPU-vs-CUDA agreement of the reductions (sum, mean, prod, amax, amin),
// softmax/log_softmax and their backward, the
// GEMMs (mm, bmm, linear through cuBLASLt, integer mm) and adam_step. Every
// test skips cleanly without a GPU.
//
// Tolerances: float32 reductions and GEMMs rtol 1e-4 (atol 1e-5: different
// summation orders); float64 1e-10; float16/bfloat16 GEMMs rtol 2e-2 (inputs
// rounded once, float32 accumulation on both sides); integers exactly; TF32
// GEMMs rtol 1e-2; adam_step rtol 1e-5.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cuda_compare.hpp"

#if defined(EMBER_WITH_CUDA)
#include <ember/kernels/cuda/register.hpp>

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "sum mean prod amax amin softmax log_softmax softmax_backward log_softmax_backward mm bmm "
    "linear adam_step ");
#endif

namespace {

using namespace ember;
using ember::testing::all_close;
using ember::testing::non_contiguous;

using ember::testing::gpu;  // keeps a view's layout on the GPU
using ember::testing::kGpu;

// cuda_compare.hpp's rule at the reduction/GEMM tolerance; the result must be a GPU tensor of want's dtype.
::testing::AssertionResult close(const Tensor& got, const Tensor& want) { return ember::testing::cuda_matches(got, want); }

using ReduceFn = std::function<Tensor(const Tensor&)>;

TEST(CudaReduce, SumMeanProdAmaxAminMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(11);
  const std::vector<std::pair<std::string, ReduceFn>> cases = {
      {"sum all", [](const Tensor& x) { return ops::sum(x); }},
      {"sum 0", [](const Tensor& x) { return ops::sum(x, {0}); }},
      {"sum -1 keepdim", [](const Tensor& x) { return ops::sum(x, {-1}, true); }},
      {"sum 0,2", [](const Tensor& x) { return ops::sum(x, {0, 2}); }},
      {"mean all", [](const Tensor& x) { return ops::mean(x); }},
      {"mean 1", [](const Tensor& x) { return ops::mean(x, {1}); }},
      {"prod -1", [](const Tensor& x) { return ops::prod(ops::add(ops::abs(x), scalar_tensor(0.5, x.options())), {-1}); }},
      {"amax all", [](const Tensor& x) { return ops::amax(x); }},
      {"amax 1", [](const Tensor& x) { return ops::amax(x, {1}); }},
      {"amin 0,2", [](const Tensor& x) { return ops::amin(x, {0, 2}, true); }},
      {"amin -1", [](const Tensor& x) { return ops::amin(x, {-1}); }}};
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    const std::vector<Tensor> inputs = {
        ops::to(randn({4, 5, 6}, kFloat64), dt),
        non_contiguous(ops::to(randn({7, 3, 9}, kFloat64), dt)),
        ops::to(randn({3, 700, 1}, kFloat64), dt),   // warp rows and block rows
        ops::to(randn({2, 3000, 5}, kFloat64), dt),  // rows long enough to split into chunks
        ops::to(randn({1, 1, 1}, kFloat64), dt)};
    for (const auto& [name, fn] : cases) {
      for (const Tensor& x : inputs) {
        if (name.starts_with("prod") && x.numel() > 1000) continue;  // overflows to inf on both sides: meaningless
        EXPECT_TRUE(close(fn(gpu(x)), fn(x))) << name << " of " << x.describe();
      }
    }
  }
}

TEST(CudaReduce, LargeMultiBlockAndIntegerAndEdgeCases) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(12);
  Tensor big = rand({1 << 22});  // one row of 4M: the two-pass chunked path
  EXPECT_TRUE(close(ops::sum(gpu(big)), ops::sum(big)));
  EXPECT_TRUE(close(ops::mean(gpu(big)), ops::mean(big)));
  EXPECT_TRUE(close(ops::amax(gpu(big)), ops::amax(big)));
  Tensor cols = randn({1 << 12, 300});  // reduce the leading dim: permuted copy, many rows
  EXPECT_TRUE(close(ops::sum(gpu(cols), {0}), ops::sum(cols, {0})));
  for (DType dt : {kInt64, kInt32, kUInt8, kBool}) {
    Tensor xi = ops::to(randint(0, 7, {33, 65}, kInt64), dt);
    EXPECT_TRUE(close(ops::sum(gpu(xi), {1}), ops::sum(xi, {1}))) << dt;
    EXPECT_TRUE(close(ops::amax(gpu(xi), {0}), ops::amax(xi, {0}))) << dt;
    EXPECT_TRUE(close(ops::amin(gpu(xi)), ops::amin(xi))) << dt;
  }
  // The row engine's 128-bit loads (rows of whole vectors from a 16-byte aligned start, chunks
  // rounded to whole vectors) and its scalar loads (a view one element into its storage; a row
  // length that is no multiple of the vector) give the CPU's answers.
  for (DType dt : {kFloat32, kFloat64, kFloat16, kUInt8}) {
    constexpr int64_t kLen = 20016;  // a multiple of 16; 5 chunks per row, not whole vectors until rounded
    Tensor flat = ops::to(rand({3 * kLen + 1}, kFloat64), dt);
    if (dt == kUInt8) flat = ops::to(randint(0, 250, {3 * kLen + 1}, kInt64), dt);
    Tensor flat_g = gpu(flat);
    auto rows = [&](const Tensor& f, int64_t start, int64_t len) {
      return ops::reshape(ops::slice(f, 0, start, start + 3 * len, 1), {3, len});
    };
    for (auto [start, len] : {std::pair<int64_t, int64_t>{0, kLen}, {1, kLen}, {0, kLen - 1}}) {
      Tensor x = rows(flat, start, len), xg = rows(flat_g, start, len);
      const std::string what = x.describe() + " from element " + std::to_string(start);
      EXPECT_TRUE(close(ops::sum(xg, {1}), ops::sum(x, {1}))) << "sum " << what;
      EXPECT_TRUE(close(ops::amax(xg, {1}), ops::amax(x, {1}))) << "amax " << what;
      EXPECT_TRUE(close(ops::argmax(xg, 1), ops::argmax(x, 1))) << "argmax " << what;
      EXPECT_TRUE(close(ops::sum(xg), ops::sum(x))) << "sum all " << what;
    }
  }
  // Empty reduced extent: sum 0, mean NaN; empty kept extent: empty output.
  Tensor e = empty({3, 0}, TensorOptions(kFloat32, kGpu));
  EXPECT_TRUE(close(ops::sum(e, {1}), zeros({3})));
  EXPECT_TRUE(std::isnan(ops::mean(e, {1}).cpu().data_ptr<float>()[0]));
  EXPECT_EQ(ops::sum(e, {0}).numel(), 0);
  // A NaN anywhere wins in amax/amin.
  Tensor withnan = randn({5, 40});
  withnan.data_ptr<float>()[77] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(close(ops::amax(gpu(withnan), {1}), ops::amax(withnan, {1})));
  EXPECT_TRUE(close(ops::amin(gpu(withnan)), ops::amin(withnan)));
}

TEST(CudaSoftmax, ForwardAndBackwardMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(16);
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{7, 13}, {3, 2000}, {4, 5, 6}}) {
      Tensor x = ops::mul(ops::to(randn(shape, kFloat64), dt), scalar_tensor(3.0, dt));
      Tensor g = ops::to(randn(shape, kFloat64), dt);
      for (int64_t dim : {int64_t{-1}, int64_t{0}}) {
        Tensor y = ops::softmax(x, dim), ly = ops::log_softmax(x, dim);
        EXPECT_TRUE(close(ops::softmax(gpu(x), dim), y)) << "softmax " << x.describe() << " dim " << dim;
        EXPECT_TRUE(close(ops::log_softmax(gpu(non_contiguous(x)), dim), ly)) << "log_softmax " << x.describe();
        EXPECT_TRUE(close(ops::softmax_backward(gpu(g), gpu(y), dim), ops::softmax_backward(g, y, dim)))
            << "softmax_backward " << x.describe() << " dim " << dim;
        EXPECT_TRUE(close(ops::log_softmax_backward(gpu(g), gpu(ly), dim), ops::log_softmax_backward(g, ly, dim)))
            << "log_softmax_backward " << x.describe() << " dim " << dim;
      }
    }
  }
  // A row holding -inf only, or a NaN, gives NaN as on the CPU.
  Tensor special = full({2, 4}, Scalar(-std::numeric_limits<double>::infinity()));
  special.data_ptr<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(close(ops::softmax(gpu(special), 1), ops::softmax(special, 1)));
}

// ---- GEMM ----------------------------------------------------------------------------------

TEST(CudaLinalg, MmBmmLinearMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(13);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kBFloat16}) {
    auto make = [&](IntList shape) { return ops::to(randn(shape, kFloat64), dt); };
    Tensor a = make({37, 64}), b = make({64, 23});
    EXPECT_TRUE(close(ops::mm(gpu(a), gpu(b)), ops::mm(a, b))) << "mm " << dt;
    // Transposed (column-major) operands and a non-unit-stride view that must be copied.
    Tensor at = ops::transpose(make({64, 37}), 0, 1), bt = ops::transpose(make({23, 64}), 0, 1);
    EXPECT_TRUE(close(ops::mm(gpu(at), gpu(bt)), ops::mm(at, bt))) << "mm transposed " << dt;
    Tensor sliced = ops::slice(make({37, 128}), 1, 0, std::nullopt, 2);  // (37, 64), column stride 2
    EXPECT_TRUE(close(ops::mm(gpu(sliced), gpu(b)), ops::mm(sliced, b))) << "mm strided " << dt;
    Tensor ba = make({5, 17, 32}), bb = make({5, 32, 9});
    EXPECT_TRUE(close(ops::bmm(gpu(ba), gpu(bb)), ops::bmm(ba, bb))) << "bmm " << dt;
    Tensor bbt = ops::transpose(make({5, 9, 32}), 1, 2);
    EXPECT_TRUE(close(ops::bmm(gpu(ba), gpu(bbt)), ops::bmm(ba, bbt))) << "bmm transposed " << dt;
    Tensor x = make({6, 11, 48}), w = make({24, 48}), bias = make({24});
    EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w), gpu(bias)), ops::linear(x, w, bias))) << "linear bias " << dt;
    EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w)), ops::linear(x, w))) << "linear " << dt;
    for (Activation act : {Activation::relu, Activation::gelu_tanh}) {  // cuBLASLt's epilogues
      EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w), gpu(bias), act), ops::linear(x, w, bias, act)))
          << "linear bias " << activation_name(act) << " " << dt;
      EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w), Tensor(), act), ops::linear(x, w, Tensor(), act)))
          << "linear " << activation_name(act) << " " << dt;
    }
    // A bias view one element into its storage (2 or 4 bytes off cuBLASLt's 16-byte epilogue alignment).
    Tensor packed = gpu(make({25}));
    Tensor bias_view = ops::slice(packed, 0, 1, 25, 1);
    EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w), bias_view), ops::linear(x, w, ops::to(bias_view, kCPU))))
        << "linear misaligned bias " << dt;
    EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w), bias_view, Activation::relu),
                      ops::linear(x, w, ops::to(bias_view, kCPU), Activation::relu)))
        << "linear misaligned bias relu " << dt;
    Tensor ma = make({3, 1, 8, 16}), mb = make({4, 16, 5});  // batch-broadcast matmul goes through bmm
    EXPECT_TRUE(close(ops::matmul(gpu(ma), gpu(mb)), ops::matmul(ma, mb))) << "matmul " << dt;
  }
}

TEST(CudaLinalg, EdgeShapesIntegersAndTf32) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(14);
  Tensor a0 = randn({4, 0}), b0 = randn({0, 3}), bias = randn({3});
  EXPECT_TRUE(close(ops::mm(gpu(a0), gpu(b0)), zeros({4, 3})));
  EXPECT_TRUE(close(ops::linear(gpu(a0), gpu(ops::transpose(b0, 0, 1)), gpu(bias)), ops::linear(a0, ops::transpose(b0, 0, 1), bias)));
  Tensor v = randn({1, 64}), m = randn({64, 1});
  EXPECT_TRUE(close(ops::mm(gpu(v), gpu(m)), ops::mm(v, m)));
  EXPECT_TRUE(close(ops::mm(gpu(m), gpu(v)), ops::mm(m, v)));
  for (DType dt : {kInt64, kInt32}) {
    Tensor ia = randint(-5, 5, {9, 13}, dt), ib = randint(-5, 5, {13, 7}, dt);
    EXPECT_TRUE(close(ops::mm(gpu(ia), gpu(ib)), ops::mm(ia, ib))) << dt;
    Tensor iba = randint(-5, 5, {3, 4, 6}, dt), ibb = randint(-5, 5, {3, 6, 2}, dt);
    EXPECT_TRUE(close(ops::bmm(gpu(iba), gpu(ibb)), ops::bmm(iba, ibb))) << dt;
  }
#if defined(EMBER_WITH_CUDA)
  EXPECT_FALSE(cuda::allow_tf32()) << "TF32 must be off by default";
  Tensor a = randn({128, 256}), b = randn({256, 64});
  Tensor tf32;
  {
    ember::testing::SwitchGuard<bool> allow(cuda::set_allow_tf32, cuda::allow_tf32, true);
    tf32 = ops::mm(gpu(a), gpu(b));
  }
  EXPECT_TRUE(all_close(tf32, ops::mm(a, b), 1e-1, 1e-2));
#endif
}

TEST(CudaOptim, AdamStepMatchesCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(15);
  for (DType dt : {kFloat32, kFloat64}) {
    for (bool amsgrad : {false, true}) {
      for (bool decoupled : {false, true}) {
        AdamArgs args;
        args.lr = 1e-2;
        args.weight_decay = 0.1;
        args.decoupled_weight_decay = decoupled;
        args.amsgrad = amsgrad;
        args.step = 3;
        Tensor p = ops::to(randn({1001}, kFloat64), dt), g = ops::to(randn({1001}, kFloat64), dt);
        Tensor m = ops::to(randn({1001}, kFloat64), dt), v = ops::to(rand({1001}, kFloat64), dt);
        Tensor vmax = ops::to(rand({1001}, kFloat64), dt);
        Tensor pc = p.clone(), mc = m.clone(), vc = v.clone(), vmc = amsgrad ? vmax.clone() : Tensor();
        Tensor pg = gpu(p), mg = gpu(m), vg = gpu(v), vmg = amsgrad ? gpu(vmax) : Tensor();
        ops::adam_step_(pc, g, mc, vc, vmc, args);
        ops::adam_step_(pg, gpu(g), mg, vg, vmg, args);
        const double rtol = dt == kFloat64 ? 1e-12 : 1e-5;
        EXPECT_TRUE(all_close(pg, pc, 1e-6, rtol)) << dt << " amsgrad " << amsgrad << " decoupled " << decoupled;
        EXPECT_TRUE(all_close(mg, mc, 1e-6, rtol));
        EXPECT_TRUE(all_close(vg, vc, 1e-6, rtol));
        if (amsgrad) {
          EXPECT_TRUE(all_close(vmg, vmc, 1e-6, rtol));
        }
      }
    }
  }
}

// cuBLASLt plans are cached per problem: the same shapes again with new inputs and a new bias
// (only the bias pointer changes in a reused plan), then the same shapes at an odd alignment.
TEST(CudaLinalg, CachedPlansSeeNewInputsBiasAndAlignment) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(17);
  for (int round = 0; round < 3; ++round) {
    Tensor x = randn({33, 40}), w = randn({24, 40}), bias = randn({24});
    EXPECT_TRUE(close(ops::linear(gpu(x), gpu(w), gpu(bias), Activation::relu), ops::linear(x, w, bias, Activation::relu)))
        << "round " << round;
    EXPECT_TRUE(close(ops::mm(gpu(x), gpu(ops::t(w))), ops::mm(x, ops::t(w)))) << "round " << round;
  }
  // The same (33, 40) operand one float into a larger buffer: 4-byte alignment, a plan of its own.
  Tensor big = randn({33 * 40 + 1}), w = randn({24, 40}), bias = randn({24});
  Tensor x = ops::reshape(ops::slice(big, 0, 1, std::nullopt, 1), {33, 40});
  Tensor xg = ops::reshape(ops::slice(gpu(big), 0, 1, std::nullopt, 1), {33, 40});
  EXPECT_TRUE(close(ops::linear(xg, gpu(w), gpu(bias)), ops::linear(x, w, bias)));
}

// The multi-tensor step: 300 parameters (more than one launch's 256), sizes from 0 to
// several 16384-element chunks, against the CPU's list step.
TEST(CudaOptim, AdamListStepMatchesCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  auto adam_close = [](const Tensor& got, const Tensor& want) {
    if (!ember::testing::on_gpu(got)) return ::testing::AssertionFailure() << "not on the GPU: " << got.describe();
    if (want.dtype() == kFloat64) return all_close(got, want, 1e-12, 1e-12);
    if (want.dtype() == kFloat32) return all_close(got, want, 1e-6, 1e-5);
    return all_close(got, want, 1e-2, 2e-2);
  };
  manual_seed(16);
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (bool amsgrad : {false, true}) {
      AdamArgs args;
      args.lr = 1e-2;
      args.weight_decay = 0.1;
      args.amsgrad = amsgrad;
      args.step = 2;
      AdamTensorLists cpu, cuda;
      for (int i = 0; i < 300; ++i) {
        const int64_t n = i % 50 == 7 ? 40000 + i : (i * 37) % 1500;  // some span chunks; i = 0 is empty
        Tensor p = ops::to(randn({n}, kFloat64), dt), g = ops::to(randn({n}, kFloat64), dt);
        Tensor m = ops::to(randn({n}, kFloat64), dt), v = ops::to(rand({n}, kFloat64), dt);
        Tensor vmax = ops::to(rand({n}, kFloat64), dt);
        cpu.params.push_back(p.clone());
        cpu.grads.push_back(g);
        cpu.exp_avgs.push_back(m.clone());
        cpu.exp_avg_sqs.push_back(v.clone());
        cuda.params.push_back(gpu(p));
        cuda.grads.push_back(gpu(g));
        cuda.exp_avgs.push_back(gpu(m));
        cuda.exp_avg_sqs.push_back(gpu(v));
        if (amsgrad) {
          cpu.max_exp_avg_sqs.push_back(vmax.clone());
          cuda.max_exp_avg_sqs.push_back(gpu(vmax));
        }
      }
      ops::adam_step_(cpu, args);
      ops::adam_step_(cuda, args);
      for (size_t i = 0; i < cpu.params.size(); ++i) {
        EXPECT_TRUE(adam_close(cuda.params[i], cpu.params[i])) << dt << " param " << i;
        EXPECT_TRUE(adam_close(cuda.exp_avgs[i], cpu.exp_avgs[i])) << i;
        EXPECT_TRUE(adam_close(cuda.exp_avg_sqs[i], cpu.exp_avg_sqs[i])) << i;
        if (amsgrad) {
          EXPECT_TRUE(adam_close(cuda.max_exp_avg_sqs[i], cpu.max_exp_avg_sqs[i])) << i;
        }
      }
    }
  }
}

}  // namespace
