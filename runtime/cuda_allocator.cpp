// The cudaMalloc backend of the caching allocator, one allocator per device,
// and the ember::Allocator adaptor for CUDA storage.
#include <ember/runtime/cuda_allocator.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <utility>
#include <mutex>
#include <string>

#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/error.hpp>

namespace ember::cuda {
namespace {

constexpr int kMaxDevices = 64;

// cudaEventQuery: true when the event's work has completed, false while it has not; errors throw.
bool event_completed(cudaEvent_t event, const char* who) {
  cudaError_t s = cudaEventQuery(event);
  if (s == cudaErrorNotReady) {
    (void)cudaGetLastError();  // not an error: clear it
    return false;
  }
  EMBER_CUDA_CHECK(s, who);
  return true;
}

// The result of cudaMalloc / cudaHostAlloc for DeviceMemoryBackend::malloc: p, or nullptr when the
// memory ran out (not sticky: cleared, the allocator retries or reports); other errors throw.
void* allocated_or_null(cudaError_t s, void* p, const char* who) {
  if (s == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return nullptr;
  }
  EMBER_CUDA_CHECK(s, who);
  return p;
}

class CudaMemoryBackend final : public DeviceMemoryBackend {
 public:
  explicit CudaMemoryBackend(int device) : device_(device) {}

  void* malloc(size_t nbytes) override {
    DeviceGuard guard(device_);
    void* p = nullptr;
    const cudaError_t s = cudaMalloc(&p, nbytes);
    return allocated_or_null(s, p, "caching allocator");
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
    return event_completed(static_cast<cudaEvent_t>(event), "caching allocator");
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

// The deleter of both allocators' DataPtrs (ctx: the CachingAllocator). Runs in DataPtr's
// destructor: reports, never throws.
void free_block(void* ctx, void* ptr) {
  auto* alloc = static_cast<CachingAllocator*>(ctx);
  try {
    alloc->free(ptr);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: caching allocator (%s): freeing %p failed: %s\n", alloc->backend().name().c_str(),
                 ptr, e.what());
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

// ---- pinned host memory ----------------------------------------------------------------------

// The pinned allocator's stream keys: (device, handle) pairs interned for the life of the process, as
// a handle alone does not say its device (the legacy default stream is 0 on every device). Key 0 is
// the host, which owns every pinned block.
struct StreamKey {
  int device;
  cudaStream_t handle;
};
constexpr StreamHandle kHostOwner = 0;

StreamHandle stream_key(Stream stream) {
  static std::mutex mutex;
  static auto* keys = new std::map<std::pair<int, cudaStream_t>, StreamKey*>();  // never freed
  std::lock_guard<std::mutex> lock(mutex);
  StreamKey*& key = (*keys)[{stream.device(), stream.handle()}];
  if (key == nullptr) key = new StreamKey{stream.device(), stream.handle()};
  return reinterpret_cast<StreamHandle>(key);
}

// An event of the pinned allocator: created on the device of the stream it is recorded on.
struct HostEvent {
  cudaEvent_t event = nullptr;
  int device = -1;
};

class PinnedMemoryBackend final : public DeviceMemoryBackend {
 public:
  void* malloc(size_t nbytes) override {
    void* p = nullptr;
    const cudaError_t s = cudaHostAlloc(&p, nbytes, cudaHostAllocPortable);
    return allocated_or_null(s, p, "pin_memory");
  }
  void free(void* ptr) override { EMBER_CUDA_CHECK(cudaFreeHost(ptr), "pinned memory allocator"); }
  EventHandle create_event() override { return new HostEvent; }
  void destroy_event(EventHandle event) override {
    auto* e = static_cast<HostEvent*>(event);
    if (e->event != nullptr) {
      DeviceGuard guard(e->device);
      EMBER_CUDA_CHECK(cudaEventDestroy(e->event), "pinned memory allocator");
    }
    delete e;
  }
  void record_event(EventHandle event, StreamHandle stream) override {
    auto* e = static_cast<HostEvent*>(event);
    const auto* key = reinterpret_cast<const StreamKey*>(stream);
    EMBER_ASSERT(key != nullptr);
    DeviceGuard guard(key->device);
    if (e->event != nullptr && e->device != key->device) {
      DeviceGuard old(e->device);
      EMBER_CUDA_CHECK(cudaEventDestroy(e->event), "pinned memory allocator");
      e->event = nullptr;
    }
    if (e->event == nullptr) {
      EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&e->event, cudaEventDisableTiming), "pinned memory allocator");
      e->device = key->device;
    }
    EMBER_CUDA_CHECK(cudaEventRecord(e->event, key->handle), "pinned memory allocator");
  }
  bool query_event(EventHandle event) override {
    auto* e = static_cast<HostEvent*>(event);
    if (e->event == nullptr) return true;
    DeviceGuard guard(e->device);
    return event_completed(e->event, "pinned memory allocator");
  }
  void synchronize_event(EventHandle event) override {
    auto* e = static_cast<HostEvent*>(event);
    if (e->event == nullptr) return;
    DeviceGuard guard(e->device);
    EMBER_CUDA_CHECK(cudaEventSynchronize(e->event), "pinned memory allocator");
  }
  std::string name() const override { return "pinned host memory"; }
};

// Never destroyed: pinned storages may be freed during static destruction.
CachingAllocator& pinned_allocator() {
  static auto* alloc = new CachingAllocator(std::make_unique<PinnedMemoryBackend>());
  return *alloc;
}

// Whether data is a block of ember's pinned allocator.
bool from_pinned_allocator(const DataPtr& data) {
  return data.deleter() == free_block && data.context() == &pinned_allocator();
}

class CudaPinnedMemory final : public PinnedMemory {
 public:
  DataPtr allocate(size_t nbytes) override {
    EMBER_CHECK(device_count() > 0, "pin_memory: page-locked host memory needs a CUDA device, and none is visible "
                "(no GPU, or no driver); asked for ", nbytes, " bytes");
    CachingAllocator& alloc = pinned_allocator();
    return DataPtr(alloc.allocate(nbytes, kHostOwner), &alloc, free_block, kCPU);
  }
  bool is_pinned(const DataPtr& data) override {
    if (from_pinned_allocator(data)) return true;
    if (data.get() == nullptr || !data.device().is_cpu() || device_count() == 0) return false;
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, data.get()) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return attr.type == cudaMemoryTypeHost;
  }
};

}  // namespace

PinnedMemory* pinned_memory_provider() {
  static CudaPinnedMemory provider;
  return &provider;
}

void record_pinned_use(const DataPtr& data, Stream stream) {
  if (!from_pinned_allocator(data)) return;
  pinned_allocator().record_stream(data.get(), stream_key(stream));
}

AllocatorStats pinned_memory_stats() { return pinned_allocator().stats(); }

void empty_pinned_cache() { pinned_allocator().empty_cache(); }

CachingAllocator& caching_allocator(int device) {
  int d = device < 0 ? current_device() : device;
  EMBER_CHECK(d < kMaxDevices, "cuda: device index ", d, " is beyond the supported ", kMaxDevices, " devices");
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_allocators[d] == nullptr) {
    // EMBER_CUDA_NO_CACHE=1: one cudaMalloc per tensor, so compute-sanitizer sees each tensor's bounds.
    const char* no_cache = std::getenv("EMBER_CUDA_NO_CACHE");
    const bool off = no_cache != nullptr && *no_cache != '\0' && std::string(no_cache) != "0";
    g_allocators[d] = new CachingAllocator(std::make_unique<CudaMemoryBackend>(d),
                                           off ? CachingAllocator::Caching::off : CachingAllocator::Caching::on);
  }
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
