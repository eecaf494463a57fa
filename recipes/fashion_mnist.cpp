// ember-fashion-mnist: trains an MLP (784-512-256-10) and a small CNN (two
// conv+BN+ReLU+maxpool blocks with 32 and 64 channels, then 128 hidden units)
// on Fashion-MNIST with Adam to a quality target (test accuracy: MLP 88%,
// CNN 91%), MLPerf style: it stops when the target is reached and reports the
// time to train, or says the target was missed after the last epoch. By
// default the MLP uses a constant lr of 1e-3 and the CNN fit_one_cycle with a
// peak of 3e-3 over its 4 epochs (each reaches its target soonest that way on
// this recipe's seed: MLP after 4 epochs, CNN after 3).
//
//   ember-fashion-mnist [--model mlp|cnn|both] [--epochs N] [--batch-size 128]
//                       [--lr LR] [--data DIR] [--seed 0] [--limit N] [--device cpu|cuda|cuda:N]
//                       [--workers N] [--augment] [--out DIR] [--executor serial|parallel]
//                       [--checkpoint FILE] [--resume FILE] [--no-stop] [--distributed]
//                       [--schedule auto|constant|one-cycle] [--precision fp32|bf16|fp16]
// Under an MPI launcher (mpiexec -n N ember-fashion-mnist ...) the ranks train
// data-parallel (train::DataParallel; NCCL between GPUs, MPI between CPUs):
// each on its share of every epoch and of the global batch; rank 0 prints.
// Training runs in a train::Learner: the loop's steps and its callbacks
// (accuracy, progress bar, recorder, MLPerf logger, stop at target,
// checkpoints) form the loop's task graphs. Batches come from a DataLoader
// over the split held as tensors on the device (shuffled per epoch from
// --seed); --augment adds random crops and flips as a device transform, so on
// a GPU they run there. --precision bf16 or fp16 trains under autocast
// (float16 with a GradScaler). Per model it writes <out>/<model>.csv, .jsonl
// and a PNG of the curves.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include <ember/ember.hpp>

namespace {

using namespace ember;

std::shared_ptr<nn::Module> make_mlp() {
  using namespace nn;
  return std::make_shared<Sequential>(std::make_shared<Flatten>(), std::make_shared<Linear>(784, 512),
                                      std::make_shared<ReLU>(), std::make_shared<Linear>(512, 256),
                                      std::make_shared<ReLU>(), std::make_shared<Linear>(256, 10));
}

std::shared_ptr<nn::Module> make_cnn() {
  using namespace nn;
  return std::make_shared<Sequential>(
      std::make_shared<Conv2d>(1, 32, 3, 1, 1), std::make_shared<BatchNorm2d>(32), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2),  // 32 x 14 x 14
      std::make_shared<Conv2d>(32, 64, 3, 1, 1), std::make_shared<BatchNorm2d>(64), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2),  // 64 x 7 x 7
      std::make_shared<Flatten>(), std::make_shared<Linear>(64 * 7 * 7, 128), std::make_shared<ReLU>(),
      std::make_shared<Linear>(128, 10));
}

struct RunOptions {
  data::DataLoaderOptions loader;
  double lr = 1e-3;
  bool one_cycle = false;  // fit_one_cycle with max lr = lr, else a constant lr
  int64_t epochs = 0;
  uint64_t seed = 0;
  std::string out_dir, checkpoint, resume;
  bool stop_at_target = true;
  train::LoopExecutor executor = train::LoopExecutor::serial;
  std::shared_ptr<train::ProcessGroup> group;  // data-parallel over this group's ranks (null: one process)
  std::optional<DType> autocast;               // mixed precision: kBFloat16 or kFloat16
};

// Trains one model; returns whether it reached its target.
bool run(const std::string& name, std::shared_ptr<nn::Module> model, const data::ImageSplit& train_set,
         const data::ImageSplit& test_set, double target, const RunOptions& o) {
  const Device device = train_set.images.device();
  model->to(device);
  const int rank = o.group ? o.group->rank() : 0, world = o.group ? o.group->size() : 1;
  const bool lead = rank == 0;  // the rank that prints and writes records
  if (lead)
    std::cout << "\n== " << name << ": " << model->num_parameters() << " parameters, on " << device
              << (world > 1 ? " (rank 0 of " + std::to_string(world) + ", " + o.group->backend() + ")" : std::string())
              << " ==\n" << *model << "\n";
  data::DataLoaderOptions loader = o.loader;
  if (world > 1) {  // each rank trains on its share of every epoch, with its share of the global batch
    loader.batch_size = o.loader.batch_size / world;
    loader.sampler = std::make_shared<data::DistributedSampler>(train_set.images.size(0), rank, world, true, o.seed);
  }
  auto train_dl = std::make_shared<data::DataLoader>(
      std::make_shared<data::TensorDataset>(train_set.images, train_set.labels), loader);
  data::DataLoaderOptions eval;
  eval.batch_size = 1000;
  if (world > 1)  // each rank validates its share; the learner sums the counts over the ranks
    eval.sampler = std::make_shared<data::DistributedSampler>(test_set.images.size(0), rank, world, false);
  auto test_dl = std::make_shared<data::DataLoader>(
      std::make_shared<data::TensorDataset>(test_set.images, test_set.labels), eval);
  optim::AdamOptions adam;
  adam.lr = o.lr;
  auto opt = std::make_shared<optim::Adam>(model->parameters(), adam);
  train::LearnerOptions lo;
  lo.executor = o.executor;
  lo.process_group = o.group;
  lo.autocast = o.autocast;
  if (o.autocast == kFloat16) lo.grad_scaler = std::make_shared<optim::GradScaler>();
  train::Learner learner(model, train_dl, test_dl,
                         [](const Tensor& pred, const Tensor& y) { return nn::cross_entropy(pred, y); }, opt, lo);

  std::string stem = name;
  for (char& c : stem) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  train::RecorderOptions rec;
  if (!o.out_dir.empty()) {
    rec.csv_path = o.out_dir + "/" + stem + ".csv";
    rec.jsonl_path = o.out_dir + "/" + stem + ".jsonl";
    rec.plot_path = o.out_dir + "/" + stem + ".png";
  }
  train::MLPerfOptions ml;
  ml.benchmark = "fashion_mnist_" + stem;
  ml.target = target;
  ml.numbers = {{"global_batch_size", static_cast<double>(o.loader.batch_size)},
                {"opt_base_learning_rate", o.lr},
                {"seed", static_cast<double>(o.seed)},
                {"train_samples", static_cast<double>(train_set.images.size(0))},
                {"eval_samples", static_cast<double>(test_set.images.size(0))}};
  auto stop = std::make_shared<train::StopAtTarget>("accuracy", target);
  // The metrics are summed over the ranks, so all see the same accuracy and stop at the same
  // epoch (their collectives stay in step).
  learner.add_callback(std::make_shared<train::Accuracy>());
  if (world > 1) learner.add_callback(std::make_shared<train::DataParallel>(o.group));
  if (lead)
    learner.add_callback(std::make_shared<train::ProgressBar>())
        .add_callback(std::make_shared<train::Recorder>(rec))
        .add_callback(std::make_shared<train::MLPerfLogger>(ml));
  if (o.stop_at_target) learner.add_callback(stop);
  if (!o.checkpoint.empty() && lead) learner.add_callback(std::make_shared<train::Checkpointer>(o.checkpoint));
  if (!o.resume.empty()) {
    learner.load_checkpoint(o.resume);
    if (lead) std::cout << "resumed from " << o.resume << " at epoch " << learner.epoch() + 1 << ", batch " << learner.batch()
              << "\n";
  }

  if (o.one_cycle)
    learner.fit_one_cycle(o.epochs, o.lr);
  else
    learner.fit(o.epochs);

  const auto& history = learner.history();
  const double accuracy = history.empty() ? 0.0 : history.back().at("accuracy");
  const bool reached = accuracy >= target;
  if (!lead) return reached;
  if (stop->reached())
    std::printf("%s: reached %.0f%% test accuracy (%.2f%%) after %lld epochs: time to train %.1f s\n", name.c_str(),
                100 * target, 100 * accuracy, static_cast<long long>(*stop->epochs_to_target()),
                *stop->seconds_to_target());
  else
    std::printf("%s: final test accuracy %.2f%% (target %.0f%%: %s), training time %.1f s\n", name.c_str(),
                100 * accuracy, 100 * target, reached ? "reached" : "NOT reached", learner.training_seconds());
  if (!rec.plot_path.empty() && !history.empty()) std::cout << "curves: " << rec.plot_path << "\n";
  return reached;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember-fashion-mnist: train an MLP and a CNN on Fashion-MNIST to a target accuracy"};
  std::string model = "both", data_dir = data::kFashionMnistDir;
  int epochs_mlp = 8, epochs_cnn = 4, epochs = 0;
  int64_t batch_size = 128, limit = 0;
  int workers = 0;
  bool augment = false, no_stop = false;
  std::string device_name = "cpu", executor = "serial";
  RunOptions o;
  o.out_dir = "fashion-mnist-run";
  app.add_option("--model", model, "mlp, cnn or both")->check(CLI::IsMember({"mlp", "cnn", "both"}));
  app.add_option("--epochs", epochs, "most epochs for every model (default: 8 for the MLP, 4 for the CNN)");
  app.add_option("--batch-size", batch_size, "mini-batch size")->check(CLI::PositiveNumber);
  double lr = 0;
  app.add_option("--lr", lr, "Adam learning rate, the peak with one-cycle (default: 1e-3 constant, 3e-3 one-cycle)");
  std::string schedule = "auto";
  app.add_option("--schedule", schedule,
                 "learning-rate schedule: constant, one-cycle (fastai's fit_one_cycle) or auto (the MLP constant, the "
                 "CNN one-cycle: what reaches each target soonest here)")
      ->check(CLI::IsMember({"auto", "constant", "one-cycle"}));
  app.add_option("--data", data_dir, "folder with the IDX files");
  app.add_option("--seed", o.seed, "random seed");
  app.add_option("--limit", limit, "use only the first N training images (quick runs)");
  app.add_option("--device", device_name, "where to train: cpu, cuda or cuda:N");
  app.add_option("--workers", workers, "batches loaded ahead as tasks on ember's executor (0: on demand)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--augment", augment, "random 28x28 crops of the images padded by 2, and horizontal flips, on the device");
  app.add_option("--out", o.out_dir, "folder for the CSV, JSON-lines and PNG records (empty: none)");
  app.add_option("--executor", executor, "how the loop's task graphs run: serial or parallel (work stealing)")
      ->check(CLI::IsMember({"serial", "parallel"}));
  app.add_option("--checkpoint", o.checkpoint, "save a checkpoint to this file after every epoch");
  app.add_option("--resume", o.resume, "resume from a checkpoint (one model: --model mlp or cnn)");
  app.add_flag("--no-stop", no_stop, "train every epoch instead of stopping at the target");
  std::string precision = "fp32";
  app.add_option("--precision", precision,
                 "fp32, or mixed precision under autocast: bf16, or fp16 with loss scaling")
      ->check(CLI::IsMember({"fp32", "bf16", "fp16"}));
  bool distributed = false;
  app.add_flag("--distributed", distributed,
               "data-parallel over the ranks of an MPI launch (on by itself under mpiexec -n N with N > 1): "
               "NCCL between GPUs, MPI between CPUs; --batch-size is the global batch");
  CLI11_PARSE(app, argc, argv);
  if (epochs > 0) epochs_mlp = epochs_cnn = epochs;
  o.stop_at_target = !no_stop;
  // The schedule and lr of one model: the given ones, or the auto choice for it.
  auto configure = [&](bool cnn) {
    o.one_cycle = schedule == "one-cycle" || (schedule == "auto" && cnn);
    o.lr = lr > 0 ? lr : (o.one_cycle ? 3e-3 : 1e-3);
  };
  o.executor = executor == "parallel" ? train::LoopExecutor::work_stealing : train::LoopExecutor::serial;
  if (precision != "fp32") o.autocast = precision == "bf16" ? kBFloat16 : kFloat16;

  try {
    EMBER_CHECK(o.resume.empty() || model != "both", "--resume needs one model (--model mlp or --model cnn)");
    EMBER_CHECK(o.checkpoint.empty() || model != "both", "--checkpoint needs one model (--model mlp or --model cnn)");
    manual_seed(o.seed);
    Device device(device_name);
    if (distributed || train::launched_world_size() > 1) {
      // Ranks on one machine share its cores, unless EMBER_NUM_THREADS says otherwise.
      if (!std::getenv("EMBER_NUM_THREADS") && train::launched_local_size() > 1)
        runtime::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) /
                                                 train::launched_local_size()));
      if (device.is_cuda() && device_name == "cuda") device = Device(DeviceType::CUDA, train::launched_local_rank());
      o.group = device.is_cuda() && train::built_with_nccl() ? train::nccl_process_group(device)
                                                             : train::mpi_process_group();
      EMBER_CHECK(batch_size % o.group->size() == 0, "--batch-size ", batch_size, " does not split evenly over ",
                  o.group->size(), " ranks");
    }
    const bool lead = !o.group || o.group->rank() == 0;
    std::ostringstream quiet;
    std::ostream& say = lead ? std::cout : quiet;
    say << "loading Fashion-MNIST from " << data_dir << "\n";
    data::ImageSplit train_set = data::load_mnist_split(data_dir, "train");
    data::ImageSplit test_set = data::load_mnist_split(data_dir, "test");
    if (limit > 0 && limit < train_set.images.size(0)) {
      train_set.images = train_set.images.narrow(0, 0, limit);
      train_set.labels = train_set.labels.narrow(0, 0, limit);
    }
    for (data::ImageSplit* split : {&train_set, &test_set}) {
      split->images = split->images.to(device);
      split->labels = split->labels.to(device);
    }
    say << "train " << train_set.images.shape() << ", test " << test_set.images.shape() << " on " << device << "\n";
    if (!o.out_dir.empty() && lead) std::filesystem::create_directories(o.out_dir);

    o.loader.batch_size = batch_size;
    o.loader.shuffle = true;
    o.loader.seed = o.seed;
    o.loader.num_workers = workers;
    if (augment) {
      const double background = (0.0 - 0.2860) / 0.3530;  // a black pixel after load_mnist_split's normalisation
      using data::on_input;
      o.loader.device_transform = data::compose(
          {on_input([=](const Tensor& x, Generator& g) { return data::random_crop(x, 28, 28, 2, g, background); }),
           on_input([](const Tensor& x, Generator& g) { return data::random_horizontal_flip(x, 0.5, g); })});
    }
    bool ok = true;
    if (model == "mlp" || model == "both") {
      o.epochs = epochs_mlp;
      configure(false);
      ok &= run("MLP", make_mlp(), train_set, test_set, 0.88, o);
    }
    if (model == "cnn" || model == "both") {
      o.epochs = epochs_cnn;
      configure(true);
      ok &= run("CNN", make_cnn(), train_set, test_set, 0.91, o);
    }
    return ok || limit > 0 ? 0 : 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
