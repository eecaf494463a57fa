// CPU-vs-CUDA agreement of the indexing and shape ops (kernels/cuda/index.cu,
// index_shape.cu, sort.cu): index_select, index_add, gather, scatter_add,
// one_hot, cat, pad, flip, topk, sort, over every dtype they take, int32 and
// int64 indices, duplicates, non-contiguous operands, 0-dim and empty edges, and
// the out-of-range index errors. Every test skips cleanly without a GPU. Values
// that only move, indices and integer sums must match exactly; float sums from
// atomic adds (index_add, scatter_add) within rtol 1e-5, 16-bit ones within a
// rounding step of their partial sums (atomic_sum_matches).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "cuda_compare.hpp"

// The ops this file compares with the CPU (CudaOpList.EveryOpIsComparedWithTheCpu).
EMBER_OPS_TESTED(
    "index_select index_add gather scatter_add one_hot cat pad flip topk sort ");

namespace {

using namespace ember;
using ember::testing::cuda_matches;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::gpu;
using ember::testing::non_contiguous;
using ember::testing::random_of;

const std::vector<DType> kAllDtypes = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool};

// index_add/scatter_add add duplicates with atomics in an order the GPU chooses. 16-bit sums are
// rounded after every add (as on the CPU), so another order may differ by a rounding step of a
// partial sum, not of the final value: e.g. bfloat16 -0.4453125 + 2.828125 - 2.59375 is -0.203125
// in that order and -0.21875 adding -2.59375 first. The test sums stay below 16 in magnitude,
// where a bfloat16 step is at most 0.0625; allow two.
::testing::AssertionResult atomic_sum_matches(const Tensor& got, const Tensor& want) {
  if (want.dtype().is_reduced_float()) return ember::testing::all_close(got, want, 0.125, 2e-2);
  return cuda_matches(got, want, ember::testing::kRtolElementwise);
}

TEST(CudaIndex, IndexSelectAndIndexAddMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(61);
  for (DType dt : kAllDtypes) {
    Tensor x = random_of({5, 6, 7}, dt);
    for (int64_t dim : {0, 1, -1}) {
      const int64_t size = x.size(dim);
      for (DType idt : {kInt64, kInt32}) {
        Tensor index = ops::to(randint(0, size, {9}, kInt64), idt);  // duplicates likely
        const std::string what = x.describe() + " dim " + std::to_string(dim) + " index " + index.describe();
        EXPECT_TRUE(cuda_matches(ops::index_select(non_contiguous(gpu(x)), dim, gpu(index)), ops::index_select(x, dim, index)))
            << "index_select " << what;
        Dims src_shape = x.shape();
        src_shape[static_cast<size_t>(dim < 0 ? dim + 3 : dim)] = 9;
        Tensor src = random_of(src_shape, dt);
        EXPECT_TRUE(atomic_sum_matches(ops::index_add(gpu(x), dim, gpu(index), gpu(src)), ops::index_add(x, dim, index, src)))
            << "index_add " << what;
      }
    }
  }
  // 0-dim input and empty index.
  Tensor s = scalar_tensor(3.5);
  Tensor i0 = from_values({0}, {1}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::index_select(gpu(s), 0, gpu(i0)), ops::index_select(s, 0, i0)));
  Tensor x = randn({4, 3});
  Tensor none = empty({0}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::index_select(gpu(x), 0, gpu(none)), ops::index_select(x, 0, none)));
  EXPECT_TRUE(cuda_matches(ops::embedding(gpu(x), gpu(from_values({3, 0, 3}, {3}, kInt64))),
                           ops::embedding(x, from_values({3, 0, 3}, {3}, kInt64))));
}

TEST(CudaIndex, GatherAndScatterAddMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(62);
  for (DType dt : kAllDtypes) {
    Tensor x = random_of({6, 5, 4}, dt);
    for (int64_t dim : {0, 1, 2}) {
      // index smaller than x in the other dims, as gather allows; a transposed (non-contiguous) copy too.
      Dims ishape{4, 3, 2};
      ishape[static_cast<size_t>(dim)] = 7;
      Tensor index = randint(0, x.size(dim), ishape, kInt64);
      const std::string what = x.describe() + " dim " + std::to_string(dim);
      EXPECT_TRUE(cuda_matches(ops::gather(gpu(x), dim, gpu(index)), ops::gather(x, dim, index))) << "gather " << what;
      EXPECT_TRUE(cuda_matches(ops::gather(non_contiguous(gpu(x)), dim, non_contiguous(gpu(index))),
                               ops::gather(x, dim, index)))
          << "gather strided " << what;
      Tensor sindex = randint(0, x.size(dim), {3, 3, 3}, kInt64);
      Tensor src = random_of({4, 5, 3}, dt);
      EXPECT_TRUE(atomic_sum_matches(ops::scatter_add(gpu(x), dim, gpu(sindex), gpu(src)), ops::scatter_add(x, dim, sindex, src)))
          << "scatter_add " << what;
      EXPECT_TRUE(atomic_sum_matches(ops::scatter_add(gpu(x), dim, non_contiguous(gpu(sindex)), non_contiguous(gpu(src))),
                                     ops::scatter_add(x, dim, sindex, src)))
          << "scatter_add strided " << what;
    }
  }
  // Many duplicates: every source element lands on one of two places.
  Tensor many = randn({20000});
  Tensor idx = randint(0, 2, {20000}, kInt64);
  // ~10000 float additions per place in an order the atomics choose: the difference from the CPU's
  // sequential sum grows with the partial sums (|sum| ~ 100), not with the final value, which may
  // lie near zero; hence an absolute tolerance of 1e-3.
  EXPECT_TRUE(ember::testing::all_close(ops::scatter_add(gpu(zeros({2})), 0, gpu(idx), gpu(many)),
                                        ops::scatter_add(zeros({2}), 0, idx, many), 1e-3, 1e-4));
}

TEST(CudaIndex, OneHotCatPadFlipMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(63);
  Tensor classes = randint(0, 6, {4, 5}, kInt64);
  EXPECT_TRUE(cuda_matches(ops::one_hot(gpu(classes), 6), ops::one_hot(classes, 6)));
  EXPECT_TRUE(cuda_matches(ops::one_hot(gpu(classes)), ops::one_hot(classes)));  // num_classes inferred
  for (DType dt : kAllDtypes) {
    Tensor a = random_of({2, 3, 4}, dt), b = random_of({2, 5, 4}, dt), c = random_of({2, 1, 4}, dt);
    EXPECT_TRUE(cuda_matches(ops::cat({gpu(a), gpu(b), gpu(c)}, 1), ops::cat({a, b, c}, 1))) << "cat dim 1 " << dt;
    EXPECT_TRUE(cuda_matches(ops::cat({gpu(a), non_contiguous(gpu(a))}, 0), ops::cat({a, a}, 0))) << "cat dim 0 " << dt;
    EXPECT_TRUE(cuda_matches(ops::cat({gpu(a), gpu(a)}, -1), ops::cat({a, a}, -1))) << "cat dim -1 " << dt;
    EXPECT_TRUE(cuda_matches(ops::stack({gpu(a), gpu(a)}, 2), ops::stack({a, a}, 2))) << "stack " << dt;
    Tensor x = random_of({3, 4, 5}, dt);
    for (const std::vector<int64_t>& pads : std::vector<std::vector<int64_t>>{{1, 2}, {0, 0, 2, 1}, {-1, 2, 1, -2}, {1, 1, 1, 1, 1, 1}, {-3, -2}}) {
      EXPECT_TRUE(cuda_matches(ops::pad(non_contiguous(gpu(x)), pads, Scalar(1)), ops::pad(x, pads, Scalar(1))))
          << "pad " << x.describe() << " pads " << pads.size();
    }
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{0}, {2}, {0, 2}, {-1, 1, 0}, {}}) {
      EXPECT_TRUE(cuda_matches(ops::flip(non_contiguous(gpu(x)), dims), ops::flip(x, dims)))
          << "flip " << x.describe() << " dims " << dims.size();
    }
  }
  // Broadcast (expanded, stride-0) operands read through their strides.
  const auto [row, row_g] = ember::testing::expanded_pair(randn({1, 6}), {5, 6});
  const auto [gi, gi_g] = ember::testing::expanded_pair(randint(0, 6, {5, 1}, kInt64), {5, 3});
  EXPECT_TRUE(cuda_matches(ops::gather(row_g, 1, gi_g), ops::gather(row, 1, gi))) << "gather expanded";
  EXPECT_TRUE(cuda_matches(ops::scatter_add(gpu(zeros({5, 6})), 1, gi_g, row_g), ops::scatter_add(zeros({5, 6}), 1, gi, row)))
      << "scatter_add expanded";
  EXPECT_TRUE(cuda_matches(ops::flip(row_g, {0, 1}), ops::flip(row, {0, 1}))) << "flip expanded";
  EXPECT_TRUE(cuda_matches(ops::pad(row_g, {1, 1}), ops::pad(row, {1, 1}))) << "pad expanded";
  EXPECT_TRUE(cuda_matches(ops::cat({row_g, row_g}, 0), ops::cat({row, row}, 0))) << "cat expanded";
  EXPECT_TRUE(cuda_matches(ops::sort(row_g, 1).second, ops::sort(row, 1).second)) << "sort expanded";
  // Mixed dtypes promote; 1-D empties are skipped; a 0-dim flip is a copy.
  Tensor i = randint(0, 5, {3}, kInt64), f = randn({2});
  EXPECT_TRUE(cuda_matches(ops::cat({gpu(i), gpu(f), gpu(empty({0}))}, 0), ops::cat({i, f, empty({0})}, 0)));
  Tensor s = scalar_tensor(2.0);
  EXPECT_TRUE(cuda_matches(ops::flip(gpu(s), {}), ops::flip(s, {})));
}

TEST(CudaIndex, TopkAndSortMatchCpu) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(64);
  for (DType dt : kAllDtypes) {
    // Few distinct values: ties are everywhere and must break by index, in both directions.
    auto make = [&](IntList shape) {
      return dt.is_floating() ? ops::to(randint(-4, 5, shape, kInt64), dt) : random_of(shape, dt, -4, 5);
    };
    const std::vector<Tensor> inputs = {make({6, 9}), make({4, 7, 5}), make({5, 8}), make({3000}), make({1})};
    for (const Tensor& x : inputs) {
      for (int64_t dim = 0; dim < x.dim(); ++dim) {
        const std::string what = x.describe() + " dim " + std::to_string(dim);
        for (bool descending : {false, true}) {
          auto [v, idx] = ops::sort(x, dim, descending, true);
          auto [vg, idxg] = ops::sort(gpu(x), dim, descending, true);
          EXPECT_TRUE(cuda_matches(vg, v)) << "sort values " << what << (descending ? " descending" : "");
          EXPECT_TRUE(cuda_matches(idxg, idx)) << "sort indices " << what << (descending ? " descending" : "");
        }
        if (dt == kBool) continue;  // topk rejects bool
        for (int64_t k : {int64_t{0}, int64_t{1}, std::min<int64_t>(3, x.size(dim)), x.size(dim)}) {
          for (bool largest : {true, false}) {
            auto [v, idx] = ops::topk(x, k, dim, largest);
            auto [vg, idxg] = ops::topk(gpu(x), k, dim, largest);
            EXPECT_TRUE(cuda_matches(vg, v)) << "topk values k " << k << " " << what << (largest ? "" : " smallest");
            EXPECT_TRUE(cuda_matches(idxg, idx)) << "topk indices k " << k << " " << what << (largest ? "" : " smallest");
          }
        }
      }
    }
  }
  // NaN sorts above every number; -0.0 and +0.0 tie; infinities in place.
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (DType dt : {kFloat32, kFloat64, kFloat16}) {
    Tensor x = from_values({3.0, nan, -0.0, 0.0, -inf, nan, inf, 1.0, -0.0, 2.0}, {10}, dt);
    for (bool descending : {false, true}) {
      auto [v, idx] = ops::sort(x, 0, descending);
      auto [vg, idxg] = ops::sort(gpu(x), 0, descending);
      EXPECT_TRUE(cuda_matches(vg, v)) << "sort special " << dt << (descending ? " descending" : "");
      EXPECT_TRUE(cuda_matches(idxg, idx)) << "sort special indices " << dt << (descending ? " descending" : "");
    }
    auto [v, idx] = ops::topk(x, 4, 0, true);
    auto [vg, idxg] = ops::topk(gpu(x), 4, 0, true);
    EXPECT_TRUE(cuda_matches(idxg, idx)) << "topk special " << dt;
    // Several short slices (CUB's segmented sort, which merge-sorts short segments): the same order.
    Tensor x2 = from_values({1.0, nan, 3.0, -0.0, 0.0, 0.0, nan, -inf, 2.0, 5.0, -1.0, nan}, {4, 3}, dt);
    for (int64_t dim : {0, 1}) {
      for (bool descending : {false, true}) {
        auto [v2, idx2] = ops::sort(x2, dim, descending);
        auto [vg2, idxg2] = ops::sort(gpu(x2), dim, descending);
        const std::string what = dt.name() + std::string(" dim ") + std::to_string(dim) + (descending ? " descending" : "");
        EXPECT_TRUE(cuda_matches(vg2, v2)) << "sort special slices " << what;
        EXPECT_TRUE(cuda_matches(idxg2, idx2)) << "sort special slice indices " << what;
      }
      for (bool largest : {true, false}) {
        auto [v2, idx2] = ops::topk(x2, 2, dim, largest);
        auto [vg2, idxg2] = ops::topk(gpu(x2), 2, dim, largest);
        EXPECT_TRUE(cuda_matches(idxg2, idx2)) << "topk special slices " << dt << " dim " << dim << (largest ? "" : " smallest");
      }
    }
  }
  Tensor s = scalar_tensor(1.5);
  EXPECT_TRUE(cuda_matches(ops::sort(gpu(s), 0).second, ops::sort(s, 0).second));
}

TEST(CudaIndex, OutOfRangeIndicesAreErrors) {
  EMBER_SKIP_WITHOUT_GPU();
  Tensor x = gpu(randn({5, 3}));
  Tensor bad = gpu(from_values({1, 7, 2, 9}, {4}, kInt64));
  expect_error([&] { ops::index_select(x, 0, bad); }, {"index_select: index 7 is out of range for dim 0 of size 5"});
  expect_error([&] { ops::index_select(x, 0, ops::to(bad, kInt32)); }, {"index_select: index 7"});
  expect_error([&] { ops::index_add(x, 0, bad, gpu(randn({4, 3}))); }, {"index_add: index 7 is out of range"});
  expect_error([&] { ops::embedding(x, gpu(from_values({4, 5}, {2}, kInt64))); },
               {"embedding: ", "index 5 is out of range", "weight ", "indices "});
  Tensor gidx = gpu(from_values({0, 1, 2, 4, 0, 3}, {2, 3}, kInt64));
  expect_error([&] { ops::gather(x, 1, gidx); }, {"gather: index 4 is out of range for dim 1 of size 3"});
  expect_error([&] { ops::scatter_add(x, 1, gidx, gpu(randn({2, 3}))); }, {"scatter_add: index 4 is out of range"});
  Tensor neg = gpu(from_values({2, -1}, {2}, kInt64));
  expect_error([&] { ops::one_hot(neg, 4); }, {"one_hot: class values must be non-negative, got -1"});
  Tensor big = gpu(from_values({2, 4}, {2}, kInt64));
  expect_error([&] { ops::one_hot(big, 4); }, {"one_hot: class value 4 must be smaller than num_classes (4)"});
  // No element moves (a zero-size dim besides the indexed one): bad indices are still errors.
  expect_error([&] { ops::index_select(gpu(zeros({0, 3})), 1, gpu(from_values({5}, {1}, kInt64))); },
               {"index_select: index 5 is out of range for dim 1 of size 3"});
  expect_error([&] { ops::index_add(gpu(zeros({3, 0})), 0, gpu(from_values({1, 3}, {2}, kInt64)), gpu(zeros({2, 0}))); },
               {"index_add: index 3 is out of range for dim 0 of size 3"});
  // The GPU still works after a reported bad index.
  EXPECT_TRUE(cuda_matches(ops::index_select(x, 0, gpu(from_values({4, 0}, {2}, kInt64))),
                           ops::index_select(ops::to(x, kCPU), 0, from_values({4, 0}, {2}, kInt64))));
}

}  // namespace
