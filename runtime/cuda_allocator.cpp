// The cudaMalloc backend of the caching allocator, one allocator per device,
// and the ember::Allocator adaptor for CUDA storage.
#include <ember/runtime/cuda_allocator.hpp>

#include <cstdio>
#include <exception>
#include <mutex>
#include <string>

#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/error.hpp>

namespace ember::cuda {
namespace {

constexpr int kMaxDevices = 64;

class CudaMemoryBackend final : public DeviceMemoryBackend {
 public:
  explicit CudaMemoryBackend(int device) : device_(device) {}

  void* malloc(size_t nbytes) override {
    DeviceGuard guard(device_);
    void* p = nullptr;
    cudaError_t s = cudaMalloc(&p, nbytes);
    if (s == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // not sticky: clear it, the allocator retries or reports
      return nullptr;
    }
    EMBER_CUDA_CHECK(s, "caching allocator");
    return p;
  }
  void free(void* ptr) override {
    DeviceGuard guard(device_);
    EMBER_CUDA_CHECK(cudaFree(ptr), "caching allocator");
  }
  EventHandle create_event() override {
    DeviceGuard guard(device_);
    cudaEvent_t e = nullptr;
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "caching allocator");
    return e;
  }
  void destroy_event(EventHandle event) override {
    DeviceGuard guard(device_);
    EMBER_CUDA_CHECK(cudaEventDestroy(static_cast<cudaEvent_t>(event)), "caching allocator");
  }
  void record_event(EventHandle event, StreamHandle stream) override {
    DeviceGuard guard(device_);
    EMBER_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event), reinterpret_cast<cudaStream_t>(stream)),
                     "caching allocator");
  }
  bool query_event(EventHandle event) override {
    DeviceGuard guard(device_);
    cudaError_t s = cudaEventQuery(static_cast<cudaEvent_t>(event));
    if (s == cudaErrorNotReady) {
      (void)cudaGetLastError();
      return false;
    }
    EMBER_CUDA_CHECK(s, "caching allocator");
    return true;
  }
  void synchronize_event(EventHandle event) override {
    DeviceGuard guard(device_);
    EMBER_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(event)), "caching allocator");
  }
  std::string name() const override { return "cuda:" + std::to_string(device_); }

 private:
  int device_;
};

std::mutex g_mutex;
// Never destroyed: storages may be freed during static destruction.
CachingAllocator* g_allocators[kMaxDevices] = {};

CachingAllocator* existing(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_allocators[device];
}

void free_block(void* ctx, void* ptr) {
  // Runs in DataPtr's destructor: report, never throw.
  try {
    static_cast<CachingAllocator*>(ctx)->free(ptr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: CUDA caching allocator: freeing %p failed: %s\n", ptr, e.what());
  }
}

class CudaAllocator final : public Allocator {
 public:
  DataPtr allocate(size_t nbytes) override { return allocate_on(Device(DeviceType::CUDA, current_device()), nbytes); }
  DataPtr allocate_on(Device device, size_t nbytes) override {
    EMBER_CHECK(device.is_cuda(), "cuda allocator: asked to allocate on ", device);
    const int index = device.index;
    static const int n = device_count();  // fixed for the life of the process
    EMBER_CHECK(index >= 0 && index < n, "cuda allocator: device ", device, " does not exist (",
                n, " CUDA devices visible)");
    CachingAllocator& alloc = caching_allocator(index);
    void* p = alloc.allocate(nbytes, current_stream(index).id());
    return DataPtr(p, &alloc, free_block, device);
  }
};

}  // namespace

CachingAllocator& caching_allocator(int device) {
  int d = device < 0 ? current_device() : device;
  EMBER_CHECK(d < kMaxDevices, "cuda: device index ", d, " is beyond the supported ", kMaxDevices, " devices");
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_allocators[d] == nullptr) g_allocators[d] = new CachingAllocator(std::make_unique<CudaMemoryBackend>(d));
  return *g_allocators[d];
}

Allocator* cuda_allocator() {
  static CudaAllocator allocator;
  return &allocator;
}

void record_stream(const DataPtr& data, Stream stream) {
  EMBER_CHECK(data.device().is_cuda(), "record_stream: expected CUDA memory, got memory on ", data.device());
  EMBER_CHECK(data.device().index == stream.device(), "record_stream: memory on ", data.device(),
              " used by a stream of cuda:", stream.device());
  caching_allocator(stream.device()).record_stream(data.get(), stream.id());
}

AllocatorStats memory_stats(int device) { return caching_allocator(device).stats(); }

void reset_peak_memory_stats(int device) { caching_allocator(device).reset_peak_stats(); }

void empty_cache() {
  for (int d = 0; d < kMaxDevices; ++d)
    if (CachingAllocator* a = existing(d)) a->empty_cache();
}

}  // namespace ember::cuda
