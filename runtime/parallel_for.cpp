// parallel_for's pooled path (see parallel_for.hpp): chunks claimed from one
// shared counter by the caller and up to num_threads-1 helper jobs.
//
// Key invariant: the ForState and the helper jobs live on the caller's stack,
// so the caller returns only after every helper it pushed has run — unstolen
// helpers come back to it through its own deque (LIFO), where they find no
// chunk left and finish at once.
#include <ember/runtime/parallel_for.hpp>

#include <memory>

namespace ember::runtime::detail {
namespace {

constexpr int64_t kChunksPerThread = 8;  // balance vs. one counter RMW per chunk
constexpr int kInlineHelpers = 16;

struct ForState {
  ForState(FunctionRef<void(int64_t, int64_t)> f, int64_t b, int64_t e, int64_t c, int helpers)
      : fn(f), end(e), chunk(c), next(b), active_helpers(helpers) {}

  void run_chunks() noexcept {
    for (;;) {
      const int64_t lo = next.fetch_add(chunk, std::memory_order_relaxed);
      if (lo >= end) return;
      const int64_t hi = end - lo > chunk ? lo + chunk : end;
      try {
        fn(lo, hi);
      } catch (...) {
        error.capture(std::current_exception());
        next.store(end, std::memory_order_relaxed);  // stop handing out chunks
        return;
      }
    }
  }

  FunctionRef<void(int64_t, int64_t)> fn;
  const int64_t end;
  const int64_t chunk;
  alignas(64) std::atomic<int64_t> next;
  alignas(64) std::atomic<int> active_helpers;
  FirstError error;
};

struct ForHelper : Job {
  ForHelper() {
    exec = &run;
    label = "parallel_for";
  }
  static void run(Job* job, Executor& ex) {
    ForState* state = static_cast<ForHelper*>(job)->state;
    state->run_chunks();
    // Last touch of the state: the caller may return as soon as this lands.
    if (state->active_helpers.fetch_sub(1, std::memory_order_seq_cst) == 1) ex.notify_condition_waiters();
  }
  ForState* state = nullptr;
};

}  // namespace

void parallel_for_impl(Executor& ex, int64_t begin, int64_t end, int64_t grain,
                       FunctionRef<void(int64_t, int64_t)> fn) {
  const int64_t n = end - begin;
  const int64_t threads = ex.num_threads();
  const int64_t chunk = std::max(grain, (n + threads * kChunksPerThread - 1) / (threads * kChunksPerThread));
  const int64_t num_chunks = (n + chunk - 1) / chunk;
  const int helpers = static_cast<int>(std::min<int64_t>(threads - 1, num_chunks - 1));

  ForState state(fn, begin, end, chunk, helpers);
  Participation participation(ex);  // the caller's own deque when it is free
  ForHelper inline_jobs[kInlineHelpers];
  Job* inline_ptrs[kInlineHelpers];
  std::unique_ptr<ForHelper[]> heap_jobs;
  std::unique_ptr<Job*[]> heap_ptrs;
  ForHelper* jobs = inline_jobs;
  Job** ptrs = inline_ptrs;
  if (helpers > kInlineHelpers) {
    heap_jobs = std::make_unique<ForHelper[]>(static_cast<size_t>(helpers));
    heap_ptrs = std::make_unique<Job*[]>(static_cast<size_t>(helpers));
    jobs = heap_jobs.get();
    ptrs = heap_ptrs.get();
  }
  for (int i = 0; i < helpers; ++i) {
    jobs[i].state = &state;
    ptrs[i] = &jobs[i];
  }
  ex.schedule_batch(ptrs, static_cast<size_t>(helpers));
  state.run_chunks();
  ex.wait_until([&] { return state.active_helpers.load(std::memory_order_acquire) == 0; });
  state.error.rethrow_if_any();
}

}  // namespace ember::runtime::detail
