// DataLoader, samplers and dataset basics: batch contents and order, epochs,
// determinism whatever the number of loading tasks, exact resume, errors
// raised by loading tasks, early exit, and real concurrency (also run under
// ThreadSanitizer: the data tests carry the 'concurrency' label).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "gpu.hpp"
#include "test_util.hpp"

using namespace ember;
using namespace ember::data;
using ember::testing::expect_error;
using ember::testing::gpu_available;
using ember::testing::to_vector;

namespace {

// Example i: input [i, 10 i] (float32), target i (int64).
std::shared_ptr<TensorDataset> numbered(int64_t n) {
  Tensor idx = arange(0, n, TensorOptions(kInt64));
  Tensor x = ops::to(ops::stack({idx, ops::mul(idx, ops::scalar_tensor(10, idx))}, 1), kFloat32);
  return std::make_shared<TensorDataset>(x, idx);
}

std::vector<int64_t> ints(const Tensor& t) {
  std::vector<int64_t> out;
  for (double v : to_vector(t)) out.push_back(static_cast<int64_t>(v));
  return out;
}

// Targets of every batch of one pass, batch by batch.
std::vector<std::vector<int64_t>> targets_of(DataLoader::Iterator it) {
  std::vector<std::vector<int64_t>> out;
  for (; !(it == DataLoader::Sentinel{}); ++it) out.push_back(ints(it->target));
  return out;
}

// A dataset without get_batch: the default (get + collate) path, with hooks.
class HookedDataset : public Dataset {
 public:
  explicit HookedDataset(int64_t n, std::function<void(int64_t)> hook = {}) : n_(n), hook_(std::move(hook)) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    check_index(*this, i);
    if (hook_) hook_(i);
    return {full({3}, static_cast<double>(i)), scalar_tensor(i, TensorOptions(kInt64))};
  }
  std::string name() const override { return "HookedDataset"; }

 private:
  int64_t n_;
  std::function<void(int64_t)> hook_;
};

}  // namespace

TEST(Dataset, TensorDatasetGetAndBatch) {
  auto ds = numbered(5);
  EXPECT_EQ(ds->size(), 5);
  Example e = ds->get(3);
  EXPECT_EQ(to_vector(e.input), (std::vector<double>{3, 30}));
  EXPECT_EQ(e.target.item<int64_t>(), 3);
  std::vector<int64_t> idx = {4, 0, 4};
  Batch b = ds->get_batch(idx);
  EXPECT_EQ(b.input.shape(), (Dims{3, 2}));
  EXPECT_EQ(ints(b.target), (std::vector<int64_t>{4, 0, 4}));
  expect_error([&] { ds->get(5); }, {"TensorDataset", "index 5", "5 examples"});
  std::vector<int64_t> bad = {1, -1};
  expect_error([&] { ds->get_batch(bad); }, {"index -1"});
  expect_error([] { TensorDataset(zeros({4, 2}), zeros({3})); }, {"[4, 2]", "[3]", "number of examples"});
  expect_error([] { TensorDataset(scalar_tensor(1.0)); }, {"leading example dim"});
}

TEST(Dataset, DefaultGetBatchStacksAndNamesMismatches) {
  HookedDataset ds(4);
  std::vector<int64_t> idx = {2, 1};
  Batch b = ds.get_batch(idx);
  EXPECT_EQ(b.input.shape(), (Dims{2, 3}));
  EXPECT_EQ(to_vector(b.input), (std::vector<double>{2, 2, 2, 1, 1, 1}));
  EXPECT_EQ(ints(b.target), (std::vector<int64_t>{2, 1}));
  expect_error([] { collate({{zeros({3}), {}}, {zeros({4}), {}}}); }, {"example 0 is [3]", "example 1 is [4]"});
  expect_error([] { collate({{zeros({3}), {}}, {zeros({3}), zeros({1})}}); }, {"example 0 has no target"});
  expect_error([] { collate({}); }, {"no examples"});
  Batch unlabelled = collate({{zeros({2}), {}}, {ones({2}), {}}});
  EXPECT_FALSE(unlabelled.target.defined());
}

TEST(Dataset, SubsetRandomSplitAndMap) {
  auto ds = numbered(10);
  Subset sub(ds, {7, 2, 9});
  EXPECT_EQ(sub.size(), 3);
  EXPECT_EQ(sub.get(1).target.item<int64_t>(), 2);
  std::vector<int64_t> idx = {2, 0};
  EXPECT_EQ(ints(sub.get_batch(idx).target), (std::vector<int64_t>{9, 7}));
  expect_error([&] { Subset(ds, {10}); }, {"index 10"});
  expect_error([&] { sub.get(3); }, {"Subset of TensorDataset", "index 3"});

  auto parts = random_split(ds, {6, 4}, 5);
  ASSERT_EQ(parts.size(), 2u);
  std::set<int64_t> seen;
  for (auto& p : parts)
    for (int64_t i : p->indices()) seen.insert(i);
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(random_split(ds, {6, 4}, 5)[0]->indices(), parts[0]->indices());  // seeded
  EXPECT_NE(random_split(ds, {6, 4}, 6)[0]->indices(), parts[0]->indices());
  expect_error([&] { random_split(ds, {6, 3}, 0); }, {"add up to 9", "10 examples"});

  MapDataset doubled(ds, [](Example e) {
    e.input = ops::mul(e.input, ops::scalar_tensor(2.0, e.input));
    return e;
  });
  EXPECT_EQ(to_vector(doubled.get(4).input), (std::vector<double>{8, 80}));
}

TEST(Sampler, SequentialRandomAndDistributed) {
  EXPECT_EQ(SequentialSampler(4).indices(7), (std::vector<int64_t>{0, 1, 2, 3}));
  RandomSampler r(50, 1);
  std::vector<int64_t> e0 = r.indices(0), e1 = r.indices(1);
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 50u);
  EXPECT_NE(e0, e1);                        // a new order each epoch
  EXPECT_EQ(e0, RandomSampler(50, 1).indices(0));  // a pure function of (seed, epoch)
  EXPECT_NE(e0, RandomSampler(50, 2).indices(0));

  // 10 examples over 4 ranks: 3 each, padded with the order's first two.
  std::vector<int64_t> all;
  for (int rank = 0; rank < 4; ++rank) {
    DistributedSampler d(10, rank, 4, /*shuffle=*/true, 3);
    std::vector<int64_t> mine = d.indices(2);
    EXPECT_EQ(d.size(), 3);
    EXPECT_EQ(static_cast<int64_t>(mine.size()), 3);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), 10u);  // every example, two of them twice
  DistributedSampler unshuffled(10, 1, 4, /*shuffle=*/false);
  EXPECT_EQ(unshuffled.indices(0), (std::vector<int64_t>{1, 5, 9}));
  DistributedSampler dropped(10, 3, 4, /*shuffle=*/false, 0, /*drop_last=*/true);
  EXPECT_EQ(dropped.indices(0), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(DistributedSampler(2, 2, 3, false).indices(0), (std::vector<int64_t>{0}));  // n < world: repeats
  expect_error([] { DistributedSampler(10, 4, 4); }, {"rank 4", "[0, 4)"});
  expect_error([] { DistributedSampler(10, 0, 0); }, {"world_size"});
  expect_error([] { DistributedSampler(2, 0, 3, false, 0, true); }, {"drop_last"});
}

TEST(DataLoader, SequentialBatchesAndDropLast) {
  DataLoaderOptions o;
  o.batch_size = 4;
  DataLoader loader(numbered(10), o);
  EXPECT_EQ(loader.size(), 3);
  std::vector<std::vector<int64_t>> seen;
  for (Batch& b : loader) {
    EXPECT_EQ(b.input.size(1), 2);
    seen.push_back(ints(b.target));
  }
  EXPECT_EQ(seen, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  EXPECT_EQ(loader.epoch(), 1);
  o.drop_last = true;
  EXPECT_EQ(targets_of(DataLoader(numbered(10), o).iterate(0)).size(), 2u);
  EXPECT_EQ(DataLoader(numbered(0), o).size(), 0);
  for (Batch& b : DataLoader(numbered(0), DataLoaderOptions{})) ADD_FAILURE() << "an empty dataset yields no batch " << b.input;
}

TEST(DataLoader, ShuffleCoversEveryExampleOncePerEpochAndChangesByEpoch) {
  DataLoaderOptions o;
  o.batch_size = 7;
  o.shuffle = true;
  o.seed = 42;
  DataLoader loader(numbered(30), o);
  std::vector<int64_t> epochs[2];
  for (auto& order : epochs) {
    for (Batch& b : loader)
      for (int64_t t : ints(b.target)) order.push_back(t);
    EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 30u);
    EXPECT_EQ(order.size(), 30u);
  }
  EXPECT_NE(epochs[0], epochs[1]);
  std::vector<int64_t> again;
  for (auto& batch : targets_of(DataLoader(numbered(30), o).iterate(1)))
    again.insert(again.end(), batch.begin(), batch.end());
  EXPECT_EQ(again, epochs[1]);  // epoch 1 is the same from a fresh loader
}

// Note [loader determinism]: the same batches, augmentation included, for any
// number of loading tasks and any executor size.
TEST(DataLoader, BatchesDoNotDependOnWorkersOrExecutor) {
  auto run = [](int workers, runtime::Executor* ex) {
    DataLoaderOptions o;
    o.batch_size = 5;
    o.shuffle = true;
    o.seed = 9;
    o.num_workers = workers;
    o.executor = ex;
    o.transform = [](Batch b, Generator& g) {
      b.input = ops::add(b.input, rand(b.input.shape(), {}, &g));
      return b;
    };
    o.device_transform = [](Batch b, Generator& g) {
      b.input = ops::mul(b.input, rand({b.input.size(0), 1}, {}, &g));
      return b;
    };
    DataLoader loader(numbered(23), o);
    std::vector<std::vector<double>> out;
    for (Batch& b : loader) out.push_back(to_vector(b.input));
    return out;
  };
  const auto reference = run(0, nullptr);
  ASSERT_EQ(reference.size(), 5u);
  runtime::Executor three(3), one(1);
  for (int workers : {1, 2, 4}) {
    EXPECT_EQ(run(workers, nullptr), reference) << workers << " workers, default executor";
    EXPECT_EQ(run(workers, &three), reference) << workers << " workers, 3 threads";
    EXPECT_EQ(run(workers, &one), reference) << workers << " workers, 1 thread";
  }
}

TEST(DataLoader, IterateResumesAnEpochAtAnyBatch) {
  DataLoaderOptions o;
  o.batch_size = 3;
  o.shuffle = true;
  o.num_workers = 2;
  DataLoader loader(numbered(20), o);
  auto full = targets_of(loader.iterate(4));
  for (int64_t k : {0, 3, 6, 7}) {
    auto tail = targets_of(loader.iterate(4, k));
    EXPECT_EQ(tail, std::vector<std::vector<int64_t>>(full.begin() + k, full.end())) << "from batch " << k;
  }
  DataLoader::Iterator it = loader.iterate(4, 5);
  EXPECT_EQ(it.index(), 5);
  expect_error([&] { loader.iterate(0, 8); }, {"first_batch 8", "[0, 7]"});
}

TEST(DataLoader, LoadingErrorsReachTheConsumerAtTheirBatch) {
  for (int workers : {0, 3}) {
    auto ds = std::make_shared<HookedDataset>(20, [](int64_t i) {
      if (i == 13) EMBER_FAIL("cannot read example ", i);
    });
    DataLoaderOptions o;
    o.batch_size = 4;
    o.num_workers = workers;
    DataLoader loader(ds, o);
    int64_t delivered = 0;
    try {
      for (Batch& b : loader) {
        EXPECT_EQ(b.input.size(0), 4);
        ++delivered;
      }
      ADD_FAILURE() << "the error of example 13 was lost";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cannot read example 13"), std::string::npos) << e.what();
    }
    EXPECT_EQ(delivered, 3) << workers << " workers";  // batches 0..2, then batch 3 (examples 12..15) fails
  }
}

TEST(DataLoader, LeavingEarlyCancelsAndWaitsForQueuedBatches) {
  std::atomic<int64_t> loads{0};
  auto ds = std::make_shared<HookedDataset>(400, [&](int64_t) {
    loads.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  });
  DataLoaderOptions o;
  o.batch_size = 4;
  o.num_workers = 2;
  o.prefetch_factor = 3;
  {
    DataLoader loader(ds, o);
    for (Batch& b : loader) {
      (void)b;
      break;
    }
    // The iterator is gone: nothing of that epoch runs any more.
    const int64_t after = loads.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(loads.load(), after);
    EXPECT_LE(after, 4 * (1 + 6));  // the batch taken plus at most the six queued
  }
  // An iterator may outlive its loader: its plan holds the dataset.
  std::optional<DataLoader::Iterator> it;
  {
    DataLoader loader(ds, o);
    it.emplace(loader.iterate(0));
  }
  ++*it;
  EXPECT_EQ(ints((*it)->target), (std::vector<int64_t>{4, 5, 6, 7}));
}

// Two loading tasks are inside the dataset at once: each get() waits (up to
// 10 s, so a serial loader fails instead of hanging) for another to arrive.
TEST(DataLoader, LoadsBatchesConcurrentlyOnTheExecutor) {
  std::mutex m;
  std::condition_variable cv;
  int inside = 0, most = 0;
  auto ds = std::make_shared<HookedDataset>(8, [&](int64_t i) {
    if (i % 4 != 0) return;  // the first example of each batch meets another batch's
    std::unique_lock<std::mutex> lock(m);
    most = std::max(most, ++inside);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(10), [&] { return most >= 2; });
    --inside;
  });
  runtime::Executor ex(3);
  DataLoaderOptions o;
  o.batch_size = 4;
  o.num_workers = 2;
  o.executor = &ex;
  DataLoader loader(ds, o);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(targets_of(loader.iterate(0)).size(), 2u);
  EXPECT_GE(most, 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(DataLoader, OptionsAreChecked) {
  auto ds = numbered(4);
  auto with = [&](auto set) {
    DataLoaderOptions o;
    set(o);
    return [ds, o] { DataLoader(ds, o); };
  };
  expect_error(with([](DataLoaderOptions& o) { o.batch_size = 0; }), {"batch_size", "got 0"});
  expect_error(with([](DataLoaderOptions& o) { o.num_workers = -1; }), {"num_workers"});
  expect_error(with([](DataLoaderOptions& o) { o.prefetch_factor = 0; }), {"prefetch_factor"});
  expect_error([] { DataLoader(nullptr); }, {"no dataset"});
  // A sampler reaching past the dataset fails at the batch, naming the index.
  DataLoaderOptions o;
  o.sampler = std::make_shared<SequentialSampler>(6);
  o.batch_size = 3;
  DataLoader loader(ds, o);
  expect_error([&] { targets_of(loader.iterate(0)); }, {"TensorDataset", "index 4"});
}

TEST(DataLoader, DeliversToTheRequestedDevice) {
  DataLoaderOptions o;
  o.batch_size = 2;
  o.device = kCPU;
  DataLoader loader(numbered(4), o);
  for (Batch& b : loader) EXPECT_EQ(b.input.device(), kCPU);
  if (!gpu_available()) {
    o.pin_memory = true;
    expect_error([&] { DataLoader(numbered(4), o); }, {"DataLoader: pin_memory"});
  }
}

// The whole CPU input pipeline: an ImageFolder of PPM files decoded by
// concurrent loading tasks, converted and augmented per batch. Every image
// comes once per epoch with its class, and the batches do not depend on the
// number of loading tasks.
TEST(DataLoader, ImageFolderPipelineWithWorkers) {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("ember_pipeline_" + std::to_string(::getpid()));
  fs::remove_all(root);
  for (int c = 0; c < 2; ++c) {
    fs::create_directories(root / ("class" + std::to_string(c)));
    for (int i = 0; i < 10; ++i) {
      // An 8x8 RGB image: red holds the class, green the image number, blue the column.
      std::string ppm = "P6\n8 8\n255\n";
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 8; ++x) ppm += {static_cast<char>(100 * c), static_cast<char>(i), static_cast<char>(x)};
      std::ofstream(root / ("class" + std::to_string(c)) / ("img" + std::to_string(i) + ".ppm"), std::ios::binary) << ppm;
    }
  }
  auto folder = std::make_shared<ImageFolder>(root.string());
  ASSERT_EQ(folder->size(), 20);
  auto run = [&](int workers) {
    DataLoaderOptions o;
    o.batch_size = 6;
    o.shuffle = true;
    o.seed = 4;
    o.num_workers = workers;
    o.transform = compose({on_input([](const Tensor& x, Generator&) { return to_float(x); }),
                           on_input([](const Tensor& x, Generator& g) { return random_crop(x, 6, 6, 1, g); }),
                           on_input([](const Tensor& x, Generator& g) { return random_horizontal_flip(x, 0.5, g); })});
    DataLoader loader(folder, o);
    std::vector<double> all;
    std::set<std::pair<int64_t, int64_t>> seen;  // (class, image number)
    for (Batch& b : loader) {
      EXPECT_EQ(b.input.dtype(), kFloat32);
      EXPECT_EQ(b.input.size(1), 3);
      EXPECT_EQ(b.input.size(2), 6);
      std::vector<double> red = to_vector(b.input.select(1, 0).select(1, 2).select(1, 2));  // an interior pixel
      std::vector<double> green = to_vector(b.input.select(1, 1).select(1, 2).select(1, 2));
      std::vector<int64_t> classes = ints(b.target);
      for (size_t k = 0; k < classes.size(); ++k) {
        EXPECT_NEAR(red[k] * 255.0, 100.0 * static_cast<double>(classes[k]), 1e-3) << "an image under the wrong class";
        seen.insert({classes[k], std::lround(green[k] * 255.0)});
      }
      std::vector<double> v = to_vector(b.input);
      all.insert(all.end(), v.begin(), v.end());
    }
    EXPECT_EQ(seen.size(), 20u);
    return all;
  };
  const auto reference = run(0);
  EXPECT_EQ(run(3), reference);
  fs::remove_all(root);
}
