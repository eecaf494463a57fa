// Current device/stream bookkeeping, the stream pool and events
// (Note [stream ownership] in runtime/cuda_stream.hpp).
#include <ember/runtime/cuda_stream.hpp>

#include <array>
#include <atomic>
#include <mutex>
#include <utility>

#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/error.hpp>

namespace ember::cuda {
namespace {

constexpr int kMaxDevices = 64;
constexpr int kStreamsPerPool = 8;

// The calling thread's current stream per device; nullptr is the legacy default stream.
thread_local std::array<cudaStream_t, kMaxDevices> t_current_streams{};

int resolve(int device) {
  int d = device < 0 ? current_device() : device;
  EMBER_CHECK(d < kMaxDevices, "cuda: device index ", d, " is beyond the supported ", kMaxDevices, " devices");
  return d;
}

struct StreamPool {
  std::once_flag once;
  cudaStream_t normal[kStreamsPerPool] = {};
  cudaStream_t high[kStreamsPerPool] = {};
  std::atomic<unsigned> next_normal{0}, next_high{0};
};
StreamPool g_pools[kMaxDevices];

}  // namespace

int device_count() {
  int n = 0;
  // With no GPU (or no driver) this fails, e.g. "driver version is insufficient": treat any error as none.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

int current_device() {
  int d = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&d), "current_device");
  return d;
}

void set_device(int device) { EMBER_CUDA_CHECK(cudaSetDevice(device), "set_device"); }

void synchronize(int device) {
  DeviceGuard guard(resolve(device));
  EMBER_CUDA_CHECK(cudaDeviceSynchronize(), "synchronize");
}

DeviceGuard::DeviceGuard(int device) : device_(device) {
  previous_ = current_device();
  if (previous_ != device_) set_device(device_);
}

DeviceGuard::~DeviceGuard() {
  if (previous_ != device_) (void)cudaSetDevice(previous_);  // destructor: cannot throw
}

void Stream::synchronize() const {
  DeviceGuard guard(device_);
  EMBER_CUDA_CHECK(cudaStreamSynchronize(handle_), "Stream::synchronize");
}

bool Stream::query() const {
  DeviceGuard guard(device_);
  cudaError_t s = cudaStreamQuery(handle_);
  if (s == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  EMBER_CUDA_CHECK(s, "Stream::query");
  return true;
}

Stream default_stream(int device) { return Stream(resolve(device), nullptr); }

Stream current_stream(int device) {
  int d = resolve(device);
  return Stream(d, t_current_streams[static_cast<size_t>(d)]);
}

void set_current_stream(Stream stream) {
  EMBER_CHECK(stream.device() >= 0 && stream.device() < kMaxDevices, "set_current_stream: bad device ",
              stream.device());
  t_current_streams[static_cast<size_t>(stream.device())] = stream.handle();
}

Stream stream_from_pool(int device, bool high_priority) {
  int d = resolve(device);
  StreamPool& pool = g_pools[d];
  std::call_once(pool.once, [&] {
    DeviceGuard guard(d);
    int least = 0, greatest = 0;
    EMBER_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest), "stream_from_pool");
    for (int i = 0; i < kStreamsPerPool; ++i) {
      EMBER_CUDA_CHECK(cudaStreamCreateWithPriority(&pool.normal[i], cudaStreamNonBlocking, least), "stream_from_pool");
      EMBER_CUDA_CHECK(cudaStreamCreateWithPriority(&pool.high[i], cudaStreamNonBlocking, greatest), "stream_from_pool");
    }
  });
  auto& counter = high_priority ? pool.next_high : pool.next_normal;
  unsigned i = counter.fetch_add(1, std::memory_order_relaxed) % kStreamsPerPool;
  return Stream(d, high_priority ? pool.high[i] : pool.normal[i]);
}

StreamGuard::StreamGuard(Stream stream) : previous_(current_stream(stream.device())), device_guard_(stream.device()) {
  set_current_stream(stream);
}

StreamGuard::~StreamGuard() { t_current_streams[static_cast<size_t>(previous_.device())] = previous_.handle(); }

Event::~Event() {
  if (event_ == nullptr) return;
  // A destructor cannot throw: errors (e.g. at process exit) are dropped.
  int previous = 0;
  if (cudaGetDevice(&previous) == cudaSuccess && cudaSetDevice(device_) == cudaSuccess) {
    (void)cudaEventDestroy(event_);
    (void)cudaSetDevice(previous);
  }
  (void)cudaGetLastError();
}

Event::Event(Event&& o) noexcept { *this = std::move(o); }

Event& Event::operator=(Event&& o) noexcept {
  if (this != &o) {
    std::swap(event_, o.event_);
    std::swap(device_, o.device_);
    std::swap(timing_, o.timing_);
  }
  return *this;
}

void Event::record(Stream stream) {
  DeviceGuard guard(stream.device());
  if (event_ == nullptr) {
    EMBER_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing_ ? cudaEventDefault : cudaEventDisableTiming),
                     "Event::record");
    device_ = stream.device();
  }
  EMBER_CHECK(device_ == stream.device(), "Event::record: event of cuda:", device_,
              " recorded on a stream of cuda:", stream.device());
  EMBER_CUDA_CHECK(cudaEventRecord(event_, stream.handle()), "Event::record");
}

void Event::block(Stream stream) const {
  if (event_ == nullptr) return;
  DeviceGuard guard(stream.device());
  EMBER_CUDA_CHECK(cudaStreamWaitEvent(stream.handle(), event_, 0), "Event::block");
}

bool Event::query() const {
  if (event_ == nullptr) return true;
  DeviceGuard guard(device_);
  cudaError_t s = cudaEventQuery(event_);
  if (s == cudaErrorNotReady) {
    (void)cudaGetLastError();
    return false;
  }
  EMBER_CUDA_CHECK(s, "Event::query");
  return true;
}

void Event::synchronize() const {
  if (event_ == nullptr) return;
  DeviceGuard guard(device_);
  EMBER_CUDA_CHECK(cudaEventSynchronize(event_), "Event::synchronize");
}

float Event::elapsed_ms(const Event& end) const {
  EMBER_CHECK(event_ != nullptr && end.event_ != nullptr, "Event::elapsed_ms: both events must be recorded");
  EMBER_CHECK(timing_ && end.timing_, "Event::elapsed_ms: both events need enable_timing = true");
  float ms = 0.0f;
  EMBER_CUDA_CHECK(cudaEventElapsedTime(&ms, event_, end.event_), "Event::elapsed_ms");
  return ms;
}

}  // namespace ember::cuda
