// Executor: ember's work-stealing thread pool, the one scheduler of the process.
//
// One scheduler serves the training DAG, the DataLoader and every CPU kernel's
// parallel_for, so ember never runs competing thread pools. Executor(n) means n
// threads in total: n-1 background workers, each owning a Chase–Lev deque, plus
// the calling thread, which takes part in the work whenever it waits
// (RunHandle::wait, TaskGroup::wait, parallel_for). Executor(1) starts no thread
// and runs everything inline on the caller.
//
// Note [waits that work]: no wait ever blocks while runnable work is visible.
// A waiting thread pops its own deque, steals, and only parks after re-checking
// every queue and its condition under the parking protocol (executor.cpp), so
// nested waits cannot deadlock even when every worker is waiting.
//
// Use: Executor ex(4); TaskGroup tg(ex); tg.spawn(f); tg.wait();
//      auto fut = ex.async([] { return 42; }); fut.get();
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include <ember/runtime/error.hpp>

namespace ember::runtime {

class Executor;
class TaskGraph;
class TaskGroup;

namespace detail {

// Note [batched completions] (executor.cpp): adds `count` finished tasks of
// `key` (a TaskGroup, a TaskGraph) to this thread's batch; finish(key, n) is
// called once per batch, when the thread moves on.
using CompletionFn = void (*)(const void* key, int64_t count) noexcept;
void defer_completions(const void* key, CompletionFn finish, int64_t count) noexcept;

// A unit of schedulable work. The executor calls exec(job, executor) exactly
// once; the job manages its own lifetime and must not be touched afterwards.
struct Job {
  using ExecFn = void (*)(Job*, Executor&);
  ExecFn exec = nullptr;
  const char* label = "task";     // trace name; valid until exec returns
  const void* batch_key = nullptr;  // a TaskGroup or TaskGraph (Note [batched completions])
};

// Job memory (Note [job pool] in executor.cpp): per-thread free lists of
// small blocks; a block freed on another thread goes back to its owner.
void* allocate_job_memory(size_t bytes);
void free_job_memory(void* p) noexcept;

template <class T, class... Args>
T* new_job(Args&&... args) {
  static_assert(alignof(T) <= 16, "job types must not be over-aligned");
  void* p = allocate_job_memory(sizeof(T));
  try {
    return ::new (p) T(std::forward<Args>(args)...);
  } catch (...) {
    free_job_memory(p);
    throw;
  }
}
template <class T>
void delete_job(T* job) noexcept {
  job->~T();
  free_job_memory(job);
}

// Keeps the first exception captured by any thread; later ones are dropped.
class FirstError {
 public:
  bool capture(std::exception_ptr e) noexcept {
    if (claimed_.exchange(true, std::memory_order_acq_rel)) return false;
    error_ = std::move(e);
    set_.store(true, std::memory_order_release);
    return true;
  }
  bool has_error() const noexcept { return set_.load(std::memory_order_acquire); }
  void rethrow_if_any() const {
    if (has_error()) std::rethrow_exception(error_);
  }
  // Only while no task of the owner is in flight.
  std::exception_ptr take() noexcept {
    std::exception_ptr e = has_error() ? std::move(error_) : nullptr;
    error_ = nullptr;
    set_.store(false, std::memory_order_relaxed);
    claimed_.store(false, std::memory_order_relaxed);
    return e;
  }

 private:
  std::atomic<bool> claimed_{false};
  std::atomic<bool> set_{false};
  std::exception_ptr error_;
};

// Shared state of one submitted run (a graph run or an async call).
struct RunState {
  virtual ~RunState() = default;
  void fail(std::exception_ptr e) noexcept {
    error.capture(std::move(e));
    cancelled.store(true, std::memory_order_relaxed);
  }
  Executor* executor = nullptr;  // null: already complete (SerialExecutor)
  std::atomic<bool> done{false};
  std::atomic<bool> cancelled{false};
  FirstError error;
};

template <class R>
struct AsyncState : RunState {
  std::optional<R> value;
};
template <>
struct AsyncState<void> : RunState {};

// Non-owning reference to a callable (no allocation); the callable must
// outlive the call.
template <class Sig>
class FunctionRef;
template <class R, class... A>
class FunctionRef<R(A...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f) noexcept  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, A... a) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...);
        }) {}
  R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

 private:
  void* obj_;
  R (*call_)(void*, A...);
};

// RAII: lets the current thread take part in `ex` as the "caller" (tid 0) with
// its own deque when that slot is free; a no-op on the executor's own threads.
// Create and destroy on the same thread.
class Participation {
 public:
  explicit Participation(Executor& ex) noexcept;
  ~Participation();
  Participation(const Participation&) = delete;
  Participation& operator=(const Participation&) = delete;

 private:
  Executor* ex_ = nullptr;
  uint64_t prev_id_ = 0;
  void* prev_worker_ = nullptr;
  bool held_ = false;
};

}  // namespace detail

// Future-like handle of a run. wait() executes other tasks while waiting
// (Note [waits that work]) and rethrows the run's first exception.
class RunHandle {
 public:
  RunHandle() = default;
  explicit RunHandle(std::shared_ptr<detail::RunState> state) : state_(std::move(state)) {}

  void wait() const;
  bool done() const noexcept;
  // Tasks of the run that have not started yet are skipped; wait() then
  // returns normally (or rethrows an exception raised before the cancel).
  void cancel() const noexcept;
  bool cancelled() const noexcept;
  bool valid() const noexcept { return state_ != nullptr; }

 protected:
  std::shared_ptr<detail::RunState> state_;
};

template <class R>
class Future : public RunHandle {
 public:
  using RunHandle::RunHandle;
  // Waits, rethrows the task's exception, or returns (a reference to) its value.
  R& get() const {
    wait();
    auto* s = static_cast<detail::AsyncState<R>*>(state_.get());
    EMBER_CHECK(s->value.has_value(), "Future::get: the task was cancelled before it ran");
    return *s->value;
  }
};
template <>
class Future<void> : public RunHandle {
 public:
  using RunHandle::RunHandle;
  void get() const { wait(); }
};

class Executor {
 public:
  // num_threads counts the participating caller; 0 means hardware threads.
  explicit Executor(int num_threads = 0);
  // Waits for outstanding runs and async calls, then joins the workers.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  int num_threads() const noexcept { return num_threads_; }
  int num_workers() const noexcept { return num_threads_ - 1; }
  // 0 for the participating caller, 1..n-1 for background workers, -1 for a
  // thread that is not currently part of this executor.
  int this_worker_id() const noexcept;

  // Runs a TaskGraph once / n times (see task_graph.hpp). The graph must stay
  // alive and unmodified until the handle is done. A cyclic graph throws.
  RunHandle run(TaskGraph& graph);
  RunHandle run_n(TaskGraph& graph, int64_t n);

  // Runs fn() as an independent task; callable from inside tasks.
  template <class F>
  auto async(F&& fn) -> Future<std::invoke_result_t<std::decay_t<F>&>>;

  // Tracing: one Chrome trace event per executed task (see trace.hpp).
  void enable_trace(bool on) noexcept;
  bool trace_enabled() const noexcept { return tracing_.load(std::memory_order_relaxed); }
  void write_trace(const std::string& path) const;
  void clear_trace();

  // ---- internals shared with TaskGraph, TaskGroup and parallel_for -------
  // Pushes onto the calling thread's deque when it is part of this executor,
  // else onto the shared injection queue; wakes a parked worker if needed.
  void schedule(detail::Job* job);
  void schedule_batch(detail::Job* const* jobs, size_t n);
  // Executes other tasks until pred() is true (Note [waits that work]).
  template <class Pred>
  void wait_until(Pred&& pred) {
    if (!pred()) wait_until_impl(detail::FunctionRef<bool()>(pred));
  }
  // Call after making a waited-on condition true with a seq_cst store/RMW.
  void notify_condition_waiters() noexcept;
  // Outstanding-run accounting for the destructor.
  void begin_run() noexcept { active_runs_.fetch_add(1, std::memory_order_relaxed); }
  void end_run() noexcept;
  // Graceful stop used when the default executor is replaced: waits for
  // outstanding runs, joins the workers; afterwards waiting threads still
  // execute whatever is queued, so late users degrade to running inline.
  void shutdown();

 private:
  friend class detail::Participation;
  struct Impl;
  struct Worker;
  struct SleepNode;

  void wait_until_impl(detail::FunctionRef<bool()> pred);
  void run_local_batch(Worker* me);
  void worker_loop(Worker* w);
  detail::Job* find_work(Worker* me);
  detail::Job* steal_work(Worker* me);
  detail::Job* spin_for_work(Worker* me, const detail::FunctionRef<bool()>* pred);
  bool park(Worker* me, const detail::FunctionRef<bool()>* pred);
  bool has_visible_work() const noexcept;
  void notify_work() noexcept;
  void wake_one() noexcept;
  void execute(detail::Job* job, Worker* me);
  void execute_traced(detail::Job* job, Worker* me);
  Worker* current_worker() const noexcept;

  int num_threads_;
  std::atomic<bool> tracing_{false};
  std::atomic<int64_t> active_runs_{0};
  std::unique_ptr<Impl> impl_;
};

// The process-wide executor the kernels use: sized by set_num_threads(n) when
// called before first use, else env EMBER_NUM_THREADS, else hardware threads.
Executor& default_executor();
// Resizes the default executor (0 = hardware threads). After first use the old
// executor is drained and its workers joined; references to it stay valid and
// run work on their calling thread. Not callable from inside its tasks.
void set_num_threads(int n);
// Size of the default executor, counting the participating caller.
int num_threads();

// A set of tasks spawned together and waited for together; usable from inside
// tasks. Create, wait and destroy it on one thread; tasks may spawn into it.
class TaskGroup {
 public:
  explicit TaskGroup(Executor& ex);
  TaskGroup();  // default_executor()
  // Waits for outstanding tasks; an exception nobody waited for is dropped.
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  template <class F>
  void spawn(F&& fn);
  // Waits for every spawned task (executing others meanwhile), then rethrows
  // the first exception; the group is reusable afterwards.
  void wait();
  // Tasks that have not started yet are skipped.
  void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
  Executor& executor() const noexcept { return ex_; }

 private:
  template <class F>
  struct SpawnedJob : detail::Job {
    SpawnedJob(TaskGroup* g, F&& f) : group(g), fn(std::move(f)) {
      exec = &run;
      batch_key = g;
    }
    SpawnedJob(TaskGroup* g, const F& f) : group(g), fn(f) {
      exec = &run;
      batch_key = g;
    }
    static void run(detail::Job* job, Executor& ex) {
      auto* self = static_cast<SpawnedJob*>(job);
      TaskGroup* g = self->group;
      g->invoke(self->fn);
      detail::delete_job(self);
      g->finish_one_deferred();
    }
    TaskGroup* group;
    F fn;
  };
  template <class F>
  void invoke(F& fn) noexcept {
    if (cancelled_.load(std::memory_order_relaxed)) return;
    try {
      fn();
    } catch (...) {
      error_.capture(std::current_exception());
      cancelled_.store(true, std::memory_order_relaxed);
    }
  }
  // Counts one finished task in this thread's batch (Note [batched completions]).
  void finish_one_deferred() noexcept { detail::defer_completions(this, &finish_batch, 1); }
  static void finish_batch(const void* group, int64_t count) noexcept {
    static_cast<TaskGroup*>(const_cast<void*>(group))->finish(count);
  }
  void finish(int64_t count) noexcept {
    Executor& ex = ex_;  // the group may be gone once the counter reaches zero
    if (pending_.fetch_sub(count, std::memory_order_seq_cst) == count) ex.notify_condition_waiters();
  }
  // The wait condition, evaluated on the owning thread: adds the owner's
  // spawns to pending_, then checks it.
  bool all_done() noexcept;

  Executor& ex_;
  detail::Participation participation_;
  // Note [owner spawns]: the creating thread counts its spawns in
  // owner_spawned_ (no atomic RMW per spawn) and adds them to pending_ when it
  // checks the wait condition; other threads add theirs to pending_ directly.
  // pending_ may dip below zero meanwhile; it reaches zero for good only once
  // the owner has added everything and every task has finished.
  const std::thread::id owner_ = std::this_thread::get_id();
  int64_t owner_spawned_ = 0;
  std::atomic<int64_t> pending_{0};
  std::atomic<bool> cancelled_{false};
  detail::FirstError error_;
};

// ---- template definitions ----------------------------------------------------

template <class F>
void TaskGroup::spawn(F&& fn) {
  using Fn = std::decay_t<F>;
  if (ex_.num_threads() == 1) {  // Executor(1): inline on the caller
    Fn local(std::forward<F>(fn));
    invoke(local);
    return;
  }
  detail::Job* job = detail::new_job<SpawnedJob<Fn>>(this, std::forward<F>(fn));
  if (std::this_thread::get_id() == owner_) {  // Note [owner spawns]
    ++owner_spawned_;
  } else {
    pending_.fetch_add(1, std::memory_order_relaxed);
  }
  ex_.schedule(job);
}

template <class F>
auto Executor::async(F&& fn) -> Future<std::invoke_result_t<std::decay_t<F>&>> {
  using Fn = std::decay_t<F>;
  using R = std::invoke_result_t<Fn&>;
  using State = detail::AsyncState<R>;
  struct AsyncJob : detail::Job {
    AsyncJob(std::shared_ptr<State> s, F&& f) : state(std::move(s)), fn(std::forward<F>(f)) {
      exec = &run;
      label = "async";
    }
    static void run(detail::Job* job, Executor& ex) {
      struct Release {
        AsyncJob* p;
        ~Release() { detail::delete_job(p); }
      } self{static_cast<AsyncJob*>(job)};
      State& s = *self.p->state;
      if (!s.cancelled.load(std::memory_order_relaxed)) {
        try {
          if constexpr (std::is_void_v<R>) {
            self.p->fn();
          } else {
            s.value.emplace(self.p->fn());
          }
        } catch (...) {
          s.fail(std::current_exception());
        }
      }
      s.done.store(true, std::memory_order_seq_cst);
      ex.notify_condition_waiters();
      ex.end_run();
    }
    std::shared_ptr<State> state;
    Fn fn;
  };
  auto state = std::make_shared<State>();
  state->executor = this;
  begin_run();
  auto* job = detail::new_job<AsyncJob>(state, std::forward<F>(fn));
  if (num_threads_ == 1) {
    AsyncJob::run(job, *this);  // Executor(1): inline on the caller
  } else {
    schedule(job);
  }
  return Future<R>(std::move(state));
}

}  // namespace ember::runtime
