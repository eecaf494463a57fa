// Data-parallel training over MPI. ctest runs this binary on one rank and on
// two (mpiexec -n 2); every rank runs every test and checks its own results.
// The key property: N ranks, each training on its DistributedSampler share
// with DataParallel, end with the parameters of one process training on the
// union of their batches, and with the same parameters on every rank.
#include "gpu.hpp"
#include "test_util.hpp"

using namespace ember;
using namespace ember::train;
using ember::testing::expect_error;
using ember::testing::to_vector;

namespace {

std::shared_ptr<ProcessGroup> world() {
  static std::shared_ptr<ProcessGroup> group = mpi_process_group();
  return group;
}

std::vector<std::vector<double>> params_of(nn::Module& m) {
  std::vector<std::vector<double>> out;
  for (const Tensor& p : m.parameters()) out.push_back(to_vector(p));
  return out;
}

}  // namespace

TEST(Distributed, WorldMatchesTheLauncher) {
  auto g = world();
  EXPECT_EQ(g->backend(), "mpi");
  EXPECT_EQ(g->size(), launched_world_size());
  EXPECT_GE(g->rank(), 0);
  EXPECT_LT(g->rank(), g->size());
  EXPECT_TRUE(built_with_mpi());
}

TEST(Distributed, AllReduceAndBroadcast) {
  auto g = world();
  const int r = g->rank(), n = g->size();
  const double sum = n * (n + 1) / 2.0;
  Tensor f32 = full({3}, r + 1.0), f64 = full({2, 2}, r + 1.0, kFloat64), i64 = full({2}, r + 1, kInt64);
  Tensor bf16 = full({4}, r + 1.0, kBFloat16);
  Tensor base = full({4, 4}, r + 1.0);
  Tensor view = base.narrow(1, 1, 2);  // a strided view: only its elements change
  g->all_reduce({f32, f64, i64, bf16, view}, ReduceOp::sum);
  for (const Tensor& t : {f32, f64, i64, bf16, view})
    for (double v : to_vector(t)) EXPECT_EQ(v, sum) << t.describe();
  EXPECT_EQ(to_vector(base.narrow(1, 0, 1))[0], r + 1.0);
  EXPECT_EQ(bf16.dtype(), kBFloat16);

  Tensor mean = full({5}, static_cast<double>(r)), mx = full({1}, static_cast<double>(r)), mn = full({1}, r + 10.0);
  g->all_reduce({mean}, ReduceOp::mean);
  g->all_reduce({mx}, ReduceOp::max);
  g->all_reduce({mn}, ReduceOp::min);
  EXPECT_DOUBLE_EQ(to_vector(mean)[4], (n - 1) / 2.0);
  EXPECT_EQ(to_vector(mx)[0], n - 1.0);
  EXPECT_EQ(to_vector(mn)[0], 10.0);

  Tensor b = full({3}, static_cast<double>(r)), flags = full({2}, r == n - 1 ? 1 : 0, kBool);
  g->broadcast({b, flags}, n - 1);
  EXPECT_EQ(to_vector(b), std::vector<double>(3, n - 1.0));
  EXPECT_EQ(to_vector(flags), std::vector<double>(2, 1.0));
  g->barrier();

  expect_error([&] { g->all_reduce({full({2}, 1, kInt64)}, ReduceOp::mean); }, {"mean of integer tensors"});
  expect_error([&] { g->broadcast({b}, n); }, {"broadcast root"});
  expect_error([&] { g->all_reduce({flags}, ReduceOp::sum); }, {"all_reduce of bool"});
  if (!built_with_nccl()) expect_error([] { nccl_process_group(kCUDA); }, {"no NCCL"});
}

TEST(Distributed, DataParallelTrainsLikeOneProcessWithTheWholeBatch) {
  auto g = world();
  const int rank = g->rank(), n = g->size();
  const int64_t per_rank = 6, examples = 48 * n;
  Generator data_gen(11);
  Tensor x = randn({examples, 5}, {}, &data_gen);
  Tensor y = randint(0, 3, {examples}, TensorOptions(kInt64), &data_gen);
  auto ds = std::make_shared<data::TensorDataset>(x, y);
  auto loss = [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); };
  auto make_model = [](uint64_t seed) {
    manual_seed(seed);
    return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(5, 8), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(8, 3));
  };
  optim::SGDOptions sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;

  // One process, batches of n * per_rank in order.
  auto reference = make_model(1);
  data::DataLoaderOptions whole;
  whole.batch_size = n * per_rank;
  data::DataLoaderOptions eval;
  eval.batch_size = 16;
  Learner ref(reference, std::make_shared<data::DataLoader>(ds, whole), std::make_shared<data::DataLoader>(ds, eval), loss,
              std::make_shared<optim::SGD>(reference->parameters(), sgd));
  ref.add_callback(std::make_shared<Accuracy>());
  ref.fit(2);

  // n ranks from different initial weights (rank 0's, the reference's, win), each on its share.
  auto replica = make_model(rank == 0 ? 1 : 1000 + static_cast<uint64_t>(rank));
  data::DataLoaderOptions share;
  share.batch_size = per_rank;
  share.sampler = std::make_shared<data::DistributedSampler>(examples, rank, n, /*shuffle=*/false);
  // Each rank validates its share too; the learner's process group makes the metrics global.
  data::DataLoaderOptions eval_share;
  eval_share.batch_size = 16 / n;
  eval_share.sampler = std::make_shared<data::DistributedSampler>(examples, rank, n, /*shuffle=*/false);
  LearnerOptions lo;
  lo.process_group = g;
  Learner ddp(replica, std::make_shared<data::DataLoader>(ds, share), std::make_shared<data::DataLoader>(ds, eval_share),
              loss, std::make_shared<optim::SGD>(replica->parameters(), sgd), lo);
  ddp.add_callback(std::make_shared<DataParallel>(g));
  ddp.add_callback(std::make_shared<Accuracy>());
  ddp.add_callback(std::make_shared<GradientClipping>(1e3));  // after the all-reduce on the same event: no conflict
  ddp.fit(2);
  EXPECT_EQ(ddp.iteration(), ref.iteration());
  for (size_t e = 0; e < 2; ++e) {
    const auto &mine = ddp.history()[e], &whole_run = ref.history()[e];
    EXPECT_NEAR(mine.at("accuracy"), whole_run.at("accuracy"), 2.0 / static_cast<double>(examples)) << "epoch " << e;
    EXPECT_NEAR(mine.at("valid_loss"), whole_run.at("valid_loss"), 1e-4 * whole_run.at("valid_loss")) << "epoch " << e;
    // The train loss: the mean over all ranks' batches, the single process's mean over the same examples.
    EXPECT_NEAR(mine.at("train_loss"), whole_run.at("train_loss"), 1e-4 * whole_run.at("train_loss")) << "epoch " << e;
  }
  Tensor metrics = tensor(std::vector<double>{ddp.history()[1].at("accuracy"), ddp.history()[1].at("valid_loss")},
                          TensorOptions(kFloat64));
  Tensor rank0_metrics = ops::clone(metrics);
  g->broadcast({rank0_metrics}, 0);
  EXPECT_EQ(to_vector(metrics), to_vector(rank0_metrics)) << "the ranks disagree on the metrics";

  // On rank 1 and up this also requires the start from rank 0's weights.
  auto want = params_of(*reference), got = params_of(*replica);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t k = 0; k < want[i].size(); ++k)
      ASSERT_NEAR(got[i][k], want[i][k], 1e-5 + 1e-5 * std::fabs(want[i][k])) << "parameter " << i << "[" << k << "]";

  // Every rank holds the same parameters, bit for bit.
  std::vector<Tensor> mine, rank0;
  for (const Tensor& p : replica->parameters()) {
    mine.push_back(p);
    rank0.push_back(ops::clone(p));
  }
  g->broadcast(rank0, 0);
  for (size_t i = 0; i < mine.size(); ++i) EXPECT_EQ(to_vector(mine[i]), to_vector(rank0[i])) << "parameter " << i;
}

// Collectives started with all_reduce_async run in the order called, also
// around synchronous ones, and may be waited for in any order.
TEST(Distributed, AsyncAllReducesRunInCallOrder) {
  auto g = world();
  const int r = g->rank(), n = g->size();
  const double sum = n * (n + 1) / 2.0;
  Tensor a = full({1000}, r + 1.0), b = full({3, 3}, r + 1.0, kFloat64), c = full({2}, r + 1.0, kBFloat16);
  Tensor base = full({4, 4}, r + 1.0);
  Tensor view = base.narrow(0, 1, 2);  // staged through a buffer, copied back at wait()
  auto wa = g->all_reduce_async({a}, ReduceOp::sum);
  auto wb = g->all_reduce_async({b, view}, ReduceOp::mean);
  Tensor s = full({2}, static_cast<double>(r));
  g->broadcast({s}, 0);  // queued behind the two
  auto wc = g->all_reduce_async({c}, ReduceOp::max);
  wc->wait();
  wa->wait();
  wb->wait();
  wb->wait();  // again: returns at once
  EXPECT_EQ(to_vector(a), std::vector<double>(1000, sum));
  EXPECT_EQ(to_vector(b), std::vector<double>(9, sum / n));
  EXPECT_EQ(to_vector(view), std::vector<double>(8, sum / n));
  EXPECT_EQ(to_vector(base.narrow(0, 0, 1)), std::vector<double>(4, r + 1.0));
  EXPECT_EQ(to_vector(c), std::vector<double>(2, n));
  EXPECT_EQ(to_vector(s), std::vector<double>(2, 0.0));
  // An error is found before anything is sent; a dropped work is still finished before its buffer goes.
  expect_error([&] { g->all_reduce_async({full({2}, 1, kInt32)}, ReduceOp::mean); }, {"mean of integer tensors"});
  { auto dropped = g->all_reduce_async({full({64}, 1.0)}, ReduceOp::sum); }
  Tensor after = full({1}, 1.0);
  g->all_reduce({after}, ReduceOp::sum);
  EXPECT_EQ(to_vector(after)[0], n);
}

namespace {

// Forwards to the world group and counts the collectives started.
class CountingGroup : public ProcessGroup {
 public:
  int rank() const override { return world()->rank(); }
  int size() const override { return world()->size(); }
  std::string backend() const override { return "counting"; }
  Device device() const override { return kCPU; }
  void all_reduce(const std::vector<Tensor>& t, ReduceOp op) override {
    ++reductions;
    world()->all_reduce(t, op);
  }
  std::shared_ptr<Work> all_reduce_async(const std::vector<Tensor>& t, ReduceOp op) override {
    ++reductions;
    return world()->all_reduce_async(t, op);
  }
  void broadcast(const std::vector<Tensor>& t, int root) override { world()->broadcast(t, root); }
  void barrier() override { world()->barrier(); }
  int reductions = 0;
};

}  // namespace

// The reducer: buckets in reverse parameter order (one dtype each), sent during
// backward, and means equal to averaging each rank's own gradients; a
// parameter backward did not reach on some rank still takes part.
TEST(Distributed, GradReducerAveragesInBucketsDuringBackward) {
  auto g = world();
  const int rank = g->rank(), n = g->size();
  manual_seed(5);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(16, 16), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(16, 4));
  Tensor extra = zeros({3}, kFloat64).requires_grad_();  // only rank 0's loss reaches it
  std::vector<Tensor> params = model->parameters();
  params.push_back(extra);
  params.push_back(ones({2}));  // no grad: left out
  auto clear_grads = [&] {
    for (Tensor& p : params)
      if (p.requires_grad()) p.set_grad(Tensor());
  };
  Generator gen(100 + static_cast<uint64_t>(rank));
  Tensor x = randn({8, 6}, {}, &gen);
  auto loss_of = [&] {
    Tensor loss = model->forward(x).pow(2.0).mean();
    if (rank == 0) loss = add(loss, to(mul(extra, 2.0).sum(), kFloat32));
    return loss;
  };
  // What the reducer must produce: each rank's own gradients, averaged.
  clear_grads();
  loss_of().backward();
  std::vector<Tensor> want;
  for (const Tensor& p : params)
    if (p.requires_grad()) want.push_back(p.grad().defined() ? ops::clone(p.grad()) : zeros_like(p));
  g->all_reduce(want, ReduceOp::mean);

  for (bool overlap : {true, false}) {
    SCOPED_TRACE(overlap ? "overlap" : "at the end");
    clear_grads();
    GradReducerOptions o;
    o.first_bucket_bytes = (4 + 64) * 4;  // the last Linear's bias and weight
    o.bucket_bytes = 300 * 4;
    o.overlap = overlap;
    o.rebuild_buckets = false;  // the layout below holds for every pass (the rebuild: the next test)
    GradReducer reducer(g, params, o);
    const auto buckets = reducer.buckets();
    // extra (float64) is alone in its bucket; the others go in reverse order, each bucket within its size.
    ASSERT_EQ(buckets.size(), 4u);
    EXPECT_EQ(buckets[0], std::vector<size_t>{6});
    EXPECT_EQ(buckets[1], (std::vector<size_t>{5, 4}));
    EXPECT_EQ(buckets[2], (std::vector<size_t>{3, 2, 1}));
    EXPECT_EQ(buckets[3], std::vector<size_t>{0});
    for (int pass = 0; pass < 2; ++pass) {
      clear_grads();
      reducer.prepare();
      loss_of().backward();  // returns with the means
      reducer.finish();      // a no-op now
      size_t k = 0;
      for (const Tensor& p : params) {
        if (!p.requires_grad()) continue;
        ASSERT_TRUE(p.grad().defined()) << "parameter " << k;
        EXPECT_TRUE(ember::testing::all_close(p.grad(), want[k], 1e-6, 1e-6)) << "parameter " << k;
        ++k;
      }
      // Buckets go in order: on ranks whose backward never reaches `extra`, the
      // first bucket is filled only by finish(), and everything waits for it.
      EXPECT_EQ(reducer.sent_during_backward(), overlap && rank == 0 ? 4 : 0);
    }
    // Not prepared: backward leaves the local gradients alone.
    clear_grads();
    loss_of().backward();
    if (rank != 0) {
      EXPECT_FALSE(extra.grad().defined());
    }
  }
  // A pass that reached no parameter: finish() sends every bucket (current grads, zeros for undefined).
  CountingGroup counting;
  GradReducer reducer(std::shared_ptr<ProcessGroup>(&counting, [](ProcessGroup*) {}), params);
  for (Tensor& p : params)
    if (p.requires_grad()) p.set_grad(full_like(p, static_cast<double>(rank)));
  extra.set_grad(Tensor());
  reducer.prepare();
  reducer.finish();
  EXPECT_EQ(counting.reductions, 2);  // float32 and float64
  EXPECT_EQ(to_vector(params[0].grad())[0], (n - 1) / 2.0);
  EXPECT_EQ(to_vector(extra.grad()), std::vector<double>(3, 0.0));
  expect_error([&] { GradReducer(g, params, GradReducerOptions{.bucket_bytes = 0}); }, {"bucket sizes must be positive"});
}

// After the first pass the buckets follow backward's order, with a parameter
// no pass reaches last, so it no longer holds back every bucket.
TEST(Distributed, GradReducerRebuildsBucketsInBackwardsOrder) {
  auto g = world();
  const int rank = g->rank();
  manual_seed(7);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(16, 16), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(16, 4));
  std::vector<Tensor> params = model->parameters();
  Tensor unused = zeros({8}).requires_grad_();  // the last parameter: the first bucket, by reverse order
  params.push_back(unused);
  Generator gen(300 + static_cast<uint64_t>(rank));
  Tensor x = randn({8, 6}, {}, &gen);
  auto loss_of = [&] { return model->forward(x).pow(2.0).mean(); };
  auto clear = [&] {
    for (Tensor& p : params) p.set_grad(Tensor());
  };
  clear();
  loss_of().backward();
  std::vector<Tensor> want;
  for (const Tensor& p : params) want.push_back(p.grad().defined() ? ops::clone(p.grad()) : zeros_like(p));
  g->all_reduce(want, ReduceOp::mean);

  for (bool rebuild : {true, false}) {
    SCOPED_TRACE(rebuild ? "rebuilt" : "kept");
    GradReducerOptions o;
    o.first_bucket_bytes = 64;
    o.bucket_bytes = 512;
    o.rebuild_buckets = rebuild;
    GradReducer reducer(g, params, o);
    const size_t unused_index = params.size() - 1;
    EXPECT_EQ(reducer.buckets().front().front(), unused_index);
    for (int pass = 0; pass < 3; ++pass) {
      clear();
      const int64_t buckets = static_cast<int64_t>(reducer.buckets().size());
      reducer.prepare();
      loss_of().backward();
      for (size_t i = 0; i < params.size(); ++i)
        EXPECT_TRUE(ember::testing::all_close(params[i].grad(), want[i], 1e-6, 1e-6)) << "pass " << pass << " parameter " << i;
      // The first pass (and every pass without the rebuild) waits for `unused`, which only finish() sends.
      EXPECT_EQ(reducer.sent_during_backward(), rebuild && pass > 0 ? buckets - 1 : 0) << "pass " << pass;
    }
    if (rebuild) {
      EXPECT_EQ(reducer.buckets().back().back(), unused_index);
    } else {
      EXPECT_EQ(reducer.buckets().front().front(), unused_index);
    }
  }
}

// With GradientAccumulation, only the batch that steps reduces, and N ranks
// still train as one process with the N-times bigger batch.
TEST(Distributed, DataParallelWithGradientAccumulationReducesOncePerStep) {
  auto g = world();
  const int rank = g->rank(), n = g->size();
  const int64_t per_rank = 4, examples = 40 * n, accumulate = 3;
  Generator data_gen(21);
  Tensor x = randn({examples, 5}, {}, &data_gen);
  Tensor y = randint(0, 3, {examples}, TensorOptions(kInt64), &data_gen);
  auto ds = std::make_shared<data::TensorDataset>(x, y);
  auto loss = [](const Tensor& p, const Tensor& t) { return nn::cross_entropy(p, t); };
  auto make_model = [] {
    manual_seed(3);
    return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(5, 8), std::make_shared<nn::Tanh>(),
                                            std::make_shared<nn::Linear>(8, 3));
  };
  optim::SGDOptions sgd;
  sgd.lr = 0.2;
  auto reference = make_model();
  data::DataLoaderOptions whole;
  whole.batch_size = n * per_rank;
  Learner ref(reference, std::make_shared<data::DataLoader>(ds, whole), nullptr, loss,
              std::make_shared<optim::SGD>(reference->parameters(), sgd));
  ref.add_callback(std::make_shared<GradientAccumulation>(accumulate));
  ref.fit(1);

  auto replica = make_model();
  data::DataLoaderOptions share;
  share.batch_size = per_rank;
  share.sampler = std::make_shared<data::DistributedSampler>(examples, rank, n, /*shuffle=*/false);
  auto counting = std::make_shared<CountingGroup>();
  Learner ddp(replica, std::make_shared<data::DataLoader>(ds, share), nullptr, loss,
              std::make_shared<optim::SGD>(replica->parameters(), sgd));
  auto dp = std::make_shared<DataParallel>(counting);
  ddp.add_callback(dp);
  ddp.add_callback(std::make_shared<GradientAccumulation>(accumulate));
  ddp.fit(1);
  const int64_t batches = 40 / per_rank, steps = (batches + accumulate - 1) / accumulate;
  ASSERT_NE(dp->reducer(), nullptr);
  EXPECT_EQ(counting->reductions, steps * static_cast<int64_t>(dp->reducer()->buckets().size()));
  auto want = params_of(*reference), got = params_of(*replica);
  for (size_t i = 0; i < want.size(); ++i)
    for (size_t k = 0; k < want[i].size(); ++k)
      ASSERT_NEAR(got[i][k], want[i][k], 1e-5 + 1e-5 * std::fabs(want[i][k])) << "parameter " << i << "[" << k << "]";
}

// A GradScaler under DataParallel: one rank's non-finite gradients reach every
// rank through the reduction, so all of them skip that step and back off together.
TEST(Distributed, DataParallelWithAGradScalerSkipsTogether) {
  auto g = world();
  const int rank = g->rank(), n = g->size();
  const int64_t examples = 24 * n;
  Generator data_gen(31);
  Tensor x = randn({examples, 5}, {}, &data_gen);
  Tensor y = randint(0, 3, {examples}, TensorOptions(kInt64), &data_gen);
  auto ds = std::make_shared<data::TensorDataset>(x, y);
  int calls = 0;
  auto loss = [&](const Tensor& p, const Tensor& t) {
    Tensor l = nn::cross_entropy(p, t);
    if (++calls == 3 && rank == n - 1) l = mul(l, std::numeric_limits<double>::infinity());
    return l;
  };
  manual_seed(9);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(5, 8), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(8, 3));
  data::DataLoaderOptions share;
  share.batch_size = 4;
  share.sampler = std::make_shared<data::DistributedSampler>(examples, rank, n, /*shuffle=*/true);
  optim::GradScalerOptions so;
  so.init_scale = 1024;
  LearnerOptions lo;
  lo.grad_scaler = std::make_shared<optim::GradScaler>(so);
  Learner ddp(model, std::make_shared<data::DataLoader>(ds, share), nullptr, loss,
              std::make_shared<optim::SGD>(model->parameters(), optim::SGDOptions{}), lo);
  ddp.add_callback(std::make_shared<DataParallel>(g));
  ddp.fit(1);
  EXPECT_DOUBLE_EQ(lo.grad_scaler->get_scale(), 512.0);
  std::vector<Tensor> mine, rank0;
  for (const Tensor& p : model->parameters()) {
    for (double v : to_vector(p)) ASSERT_TRUE(std::isfinite(v));
    mine.push_back(p);
    rank0.push_back(ops::clone(p));
  }
  g->broadcast(rank0, 0);
  for (size_t i = 0; i < mine.size(); ++i) EXPECT_EQ(to_vector(mine[i]), to_vector(rank0[i])) << "parameter " << i;
}

// NCCL on this rank's GPU (one GPU per rank): skipped without NCCL in the build,
// or with fewer GPUs than ranks.
TEST(Distributed, NcclAllReduceAndBroadcastOnTheGpu) {
  if (!built_with_nccl()) GTEST_SKIP() << "this build of ember has no NCCL";
  EMBER_SKIP_WITHOUT_GPU();
#if defined(EMBER_WITH_CUDA)
  auto mpi = world();
  if (cuda::device_count() < mpi->size())
    GTEST_SKIP() << mpi->size() << " ranks need as many GPUs, " << cuda::device_count() << " visible";
  const Device device(DeviceType::CUDA, launched_local_rank());
  auto g = nccl_process_group(device);
  EXPECT_EQ(g->backend(), "nccl");
  EXPECT_EQ(g->rank(), mpi->rank());
  const int r = g->rank(), n = g->size();
  Tensor a = full({1000}, r + 1.0).to(device), h = full({7}, r + 1.0, kBFloat16).to(device);
  Tensor base = full({4, 4}, r + 1.0).to(device);
  Tensor view = base.narrow(1, 1, 2);
  g->all_reduce({a, h, view}, ReduceOp::sum);
  const double sum = n * (n + 1) / 2.0;
  for (const Tensor& t : {a, h, view}) EXPECT_EQ(to_vector(t), std::vector<double>(t.numel(), sum));
  Tensor m = full({3}, static_cast<double>(r)).to(device);
  g->all_reduce({m}, ReduceOp::mean);
  EXPECT_DOUBLE_EQ(to_vector(m)[0], (n - 1) / 2.0);
  Tensor b = full({5}, static_cast<double>(r), kInt64).to(device);
  g->broadcast({b}, n - 1);
  EXPECT_EQ(to_vector(b), std::vector<double>(5, n - 1.0));
  g->barrier();
  expect_error([&] { g->all_reduce({full({2}, 1.0)}, ReduceOp::sum); }, {"expects tensors on", "cpu"});

  // The reducer over NCCL: buckets reduced on the group's communication stream while backward runs.
  manual_seed(4);
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::Tanh>(),
                                                std::make_shared<nn::Linear>(16, 4));
  model->to(device);
  Generator gen(50 + static_cast<uint64_t>(r));
  Tensor x = randn({8, 6}, {}, &gen).to(device);
  auto loss_of = [&] { return model->forward(x).pow(2.0).mean(); };
  loss_of().backward();
  std::vector<Tensor> want;
  for (const Tensor& p : model->parameters()) want.push_back(ops::clone(p.grad()));
  g->all_reduce(want, ReduceOp::mean);
  model->zero_grad();
  GradReducerOptions o;
  o.first_bucket_bytes = 4 * 4;  // the last bias alone
  o.bucket_bytes = 64 * 4;
  GradReducer reducer(g, model->parameters(), o);
  ASSERT_EQ(reducer.buckets().size(), 4u);
  for (int pass = 0; pass < 3; ++pass) {  // the second and third with the buckets rebuilt in backward's order
    model->zero_grad();
    const auto buckets = static_cast<int64_t>(reducer.buckets().size());
    reducer.prepare();
    loss_of().backward();
    EXPECT_EQ(reducer.sent_during_backward(), buckets);
    const auto params = model->parameters();
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_TRUE(ember::testing::all_close(params[i].grad().to(kCPU), want[i].to(kCPU), 1e-6, 1e-6)) << "parameter " << i;
  }
#endif
}
