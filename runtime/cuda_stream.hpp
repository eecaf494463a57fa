// CUDA devices, streams and events: the current device and stream, guards
// that set and restore them, and an RAII event. Compiled only in a CUDA build.
//
// Note [stream ownership]
// -----------------------
// Every ember op on CUDA tensors runs on the *current stream* of the tensors'
// device (current_stream(device)): one per device and per host thread, the
// device's legacy default stream until a StreamGuard or set_current_stream()
// changes it. Kernel launchers, cuBLASLt and cuDNN calls all take that stream;
// nothing in ember launches on another stream behind the user's back. So:
// - Work issued from one thread on one stream runs in issue order; a tensor
//   produced by one op is safe for the next op on the same stream with no
//   synchronisation.
// - Memory belongs to the stream it was allocated on (the caching allocator,
//   runtime/caching_allocator.hpp, keeps one pool per stream). When a tensor's
//   storage is freed on the host, later work on that stream may reuse it at
//   once: the stream orders the reuse after every earlier use. A tensor used
//   on another stream must be marked with record_stream(storage, stream)
//   (runtime/cuda_allocator.hpp), or its memory could be reused while that
//   stream still reads it. Switching streams is the caller's business: make
//   the consumer wait (Event::record on the producer, Event::block on the
//   consumer), as with PyTorch's streams.
// - Host<->device copies (the CUDA `copy` kernel, kernels/cuda/copy.cu) run on
//   the current stream of the CUDA side and are synchronous by default: when
//   copy returns the data has arrived, so item(), to(kCPU) and printing need no
//   extra synchronisation. With non_blocking (ops::copy_, ops::to, Tensor::to)
//   and the host side a pinned tensor (pin_memory(), empty_pinned()), the copy
//   is only queued: the caller must synchronise (the stream, an event) before
//   reading a host destination or changing a host source. ember's own pinned
//   blocks are marked with the copy's stream (record_pinned_use), so freeing
//   such a tensor early never hands its memory to anyone before the copy ran.
//   Device-to-device copies between two GPUs order themselves
//   after the source device's current stream, and make it wait for the copy,
//   so both sides' stream-ordered reuse stays correct.
// - Ops that need a value on the host (item(), a data-dependent output size)
//   therefore synchronise through their device-to-host copy.
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include <ember/runtime/caching_allocator.hpp>

namespace ember::cuda {

// Number of usable GPUs; 0 when the driver or device is missing (any error counts as none).
int device_count();
int current_device();
void set_device(int device);
// Waits for all work on a device (-1: the current one).
void synchronize(int device = -1);

// Sets the current device for its lifetime; restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
  int device_ = -1;
};

// A non-owning stream handle tagged with its device. Streams come from
// default_stream() or stream_from_pool() and live as long as the process.
class Stream {
 public:
  Stream() = default;
  Stream(int device, cudaStream_t handle) : device_(device), handle_(handle) {}
  int device() const { return device_; }
  cudaStream_t handle() const { return handle_; }
  // The key the caching allocator files blocks under.
  StreamHandle id() const { return reinterpret_cast<StreamHandle>(handle_); }
  void synchronize() const;
  bool query() const;  // true when all work on it has completed
  friend bool operator==(const Stream& a, const Stream& b) { return a.device_ == b.device_ && a.handle_ == b.handle_; }

 private:
  int device_ = 0;
  cudaStream_t handle_ = nullptr;
};

// The legacy default stream of a device (-1: the current device).
Stream default_stream(int device = -1);
// The calling thread's current stream for a device (-1: the current device).
Stream current_stream(int device = -1);
void set_current_stream(Stream stream);
// One of a small per-device pool of non-blocking streams, handed out round robin.
Stream stream_from_pool(int device = -1, bool high_priority = false);

// Makes `stream` current (and its device current) for its lifetime; restores both.
class StreamGuard {
 public:
  explicit StreamGuard(Stream stream);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream previous_;
  DeviceGuard device_guard_;
};

// An event, created lazily on the device of the first stream it is recorded on.
class Event {
 public:
  explicit Event(bool enable_timing = false) : timing_(enable_timing) {}
  ~Event();
  Event(Event&& o) noexcept;
  Event& operator=(Event&& o) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void record(Stream stream);
  void record() { record(current_stream()); }
  // Makes future work on `stream` wait for this event (no host wait).
  void block(Stream stream) const;
  bool query() const;  // true if not recorded or completed
  void synchronize() const;
  // Milliseconds between this event and `end` (both recorded, timing enabled).
  float elapsed_ms(const Event& end) const;
  cudaEvent_t handle() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
  int device_ = -1;
  bool timing_ = false;
};

}  // namespace ember::cuda
