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
#endif
}
