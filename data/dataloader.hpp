// DataLoader: batches of a Dataset, loaded ahead of the consumer as tasks on
// ember's executor (the one scheduler of the process: no loader threads or
// processes of its own, so loading, kernels and the training DAG never
// oversubscribe the cores), with per-batch seeded augmentation, pinned memory
// and a move to the training device.
//
// Note [loader determinism]: batch k of epoch e holds the sampler's indices
// [k*B, (k+1)*B) of epoch e, and its transforms draw from generators seeded by
// (seed, e, k) alone. So the batches are the same whatever num_workers is, in
// whatever order tasks run, and an epoch can be resumed at any batch
// (iterate(e, k)).
//
// Where things run: get_batch(), `transform` and pinning run in the loading
// task (a background worker, or the consumer while it waits); the move to
// `device` and `device_transform` run on the consumer's thread when it takes
// the batch, so GPU work is queued on the consumer's current stream.
//
// Use:
//   DataLoaderOptions o; o.batch_size = 128; o.shuffle = true; o.num_workers = 2;
//   o.device = kCUDA; o.device_transform = [](Batch b, Generator& g) { ... };
//   DataLoader loader(dataset, o);
//   for (int epoch = 0; epoch < 10; ++epoch)
//     for (Batch& b : loader) train_step(b.input, b.target);   // each loop is the next epoch
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>

#include <ember/data/dataset.hpp>
#include <ember/data/sampler.hpp>
#include <ember/runtime/device.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/tensor/random.hpp>

namespace ember::data {

// A batch transform: receives the batch and a generator seeded for this batch
// (Note [loader determinism]); returns the transformed batch.
using BatchTransform = std::function<Batch(Batch, Generator&)>;

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;    // a RandomSampler seeded with `seed` (ignored when `sampler` is set)
  bool drop_last = false;  // drop a last batch smaller than batch_size
  std::shared_ptr<const Sampler> sampler;  // the visiting order; its size() must not exceed the dataset's
  // 0: each batch is loaded by the consumer when it asks for it. n > 0: up to
  // n * prefetch_factor batches are queued ahead as executor tasks, at most as
  // many running at once as the executor has threads.
  int num_workers = 0;
  int prefetch_factor = 2;
  uint64_t seed = 0;          // shuffling and the transforms' generators
  BatchTransform transform;   // in the loading task, on the batch as the dataset returns it
  bool pin_memory = false;    // the loading task copies the batch into pinned host memory (needs a GPU)
  std::optional<Device> device;    // where batches are delivered (non-blocking copy from pinned memory)
  BatchTransform device_transform;  // after the move, on the consumer's thread: GPU augmentation
  runtime::Executor* executor = nullptr;  // null: runtime::default_executor()
};

class DataLoader {
 public:
  class Iterator;
  struct Sentinel {};

  explicit DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options = {});

  // Batches per epoch.
  int64_t size() const noexcept { return num_batches_; }
  // The epoch the next begin() loads; begin() then advances it.
  int64_t epoch() const noexcept { return epoch_; }
  void set_epoch(int64_t epoch) noexcept { epoch_ = epoch; }
  const Dataset& dataset() const noexcept { return *dataset_; }
  const DataLoaderOptions& options() const noexcept { return options_; }

  Iterator begin();
  Sentinel end() const noexcept { return {}; }
  // Epoch `epoch` from batch `first_batch` on (exact resume); leaves epoch() alone.
  Iterator iterate(int64_t epoch, int64_t first_batch = 0) const;

 private:
  std::shared_ptr<const Dataset> dataset_;
  DataLoaderOptions options_;
  std::shared_ptr<const Sampler> sampler_;
  int64_t num_batches_ = 0;
  int64_t epoch_ = 0;
};

namespace detail {
struct EpochPlan;
}  // namespace detail

// Input iterator over one epoch's batches. Move-only. Destroying it early
// cancels the batches not yet started and waits for those running.
class DataLoader::Iterator {
 public:
  Iterator(Iterator&&) noexcept;
  Iterator& operator=(Iterator&&) noexcept;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  ~Iterator();

  Batch& operator*() { return current_; }
  Batch* operator->() { return &current_; }
  // Takes the next batch; rethrows the exception its loading raised.
  Iterator& operator++();
  // Position of the current batch within its epoch.
  int64_t index() const noexcept { return index_; }
  friend bool operator==(const Iterator& it, Sentinel) noexcept { return it.index_ >= it.end_; }

 private:
  friend class DataLoader;
  Iterator(std::shared_ptr<const detail::EpochPlan> plan, int64_t first_batch);
  void take(int64_t k);
  void drain() noexcept;

  std::shared_ptr<const detail::EpochPlan> plan_;
  std::deque<runtime::Future<Batch>> in_flight_;  // batches next_submit_ - size .. next_submit_ - 1
  int64_t next_submit_ = 0;
  int64_t index_ = 0, end_ = 0;
  Batch current_;
};

}  // namespace ember::data
