// DataLoader (dataloader.hpp): an epoch is a plan (the order and the options),
// shared by the iterator and its loading tasks, so a task never outlives what
// it reads even when the iterator or the loader goes away first.
#include <ember/data/dataloader.hpp>

#include <algorithm>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::data {

namespace detail {

struct EpochPlan {
  std::shared_ptr<const Dataset> dataset;
  DataLoaderOptions options;
  std::vector<int64_t> order;  // the sampler's indices for this epoch
  int64_t epoch = 0;
  int64_t num_batches = 0;
  runtime::Executor* executor = nullptr;

  // Generators of batch k (Note [loader determinism]): distinct from the
  // sampler's (seed, epoch) stream and from each other.
  Generator generator(int64_t k, uint64_t which) const {
    return Generator(derive_seed(options.seed, static_cast<uint64_t>(epoch), 2 * static_cast<uint64_t>(k) + 2 + which));
  }

  // Loading-task side: indices -> dataset batch -> transform -> pinned memory.
  Batch load(int64_t k) const {
    const size_t bs = static_cast<size_t>(options.batch_size);
    const size_t start = static_cast<size_t>(k) * bs;
    const size_t len = std::min(bs, order.size() - start);
    Batch batch = dataset->get_batch(std::span<const int64_t>(order.data() + start, len));
    if (options.transform) {
      Generator gen = generator(k, 0);
      batch = options.transform(std::move(batch), gen);
    }
    if (options.pin_memory) {
      if (batch.input.defined() && batch.input.device() == kCPU) batch.input = ops::pin_memory(batch.input);
      if (batch.target.defined() && batch.target.device() == kCPU) batch.target = ops::pin_memory(batch.target);
    }
    return batch;
  }

  // Consumer side: move to the device, then the device transform.
  Batch deliver(Batch batch, int64_t k) const {
    if (options.device) {
      const Device d = *options.device;
      auto move = [&](Tensor& t) {
        if (t.defined() && t.device() != d) t = t.to(d, /*non_blocking=*/ops::is_pinned(t));
      };
      move(batch.input);
      move(batch.target);
    }
    if (options.device_transform) {
      Generator gen = generator(k, 1);
      batch = options.device_transform(std::move(batch), gen);
    }
    return batch;
  }
};

}  // namespace detail

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  EMBER_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  EMBER_CHECK(options_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", options_.batch_size);
  EMBER_CHECK(options_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ", options_.num_workers);
  EMBER_CHECK(options_.prefetch_factor >= 1, "DataLoader: prefetch_factor must be >= 1, got ",
              options_.prefetch_factor);
  if (options_.sampler) {
    sampler_ = options_.sampler;  // its indices are checked by the dataset, batch by batch
  } else if (options_.shuffle) {
    sampler_ = std::make_shared<RandomSampler>(dataset_->size(), options_.seed);
  } else {
    sampler_ = std::make_shared<SequentialSampler>(dataset_->size());
  }
  if (options_.pin_memory) {
    try {
      (void)empty_pinned({0}, kUInt8);
    } catch (const Error& e) {
      EMBER_FAIL("DataLoader: pin_memory was asked for but cannot be had: ", e.what());
    }
  }
  const int64_t n = sampler_->size(), bs = options_.batch_size;
  num_batches_ = options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

DataLoader::Iterator DataLoader::begin() { return iterate(epoch_++); }

DataLoader::Iterator DataLoader::iterate(int64_t epoch, int64_t first_batch) const {
  EMBER_CHECK(first_batch >= 0 && first_batch <= num_batches_, "DataLoader: first_batch ", first_batch,
              " is outside [0, ", num_batches_, "] (batches per epoch)");
  auto plan = std::make_shared<detail::EpochPlan>();
  plan->dataset = dataset_;
  plan->options = options_;
  plan->order = sampler_->indices(epoch);
  EMBER_CHECK(static_cast<int64_t>(plan->order.size()) == sampler_->size(), "DataLoader: the sampler's epoch ", epoch,
              " has ", plan->order.size(), " indices, but its size() says ", sampler_->size());
  plan->epoch = epoch;
  plan->num_batches = num_batches_;
  plan->executor = options_.executor ? options_.executor : &runtime::default_executor();
  return Iterator(std::move(plan), first_batch);
}

// ---- Iterator ----------------------------------------------------------------

DataLoader::Iterator::Iterator(std::shared_ptr<const detail::EpochPlan> plan, int64_t first_batch)
    : plan_(std::move(plan)), next_submit_(first_batch), index_(first_batch), end_(plan_->num_batches) {
  if (index_ < end_) take(index_);
}

DataLoader::Iterator::Iterator(Iterator&&) noexcept = default;

DataLoader::Iterator& DataLoader::Iterator::operator=(Iterator&& other) noexcept {
  if (this != &other) {
    drain();
    plan_ = std::move(other.plan_);
    in_flight_ = std::move(other.in_flight_);
    next_submit_ = other.next_submit_;
    index_ = other.index_;
    end_ = other.end_;
    current_ = std::move(other.current_);
  }
  return *this;
}

DataLoader::Iterator::~Iterator() { drain(); }

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (++index_ < end_) {
    take(index_);
  } else {
    current_ = {};
  }
  return *this;
}

// Makes batch k current: loaded here (num_workers 0), or the oldest queued
// task's result after topping the queue up (batches are queued in order).
void DataLoader::Iterator::take(int64_t k) {
  const detail::EpochPlan& plan = *plan_;
  current_ = {};
  if (plan.options.num_workers == 0) {
    current_ = plan.deliver(plan.load(k), k);
    return;
  }
  const int64_t ahead = static_cast<int64_t>(plan.options.num_workers) * plan.options.prefetch_factor;
  while (next_submit_ < end_ && static_cast<int64_t>(in_flight_.size()) < ahead) {
    const int64_t j = next_submit_++;
    in_flight_.push_back(plan.executor->async([p = plan_, j] { return p->load(j); }));
  }
  runtime::Future<Batch> next = std::move(in_flight_.front());
  in_flight_.pop_front();
  Batch loaded = std::move(next.get());  // rethrows the loading task's exception
  current_ = plan.deliver(std::move(loaded), k);
}

void DataLoader::Iterator::drain() noexcept {
  for (auto& f : in_flight_) f.cancel();
  for (auto& f : in_flight_) {
    try {
      f.wait();
    } catch (...) {  // a batch nobody will take: its error is dropped with it
    }
  }
  in_flight_.clear();
}

}  // namespace ember::data
