// Workloads and simple baselines for bench_runtime.cpp (a header, not a
// benchmark binary: benchmarks/CMakeLists.txt builds bench_*.cpp only).
//
// Dag: the DAGs every runtime runs (chain, binary tree, wavefront, complete
// bipartite), as a node count and an edge list grouped by source.
// MutexQueuePool: the naive baseline, one std::function FIFO behind one mutex
// shared by n threads; PoolGraph runs a Dag on it with an atomic join counter
// per node, submitting each successor that becomes ready.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace bench {

struct Dag {
  int n = 0;
  std::vector<std::pair<int, int>> edges;  // grouped by source, sources in index order
};

inline Dag make_chain(int n) {
  Dag d{n, {}};
  for (int i = 0; i + 1 < n; ++i) d.edges.emplace_back(i, i + 1);
  return d;
}
inline Dag make_tree(int depth) {  // fan-out: node i precedes 2i+1 and 2i+2
  Dag d{(1 << depth) - 1, {}};
  for (int i = 1; i < d.n; ++i) d.edges.emplace_back((i - 1) / 2, i);
  return d;
}
inline Dag make_wavefront(int side) {  // (r, c) precedes (r+1, c) and (r, c+1)
  Dag d{side * side, {}};
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c) {
      if (r + 1 < side) d.edges.emplace_back(r * side + c, (r + 1) * side + c);
      if (c + 1 < side) d.edges.emplace_back(r * side + c, r * side + c + 1);
    }
  return d;
}
inline Dag make_bipartite(int k) {  // each of k tops precedes each of k bottoms
  Dag d{2 * k, {}};
  for (int a = 0; a < k; ++a)
    for (int b = 0; b < k; ++b) d.edges.emplace_back(a, k + b);
  return d;
}

class MutexQueuePool {
 public:
  explicit MutexQueuePool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~MutexQueuePool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
      ++outstanding_;
    }
    cv_.notify_one();
  }
  // Blocks until every submitted task (and every task they submitted) ran.
  void wait_idle() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] { return outstanding_ == 0; });
  }
  int num_threads() const { return static_cast<int>(threads_.size()); }

 private:
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
      if (--outstanding_ == 0) idle_cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  int64_t outstanding_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

class PoolGraph {
 public:
  explicit PoolGraph(const Dag& d) : succ_(static_cast<size_t>(d.n)), preds_(static_cast<size_t>(d.n)), join_(static_cast<size_t>(d.n)) {
    for (auto [u, v] : d.edges) {
      succ_[static_cast<size_t>(u)].push_back(v);
      ++preds_[static_cast<size_t>(v)];
    }
  }
  void run(MutexQueuePool& pool) {
    for (size_t i = 0; i < join_.size(); ++i) join_[i].store(preds_[i], std::memory_order_relaxed);
    for (size_t i = 0; i < join_.size(); ++i)
      if (preds_[i] == 0) submit(pool, static_cast<int>(i));
    pool.wait_idle();
  }

 private:
  void submit(MutexQueuePool& pool, int i) {
    pool.submit([this, &pool, i] {
      for (int s : succ_[static_cast<size_t>(i)])
        if (join_[static_cast<size_t>(s)].fetch_sub(1, std::memory_order_acq_rel) == 1) submit(pool, s);
    });
  }
  std::vector<std::vector<int>> succ_;
  std::vector<int> preds_;
  std::vector<std::atomic<int>> join_;
};

// fn(lo, hi) over [0, n) in `chunks` pieces on the pool (the caller blocks).
template <class F>
void pool_parallel_for(MutexQueuePool& pool, int64_t n, int64_t chunk, F fn) {
  for (int64_t lo = 0; lo < n; lo += chunk) pool.submit([lo, hi = std::min(n, lo + chunk), &fn] { fn(lo, hi); });
  pool.wait_idle();
}

// fn(lo, hi) over [0, n): one std::async per extra thread plus the caller,
// one static block each.
template <class F>
void async_parallel_for(int threads, int64_t n, F fn) {
  std::vector<std::future<void>> parts;
  const int64_t block = (n + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    const int64_t lo = std::min(n, t * block), hi = std::min(n, lo + block);
    parts.push_back(std::async(std::launch::async, [lo, hi, &fn] { fn(lo, hi); }));
  }
  fn(0, std::min(n, block));
  for (auto& p : parts) p.get();
}

}  // namespace bench
