// Tensor core tests: views (sharing storage and the version counter), copies
// and dtype round trips, factories, item()/data_ptr(), dim errors, 0-dim
// tensors, and the README example. Float comparisons state their tolerance;
// everything else here is exact.
#include <cstring>
#include <numeric>

#include "gpu.hpp"
#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::all_close;
using ember::testing::expect_error;
using ember::testing::from_values;
using ember::testing::to_vector;

const DType kAllDtypes[] = {kFloat32, kFloat64, kFloat16, kBFloat16, kInt64, kInt32, kUInt8, kBool};

Tensor iota(IntList shape, DType dt = kFloat32) { return arange(0, product(shape), dt).reshape(shape); }

// ---- dtype visitors ---------------------------------------------------------------------------
TEST(DTypes, VisitorsPickTheElementType) {
  for (DType dt : kAllDtypes) {
    const size_t size = visit_dtype(dt, []<class T>() { return sizeof(T); });
    EXPECT_EQ(size, dt.itemsize()) << dt.name();
    EXPECT_EQ(visit_dtype(dt, []<class T>() { return dtype_of_v<T>; }), dt);
    // visit_itemsize: an unsigned type of the same width.
    EXPECT_EQ(visit_itemsize(dt.itemsize(), []<class U>() { return sizeof(U) * (std::is_unsigned_v<U> ? 1 : 100); }),
              dt.itemsize())
        << dt.name();
    if (dt.is_floating()) {
      EXPECT_EQ(visit_floating(dt, "op", []<class T>() { return dtype_of_v<T>; }), dt);
    } else {
      expect_error([&] { visit_floating(dt, "my_op", []<class T>() { return 0; }); }, {"my_op", dt.name()});
    }
  }
  expect_error([] { visit_numeric(kBool, "my_op", []<class T>() { return 0; }); }, {"my_op", "bool"});
  expect_error([] { visit_itemsize(3, []<class U>() { return 0; }); }, {"visit_itemsize", "3"});
}

// ---- views ------------------------------------------------------------------------------------

TEST(Views, ViewAndReshapeShareStorage) {
  Tensor x = iota({3, 4});
  Tensor v = x.view({4, 3});
  EXPECT_TRUE(v.is_alias_of(x));
  EXPECT_EQ(v.shape(), IntList({4, 3}));
  EXPECT_EQ(v.strides(), IntList({3, 1}));
  v.select(0, 0).fill_(-1);  // writes through the view
  EXPECT_EQ(to_vector(x)[2], -1.0);
  EXPECT_EQ(v.version(), x.version());
  uint32_t before = x.version();
  x.add_(1.0);
  EXPECT_EQ(v.version(), before + 1);
  // -1 is inferred; reshape of a contiguous tensor is a view, of a transposed one a copy.
  EXPECT_EQ(x.view({2, -1, 3}).shape(), IntList({2, 2, 3}));
  EXPECT_TRUE(x.reshape({12}).is_alias_of(x));
  Tensor r = x.t().reshape({12});
  EXPECT_FALSE(r.is_alias_of(x));
  EXPECT_EQ(to_vector(r), to_vector(x.t().contiguous()));
  // A transposed tensor cannot be viewed flat, but reshape into compatible groups stays a view.
  expect_error([&] { x.t().view({12}); }, {"view", "[12]", "[4, 3]", "reshape"});
  Tensor y = iota({2, 3, 4}).permute({1, 0, 2});  // (3, 2, 4): last dim still contiguous
  EXPECT_TRUE(y.reshape({3, 2, 2, 2}).is_alias_of(y));
  expect_error([&] { x.view({5, -1}); }, {"view", "[5, -1]", "size 12"});
  expect_error([&] { x.view({-1, -1}); }, {"view", "only one dimension can be inferred"});
  expect_error([&] { x.reshape({5}); }, {"reshape", "[5]", "size 12"});
  // Size-0 tensors view freely.
  EXPECT_EQ(zeros({0, 4}).view({4, 0, 3}).shape(), IntList({4, 0, 3}));
}

TEST(Views, PermuteTransposeT) {
  Tensor x = iota({2, 3, 4});
  Tensor p = x.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), IntList({4, 2, 3}));
  EXPECT_EQ(p.strides(), IntList({1, 12, 4}));
  EXPECT_TRUE(p.is_alias_of(x));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(to_vector(p.select(0, 1).select(0, 1)), (std::vector<double>{13, 17, 21}));
  EXPECT_EQ(x.permute({-1, 0, 1}).shape(), p.shape());
  Tensor t = x.transpose(0, -1);
  EXPECT_EQ(t.shape(), IntList({4, 3, 2}));
  EXPECT_EQ(t.strides(), IntList({1, 4, 12}));
  Tensor m = iota({2, 3});
  EXPECT_EQ(m.t().shape(), IntList({3, 2}));
  EXPECT_EQ(to_vector(m.t()), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(iota({5}).t().shape(), IntList({5}));
  expect_error([&] { x.t(); }, {"t", "[2, 3, 4]"});
  expect_error([&] { x.permute({0, 1}); }, {"permute", "3 dims", "[0, 1]"});
  expect_error([&] { x.permute({0, 1, 1}); }, {"permute", "repeats"});
  expect_error([&] { x.transpose(0, 3); }, {"transpose", "dim 3", "3 dims"});
}

TEST(Views, NarrowSliceSelect) {
  Tensor x = iota({3, 4});
  Tensor n = x.narrow(1, 1, 2);
  EXPECT_TRUE(n.is_alias_of(x));
  EXPECT_EQ(n.storage_offset(), 1);
  EXPECT_EQ(to_vector(n), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(to_vector(x.narrow(0, -1, 1)), (std::vector<double>{8, 9, 10, 11}));
  expect_error([&] { x.narrow(1, 3, 2); }, {"narrow", "start 3", "length 2", "size 4"});
  // slice: start/end clamp, negative indices count from the end, step > 1.
  Tensor s = x.slice(1, 1, {}, 2);
  EXPECT_EQ(s.shape(), IntList({3, 2}));
  EXPECT_EQ(s.strides(), IntList({4, 2}));
  EXPECT_EQ(to_vector(s), (std::vector<double>{1, 3, 5, 7, 9, 11}));
  EXPECT_EQ(to_vector(x.slice(0, -2)), (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(x.slice(1, 3, 1).shape(), IntList({3, 0}));
  EXPECT_EQ(x.slice(1, -100, 100).shape(), IntList({3, 4}));
  EXPECT_EQ(to_vector(x.slice(1, 0, 4, 3)), (std::vector<double>{0, 3, 4, 7, 8, 11}));
  expect_error([&] { x.slice(1, 0, 4, 0); }, {"slice", "step", "0"});
  // select drops the dim; negative index counts from the end.
  Tensor r = x.select(1, -1);
  EXPECT_EQ(r.shape(), IntList({3}));
  EXPECT_EQ(to_vector(r), (std::vector<double>{3, 7, 11}));
  EXPECT_EQ(to_vector(x[2]), (std::vector<double>{8, 9, 10, 11}));
  expect_error([&] { x.select(0, 3); }, {"select", "index 3", "size 3"});
  expect_error([&] { x.select(1, -5); }, {"select", "index -5", "size 4"});
  expect_error([&] { full({}, 1.0).select(0, 0); }, {"select", "0-dim"});
}

TEST(Views, ExpandSqueezeUnsqueezeFlatten) {
  Tensor x = iota({3, 1});
  Tensor e = x.expand({2, 3, 4});
  EXPECT_EQ(e.shape(), IntList({2, 3, 4}));
  EXPECT_EQ(e.strides(), IntList({0, 1, 0}));
  EXPECT_TRUE(e.is_alias_of(x));
  EXPECT_EQ(to_vector(e.select(0, 1).select(0, 2)), (std::vector<double>{2, 2, 2, 2}));
  EXPECT_EQ(x.expand({-1, 5}).shape(), IntList({3, 5}));
  x.fill_(7);  // visible through the expanded view
  EXPECT_EQ(to_vector(e)[23], 7.0);
  expect_error([&] { x.expand({4, 4}); }, {"expand", "size 4", "existing size 3", "[3, 1] float32"});
  expect_error([&] { x.expand({4}); }, {"expand", "at least"});

  Tensor s = zeros({1, 3, 1, 2});
  EXPECT_EQ(s.squeeze().shape(), IntList({3, 2}));
  EXPECT_EQ(s.squeeze(2).shape(), IntList({1, 3, 2}));
  EXPECT_EQ(s.squeeze(1).shape(), IntList({1, 3, 1, 2}));  // not size 1: unchanged
  EXPECT_EQ(s.squeeze(-4).shape(), IntList({3, 1, 2}));
  EXPECT_TRUE(s.squeeze().is_alias_of(s));
  Tensor u = iota({2, 3}).unsqueeze(1);
  EXPECT_EQ(u.shape(), IntList({2, 1, 3}));
  EXPECT_EQ(iota({2, 3}).unsqueeze(-1).shape(), IntList({2, 3, 1}));
  EXPECT_EQ(iota({2, 3}).unsqueeze(0).shape(), IntList({1, 2, 3}));
  expect_error([] { iota({2, 3}).unsqueeze(3); }, {"unsqueeze", "dim 3"});
  expect_error([] { iota({2, 3}).squeeze(2); }, {"squeeze", "dim 2", "2 dims"});

  Tensor f = iota({2, 3, 4});
  EXPECT_EQ(f.flatten().shape(), IntList({24}));
  EXPECT_EQ(f.flatten(1).shape(), IntList({2, 12}));
  EXPECT_EQ(f.flatten(0, 1).shape(), IntList({6, 4}));
  EXPECT_TRUE(f.flatten().is_alias_of(f));
  EXPECT_EQ(to_vector(f.transpose(0, 2).flatten()), to_vector(f.transpose(0, 2).contiguous()));
  EXPECT_EQ(full({}, 1.0).flatten().shape(), IntList({1}));
  expect_error([&] { f.flatten(2, 1); }, {"flatten", "start_dim"});
}

TEST(Views, AsStridedSplitChunk) {
  Tensor x = iota({12});
  Tensor a = x.as_strided({3, 2}, {4, 1}, 1);
  EXPECT_TRUE(a.is_alias_of(x));
  EXPECT_EQ(to_vector(a), (std::vector<double>{1, 2, 5, 6, 9, 10}));
  EXPECT_EQ(to_vector(x.as_strided({2, 2}, {0, 11})), (std::vector<double>{0, 11, 0, 11}));
  expect_error([&] { x.as_strided({3, 2}, {4, 1}, 4); }, {"as_strided", "element 13", "12 elements"});
  expect_error([&] { x.as_strided({2}, {-1}); }, {"as_strided", "negative"});
  expect_error([&] { x.as_strided({2, 2}, {1}); }, {"as_strided", "different lengths"});
  EXPECT_EQ(x.as_strided({0, 5}, {100, 100}, 12).numel(), 0);  // nothing is reached

  Tensor m = iota({5, 2});
  auto parts = m.split(2);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[2].shape(), IntList({1, 2}));
  EXPECT_TRUE(parts[1].is_alias_of(m));
  EXPECT_EQ(to_vector(parts[1]), (std::vector<double>{4, 5, 6, 7}));
  auto cols = m.split(1, 1);
  ASSERT_EQ(cols.size(), 2u);
  EXPECT_EQ(to_vector(cols[1]), (std::vector<double>{1, 3, 5, 7, 9}));
  auto sizes = ember::split_with_sizes(m, {1, 4});
  EXPECT_EQ(sizes[1].shape(), IntList({4, 2}));
  expect_error([&] { ember::split_with_sizes(m, {1, 3}); }, {"split_with_sizes", "[1, 3]", "4", "size 5"});
  auto ch = m.chunk(3);
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].size(0), 2);
  EXPECT_EQ(ch[2].size(0), 1);
  EXPECT_EQ(m.chunk(10).size(), 5u);
  expect_error([&] { m.chunk(0); }, {"chunk", "positive"});
}

// ---- copies and conversions ------------------------------------------------------------------------

TEST(Copies, ContiguousCloneToRoundTrips) {
  const std::vector<double> vals = {0, 1, 5, 3, 1, 0, 2, 4, 7, 1, 0, 6};
  for (DType dt : kAllDtypes) {
    std::vector<double> v = vals;
    if (dt == kBool)
      for (double& e : v) e = e != 0;
    Tensor x = from_values(v, {3, 4}, dt);
    EXPECT_EQ(x.dtype(), dt);
    EXPECT_EQ(x.itemsize(), dt.itemsize());
    EXPECT_EQ(x.nbytes(), 12 * dt.itemsize());
    EXPECT_TRUE(ops::contiguous(x).is_same(x));  // already contiguous: the same tensor
    Tensor t = x.t();
    Tensor c = t.contiguous();
    EXPECT_TRUE(c.is_contiguous());
    EXPECT_FALSE(c.is_alias_of(x));
    EXPECT_EQ(to_vector(c), to_vector(t)) << dt;
    Tensor k = x.clone();
    EXPECT_FALSE(k.is_alias_of(x));
    EXPECT_EQ(to_vector(k), v) << dt;
    EXPECT_TRUE(x.to(dt).is_same(x));  // same dtype: no copy
    for (DType other : kAllDtypes) {
      if (other == kBool && dt != kBool) continue;  // bool loses values
      EXPECT_EQ(to_vector(x.to(other).to(dt)), v) << dt << " -> " << other << " -> " << dt;
    }
  }
}

// ---- factories ---------------------------------------------------------------------------------------

TEST(Factories, ShapesDtypesValues) {
  Tensor e = empty({2, 3}, kInt32);
  EXPECT_EQ(e.shape(), IntList({2, 3}));
  EXPECT_EQ(e.dtype(), kInt32);
  EXPECT_TRUE(e.is_contiguous());
  EXPECT_TRUE(e.is_cpu());
  EXPECT_EQ(empty({0}).numel(), 0);
  EXPECT_EQ(zeros({2, 2}).dtype(), kFloat32);
  EXPECT_EQ(to_vector(zeros({3})), std::vector<double>(3, 0.0));
  EXPECT_EQ(to_vector(ones({2}, kFloat64)), std::vector<double>(2, 1.0));
  EXPECT_EQ(to_vector(full({2, 2}, 2.5)), std::vector<double>(4, 2.5));
  EXPECT_EQ(full({2}, 7, kInt64).dtype(), kInt64);
  EXPECT_EQ(to_vector(zeros_like(iota({2, 3}, kInt32))), std::vector<double>(6, 0.0));
  EXPECT_EQ(ones_like(iota({2}, kInt32)).dtype(), kInt32);
  EXPECT_EQ(to_vector(full_like(iota({2}), 3)), std::vector<double>(2, 3.0));
  expect_error([] { empty({2, -1}); }, {"empty", "negative dimension -1", "[2, -1]"});
  // arange infers int64 from integer arguments and float32 otherwise.
  EXPECT_EQ(arange(4).dtype(), kInt64);
  EXPECT_EQ(arange(0.0, 4).dtype(), kFloat32);
  EXPECT_EQ(arange(0, 4, 0.5).dtype(), kFloat32);
  EXPECT_EQ(arange(0, 4, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(to_vector(arange(4)), (std::vector<double>{0, 1, 2, 3}));
  expect_error([] { arange(0, 4, 0); }, {"arange", "step must be nonzero"});
  expect_error([] { arange(4, 0); }, {"arange", "inconsistent with the sign of step"});
  expect_error([] { arange(0.0, INFINITY); }, {"arange", "finite"});
  // linspace ends exactly on its endpoints; eye is identity.
  auto l = to_vector(linspace(0.1, 0.7, 7, kFloat64));
  EXPECT_EQ(l.front(), 0.1);
  EXPECT_EQ(l.back(), 0.7);
  EXPECT_EQ(to_vector(eye(2)), (std::vector<double>{1, 0, 0, 1}));
}

TEST(Factories, FromBlobIsNonOwning) {
  std::vector<float> buf = {1, 2, 3, 4, 5, 6};
  {
    Tensor t = from_blob(buf.data(), {2, 3});
    EXPECT_EQ(t.data_ptr<float>(), buf.data());
    EXPECT_EQ(to_vector(t), (std::vector<double>{1, 2, 3, 4, 5, 6}));
    buf[0] = 10;  // the tensor sees the caller's memory
    EXPECT_EQ(to_vector(t)[0], 10.0);
    t.select(1, 2).fill_(0);  // and writes to it
    Tensor strided = from_blob(buf.data(), {3}, {2});
    EXPECT_EQ(to_vector(strided), (std::vector<double>{10, 0, 5}));
  }
  // The tensors are gone; the buffer is still the caller's and still valid.
  EXPECT_EQ(buf, (std::vector<float>{10, 2, 0, 4, 5, 0}));
  int64_t ints[4] = {1, 2, 3, 4};
  Tensor ti = from_blob(ints, {4}, kInt64);
  ti.mul_(2);
  EXPECT_EQ(ints[3], 8);
  expect_error([] { from_blob(nullptr, {2}); }, {"from_blob", "null"});
}

TEST(Factories, TensorFromValues) {
  Tensor f = ember::tensor({1.5f, 2.f});
  EXPECT_EQ(f.dtype(), kFloat32);
  EXPECT_EQ(to_vector(f), (std::vector<double>{1.5, 2}));
  EXPECT_EQ(ember::tensor({1.5, 2.0}).dtype(), kFloat32);  // as torch.tensor: the default float dtype
  EXPECT_EQ(ember::tensor({1, 2, 3}).dtype(), kInt64);
  EXPECT_EQ(ember::tensor({true, false}).dtype(), kBool);
  EXPECT_EQ(ember::tensor({1, 2}, kFloat64).dtype(), kFloat64);
  EXPECT_EQ(to_vector(ember::tensor(std::vector<int>{4, 5})), (std::vector<double>{4, 5}));
  EXPECT_EQ(to_vector(ember::tensor(std::vector<bool>{true, false, true})), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(ember::tensor(std::vector<float>{}).shape(), IntList({0}));
  Tensor m = ember::tensor({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(m.shape(), IntList({2, 3}));
  EXPECT_EQ(to_vector(m), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  Tensor c = ember::tensor({{{1.f, 2.f}, {3.f, 4.f}}, {{5.f, 6.f}, {7.f, 8.f}}, {{9.f, 10.f}, {11.f, 12.f}}});
  EXPECT_EQ(c.shape(), IntList({3, 2, 2}));
  EXPECT_EQ(to_vector(c)[11], 12.0);
  EXPECT_EQ(ember::tensor({{true}, {false}}, kInt32).dtype(), kInt32);
  expect_error([] { ember::tensor({{1, 2}, {3}}); }, {"tensor", "different lengths", "2", "1"});
  expect_error([] { ember::tensor({{{1, 2}}, {{3}}}); }, {"tensor", "different lengths"});
  expect_error([] { ember::tensor({{{1}}, {{2}, {3}}}); }, {"tensor", "different lengths"});
}

// ---- item and data_ptr ---------------------------------------------------------------------------

TEST(Access, ItemAndDataPtr) {
  EXPECT_EQ(full({}, 2.5).item<float>(), 2.5f);
  EXPECT_EQ(full({1, 1}, 3, kInt32).item<int64_t>(), 3);
  EXPECT_EQ(full({1}, 1.75, kFloat16).item<double>(), 1.75);
  EXPECT_EQ(full({1}, -2.5, kBFloat16).item<float>(), -2.5f);
  EXPECT_EQ(full({1}, 2.9).item<int32_t>(), 2);  // converts as static_cast
  EXPECT_TRUE(full({}, 3).item<bool>());
  EXPECT_FALSE(zeros({1}).item<bool>());
  EXPECT_EQ(static_cast<float>(full({}, 0.5).item<Half>()), 0.5f);
  EXPECT_EQ(iota({3}).select(0, 2).item<double>(), 2.0);  // through a view with an offset
  Scalar s = full({}, 1.5, kFloat64).item();
  EXPECT_TRUE(s.is_floating());
  EXPECT_EQ(s.to_double(), 1.5);
  EXPECT_TRUE(full({}, 4, kInt32).item().is_integral());
  EXPECT_TRUE(full({}, true, kBool).item().is_bool());
  expect_error([] { ones({2}).item<float>(); }, {"item", "one element", "[2] float32 cpu"});
  expect_error([] { ones({0}).item<float>(); }, {"item", "[0] float32"});

  Tensor x = iota({2, 3});
  float* p = x.data_ptr<float>();
  EXPECT_EQ(p[4], 4.0f);
  EXPECT_EQ(x.select(0, 1).data_ptr<float>(), p + 3);
  expect_error([&] { x.data_ptr<int64_t>(); }, {"data_ptr", "float32", "int64"});
  expect_error([&] { ones({2}, kBool).data_ptr<uint8_t>(); }, {"data_ptr", "bool", "uint8"});
  expect_error([] { Tensor().dim(); }, {"undefined Tensor"});
}

// ---- dims and 0-dim tensors ------------------------------------------------------------------------------

TEST(Dims, OutOfRangeDimsNameDimAndNdim) {
  Tensor x = zeros({2, 3});
  expect_error([&] { x.size(2); }, {"dim 2", "2 dims"});
  expect_error([&] { x.size(-3); }, {"dim -3", "2 dims"});
  expect_error([&] { x.stride(5); }, {"dim 5", "2 dims"});
  expect_error([&] { x.select(2, 0); }, {"select", "dim 2", "2 dims"});
  expect_error([&] { x.narrow(-3, 0, 1); }, {"narrow", "dim -3", "2 dims"});
  expect_error([&] { x.flatten(0, 2); }, {"flatten", "dim 2", "2 dims"});
  EXPECT_EQ(x.size(-1), 3);
  EXPECT_EQ(x.stride(-2), 3);
  EXPECT_EQ(wrap_dim(-1, 0, "op"), 0);
  expect_error([] { wrap_dim(1, 0, "myop"); }, {"myop", "dim 1", "0 dims"});
}

TEST(Dims, ZeroDimTensors) {
  Tensor s = full({}, 2.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_TRUE(s.shape().empty());
  EXPECT_TRUE(s.is_contiguous());
  EXPECT_EQ(s.item<double>(), 2.0);
  EXPECT_EQ(s.reshape({1, 1}).shape(), IntList({1, 1}));
  EXPECT_EQ(s.unsqueeze(0).shape(), IntList({1}));
  EXPECT_EQ(s.unsqueeze(-1).shape(), IntList({1}));
  EXPECT_EQ(s.t().dim(), 0);
  EXPECT_EQ(s.squeeze().dim(), 0);
  EXPECT_EQ(s.squeeze(0).dim(), 0);
  EXPECT_EQ(s.expand({2, 3}).shape(), IntList({2, 3}));
  EXPECT_EQ(ones({1}).reshape({}).dim(), 0);
  Tensor sum = ops::add(s, iota({3}));
  EXPECT_EQ(to_vector(sum), (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(ops::mul(s, s).dim(), 0);
  EXPECT_EQ(s.clone().dim(), 0);
  EXPECT_EQ(s.to(kInt64).item<int64_t>(), 2);
  EXPECT_EQ(s.describe(), "[] float32 cpu");
  expect_error([&] { s.size(1); }, {"dim 1", "0 dims"});
  expect_error([&] { s.view({2}); }, {"view", "[2]", "size 1"});
}

// ---- the README example ----------------------------------------------------------------------------

// Without a usable GPU (a CPU-only build, or a CUDA build on a machine without a device) pinning is
// an error that says why, nothing counts as pinned, and non_blocking copies are plain copies. With a
// GPU, CudaPinned.* (tests/cuda/test_cuda_runtime.cpp) cover pinned memory.
TEST(PinnedMemory, WithoutAGpuPinningIsAnErrorAndNothingIsPinned) {
  if (ember::testing::gpu_available()) GTEST_SKIP() << "a GPU is present: CudaPinned.* cover pinned memory";
  Tensor x = randn({4, 3});
  EXPECT_FALSE(x.is_pinned());
  EXPECT_FALSE(ops::is_pinned(ops::transpose(x, 0, 1)));
  expect_error([&] { (void)x.pin_memory(); }, {"pin_memory: ", "host memory needs a"});
  expect_error([&] { (void)empty_pinned({2, 2}); }, {"pin_memory: ", "host memory needs a"});
  expect_error([&] { (void)ops::is_pinned(Tensor()); }, {"is_pinned: undefined tensor"});
  Tensor y = zeros({4, 3});
  ops::copy_(y, x, /*non_blocking=*/true);
  EXPECT_EQ(to_vector(y), to_vector(x));
  EXPECT_TRUE(x.to(kCPU, /*non_blocking=*/true).is_same(x));
}

TEST(Readme, MatmulExample) {
  manual_seed(0);
  Tensor a = randn({2, 3});
  Tensor b = arange(0, 6, kFloat32).reshape({3, 2});
  Tensor c = matmul(a, b) + 1.0f;
  ASSERT_EQ(c.shape(), IntList({2, 2}));
  EXPECT_EQ(c.dtype(), kFloat32);
  auto av = to_vector(a), bv = to_vector(b);
  std::vector<double> ref(4);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      double acc = 1.0;
      for (int k = 0; k < 3; ++k) acc += av[static_cast<size_t>(i * 3 + k)] * bv[static_cast<size_t>(k * 2 + j)];
      ref[static_cast<size_t>(i * 2 + j)] = acc;
    }
  EXPECT_TRUE(all_close(c, from_values(ref, {2, 2}), 1e-5, 1e-5));  // float32 dot products of length 3
  // The same seed gives the same a.
  manual_seed(0);
  EXPECT_TRUE(all_close(randn({2, 3}), a, 0, 0));
  expect_error([&] { matmul(a, a); }, {"inner dimensions differ", "[2, 3]"});
}

}  // namespace
}  // namespace ember
