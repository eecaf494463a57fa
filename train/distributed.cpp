// The MPI process group (distributed.hpp): staging tensors into one buffer per
// dtype, and one communication thread for every MPI call (Note [one MPI thread]).
#include <ember/train/distributed.hpp>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <ember/runtime/error.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

#if defined(EMBER_WITH_MPI)
#define OMPI_SKIP_MPICXX 1  // the C API only: no C++ bindings to link
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace ember::train {

bool built_with_mpi() {
#if defined(EMBER_WITH_MPI)
  return true;
#else
  return false;
#endif
}

namespace {

int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* name : names)
    if (const char* v = std::getenv(name)) return std::atoi(v);
  return fallback;
}

}  // namespace

namespace {
class FinishedWork final : public Work {
 public:
  void wait() override {}
};
}  // namespace

std::shared_ptr<Work> ProcessGroup::all_reduce_async(const std::vector<Tensor>& tensors, ReduceOp op) {
  all_reduce(tensors, op);
  return std::make_shared<FinishedWork>();
}

int launched_world_size() {
  return env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"}, 1);
}

int launched_local_size() {
  return std::max(1, env_int({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "MV2_COMM_WORLD_LOCAL_SIZE",
                              "PMIX_LOCAL_SIZE"}, 1));
}

int launched_local_rank() {
  return env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "PMIX_LOCAL_RANK"}, 0);
}

#if defined(EMBER_WITH_MPI)

namespace {

void mpi_check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  EMBER_FAIL("MPI: ", call, " failed: ", std::string(text, static_cast<size_t>(len)));
}

// One MPI job queued for the communication thread; done (with its error, if
// any) once the thread has run it.
struct MpiJob {
  std::function<void()> run;
  std::mutex mutex;
  std::condition_variable finished;
  bool done = false;
  std::exception_ptr error;

  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    finished.wait(lock, [this] { return done; });
    if (error) std::rethrow_exception(error);
  }
};

// Note [one MPI thread]
// MPI is started with MPI_THREAD_SERIALIZED: any thread may call it, never two
// at once. ember's collectives may be called from several threads (the
// training loop's nodes run on the executor's workers; all_reduce_async lets
// backward go on while a bucket of gradients is reduced), so every MPI call
// after MPI_Init_thread goes through one communication thread, which runs the
// jobs in the order they were queued: that order is the order of the
// collectives on every rank. The thread runs MPI calls on raw buffers only;
// copying tensors in and out of them stays on the caller's thread.
class CommThread {
 public:
  ~CommThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  std::shared_ptr<MpiJob> submit(std::function<void()> run) {
    auto job = std::make_shared<MpiJob>();
    job->run = std::move(run);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
      queue_.push_back(job);
    }
    wake_.notify_one();
    return job;
  }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<MpiJob> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      std::exception_ptr error;
      try {
        job->run();
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(job->mutex);
        job->error = error;
        job->done = true;
      }
      job->finished.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<MpiJob>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

// MPI for the process: initialised on first use unless the program did it,
// with a duplicate of the world communicator whose errors come back as codes.
struct MpiRuntime {
  MpiRuntime() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = 0;
    if (!initialized) {
      mpi_check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owned = true;
    } else {
      MPI_Query_thread(&provided);
    }
    // Note [one MPI thread]: the communication thread is not the one that started MPI.
    EMBER_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI: the library provides thread level ", provided,
                ", ember needs MPI_THREAD_SERIALIZED (", MPI_THREAD_SERIALIZED, ")");
    mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
    mpi_check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  ~MpiRuntime() {
    thread.reset();  // finishes the queued jobs, then joins
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&comm);
    if (owned) MPI_Finalize();
  }
  // Runs fn on the communication thread and waits for it.
  void call(std::function<void()> fn) { thread->submit(std::move(fn))->wait(); }

  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  bool owned = false;
  std::unique_ptr<CommThread> thread = std::make_unique<CommThread>();
};

MpiRuntime& mpi() {
  static MpiRuntime runtime;
  return runtime;
}

// The dtype a tensor travels in, and its MPI type.
DType wire_dtype(DType dt) { return dt == kFloat16 || dt == kBFloat16 ? kFloat32 : dt; }

MPI_Datatype mpi_type(DType dt, const char* what) {
  if (dt == kFloat32) return MPI_FLOAT;
  if (dt == kFloat64) return MPI_DOUBLE;
  if (dt == kInt32) return MPI_INT32_T;
  if (dt == kInt64) return MPI_INT64_T;
  if (dt == kUInt8 || dt == kBool) return MPI_UINT8_T;
  EMBER_FAIL("MPI process group: ", what, " of ", dt, " tensors is not supported");
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::max: return MPI_MAX;
    case ReduceOp::min: return MPI_MIN;
    default: return MPI_SUM;  // mean divides afterwards
  }
}

// The tensors of one collective staged into one CPU buffer per wire dtype, so
// that a list of gradients is one MPI call per dtype rather than one per
// tensor. A single contiguous CPU tensor already in its wire dtype is its own
// buffer (no copies).
struct Staged {
  Tensor buffer;
  std::vector<Tensor> targets;  // the caller's tensors, in buffer order; empty when buffer is the tensor
};

std::vector<Staged> stage(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) EMBER_CHECK(t.defined(), "MPI process group: undefined tensor");
  if (tensors.size() == 1) {
    const Tensor& t = tensors.front();
    if (t.device() == kCPU && t.is_contiguous() && wire_dtype(t.dtype()) == t.dtype()) return {{t, {}}};
  }
  std::map<int, std::vector<Tensor>> by_dtype;
  for (const Tensor& t : tensors) by_dtype[static_cast<int>(wire_dtype(t.dtype()).kind)].push_back(t);
  std::vector<Staged> out;
  for (auto& [id, group] : by_dtype) {
    const DType dt = wire_dtype(group.front().dtype());
    int64_t total = 0;
    for (const Tensor& t : group) total += t.numel();
    Tensor buffer = empty({total}, TensorOptions(dt));
    int64_t offset = 0;
    for (const Tensor& t : group) {
      Tensor slot = buffer.narrow(0, offset, t.numel()).view(t.shape());
      ops::copy_(slot, ops::to(t, kCPU));
      offset += t.numel();
    }
    out.push_back({std::move(buffer), std::move(group)});
  }
  return out;
}

// Copies the buffers' results back into the caller's tensors.
void unstage(const std::vector<Staged>& staged) {
  for (const Staged& s : staged) {
    int64_t offset = 0;
    for (const Tensor& t : s.targets) {
      Tensor slot = s.buffer.narrow(0, offset, t.numel()).view(t.shape());
      Tensor dst = t;
      ops::copy_(dst, slot);
      offset += t.numel();
    }
  }
}

// MPI counts are int: a buffer larger than INT_MAX elements goes in pieces.
template <class Call>
void in_chunks(const Tensor& buffer, Call&& call) {
  const int64_t n = buffer.numel(), chunk = INT_MAX / 2;
  const size_t item = buffer.dtype().itemsize();
  auto* base = static_cast<char*>(buffer.data_ptr());
  for (int64_t start = 0; start < n; start += chunk)
    call(base + static_cast<size_t>(start) * item, static_cast<int>(std::min(chunk, n - start)));
}

// A staged all_reduce queued on the communication thread; wait() finishes it
// on the waiting thread (the mean's division, the copies back).
class MpiAllReduce final : public Work {
 public:
  MpiAllReduce(std::vector<Staged> staged, ReduceOp op) : staged_(std::move(staged)), op_(op) {
    struct Call {
      void* data;
      int count;
      MPI_Datatype type;
    };
    std::vector<Call> calls;
    for (const Staged& s : staged_) {
      const DType dt = s.buffer.dtype();
      EMBER_CHECK(!(dt == kBool || dt == kUInt8), "MPI process group: all_reduce of ", dt, " tensors is not supported");
      EMBER_CHECK(op != ReduceOp::mean || dt.is_floating(), "MPI process group: mean of integer tensors; use sum");
      const MPI_Datatype type = mpi_type(dt, "all_reduce");
      in_chunks(s.buffer, [&](void* p, int count) { calls.push_back({p, count, type}); });
    }
    job_ = mpi().thread->submit([calls = std::move(calls), mpi_reduce = mpi_op(op)] {
      for (const Call& c : calls)
        mpi_check(MPI_Allreduce(MPI_IN_PLACE, c.data, c.count, c.type, mpi_reduce, mpi().comm), "MPI_Allreduce");
    });
  }
  ~MpiAllReduce() override {
    // The buffers must outlive the MPI call: an abandoned collective is still waited for.
    if (job_) try {
        job_->wait();
      } catch (...) {
      }
  }

  void wait() override {
    if (!job_) return;
    auto job = std::move(job_);
    job->wait();
    if (op_ == ReduceOp::mean)
      for (const Staged& s : staged_) {
        Tensor buffer = s.buffer;
        ops::binary_(Op::div, buffer, ops::scalar_tensor(static_cast<double>(mpi().size), buffer));
      }
    unstage(staged_);
  }

 private:
  std::vector<Staged> staged_;
  ReduceOp op_;
  std::shared_ptr<MpiJob> job_;
};

class MpiProcessGroup : public ProcessGroup {
 public:
  int rank() const override { return mpi().rank; }
  int size() const override { return mpi().size; }
  std::string backend() const override { return "mpi"; }
  Device device() const override { return kCPU; }

  void all_reduce(const std::vector<Tensor>& tensors, ReduceOp op) override { all_reduce_async(tensors, op)->wait(); }

  std::shared_ptr<Work> all_reduce_async(const std::vector<Tensor>& tensors, ReduceOp op) override {
    return std::make_shared<MpiAllReduce>(stage(tensors), op);
  }

  void broadcast(const std::vector<Tensor>& tensors, int root) override {
    EMBER_CHECK(root >= 0 && root < size(), "MPI process group: broadcast root ", root, " is outside [0, ", size(), ")");
    std::vector<Staged> staged = stage(tensors);
    for (const Staged& s : staged) {
      const MPI_Datatype type = mpi_type(s.buffer.dtype(), "broadcast");
      mpi().call([&] {
        in_chunks(s.buffer, [&](void* p, int count) { mpi_check(MPI_Bcast(p, count, type, root, mpi().comm), "MPI_Bcast"); });
      });
    }
    unstage(staged);
  }

  void barrier() override { detail::mpi_barrier(); }
};

}  // namespace

namespace detail {
void mpi_broadcast_bytes(void* data, size_t bytes, int root) {
  EMBER_CHECK(bytes <= static_cast<size_t>(INT_MAX), "MPI: broadcast of ", bytes, " bytes at once");
  mpi().call([&] {
    mpi_check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, mpi().comm), "MPI_Bcast");
  });
}
void mpi_barrier() {
  mpi().call([] { mpi_check(MPI_Barrier(mpi().comm), "MPI_Barrier"); });
}
int mpi_rank() { return mpi().rank; }
int mpi_size() { return mpi().size; }
}  // namespace detail

std::shared_ptr<ProcessGroup> mpi_process_group() { return std::make_shared<MpiProcessGroup>(); }

#else  // !EMBER_WITH_MPI

std::shared_ptr<ProcessGroup> mpi_process_group() {
  EMBER_FAIL("mpi_process_group: this build of ember has no MPI (install libopenmpi-dev and configure again, "
             "or check EMBER_MPI)");
}

#endif

}  // namespace ember::train
