// The MPI process group (distributed.hpp), and what the backends share:
// staging tensors into one buffer per dtype, so that a list of gradients is one
// collective call rather than one per tensor.
#include <ember/train/distributed.hpp>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>

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
    // Collectives may be called from an executor's worker (one at a time): SERIALIZED is needed.
    EMBER_CHECK(provided >= MPI_THREAD_SERIALIZED, "MPI: the library provides thread level ", provided,
                ", ember needs MPI_THREAD_SERIALIZED (", MPI_THREAD_SERIALIZED, ")");
    mpi_check(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
    mpi_check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  ~MpiRuntime() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&comm);
    if (owned) MPI_Finalize();
  }
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0, size = 1;
  bool owned = false;
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

// Runs `collective(buffer)` on one CPU buffer per wire dtype holding all the
// tensors of that dtype, then copies the results back into the tensors.
template <class Collective>
void staged(const std::vector<Tensor>& tensors, Collective&& collective) {
  std::map<int, std::vector<const Tensor*>> by_dtype;
  for (const Tensor& t : tensors) {
    EMBER_CHECK(t.defined(), "MPI process group: undefined tensor");
    by_dtype[static_cast<int>(wire_dtype(t.dtype()).kind)].push_back(&t);
  }
  for (auto& [id, group] : by_dtype) {
    const DType dt = wire_dtype(group.front()->dtype());
    int64_t total = 0;
    for (const Tensor* t : group) total += t->numel();
    Tensor buffer = empty({total}, TensorOptions(dt));
    int64_t offset = 0;
    for (const Tensor* t : group) {
      Tensor slot = buffer.narrow(0, offset, t->numel()).view(t->shape());
      ops::copy_(slot, ops::to(*t, kCPU));
      offset += t->numel();
    }
    collective(buffer);
    offset = 0;
    for (const Tensor* t : group) {
      Tensor slot = buffer.narrow(0, offset, t->numel()).view(t->shape());
      Tensor dst = *t;
      ops::copy_(dst, slot);
      offset += t->numel();
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

class MpiProcessGroup : public ProcessGroup {
 public:
  int rank() const override { return mpi().rank; }
  int size() const override { return mpi().size; }
  std::string backend() const override { return "mpi"; }
  Device device() const override { return kCPU; }

  void all_reduce(const std::vector<Tensor>& tensors, ReduceOp op) override {
    staged(tensors, [&](Tensor& buffer) {
      EMBER_CHECK(!(buffer.dtype() == kBool || buffer.dtype() == kUInt8), "MPI process group: all_reduce of ",
                  buffer.dtype(), " tensors is not supported");
      EMBER_CHECK(op != ReduceOp::mean || buffer.dtype().is_floating(),
                  "MPI process group: mean of integer tensors; use sum");
      const MPI_Datatype type = mpi_type(buffer.dtype(), "all_reduce");
      in_chunks(buffer, [&](void* p, int count) {
        mpi_check(MPI_Allreduce(MPI_IN_PLACE, p, count, type, mpi_op(op), mpi().comm), "MPI_Allreduce");
      });
      if (op == ReduceOp::mean) {
        Tensor scaled = ops::div(buffer, ops::scalar_tensor(static_cast<double>(size()), buffer));
        ops::copy_(buffer, scaled);
      }
    });
  }

  void broadcast(const std::vector<Tensor>& tensors, int root) override {
    EMBER_CHECK(root >= 0 && root < size(), "MPI process group: broadcast root ", root, " is outside [0, ", size(), ")");
    staged(tensors, [&](Tensor& buffer) {
      const MPI_Datatype type = mpi_type(buffer.dtype(), "broadcast");
      in_chunks(buffer, [&](void* p, int count) { mpi_check(MPI_Bcast(p, count, type, root, mpi().comm), "MPI_Bcast"); });
    });
  }

  void barrier() override { mpi_check(MPI_Barrier(mpi().comm), "MPI_Barrier"); }
};

}  // namespace

namespace detail {
void mpi_broadcast_bytes(void* data, size_t bytes, int root) {
  EMBER_CHECK(bytes <= static_cast<size_t>(INT_MAX), "MPI: broadcast of ", bytes, " bytes at once");
  mpi_check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, mpi().comm), "MPI_Bcast");
}
void mpi_barrier() { mpi_check(MPI_Barrier(mpi().comm), "MPI_Barrier"); }
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
