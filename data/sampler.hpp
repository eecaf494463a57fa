// Samplers: the order in which a DataLoader visits a dataset, epoch by epoch.
//
// Invariant: indices(epoch) is a pure function of the sampler's settings and
// the epoch, so an epoch's order can be recomputed (exact resume) and does not
// depend on how many loading tasks run or which thread runs them.
//
// Use: RandomSampler s(60000, /*seed=*/0);  auto order = s.indices(epoch);
//      DistributedSampler d(60000, rank, world_size, /*shuffle=*/true, seed);
#pragma once

#include <cstdint>
#include <vector>

namespace ember::data {

class Sampler {
 public:
  virtual ~Sampler() = default;
  // The dataset indices of one epoch, in visiting order.
  virtual std::vector<int64_t> indices(int64_t epoch) const = 0;
  // How many indices one epoch yields.
  virtual int64_t size() const = 0;
};

// 0, 1, ..., n-1 every epoch.
class SequentialSampler : public Sampler {
 public:
  explicit SequentialSampler(int64_t n);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
};

// A new random permutation of 0..n-1 each epoch, from Philox seeded by
// (seed, epoch): the same seed gives the same orders on every machine.
class RandomSampler : public Sampler {
 public:
  RandomSampler(int64_t n, uint64_t seed);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return n_; }

 private:
  int64_t n_;
  uint64_t seed_;
};

// Rank `rank`'s share of 0..n-1 for data-parallel training over
// `world_size` processes (as torch's DistributedSampler): every rank computes
// the same (optionally shuffled) order, pads it by repeating its start to a
// multiple of world_size (or, with drop_last, cuts the tail), and takes every
// world_size-th index from position `rank`. All ranks get equally many.
class DistributedSampler : public Sampler {
 public:
  DistributedSampler(int64_t n, int rank, int world_size, bool shuffle = true, uint64_t seed = 0,
                     bool drop_last = false);
  std::vector<int64_t> indices(int64_t epoch) const override;
  int64_t size() const override { return per_rank_; }

 private:
  int64_t n_;
  int rank_, world_size_;
  bool shuffle_;
  uint64_t seed_;
  int64_t per_rank_;
};

// A 64-bit seed for (seed, a, b) with well-mixed bits (splitmix64 rounds):
// the per-epoch shuffle and the per-batch augmentation generators use it.
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace ember::data
