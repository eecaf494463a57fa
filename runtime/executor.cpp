// Executor implementation: workers, stealing, the caller slot and parking.
//
// Note [parking protocol] (an eventcount: prepare-wait, re-check, commit-wait).
// A thread that found no work while spinning registers a SleepNode under
// park_mu (num_sleepers += 1, seq_cst) — prepare — then re-checks the
// injection queue, every deque, the stop flag and its wait condition, and only
// then blocks on its own condition variable — commit. A producer publishes work
// (deque push / injection), issues a full store-load fence and reads
// num_sleepers; so either the producer sees the sleeper and wakes one, or the
// sleeper's re-check sees the work: no lost wake-up. A waker removes the node
// from the list itself (so num_sleepers drops at once and a burst of pushes
// wakes distinct sleepers). Condition completers (run done, group empty,
// parallel_for helpers finished) make the condition true with a seq_cst
// store/RMW and then read cond_waiters the same way. A sleeper woken for work
// that leaves because its condition came true passes the wake-up on.
#include <ember/runtime/executor.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <ember/runtime/chase_lev_deque.hpp>
#include <ember/runtime/trace.hpp>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ember::runtime {

using detail::Job;

namespace {

std::atomic<uint64_t> g_next_executor_id{1};

// Which executor this thread currently belongs to, and with which deque.
// Compared by id, never by pointer, so a stale entry cannot be dereferenced.
struct ThreadContext {
  uint64_t executor_id = 0;
  void* worker = nullptr;
};
thread_local ThreadContext tl_context;

thread_local uint32_t tl_rng = 0x9e3779b9u;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

inline uint32_t xorshift32(uint32_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

// Spin budget before parking: a few microseconds of steal attempts with
// pauses, then a few yields (keeps a shared 2-core machine usable).
constexpr int kSpinRoundsPause = 64;
constexpr int kSpinRoundsYield = 8;
constexpr int kPausesPerRound = 8;

}  // namespace

// Note [batched completions]: a thread that finishes a task counted by a
// shared counter (a TaskGroup's tasks, a TaskGraph run's sinks) does not
// decrement the counter at once; it counts locally while it keeps running
// jobs of the same key, and flushes (one RMW) before it runs a job of any
// other key, before it checks a wait condition, and before it spins or parks.
// So a counter reaches zero no later than its last task's thread has moved
// on, and owner and workers stop ping-ponging the counter's cache line on
// every task. A task that blocks without waiting through the executor keeps
// its thread's batch unflushed meanwhile; only tasks of the same key can be
// in it, so this delays nothing that the blocked task does not delay anyway.
namespace {
struct DeferredCompletions {
  const void* key = nullptr;
  detail::CompletionFn finish = nullptr;
  int64_t count = 0;
  void flush() noexcept {
    if (!key) return;
    const void* k = key;
    const int64_t n = count;
    key = nullptr;
    count = 0;
    finish(k, n);  // may end a run: touch nothing of the key afterwards
  }
};
thread_local DeferredCompletions tl_deferred;
}  // namespace

void detail::defer_completions(const void* key, CompletionFn finish, int64_t count) noexcept {
  if (tl_deferred.key != key) {
    tl_deferred.flush();
    tl_deferred.key = key;
    tl_deferred.finish = finish;
  }
  tl_deferred.count += count;
}

struct Executor::SleepNode {
  std::condition_variable cv;
  bool notified = false;         // guarded by park_mu
  bool woken_for_work = false;   // guarded by park_mu
  bool waits_on_condition = false;
};

struct Executor::Worker {
  explicit Worker(int worker_id) : id(worker_id), rng(0x2545f491u * (worker_id + 1)) {}
  const int id;  // 0 = the caller slot
  detail::ChaseLevDeque<Job*> deque{1024};
  uint32_t rng;
  std::thread thread;
};

struct Executor::Impl {
  uint64_t id = 0;
  std::vector<std::unique_ptr<Worker>> workers;  // [0] = caller slot
  std::atomic<bool> slot_busy{false};

  std::mutex inject_mu;
  std::deque<Job*> injected;
  alignas(64) std::atomic<int64_t> inject_count{0};

  std::mutex park_mu;
  std::vector<SleepNode*> sleepers;
  alignas(64) std::atomic<int> num_sleepers{0};
  alignas(64) std::atomic<int> cond_waiters{0};

  std::atomic<bool> stop{false};
  bool joined = false;
  std::unique_ptr<TraceRecorder> trace;
};

// ---- construction -------------------------------------------------------------

Executor::Executor(int num_threads) : impl_(std::make_unique<Impl>()) {
  EMBER_CHECK(num_threads >= 0, "Executor: num_threads must be >= 0 (0 = hardware threads), got ",
              num_threads);
  if (num_threads == 0) num_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  num_threads_ = num_threads;
  Impl& s = *impl_;
  s.id = g_next_executor_id.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::string> lanes;
  for (int i = 0; i < num_threads; ++i) {
    s.workers.push_back(std::make_unique<Worker>(i));
    lanes.push_back(i == 0 ? std::string("caller") : "worker " + std::to_string(i));
  }
  lanes.push_back("external");
  s.trace = std::make_unique<TraceRecorder>(std::move(lanes));
  for (int i = 1; i < num_threads; ++i) {
    Worker* w = s.workers[static_cast<size_t>(i)].get();
    w->thread = std::thread([this, w] { worker_loop(w); });
  }
}

Executor::~Executor() { shutdown(); }

void Executor::shutdown() {
  Impl& s = *impl_;
  wait_until([&] { return active_runs_.load(std::memory_order_acquire) == 0; });
  if (s.joined) return;
  s.joined = true;
  s.stop.store(true, std::memory_order_seq_cst);
  {
    std::lock_guard lock(s.park_mu);
    for (SleepNode* n : s.sleepers) {
      n->notified = true;
      n->cv.notify_one();
    }
    s.sleepers.clear();
    s.num_sleepers.store(0, std::memory_order_seq_cst);
  }
  for (auto& w : s.workers)
    if (w->thread.joinable()) w->thread.join();
}

void Executor::end_run() noexcept {
  if (active_runs_.fetch_sub(1, std::memory_order_seq_cst) == 1) notify_condition_waiters();
}

int Executor::this_worker_id() const noexcept {
  Worker* w = current_worker();
  return w ? w->id : -1;
}

Executor::Worker* Executor::current_worker() const noexcept {
  return tl_context.executor_id == impl_->id ? static_cast<Worker*>(tl_context.worker) : nullptr;
}

// ---- the caller slot ------------------------------------------------------------

namespace detail {

Participation::Participation(Executor& ex) noexcept {
  Executor::Impl& s = *ex.impl_;
  if (tl_context.executor_id == s.id) return;  // already inside (worker or slot)
  bool expected = false;
  if (!s.slot_busy.compare_exchange_strong(expected, true, std::memory_order_acquire,
                                           std::memory_order_relaxed))
    return;  // another thread is the caller: participate by stealing only
  ex_ = &ex;
  held_ = true;
  prev_id_ = tl_context.executor_id;
  prev_worker_ = tl_context.worker;
  tl_context = ThreadContext{s.id, s.workers[0].get()};
}

Participation::~Participation() {
  if (!held_) return;
  tl_context = ThreadContext{prev_id_, prev_worker_};
  ex_->impl_->slot_busy.store(false, std::memory_order_release);
}

}  // namespace detail

// ---- submitting work ------------------------------------------------------------

void Executor::schedule(Job* job) {
  if (Worker* w = current_worker()) {
    w->deque.push(job);
  } else {
    std::lock_guard lock(impl_->inject_mu);
    impl_->injected.push_back(job);
    impl_->inject_count.fetch_add(1, std::memory_order_seq_cst);
  }
  notify_work();
}

void Executor::schedule_batch(Job* const* jobs, size_t n) {
  if (n == 0) return;
  if (Worker* w = current_worker()) {
    for (size_t i = 0; i < n; ++i) w->deque.push(jobs[i]);
  } else {
    std::lock_guard lock(impl_->inject_mu);
    impl_->injected.insert(impl_->injected.end(), jobs, jobs + n);
    impl_->inject_count.fetch_add(static_cast<int64_t>(n), std::memory_order_seq_cst);
  }
  notify_work();
  for (size_t i = 1; i < n && impl_->num_sleepers.load(std::memory_order_relaxed) > 0; ++i) wake_one();
}

void Executor::notify_work() noexcept {
  detail::store_load_fence();
  if (impl_->num_sleepers.load(std::memory_order_seq_cst) == 0) return;
  wake_one();
}

void Executor::wake_one() noexcept {
  Impl& s = *impl_;
  std::lock_guard lock(s.park_mu);
  if (s.sleepers.empty()) return;
  SleepNode* n = s.sleepers.back();
  s.sleepers.pop_back();
  s.num_sleepers.fetch_sub(1, std::memory_order_seq_cst);
  n->notified = true;
  n->woken_for_work = true;
  n->cv.notify_one();  // under the lock: the node lives on the sleeper's stack
}

void Executor::notify_condition_waiters() noexcept {
  Impl& s = *impl_;
  if (s.cond_waiters.load(std::memory_order_seq_cst) == 0) return;
  std::lock_guard lock(s.park_mu);
  auto keep = s.sleepers.begin();
  for (SleepNode* n : s.sleepers) {
    if (n->waits_on_condition) {
      n->notified = true;
      n->cv.notify_one();
      s.num_sleepers.fetch_sub(1, std::memory_order_seq_cst);
    } else {
      *keep++ = n;
    }
  }
  s.sleepers.erase(keep, s.sleepers.end());
}

// ---- finding and running work -----------------------------------------------------

Job* Executor::find_work(Worker* me) {
  if (me) {
    if (Job* j = me->deque.pop()) return j;
  }
  return steal_work(me);
}

Job* Executor::steal_work(Worker* me) {
  Impl& s = *impl_;
  if (s.inject_count.load(std::memory_order_relaxed) > 0) {
    std::lock_guard lock(s.inject_mu);
    if (!s.injected.empty()) {
      Job* j = s.injected.front();
      s.injected.pop_front();
      s.inject_count.fetch_sub(1, std::memory_order_relaxed);
      return j;
    }
  }
  const size_t n = s.workers.size();
  if (n == 1 && me) return nullptr;
  uint32_t& rng = me ? me->rng : tl_rng;
  // A random first victim in [0, n) by multiply-shift (no division), then
  // every other deque in turn.
  size_t v = static_cast<size_t>((uint64_t{xorshift32(rng)} * n) >> 32);
  for (size_t i = 0; i < n; ++i, v = v + 1 == n ? 0 : v + 1) {
    Worker* victim = s.workers[v].get();
    if (victim == me) continue;
    if (Job* j = victim->deque.steal()) return j;
  }
  return nullptr;
}

Job* Executor::spin_for_work(Worker* me, const detail::FunctionRef<bool()>* pred) {
  for (int round = 0; round < kSpinRoundsPause + kSpinRoundsYield; ++round) {
    if (pred ? (*pred)() : impl_->stop.load(std::memory_order_relaxed)) return nullptr;
    if (Job* j = steal_work(me)) return j;
    if (round < kSpinRoundsPause) {
      for (int k = 0; k < kPausesPerRound; ++k) cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  return nullptr;
}

bool Executor::has_visible_work() const noexcept {
  if (impl_->inject_count.load(std::memory_order_seq_cst) > 0) return true;
  for (auto& w : impl_->workers)
    if (!w->deque.empty_seq_cst()) return true;
  return false;
}

// Returns true when this thread was woken to take work (a token it must pass
// on if it leaves without looking for work).
bool Executor::park(Worker* /*me*/, const detail::FunctionRef<bool()>* pred) {
  Impl& s = *impl_;
  SleepNode node;
  node.waits_on_condition = pred != nullptr;
  {  // prepare-wait
    std::lock_guard lock(s.park_mu);
    s.sleepers.push_back(&node);
    s.num_sleepers.fetch_add(1, std::memory_order_seq_cst);
    if (pred) s.cond_waiters.fetch_add(1, std::memory_order_seq_cst);
  }
  // re-check
  // Workers leave on stop; a waiter leaves when its condition holds (after a
  // shutdown it is woken by completions and new work like anyone else).
  const bool leave = (pred ? (*pred)() : s.stop.load(std::memory_order_seq_cst)) || has_visible_work();
  std::unique_lock lock(s.park_mu);
  if (!leave) {  // commit-wait
    node.cv.wait(lock, [&] { return node.notified; });
  }
  if (!node.notified) {  // cancelled the wait ourselves
    s.sleepers.erase(std::find(s.sleepers.begin(), s.sleepers.end(), &node));
    s.num_sleepers.fetch_sub(1, std::memory_order_seq_cst);
  }
  if (pred) s.cond_waiters.fetch_sub(1, std::memory_order_relaxed);
  return node.woken_for_work;
}

void Executor::execute(Job* job, Worker* me) {
  if (tl_deferred.key && tl_deferred.key != job->batch_key) tl_deferred.flush();
  if (tracing_.load(std::memory_order_relaxed)) [[unlikely]] {
    execute_traced(job, me);
    return;
  }
  job->exec(job, *this);
}

void Executor::execute_traced(Job* job, Worker* me) {
  std::string name = job->label ? job->label : "task";
  const int64_t t0 = TraceRecorder::now_ns();
  job->exec(job, *this);
  const int64_t t1 = TraceRecorder::now_ns();
  impl_->trace->record(me ? me->id : num_threads_, std::move(name), t0, t1);
}

void Executor::worker_loop(Worker* w) {
  tl_context = ThreadContext{impl_->id, w};
  tl_rng = w->rng;
  for (;;) {
    Job* j = find_work(w);
    if (!j) {
      tl_deferred.flush();
      j = spin_for_work(w, nullptr);
    }
    if (j) {
      execute(j, w);
      continue;
    }
    if (impl_->stop.load(std::memory_order_acquire) && !has_visible_work()) break;
    park(w, nullptr);
  }
}

// A waiting thread that just ran a job keeps popping its own jobs of the same
// batch key (Note [batched completions]) before it flushes and re-checks its
// condition, so a stream of one group's tasks costs one counter RMW per
// stream, not per task. Bounded, so the condition is still checked often.
void Executor::run_local_batch(Worker* me) {
  constexpr int kMaxLocalBatch = 64;
  if (!me) return;
  for (int k = 1; k < kMaxLocalBatch && tl_deferred.key; ++k) {
    Job* j = me->deque.pop();
    if (!j) return;
    if (j->batch_key != tl_deferred.key) {
      me->deque.push(j);  // not ours to batch: back where it was
      notify_work();       // a sleeper may have re-checked while it was out
      return;
    }
    execute(j, me);
  }
}

void Executor::wait_until_impl(detail::FunctionRef<bool()> pred) {
  detail::Participation participation(*this);
  Worker* me = current_worker();
  for (;;) {
    tl_deferred.flush();
    if (pred()) return;
    Job* j = find_work(me);
    if (!j) j = spin_for_work(me, &pred);
    if (j) {
      execute(j, me);
      run_local_batch(me);
      continue;
    }
    if (pred()) return;
    const bool woken_for_work = park(me, &pred);
    if (woken_for_work && pred()) {
      notify_work();  // do not swallow a wake-up meant for queued work
      return;
    }
  }
}

// ---- tracing ----------------------------------------------------------------------

void Executor::enable_trace(bool on) noexcept { tracing_.store(on, std::memory_order_relaxed); }
void Executor::write_trace(const std::string& path) const { impl_->trace->write_json_file(path); }
void Executor::clear_trace() { impl_->trace->clear(); }

// ---- RunHandle ----------------------------------------------------------------------

void RunHandle::wait() const {
  EMBER_CHECK(state_ != nullptr, "RunHandle::wait: empty handle");
  detail::RunState& s = *state_;
  if (!s.done.load(std::memory_order_acquire)) {
    EMBER_ASSERT(s.executor != nullptr);
    s.executor->wait_until([&] { return s.done.load(std::memory_order_acquire); });
  }
  s.error.rethrow_if_any();
}

bool RunHandle::done() const noexcept { return state_ && state_->done.load(std::memory_order_acquire); }
void RunHandle::cancel() const noexcept {
  if (state_) state_->cancelled.store(true, std::memory_order_relaxed);
}
bool RunHandle::cancelled() const noexcept {
  return state_ && state_->cancelled.load(std::memory_order_relaxed);
}

// ---- TaskGroup ------------------------------------------------------------------------

TaskGroup::TaskGroup(Executor& ex) : ex_(ex), participation_(ex) {}
TaskGroup::TaskGroup() : TaskGroup(default_executor()) {}

TaskGroup::~TaskGroup() {
  ex_.wait_until([&] { return all_done(); });
}

bool TaskGroup::all_done() noexcept {
  if (owner_spawned_ != 0) {  // Note [owner spawns]
    pending_.fetch_add(owner_spawned_, std::memory_order_seq_cst);
    owner_spawned_ = 0;
  }
  return pending_.load(std::memory_order_acquire) == 0;
}

void TaskGroup::wait() {
  ex_.wait_until([&] { return all_done(); });
  cancelled_.store(false, std::memory_order_relaxed);
  if (std::exception_ptr e = error_.take()) std::rethrow_exception(e);
}

// ---- the default executor ---------------------------------------------------------------

namespace {

std::mutex g_default_mu;
std::atomic<Executor*> g_default{nullptr};
int g_requested_threads = 0;  // 0: env or hardware
std::vector<std::unique_ptr<Executor>>& executors_kept() {
  static std::vector<std::unique_ptr<Executor>> kept;  // current + retired
  return kept;
}

int resolve_thread_count(int requested) {
  if (requested > 0) return requested;
  if (const char* env = std::getenv("EMBER_NUM_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    EMBER_CHECK(end && *end == '\0' && n > 0 && n <= 4096,
                "EMBER_NUM_THREADS must be a positive integer, got '", env, "'");
    return static_cast<int>(n);
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

Executor& default_executor() {
  if (Executor* e = g_default.load(std::memory_order_acquire)) return *e;
  std::lock_guard lock(g_default_mu);
  if (Executor* e = g_default.load(std::memory_order_relaxed)) return *e;
  auto& kept = executors_kept();
  kept.push_back(std::make_unique<Executor>(resolve_thread_count(g_requested_threads)));
  g_default.store(kept.back().get(), std::memory_order_release);
  return *kept.back();
}

void set_num_threads(int n) {
  EMBER_CHECK(n >= 0, "set_num_threads: n must be >= 0 (0 = hardware threads), got ", n);
  std::lock_guard lock(g_default_mu);
  g_requested_threads = n;
  Executor* current = g_default.load(std::memory_order_relaxed);
  if (!current || current->num_threads() == resolve_thread_count(n)) return;
  EMBER_CHECK(current->this_worker_id() < 0,
              "set_num_threads: cannot resize the default executor from inside one of its tasks");
  auto& kept = executors_kept();
  kept.push_back(std::make_unique<Executor>(resolve_thread_count(n)));
  g_default.store(kept.back().get(), std::memory_order_release);
  current->shutdown();  // kept alive: late references still work, inline
}

int num_threads() { return default_executor().num_threads(); }

}  // namespace ember::runtime
