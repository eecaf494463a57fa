// CPU-vs-CUDA agreement of var, std, logsumexp and norm (kernels/cuda/reduce.cu),
// the arg-reductions max/min/argmax/argmin and cumsum (kernels/cuda/reduce_arg.cu).
// Every test skips cleanly without a GPU; tolerances in cuda_compare.hpp
// (float32 rtol 1e-4 for reductions, indices exactly).
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cuda_compare.hpp"

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "var std logsumexp norm max_dim min_dim argmax argmin cumsum ");

namespace {

using namespace ember;
using ember::testing::cuda_matches;
using ember::testing::gpu;
using ember::testing::contiguous_pair;
using ember::testing::CpuGpu;
using ember::testing::expanded_pair;
using ember::testing::strided_pair;
using ember::testing::random_of;

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

using ReduceFn = std::function<Tensor(const Tensor&)>;

// Inputs that exercise warp rows, block rows, chunked (two-pass) rows, permuted reductions, size-1 edges,
// a strided and a broadcast (expanded) view, each laid out the same way on both devices.
std::vector<CpuGpu> reduce_inputs(DType dt) {
  auto make = [&](IntList shape) { return ops::to(randn(shape, kFloat64), dt); };
  return {contiguous_pair(make({4, 5, 6})), strided_pair(make({7, 3, 9})), contiguous_pair(make({3, 700, 1})),
          contiguous_pair(make({2, 3000, 5})), contiguous_pair(make({1, 1, 1})), expanded_pair(make({1, 6, 1}), {3, 6, 4})};
}

TEST(CudaReduceStats, VarStdLogsumexpNormMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(21);
  const std::vector<std::pair<std::string, ReduceFn>> cases = {
      {"var all", [](const Tensor& x) { return ops::var(x); }},
      {"var 1 correction 0", [](const Tensor& x) { return ops::var(x, {1}, 0.0); }},
      {"var 0,2 keepdim", [](const Tensor& x) { return ops::var(x, {0, 2}, 1.0, true); }},
      {"std -1", [](const Tensor& x) { return ops::std(x, {-1}); }},
      {"std all correction 0", [](const Tensor& x) { return ops::std(x, {}, 0.0); }},
      {"logsumexp 1", [](const Tensor& x) { return ops::logsumexp(x, {1}); }},
      {"logsumexp 0,2", [](const Tensor& x) { return ops::logsumexp(x, {0, 2}, true); }},
      {"norm 2 all", [](const Tensor& x) { return ops::norm(x); }},
      {"norm 1 dim 0", [](const Tensor& x) { return ops::norm(x, 1.0, {0}); }},
      {"norm inf dim -1", [](const Tensor& x) { return ops::norm(x, kInf, {-1}); }},
      {"norm -inf dim 1", [](const Tensor& x) { return ops::norm(x, -kInf, {1}); }},
      {"norm 0 all", [](const Tensor& x) { return ops::norm(ops::relu(x), 0.0); }},
      {"norm 3 dim 1", [](const Tensor& x) { return ops::norm(x, 3.0, {1}); }},
      {"norm 0.5 dim 0,1", [](const Tensor& x) { return ops::norm(x, 0.5, {0, 1}); }}};
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    for (const auto& [x, xg] : reduce_inputs(dt)) {
      for (const auto& [name, fn] : cases)
        EXPECT_TRUE(cuda_matches(fn(xg), fn(x))) << name << " of " << x.describe();
    }
  }
}

TEST(CudaReduceStats, SpecialValuesAndEmptyExtents) {
  EMBER_SKIP_WITHOUT_GPU();
  // Rows of -inf only, a +inf, a NaN, and mixed: logsumexp and norms follow the CPU's cases.
  Tensor special = ember::testing::from_values(
      {-kInf, -kInf, -kInf, 1.0, kInf, 2.0, kNaN, 0.5, 3.0, -kInf, 4.0, 5.0}, {4, 3}, kFloat32);
  for (const Tensor& x : {special, ops::to(special, kFloat64)}) {
    EXPECT_TRUE(cuda_matches(ops::logsumexp(gpu(x), {1}), ops::logsumexp(x, {1}))) << "logsumexp " << x.dtype();
    EXPECT_TRUE(cuda_matches(ops::norm(gpu(x), kInf, {1}), ops::norm(x, kInf, {1}))) << "norm inf " << x.dtype();
    EXPECT_TRUE(cuda_matches(ops::norm(gpu(x), -kInf, {1}), ops::norm(x, -kInf, {1}))) << "norm -inf " << x.dtype();
    EXPECT_TRUE(cuda_matches(ops::var(gpu(x), {1}), ops::var(x, {1}))) << "var " << x.dtype();
    EXPECT_TRUE(cuda_matches(ops::std(gpu(x), {1}), ops::std(x, {1}))) << "std " << x.dtype();
    // Each element alone (every row of one element, correction 0): inf and NaN give NaN, as on the CPU.
    Tensor column = ops::reshape(x, {12, 1});
    EXPECT_TRUE(cuda_matches(ops::var(gpu(column), {1}, 0.0), ops::var(column, {1}, 0.0))) << "var of one " << x.dtype();
  }
  // Integers promote to float32 in logsumexp.
  Tensor xi = randint(-3, 4, {5, 6}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::logsumexp(gpu(xi), {1}), ops::logsumexp(xi, {1})));
  // An empty reduced extent: var/std NaN, logsumexp -inf, norm 0.
  Tensor e = empty({3, 0});
  EXPECT_TRUE(cuda_matches(ops::var(gpu(e), {1}), ops::var(e, {1})));
  EXPECT_TRUE(cuda_matches(ops::std(gpu(e), {1}), ops::std(e, {1})));
  EXPECT_TRUE(cuda_matches(ops::logsumexp(gpu(e), {1}), ops::logsumexp(e, {1})));
  EXPECT_TRUE(cuda_matches(ops::norm(gpu(e), 2.0, {1}), ops::norm(e, 2.0, {1})));
  EXPECT_EQ(ops::var(gpu(e), {0}).numel(), 0);
  // One row of 4M elements: the chunked two-pass path.
  manual_seed(22);
  Tensor big = randn({1 << 22});
  EXPECT_TRUE(cuda_matches(ops::var(gpu(big)), ops::var(big)));
  EXPECT_TRUE(cuda_matches(ops::logsumexp(gpu(big), {0}), ops::logsumexp(big, {0})));
  EXPECT_TRUE(cuda_matches(ops::norm(gpu(big)), ops::norm(big)));
}

TEST(CudaArgReduce, MaxMinArgmaxArgminMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(23);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kInt64, kInt32, kUInt8, kBool}) {
    // Few distinct values, so ties are common and the first index must win.
    auto make = [&](IntList shape) { return dt.is_floating() ? ops::to(randint(-3, 4, shape, kInt64), dt) : random_of(shape, dt, -3, 4); };
    const std::vector<CpuGpu> inputs = {contiguous_pair(make({6, 9})), strided_pair(make({5, 8})),
                                        contiguous_pair(make({3, 2000})), contiguous_pair(make({4, 7, 33})),
                                        contiguous_pair(make({1, 1})), contiguous_pair(make({2000, 3})),
                                        expanded_pair(make({1, 7}), {5, 7}),
                                        // Few long rows / columns: the row engine, chunked across blocks.
                                        contiguous_pair(make({2, 20000})), contiguous_pair(make({20000, 3}))};
    for (const auto& [x, xg] : inputs) {
      for (int64_t dim = -x.dim(); dim < x.dim(); ++dim) {
        const std::string what = x.describe() + " dim " + std::to_string(dim);
        auto [vmax, imax] = ops::max(x, dim);
        auto [gvmax, gimax] = ops::max(xg, dim);
        EXPECT_TRUE(cuda_matches(gvmax, vmax)) << "max values " << what;
        EXPECT_TRUE(cuda_matches(gimax, imax)) << "max indices " << what;
        auto [vmin, imin] = ops::min(x, dim, true);
        auto [gvmin, gimin] = ops::min(xg, dim, true);
        EXPECT_TRUE(cuda_matches(gvmin, vmin)) << "min values " << what;
        EXPECT_TRUE(cuda_matches(gimin, imin)) << "min indices " << what;
        EXPECT_TRUE(cuda_matches(ops::argmax(xg, dim), ops::argmax(x, dim))) << "argmax " << what;
        EXPECT_TRUE(cuda_matches(ops::argmin(xg, dim, true), ops::argmin(x, dim, true))) << "argmin " << what;
      }
      EXPECT_TRUE(cuda_matches(ops::argmax(xg), ops::argmax(x))) << "argmax all " << x.describe();
      EXPECT_TRUE(cuda_matches(ops::argmin(xg), ops::argmin(x))) << "argmin all " << x.describe();
    }
  }
  // NaN counts as the extreme; the first NaN wins. A 0-dim input reduces over nothing.
  Tensor withnan = ember::testing::from_values({1.0, kNaN, 3.0, kNaN, 2.0, 5.0, 5.0, -1.0}, {2, 4}, kFloat32);
  for (int64_t dim : {0, 1}) {
    EXPECT_TRUE(cuda_matches(ops::max(gpu(withnan), dim).second, ops::max(withnan, dim).second)) << "NaN dim " << dim;
    EXPECT_TRUE(cuda_matches(ops::min(gpu(withnan), dim).first, ops::min(withnan, dim).first)) << "NaN dim " << dim;
  }
  Tensor scalar = scalar_tensor(2.5);
  EXPECT_TRUE(cuda_matches(ops::max(gpu(scalar), 0).second, ops::max(scalar, 0).second));
  EXPECT_TRUE(cuda_matches(ops::argmin(gpu(scalar)), ops::argmin(scalar)));
}

TEST(CudaArgReduce, CumsumMatchesCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(24);
  for (DType dt : {kFloat32, kFloat64, kFloat16, kInt64, kInt32, kUInt8, kBool}) {
    // Short rows (warp scan), long rows (block scan with a carry), columns, non-contiguous, size 1.
    const std::vector<CpuGpu> inputs = {contiguous_pair(random_of({9, 40}, dt)), contiguous_pair(random_of({3, 5000}, dt)),
                                        contiguous_pair(random_of({6, 5, 7}, dt)), strided_pair(random_of({8, 11}, dt)),
                                        strided_pair(random_of({13}, dt)), contiguous_pair(random_of({1}, dt)),
                                        contiguous_pair(random_of({1, 1}, dt)), expanded_pair(random_of({1, 9}, dt), {4, 9}),
                                        // A few long rows / columns: scanned in chunks across blocks.
                                        contiguous_pair(random_of({2, 20000}, dt)), contiguous_pair(random_of({20000, 3}, dt))};
    for (const auto& [x, xg] : inputs) {
      for (int64_t dim = 0; dim < x.dim(); ++dim) {
        EXPECT_TRUE(cuda_matches(ops::cumsum(xg, dim), ops::cumsum(x, dim), ember::testing::kRtolElementwise))
            << "cumsum " << x.describe() << " dim " << dim;
      }
    }
  }
  Tensor scalar = scalar_tensor(int64_t{7});
  EXPECT_TRUE(cuda_matches(ops::cumsum(gpu(scalar), 0), ops::cumsum(scalar, 0)));
  Tensor e = empty({0, 4});
  EXPECT_EQ(ops::cumsum(gpu(e), 1).numel(), 0);
}

}  // namespace
