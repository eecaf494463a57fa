// Samplers (sampler.hpp): permutations come from ember's Philox randperm.
#include <ember/data/sampler.hpp>

#include <numeric>

#include <ember/runtime/error.hpp>
#include <ember/tensor/random.hpp>

namespace ember::data {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch) {
  Generator gen(derive_seed(seed, static_cast<uint64_t>(epoch)));
  Tensor perm = randperm(n, &gen);
  const int64_t* p = perm.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + n);
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

}  // namespace

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) {
  return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b);
}

SequentialSampler::SequentialSampler(int64_t n) : n_(n) {
  EMBER_CHECK(n >= 0, "SequentialSampler: negative size ", n);
}

std::vector<int64_t> SequentialSampler::indices(int64_t) const { return iota(n_); }

RandomSampler::RandomSampler(int64_t n, uint64_t seed) : n_(n), seed_(seed) {
  EMBER_CHECK(n >= 0, "RandomSampler: negative size ", n);
}

std::vector<int64_t> RandomSampler::indices(int64_t epoch) const { return permutation(n_, seed_, epoch); }

DistributedSampler::DistributedSampler(int64_t n, int rank, int world_size, bool shuffle, uint64_t seed,
                                       bool drop_last)
    : n_(n), rank_(rank), world_size_(world_size), shuffle_(shuffle), seed_(seed) {
  EMBER_CHECK(n >= 0, "DistributedSampler: negative size ", n);
  EMBER_CHECK(world_size >= 1, "DistributedSampler: world_size must be >= 1, got ", world_size);
  EMBER_CHECK(rank >= 0 && rank < world_size, "DistributedSampler: rank ", rank, " is outside [0, ", world_size, ")");
  per_rank_ = drop_last ? n / world_size : (n + world_size - 1) / world_size;
  EMBER_CHECK(per_rank_ > 0 || n == 0, "DistributedSampler: ", n, " examples cannot give each of ", world_size,
              " ranks one with drop_last");
}

std::vector<int64_t> DistributedSampler::indices(int64_t epoch) const {
  std::vector<int64_t> order = shuffle_ ? permutation(n_, seed_, epoch) : iota(n_);
  const size_t total = static_cast<size_t>(per_rank_) * static_cast<size_t>(world_size_);
  // Pad by repeating the order's start (more than once when n < world_size), or cut the tail.
  for (size_t i = 0; order.size() < total; ++i) order.push_back(order[i]);
  order.resize(total);
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(per_rank_));
  for (size_t i = static_cast<size_t>(rank_); i < total; i += static_cast<size_t>(world_size_)) mine.push_back(order[i]);
  return mine;
}

}  // namespace ember::data
