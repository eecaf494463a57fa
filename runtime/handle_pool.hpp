// A pool of per-device library handles (a cuDNN handle, ...) lent to host
// threads: each thread that asks for a device's handle gets one of its own,
// which goes back to the pool when the thread exits and is then lent to the
// next thread that asks, so short-lived threads (a DataLoader's workers, an
// executor made per run) reuse handles instead of creating one each and
// leaking it.
//
// Handles are created by the pool's factory and never destroyed: a handle's
// destroy call may need the driver, which is already gone while a process
// exits, and the count is bounded by the number of threads that ever held a
// handle at the same time. For the same reason a pool must outlive every
// thread that used it (the library's pools are leaked statics): a thread
// gives its handles back when it exits.
//
// acquire() is thread-safe; a thread's own handles are found without a lock.
// Header-only and free of CUDA, so its bookkeeping is tested on any machine.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace ember {

template <class Handle>
class HandlePool {
 public:
  using Factory = std::function<Handle(int device)>;

  explicit HandlePool(Factory create) : create_(std::move(create)) {}
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;

  // The calling thread's handle for `device`: the one it already holds, else an idle one of the
  // pool's, else a new one from the factory (whose exception, if any, propagates: nothing is
  // lent then, and the next call tries again).
  Handle acquire(int device) {
    std::vector<Lease>& leases = thread_leases().items;
    for (const Lease& l : leases)
      if (l.pool == this && l.device == device) return l.handle;
    Handle h = take_idle(device);
    leases.push_back({this, device, h});
    return h;
  }

  // Handles made by the factory so far, and those waiting in the pool for a thread.
  size_t created() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return created_;
  }
  size_t idle(int device) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = idle_.find(device);
    return it == idle_.end() ? 0 : it->second.size();
  }

 private:
  struct Lease {
    HandlePool* pool;
    int device;
    Handle handle;
  };
  // One list per thread for every pool of this handle type; its destructor gives the handles back.
  struct Leases {
    std::vector<Lease> items;
    ~Leases() {
      for (const Lease& l : items) l.pool->give_back(l.device, l.handle);
    }
  };
  static Leases& thread_leases() {
    thread_local Leases leases;
    return leases;
  }

  Handle take_idle(int device) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = idle_.find(device);
      if (it != idle_.end() && !it->second.empty()) {
        Handle h = it->second.back();
        it->second.pop_back();
        return h;
      }
    }
    Handle h = create_(device);  // outside the lock: creating a handle can take milliseconds
    std::lock_guard<std::mutex> lock(mutex_);
    ++created_;
    return h;
  }

  void give_back(int device, Handle h) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_[device].push_back(h);
  }

  Factory create_;
  mutable std::mutex mutex_;
  std::map<int, std::vector<Handle>> idle_;
  size_t created_ = 0;
};

}  // namespace ember
