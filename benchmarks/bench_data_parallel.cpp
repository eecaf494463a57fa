// Data-parallel training steps over MPI: run under the launcher, one rank per
// process (mpiexec -n 2 bench_data_parallel). Each step is forward, cross
// entropy, backward and SGD on a 784-1024-1024-1024-1024-10 MLP (4.0 M
// parameters, 16 MB of float32 gradients) at batch 64 per rank:
//   local          no reduction (each rank alone: the compute the others hide)
//   end            GradReducer with every bucket sent when backward ends
//   overlap        buckets sent during backward (the default; 25 MB buckets, 1 MB first)
//   overlap_4mb    the same with 4 MB buckets, so that more of the work overlaps
// Every rank runs the same fixed iteration counts (the collectives must match);
// only rank 0 reports. benchmarks/compare_ddp.py runs this beside PyTorch's
// DistributedDataParallel on the same model.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <ember/ember.hpp>

namespace {

std::shared_ptr<ember::nn::Module> mlp() {
  using namespace ember::nn;
  return std::make_shared<Sequential>(std::make_shared<Linear>(784, 1024), std::make_shared<ReLU>(),
                                      std::make_shared<Linear>(1024, 1024), std::make_shared<ReLU>(),
                                      std::make_shared<Linear>(1024, 1024), std::make_shared<ReLU>(),
                                      std::make_shared<Linear>(1024, 1024), std::make_shared<ReLU>(),
                                      std::make_shared<Linear>(1024, 10));
}

std::shared_ptr<ember::train::ProcessGroup> world() {
  static auto group = ember::train::mpi_process_group();
  return group;
}

enum Mode { kLocal, kEnd, kOverlap, kOverlap4MB };

void BM_DdpStep(benchmark::State& state) {
  const auto mode = static_cast<Mode>(state.range(0));
  auto group = world();
  ember::manual_seed(0);
  auto model = mlp();
  ember::Generator gen(1 + static_cast<uint64_t>(group->rank()));
  ember::Tensor x = ember::randn({64, 784}, {}, &gen);
  ember::Tensor y = ember::randint(0, 10, {64}, ember::TensorOptions(ember::kInt64), &gen);
  ember::optim::SGDOptions o;
  o.lr = 1e-3;
  ember::optim::SGD opt(model->parameters(), o);
  ember::train::GradReducerOptions ro;
  ro.overlap = mode != kEnd;
  if (mode == kOverlap4MB) ro.bucket_bytes = 4ll << 20;
  std::unique_ptr<ember::train::GradReducer> reducer;
  if (mode != kLocal) reducer = std::make_unique<ember::train::GradReducer>(group, model->parameters(), ro);
  int64_t early = 0;
  for (auto _ : state) {
    ember::Tensor loss = ember::nn::cross_entropy(model->forward(x), y);
    opt.zero_grad();
    if (reducer) reducer->prepare();
    loss.backward();
    if (reducer) {
      reducer->finish();
      early += reducer->sent_during_backward();
    }
    opt.step();
  }
  state.counters["ms_per_step"] = benchmark::Counter(static_cast<double>(state.iterations()) * 1e3,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["buckets"] = reducer ? static_cast<double>(reducer->buckets().size()) : 0.0;
  state.counters["sent_in_backward"] = static_cast<double>(early) / static_cast<double>(state.iterations());
  state.counters["ranks"] = group->size();
}
BENCHMARK(BM_DdpStep)
    ->ArgName("mode")
    ->Arg(kLocal)
    ->Arg(kEnd)
    ->Arg(kOverlap)
    ->Arg(kOverlap4MB)
    ->Iterations(20)
    ->Repetitions(3)
    ->ReportAggregatesOnly(true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Rank 0 reports; the others run the same benchmarks silently.
class Silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  if (!ember::train::built_with_mpi()) {
    std::cerr << "bench_data_parallel: this build of ember has no MPI; nothing to measure\n";
    return 0;
  }
  // Ranks on one machine share its cores.
  if (!std::getenv("EMBER_NUM_THREADS") && ember::train::launched_local_size() > 1)
    ember::runtime::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                                    ember::train::launched_local_size()));
  benchmark::Initialize(&argc, argv);
  if (world()->rank() == 0) {
    benchmark::RunSpecifiedBenchmarks();
  } else {
    Silent silent;
    benchmark::RunSpecifiedBenchmarks(&silent);
  }
  world()->barrier();
  benchmark::Shutdown();
  return 0;
}
