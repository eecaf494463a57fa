// Tests of the float32 layer-norm and batch-norm fast paths (kernels/cpu/norm_kernel.hpp
// and norm_vec.cpp through norm.cpp) on every CPU ISA path this machine has,
// against the reference kernels (the scalar path).
//
// Tolerances: outputs and saved statistics atol 1e-5 rtol 1e-5 (float
// arithmetic on values of order 1 with statistics accumulated in double);
// weight/bias gradients rtol 1e-5 with atol 1e-5 times the number of summed
// elements / 1000 (sums of float products in another order). Data with a mean
// far from zero (1000 + x) checks that the statistics do not cancel. Strided
// (made contiguous by the meta function) and float64 inputs must agree too.
#include <cmath>
#include <string>

#include "fast_path_util.hpp"

namespace ember {
namespace {

using testing::all_close;
using testing::for_each_cpu_isa;
using testing::on_scalar;
using testing::randf;

using Triple = std::tuple<Tensor, Tensor, Tensor>;

void expect_triples_close(const Triple& got, const Triple& ref, double atol2, const std::string& what) {
  EXPECT_TRUE(all_close(std::get<0>(got), std::get<0>(ref), 1e-5, 1e-5)) << what << " (0)";
  if (std::get<1>(ref).defined()) {
    EXPECT_TRUE(all_close(std::get<1>(got), std::get<1>(ref), atol2, 1e-5)) << what << " (1)";
  }
  if (std::get<2>(ref).defined()) {
    EXPECT_TRUE(all_close(std::get<2>(got), std::get<2>(ref), atol2, 1e-5)) << what << " (2)";
  }
}

void check_layer_norm(const Tensor& x, bool affine, const std::string& what) {
  const int64_t D = x.size(-1), R = x.numel() / std::max<int64_t>(D, 1);
  const Tensor w = affine ? randf({D}, 0.5, 1.0) : Tensor(), b = affine ? randf({D}) : Tensor();
  const Tensor g = randf(x.shape().vec());
  const Triple fwd = on_scalar([&] { return ops::layer_norm(x, {D}, w, b); });
  const Triple bwd =
      on_scalar([&] { return ops::layer_norm_backward(g, x, {D}, w, std::get<1>(fwd), std::get<2>(fwd)); });
  for_each_cpu_isa([&] {
    const Triple f = ops::layer_norm(x, {D}, w, b);
    expect_triples_close(f, fwd, 1e-5, "layer_norm " + what);
    const Triple d = ops::layer_norm_backward(g, x, {D}, w, std::get<1>(fwd), std::get<2>(fwd));
    expect_triples_close(d, bwd, 1e-5 * std::max<double>(1.0, static_cast<double>(R) / 1000), "layer_norm_backward " + what);
  });
}

TEST(SimdLayerNorm, EveryRowLengthWithAndWithoutAffine) {
  manual_seed(501);
  for (int64_t D : testing::kTailSizes) {
    for (bool affine : {true, false}) check_layer_norm(randf({6, D}, 2.0), affine, "D=" + std::to_string(D));
  }
}

TEST(SimdLayerNorm, ManyRowsLongRowsAndLargeMean) {
  manual_seed(502);
  check_layer_norm(randf({3000, 17}), true, "3000 x 17");        // many row chunks for grad_weight
  check_layer_norm(randf({3, 5000}, 1.0, 3.0), true, "3 x 5000");  // several moment blocks per row
  check_layer_norm(randf({40, 300}, 1.0, 1000.0), true, "mean 1000");
  check_layer_norm(randf({2, 3, 64}), true, "3-D");
}

TEST(SimdLayerNorm, OnlyBiasOnlyWeightAndOtherDtypes) {
  manual_seed(503);
  const Tensor x = randf({5, 40}), w = randf({40}), b = randf({40});
  const Tensor wd = ops::to(w, kFloat64);
  for (const auto& params : std::vector<std::pair<Tensor, Tensor>>{{w, Tensor()}, {Tensor(), b}, {wd, Tensor()}}) {
    const Tensor wt = params.first, bt = params.second;
    const Triple ref = on_scalar([&] { return ops::layer_norm(x, {40}, wt, bt); });
    for_each_cpu_isa([&] { expect_triples_close(ops::layer_norm(x, {40}, wt, bt), ref, 1e-5, "partial affine"); });
  }
  // A strided input (the meta function makes it contiguous).
  const Tensor xt = randf({40, 5}).t();
  const Triple ref = on_scalar([&] { return ops::layer_norm(xt, {40}, w, b); });
  for_each_cpu_isa([&] { expect_triples_close(ops::layer_norm(xt, {40}, w, b), ref, 1e-5, "strided"); });
}

// ---- batch norm ---------------------------------------------------------------------------

void check_batch_norm(const Tensor& x, bool training, bool affine, const std::string& what) {
  const int64_t C = x.size(1);
  const Tensor w = affine ? randf({C}, 0.5, 1.0) : Tensor(), b = affine ? randf({C}) : Tensor();
  const Tensor rm0 = randf({C}, 0.1), rv0 = ops::add(rand({C}), full({}, 0.5));
  const Tensor g = randf(x.shape().vec());
  NormArgs args;
  args.training = training;
  Tensor rm_ref = rm0.clone(), rv_ref = rv0.clone();
  const Triple fwd = on_scalar([&] { return ops::batch_norm(x, w, b, rm_ref, rv_ref, args); });
  const Triple bwd = on_scalar(
      [&] { return ops::batch_norm_backward(g, x, w, std::get<1>(fwd), std::get<2>(fwd), args); });
  const double count = static_cast<double>(x.numel() / C);
  for_each_cpu_isa([&] {
    Tensor rm = rm0.clone(), rv = rv0.clone();
    const Triple f = ops::batch_norm(x, w, b, rm, rv, args);
    expect_triples_close(f, fwd, 1e-5, "batch_norm " + what);
    EXPECT_TRUE(all_close(rm, rm_ref, 1e-6, 1e-5)) << what;
    EXPECT_TRUE(all_close(rv, rv_ref, 1e-6, 1e-5)) << what;
    const Triple d = ops::batch_norm_backward(g, x, w, std::get<1>(fwd), std::get<2>(fwd), args);
    expect_triples_close(d, bwd, 1e-5 * std::max(1.0, count / 1000), "batch_norm_backward " + what);
  });
}

TEST(SimdBatchNorm, TrainingAndEvalOverSpatialSizes) {
  manual_seed(504);
  for (int64_t S : {2, 3, 7, 8, 9, 16, 49, 63, 65, 1024}) {
    for (bool training : {true, false}) {
      check_batch_norm(randf({4, 3, S}, 2.0, 0.5), training, true, "S=" + std::to_string(S));
    }
  }
  check_batch_norm(randf({8, 5, 7, 9}), true, false, "4-D, no affine");
  check_batch_norm(randf({2, 4, 5, 5}, 1.0, 1000.0), true, true, "mean 1000");
}

TEST(SimdBatchNorm, ChannelsLargerThanOnePiece) {
  manual_seed(505);
  // 3 x 70000 = 210000 elements per channel > one 131072-element piece: statistics per piece, merged.
  check_batch_norm(randf({3, 2, 70000}, 1.0, 2.0), true, true, "pieces of 1 strip");
  check_batch_norm(randf({9, 2, 40000}), true, true, "pieces of 3 strips");
  check_batch_norm(randf({9, 2, 40000}), false, true, "pieces, eval");
}

TEST(SimdBatchNorm, OneValuePerStripTakesTheReferencePath) {
  manual_seed(506);
  // (N, C): S = 1 stays on the reference kernel: bit-exact.
  const Tensor x = randf({64, 5});
  NormArgs args;
  Tensor rm = zeros({5}), rv = ones({5});
  const Triple ref = on_scalar([&] { return ops::batch_norm(x, {}, {}, rm, rv, args); });
  for_each_cpu_isa([&] {
    Tensor rm2 = zeros({5}), rv2 = ones({5});
    const Triple got = ops::batch_norm(x, {}, {}, rm2, rv2, args);
    EXPECT_TRUE(all_close(std::get<0>(got), std::get<0>(ref), 0, 0));
  });
}

}  // namespace
}  // namespace ember
