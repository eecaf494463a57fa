// GPU augmentation and loading: the batch transforms (data/transforms.hpp)
// applied to a GPU batch draw the same Philox numbers as on the CPU, so from
// one seed the crops, flips and cutouts are bit-identical on both devices; a
// DataLoader delivering pinned batches to the GPU with a device_transform
// gives the batches the CPU loader gives. Skips cleanly without a GPU; also
// rehearsed on the CPU.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include <ember/ember.hpp>

#include "cuda_compare.hpp"

namespace {

using namespace ember;
using namespace ember::data;
using ember::testing::cuda_matches;
using ember::testing::gpu;
using ember::testing::kGpu;
using ember::testing::kRehearsal;
using ember::testing::on_gpu;
using ember::testing::to_gpu;
using ember::testing::to_vector;

Tensor images(int64_t n, DType dtype) {
  Generator g(123);
  Tensor u = rand({n, 3, 10, 12}, {}, &g);
  return ops::to(ops::mul(u, ops::scalar_tensor(255.0, u)), dtype);
}

// Runs fn on the CPU and on the GPU with generators of one seed; the results must be identical.
template <class Fn>
void expect_same_on_both(const Tensor& cpu_x, Fn fn, const char* what) {
  Generator gc(77), gg(77);
  Tensor want = fn(cpu_x, gc);
  Tensor got = fn(gpu(cpu_x), gg);
  EXPECT_TRUE(on_gpu(got)) << what;
  EXPECT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(to_vector(got), to_vector(want)) << what << ": the GPU augmentation differs from the CPU's";
}

BatchTransform augment() {
  return compose({on_input([](const Tensor& x, Generator& g) { return random_crop(to_float(x), 8, 9, 2, g); }),
                  on_input([](const Tensor& x, Generator& g) { return random_horizontal_flip(x, 0.5, g); }),
                  on_input([](const Tensor& x, Generator& g) { return random_cutout(x, 3, 0.5, g); })});
}

}  // namespace

TEST(CudaData, AugmentationsMatchTheCpuBitForBit) {
  EMBER_SKIP_WITHOUT_GPU();
  for (DType dt : {kFloat32, kUInt8}) {
    Tensor x = images(16, dt);
    expect_same_on_both(x, [](const Tensor& t, Generator& g) { return random_crop(t, 8, 9, 2, g, 1.0); }, "random_crop");
    expect_same_on_both(x, [](const Tensor& t, Generator& g) { return random_horizontal_flip(t, 0.5, g); }, "hflip");
    expect_same_on_both(x, [](const Tensor& t, Generator& g) { return random_vertical_flip(t, 0.5, g); }, "vflip");
    expect_same_on_both(x, [](const Tensor& t, Generator& g) { return random_cutout(t, 4, 0.7, g); }, "cutout");
    expect_same_on_both(x.select(0, 3), [](const Tensor& t, Generator& g) { return random_crop(t, 5, 5, 1, g); },
                        "random_crop of one image");
  }
  Tensor f = to_float(images(8, kUInt8));
  expect_same_on_both(f, [](const Tensor& t, Generator&) { return resize(t, 7, 15); }, "resize");
  expect_same_on_both(f, [](const Tensor& t, Generator& g) { return random_resized_crop(t, 9, 9, g); },
                      "random_resized_crop");
  expect_same_on_both(f, [](const Tensor& t, Generator&) { return resize(t, 4, 5, /*antialias=*/true); },
                      "antialiased resize");
  expect_same_on_both(
      f, [](const Tensor& t, Generator& g) { return random_resized_crop(t, 5, 6, g, {0.5, 1.0}, {0.75, 1.33}, true); },
      "antialiased random_resized_crop");
  Tensor x = images(4, kUInt8);
  Tensor want = normalize(to_float(x), {0.5, 0.4, 0.3}, {0.2, 0.25, 0.3});
  Tensor got = normalize(to_float(gpu(x)), {0.5, 0.4, 0.3}, {0.2, 0.25, 0.3});
  EXPECT_TRUE(cuda_matches(got, want));
  // Colour: the same factors from one seed; the luminance sums and means may round differently.
  for (const auto& [what, fn] : std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, Generator&)>>>{
           {"color_jitter", [](const Tensor& t, Generator& g) { return color_jitter(t, 0.4, 0.4, 0.4, 0.2, g); }},
           {"random_grayscale", [](const Tensor& t, Generator& g) { return random_grayscale(t, 0.5, g); }}}) {
    Generator gc(78), gg(78);
    EXPECT_TRUE(cuda_matches(fn(gpu(f), gg), fn(f, gc))) << what;
  }
}

TEST(CudaData, LoaderDeliversAugmentedBatchesToTheGpu) {
  EMBER_SKIP_WITHOUT_GPU();
  auto ds = std::make_shared<TensorDataset>(images(37, kUInt8), arange(0, 37, TensorOptions(kInt64)));
  DataLoaderOptions o;
  o.batch_size = 8;
  o.shuffle = true;
  o.seed = 5;
  o.num_workers = 2;
  o.device_transform = augment();
  DataLoader on_cpu(ds, o);
  o.device = kGpu;
  o.pin_memory = !kRehearsal;  // pinned memory needs a real GPU
  DataLoader on_device(ds, o);
  DataLoader::Iterator want = on_cpu.iterate(2);
  int64_t batches = 0;
  for (DataLoader::Iterator got = on_device.iterate(2); !(got == DataLoader::Sentinel{}); ++got, ++want) {
    ASSERT_FALSE(want == DataLoader::Sentinel{});
    EXPECT_TRUE(on_gpu(got->input) && on_gpu(got->target));
    EXPECT_EQ(got->input.shape(), want->input.shape());
    EXPECT_EQ(to_vector(got->input), to_vector(want->input)) << "batch " << got.index();
    EXPECT_EQ(to_vector(got->target), to_vector(want->target)) << "batch " << got.index();
    ++batches;
  }
  EXPECT_EQ(batches, 5);

  // A dataset already on the GPU: each batch is gathered there by the loading tasks.
  auto resident = std::make_shared<TensorDataset>(to_gpu(ds->inputs()), to_gpu(ds->targets()));
  DataLoaderOptions r;
  r.batch_size = 8;
  r.shuffle = true;
  r.seed = 5;
  r.num_workers = 2;
  DataLoaderOptions c = r;
  DataLoader::Iterator cpu_it = DataLoader(ds, c).iterate(0);
  for (Batch& b : DataLoader(resident, r)) {
    EXPECT_TRUE(on_gpu(b.input));
    EXPECT_EQ(to_vector(b.input), to_vector(cpu_it->input));
    ++cpu_it;
  }
}
