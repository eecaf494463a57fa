// The CUDA runtime layer: kernel registration (runs without a GPU), devices,
// streams, events, the caching allocator on a real device, and CUDA errors
// that name the failing call, pinned host memory and non-blocking copies.
// GPU tests skip cleanly without a GPU.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "gpu.hpp"
#include "test_util.hpp"

#if defined(EMBER_WITH_CUDA)
#include <ember/kernels/cuda/register.hpp>
#include <ember/runtime/cuda_allocator.hpp>
#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/cuda_stream.hpp>
#endif

namespace {

using namespace ember;

#if defined(EMBER_WITH_CUDA)

const Device kGpu{DeviceType::CUDA, 0};

// No GPU needed: registration fills the slots of every op with a CUDA kernel
// and installs the caching allocator, without touching the device.
TEST(CudaRegistration, FillsTheCudaTableAndInstallsTheAllocator) {
  const KernelTable& t = kernel_table(DeviceType::CUDA);
  for (Op op : {Op::neg, Op::gelu, Op::logical_not, Op::add, Op::pow, Op::logical_or, Op::gelu_backward, Op::where,
                Op::masked_fill, Op::addcmul, Op::addcdiv, Op::copy, Op::fill, Op::arange, Op::linspace, Op::eye,
                Op::uniform, Op::normal, Op::randint, Op::dropout, Op::sum, Op::mean, Op::prod, Op::amax, Op::amin,
                Op::softmax, Op::log_softmax, Op::softmax_backward, Op::log_softmax_backward, Op::mm, Op::bmm,
                Op::linear, Op::adam_step})
    EXPECT_TRUE(t.has(op)) << op_info(op).name;
  EXPECT_NO_THROW((void)get_allocator(kGpu));
  EXPECT_EQ(pinned_memory(), cuda::pinned_memory_provider());
  EXPECT_FALSE(cuda::allow_tf32());
}

// Every op has a CUDA kernel (OpList.EveryOpHasACudaKernel checks that); the message an
// empty slot would give names the op and the device.
TEST(CudaRegistration, MissingKernelsAreReportedClearly) {
  EXPECT_TRUE(kernel_table(DeviceType::CUDA).has(Op::sort));
  ember::testing::expect_error([] { detail::missing_kernel("sort", kGpu); }, {"sort: no kernel for device cuda"});
}

TEST(CudaRuntime, ErrorsNameTheCallAndTheOp) {
  EMBER_SKIP_WITHOUT_GPU();
  ember::testing::expect_error([] { cuda::DeviceGuard guard(cuda::device_count() + 5); },
                        {"set_device", "cudaSetDevice", "invalid"});
  ember::testing::expect_error([] { (void)empty({4}, TensorOptions(kFloat32, Device(DeviceType::CUDA, 100))); },
                        {"cuda:100", "does not exist"});
}

TEST(CudaRuntime, CurrentStreamIsPerThreadAndRestoredByTheGuard) {
  EMBER_SKIP_WITHOUT_GPU();
  EXPECT_EQ(cuda::current_stream(0), cuda::default_stream(0));
  cuda::Stream side = cuda::stream_from_pool(0);
  EXPECT_NE(side.handle(), nullptr);
  {
    cuda::StreamGuard guard(side);
    EXPECT_EQ(cuda::current_stream(0), side);
    std::thread other([&] { EXPECT_EQ(cuda::current_stream(0), cuda::default_stream(0)); });
    other.join();
    // Work issued here runs on `side`.
    Tensor x = ops::add(ones({1000}, TensorOptions(kFloat32, kGpu)), ones({1000}, TensorOptions(kFloat32, kGpu)));
    side.synchronize();
    EXPECT_TRUE(side.query());
    EXPECT_EQ(ops::sum(x).item<double>(), 2000.0);
  }
  EXPECT_EQ(cuda::current_stream(0), cuda::default_stream(0));
}

TEST(CudaRuntime, EventsOrderStreamsAndTime) {
  EMBER_SKIP_WITHOUT_GPU();
  cuda::Stream producer = cuda::stream_from_pool(0), consumer = cuda::stream_from_pool(0);
  Tensor x;
  {
    cuda::StreamGuard g(producer);
    x = full({1 << 20}, Scalar(3.0), TensorOptions(kFloat32, kGpu));
  }
  cuda::Event ready(true);
  ready.record(producer);
  ready.block(consumer);
  cuda::record_stream(x.storage()->data, consumer);  // x is used on consumer, owned by producer
  Tensor s;
  {
    cuda::StreamGuard g(consumer);
    s = ops::sum(x);
  }
  cuda::Event done(true);
  done.record(consumer);
  done.synchronize();
  EXPECT_TRUE(done.query());
  EXPECT_GE(ready.elapsed_ms(done), 0.0f);
  EXPECT_EQ(s.item<double>(), 3.0 * (1 << 20));
  cuda::Event never;
  EXPECT_TRUE(never.query());  // not recorded: nothing to wait for
}

TEST(CudaAllocator, CachesReusesAndReportsStats) {
  EMBER_SKIP_WITHOUT_GPU();
  if (!cuda::caching_allocator(0).caching()) GTEST_SKIP() << "EMBER_CUDA_NO_CACHE is set: the allocator does not cache";
  cuda::synchronize();
  cuda::empty_cache();
  const AllocatorStats before = cuda::memory_stats(0);
  void* first = nullptr;
  {
    Tensor a = empty({1000}, TensorOptions(kFloat32, kGpu));  // 4000 bytes -> 4096
    first = a.data_ptr();
    AllocatorStats s = cuda::memory_stats(0);
    EXPECT_EQ(s.allocated_bytes, before.allocated_bytes + 4096);
    EXPECT_GE(s.reserved_bytes, before.reserved_bytes);
  }
  const size_t mallocs = cuda::memory_stats(0).num_device_mallocs;
  Tensor b = empty({1000}, TensorOptions(kFloat32, kGpu));
  EXPECT_EQ(b.data_ptr(), first) << "a freed block is reused on the same stream";
  EXPECT_EQ(cuda::memory_stats(0).num_device_mallocs, mallocs);
  EXPECT_GE(cuda::memory_stats(0).peak_allocated_bytes, before.allocated_bytes + 4096);
  b = Tensor();
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_stats(0).allocated_bytes, before.allocated_bytes);
}

TEST(CudaAllocator, OutOfMemoryNamesTheRequestAndStats) {
  EMBER_SKIP_WITHOUT_GPU();
  ember::testing::expect_error([] { (void)empty({int64_t{1} << 50}, TensorOptions(kUInt8, kGpu)); },
                        {"out of memory on cuda:0", "1125899906842624 bytes requested", "reserved", "device mallocs"});
  // Still usable afterwards.
  EXPECT_EQ(ops::sum(ones({10}, TensorOptions(kFloat32, kGpu))).item<double>(), 10.0);
}

// Holds a stream at a host callback until open() (or destruction): work queued behind it waits.
class StreamGate {
 public:
  explicit StreamGate(cuda::Stream stream) {
    EMBER_CUDA_CHECK(cudaLaunchHostFunc(stream.handle(), &StreamGate::wait, &open_), "test gate");
  }
  ~StreamGate() { open(); }
  void open() { open_.store(true); }

 private:
  static void wait(void* flag) {
    while (!static_cast<std::atomic<bool>*>(flag)->load()) std::this_thread::yield();
  }
  std::atomic<bool> open_{false};
};

TEST(CudaPinned, PinCopiesBothWaysAndKeepsValues) {
  EMBER_SKIP_WITHOUT_GPU();
  manual_seed(5);
  Tensor x = randn({300, 7});
  EXPECT_FALSE(x.is_pinned());
  Tensor p = x.pin_memory();
  EXPECT_TRUE(p.is_pinned());
  EXPECT_TRUE(p.is_cpu());
  EXPECT_TRUE(p.pin_memory().is_same(p));  // already pinned: itself
  EXPECT_TRUE(ember::testing::all_close(p, x, 0.0, 0.0));
  EXPECT_TRUE(ops::is_pinned(ops::transpose(p, 0, 1)));  // a view of pinned storage is pinned
  EXPECT_TRUE(empty_pinned({5}, kInt64).is_pinned());
  EXPECT_TRUE(ember::testing::all_close(ops::pin_memory(ops::transpose(x, 0, 1)), ops::transpose(x, 0, 1), 0.0, 0.0));
  ember::testing::expect_error([&] { (void)ones({2}, TensorOptions(kFloat32, kGpu)).pin_memory(); },
                               {"pin_memory: only CPU tensors can be pinned"});

  // Host -> device, non-blocking from pinned memory; then device -> host into a new pinned tensor.
  Tensor d = p.to(kGpu, /*non_blocking=*/true);
  Tensor back = ops::add(d, d).to(kCPU, /*non_blocking=*/true);
  EXPECT_TRUE(back.is_pinned());
  cuda::current_stream(0).synchronize();
  EXPECT_TRUE(ember::testing::all_close(back, ops::add(x, x), 0.0, 0.0));
  // copy_ into an existing pinned tensor, non-blocking, and from pageable memory (then blocking).
  Tensor host = empty_pinned({300, 7});
  ops::copy_(host, d, /*non_blocking=*/true);
  cuda::current_stream(0).synchronize();
  EXPECT_TRUE(ember::testing::all_close(host, x, 0.0, 0.0));
  Tensor d2 = empty({300, 7}, TensorOptions(kFloat32, kGpu));
  ops::copy_(d2, x, /*non_blocking=*/true);  // pageable source: copied before copy_ returns
  x.fill_(0.0);
  EXPECT_TRUE(ember::testing::all_close(d2, p, 0.0, 0.0));
  // Blocking copies from pinned memory are complete when they return.
  Tensor d3 = p.to(kGpu);
  p.fill_(1.0);
  EXPECT_TRUE(ember::testing::all_close(d3, d, 0.0, 0.0));
}

TEST(CudaPinned, GradientFlowsThroughPinMemory) {
  EMBER_SKIP_WITHOUT_GPU();
  Tensor x = randn({4, 5}).requires_grad_();
  Tensor y = x.pin_memory();
  EXPECT_TRUE(y.is_pinned());
  ember::sum(ember::mul(y.to(kGpu, true), y.to(kGpu, true))).backward();
  EXPECT_TRUE(ember::testing::all_close(x.grad(), ops::mul(x.detach(), full({}, 2.0)), 1e-6, 1e-6));
}

// A pinned block freed on the host while a non-blocking copy still has to read it is not handed
// out again until the stream has passed the copy; the copy sees the values it was given.
TEST(CudaPinned, ABlockIsNotReusedBeforeItsCopyRan) {
  EMBER_SKIP_WITHOUT_GPU();
  cuda::synchronize();
  cuda::empty_pinned_cache();
  const cuda::Stream stream = cuda::current_stream(0);
  Tensor want = ops::to(arange(0, 65536), kFloat32);  // 256 KiB
  (void)empty({65536}, TensorOptions(kFloat32, kGpu));  // a cached device block: no cudaMalloc below
  Tensor d;
  void* first = nullptr;
  {
    Tensor p = want.pin_memory();  // allocated before the stream is held
    first = p.data_ptr();
    StreamGate gate(stream);
    d = p.to(kGpu, /*non_blocking=*/true);  // queued behind the gate
    p = Tensor();                            // freed on the host, still to be read by the stream
    EXPECT_EQ(cuda::pinned_memory_stats().num_pending_event_blocks, 1u);
    Tensor q = empty_pinned({65536});
    EXPECT_NE(q.data_ptr(), first) << "the block a queued copy reads was handed out again";
    q.fill_(-1.0);
    gate.open();
    stream.synchronize();
  }
  EXPECT_TRUE(ember::testing::all_close(d, want, 0.0, 0.0));
  Tensor r = empty_pinned({65536});  // the copy has run: the block is free again
  EXPECT_EQ(r.data_ptr(), first);
  EXPECT_EQ(cuda::pinned_memory_stats().num_pending_event_blocks, 0u);
}

#else

TEST(CudaRuntime, NotBuilt) { GTEST_SKIP() << "ember was built without CUDA"; }

#endif

}  // namespace
