// Generators and random factories.
//
// A Generator is a Philox (seed, offset) pair: each random op reserves a range
// of blocks by advancing the offset (Note [philox streams] in tensor/philox.hpp).
// manual_seed() reseeds the process-wide default generator.
#pragma once

#include <cstdint>
#include <mutex>

#include <ember/tensor/tensor.hpp>

namespace ember {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eedull) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    std::lock_guard<std::mutex> lock(mutex_);
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) {
    std::lock_guard<std::mutex> lock(mutex_);
    offset_ = offset;
  }
  // Reserves `blocks` Philox blocks; returns (seed, first block).
  std::pair<uint64_t, uint64_t> reserve(uint64_t blocks) {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t first = offset_;
    offset_ += blocks;
    return {seed_, first};
  }

 private:
  std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Fill in place from the generator (default generator when null).
Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0, Generator* gen = nullptr);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0, Generator* gen = nullptr);
// Integers uniform in [low, high).
Tensor& random_(Tensor& t, int64_t low, int64_t high, Generator* gen = nullptr);

Tensor rand(IntList shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randn(IntList shape, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, IntList shape, TensorOptions opts = kInt64, Generator* gen = nullptr);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);
// A random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator* gen = nullptr);

namespace ops {
// Inverted dropout: returns (out, mask) with mask in {0, 1/(1-p)}; identity when !training or p == 0.
std::pair<Tensor, Tensor> dropout(const Tensor& x, double p, bool training = true, Generator* gen = nullptr);
}  // namespace ops

}  // namespace ember
