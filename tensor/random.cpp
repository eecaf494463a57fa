// The default generator and the random factories (Note [philox streams]).
#include <ember/tensor/random.hpp>

#include <algorithm>
#include <numeric>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/tensor/philox.hpp>

namespace ember {
namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Runs a random kernel into t, through a contiguous temporary when t is strided.
template <class Launch>
Tensor& fill_random(Tensor& t, Launch launch) {
  if (t.numel() == 0) return t;
  if (t.is_contiguous()) {
    launch(t);
    t.bump_version();
  } else {
    Tensor tmp = empty(t.shape(), t.options());
    launch(tmp);
    ops::copy_(t, tmp);  // bumps t's version: one in-place op, one bump
  }
  return t;
}

}  // namespace

Generator& default_generator() {
  static Generator gen;
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

Tensor& uniform_(Tensor& t, double low, double high, Generator* gen) {
  EMBER_CHECK(t.dtype().is_floating(), "uniform_: expected a floating tensor, got ", t.describe());
  EMBER_CHECK(low <= high, "uniform_: low (", low, ") must not exceed high (", high, ")");
  return fill_random(t, [&](const Tensor& out) {
    int per_block = out.dtype() == kFloat64 ? 2 : 4;
    auto [seed, offset] = pick(gen).reserve(static_cast<uint64_t>((out.numel() + per_block - 1) / per_block));
    EMBER_KERNEL(uniform, out.device())(out, RandomArgs{low, high, seed, offset});
  });
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  EMBER_CHECK(t.dtype().is_floating(), "normal_: expected a floating tensor, got ", t.describe());
  EMBER_CHECK(std >= 0.0, "normal_: std must be non-negative, got ", std);
  return fill_random(t, [&](const Tensor& out) {
    auto [seed, offset] = pick(gen).reserve(static_cast<uint64_t>((out.numel() + 3) / 4));
    EMBER_KERNEL(normal, out.device())(out, RandomArgs{mean, std, seed, offset});
  });
}

Tensor& random_(Tensor& t, int64_t low, int64_t high, Generator* gen) {
  EMBER_CHECK(low < high, "random_: expected low < high, got low ", low, " and high ", high);
  EMBER_CHECK(!t.dtype().is_bool(), "random_: not supported for bool tensors");
  return fill_random(t, [&](const Tensor& out) {
    auto [seed, offset] = pick(gen).reserve(static_cast<uint64_t>((out.numel() + 1) / 2));
    EMBER_KERNEL(randint, out.device())(out, RandomArgs{static_cast<double>(low), static_cast<double>(high), seed, offset});
  });
}

Tensor rand(IntList shape, TensorOptions opts, Generator* gen) {
  Tensor t = empty(shape, opts);
  return uniform_(t, 0.0, 1.0, gen);
}
Tensor randn(IntList shape, TensorOptions opts, Generator* gen) {
  Tensor t = empty(shape, opts);
  return normal_(t, 0.0, 1.0, gen);
}
Tensor randint(int64_t low, int64_t high, IntList shape, TensorOptions opts, Generator* gen) {
  Tensor t = empty(shape, opts);
  return random_(t, low, high, gen);
}
Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.shape(), t.options(), gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.shape(), t.options(), gen); }

Tensor randperm(int64_t n, Generator* gen) {
  EMBER_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  // Sort indices by 64-bit Philox keys (ties broken by index): a uniform permutation.
  auto [seed, offset] = pick(gen).reserve(static_cast<uint64_t>((n + 1) / 2));
  std::vector<std::pair<uint64_t, int64_t>> keyed(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    philox::Block b = philox::generate(seed, offset + static_cast<uint64_t>(i / 2));
    int lane = static_cast<int>(i % 2);
    keyed[static_cast<size_t>(i)] = {static_cast<uint64_t>(b.v[2 * lane + 1]) << 32 | b.v[2 * lane], i};
  }
  std::sort(keyed.begin(), keyed.end());
  Tensor out = empty({n}, kInt64);
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) o[i] = keyed[static_cast<size_t>(i)].second;
  return out;
}

namespace ops {
std::pair<Tensor, Tensor> dropout(const Tensor& x, double p, bool training, Generator* gen) {
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, got ", p);
  EMBER_CHECK(x.dtype().is_floating(), "dropout: expected a floating tensor, got ", x.describe());
  if (!training || p == 0.0) return {x, ones_like(x)};
  if (p == 1.0) return {zeros_like(x), zeros_like(x)};
  Tensor in = contiguous(x);
  Tensor out = empty(x.shape(), x.options());
  Tensor mask = empty(x.shape(), x.options());
  if (x.numel() > 0) {
    auto [seed, offset] = pick(gen).reserve(static_cast<uint64_t>((x.numel() + 3) / 4));
    EMBER_KERNEL(dropout, x.device())(out, mask, in, RandomArgs{p, 0.0, seed, offset});
  }
  return {out, mask};
}
}  // namespace ops

}  // namespace ember
