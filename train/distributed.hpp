// Data-parallel training on an existing distributed engine: MPI between
// processes on CPU clusters, NCCL between GPUs. ember brings no transport of
// its own; a ProcessGroup is a thin, checked wrapper over one of them.
//
// Launch with the engine's launcher (mpiexec -n 4 ./train ...). Every rank
// builds the same model and loader; DistributedSampler gives each its share
// of every epoch, and the DataParallel callback (data_parallel.hpp) starts all
// ranks from rank 0's weights and averages the gradients after every backward
// pass, so the ranks stay identical.
//
// Invariant: collective calls are made by every rank, in the same order, with
// tensors of the same shapes and dtypes (as with MPI and NCCL themselves).
//
// Use:
//   auto group = train::mpi_process_group();            // or nccl_process_group(device)
//   std::vector<Tensor> t = {x};
//   group->all_reduce(t, train::ReduceOp::sum);          // x is now the sum over ranks
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <ember/runtime/device.hpp>
#include <ember/tensor/tensor.hpp>

namespace ember::train {

enum class ReduceOp { sum, mean, max, min };

// A collective in flight (ProcessGroup::all_reduce_async). wait() blocks until
// it has finished, leaves the result in its tensors and rethrows its error;
// later calls return at once.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;
  // Where its tensors live: kCPU for MPI (GPU tensors are staged), this rank's GPU for NCCL.
  virtual Device device() const = 0;
  // In place, on every rank: each tensor becomes the reduction over ranks.
  // Tensors may be views; float16/bfloat16 are reduced in float32.
  virtual void all_reduce(const std::vector<Tensor>& tensors, ReduceOp op) = 0;
  // all_reduce, started and handed back at once, so that the caller can compute
  // while it runs: until wait(), the tensors must be neither read nor written.
  // Collectives still run in the order they were called, async or not. By
  // default it is all_reduce, finished before it returns; MPI runs it on its
  // communication thread, NCCL on a communication stream of the GPU (there
  // wait() makes the current stream wait, not the host).
  virtual std::shared_ptr<Work> all_reduce_async(const std::vector<Tensor>& tensors, ReduceOp op);
  // In place: every rank's tensors become root's.
  virtual void broadcast(const std::vector<Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;
};

// Whether this build of ember has the backend.
bool built_with_mpi();
bool built_with_nccl();

// The world communicator of MPI (MPI_Init_thread with MPI_THREAD_SERIALIZED
// on first use when the program has not initialised MPI; finalised at exit).
// CPU tensors are reduced in place; GPU tensors go through host copies (use
// NCCL for GPUs). Every MPI call of ember's groups runs on one communication
// thread, in the order the collectives were called; the calling thread waits
// for its result (or, with all_reduce_async, goes on). Throws without MPI in
// this build.
std::shared_ptr<ProcessGroup> mpi_process_group();

// A NCCL communicator over the MPI world, one GPU per rank: `device` is this
// rank's GPU. Reductions run on the device's current stream. Throws without
// NCCL (or MPI, which starts it) in this build.
std::shared_ptr<ProcessGroup> nccl_process_group(Device device);

// The world size a launcher announced in the environment (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, PMIX_SIZE, MV2_COMM_WORLD_SIZE), or 1; and this process's rank
// among the ranks on its node (for choosing a GPU), or 0.
int launched_world_size();
int launched_local_rank();
// How many ranks the launcher placed on this node (OMPI_COMM_WORLD_LOCAL_SIZE,
// MPI_LOCALNRANKS, MV2_COMM_WORLD_LOCAL_SIZE, PMIX_LOCAL_SIZE), or 1: ranks on one
// machine should share its cores (threads = cores / local size) rather than
// each start a pool of all of them.
int launched_local_size();

namespace detail {
// The MPI world of mpi_process_group(), for the NCCL group's start (MPI builds only).
void mpi_broadcast_bytes(void* data, size_t bytes, int root);
void mpi_barrier();
int mpi_rank();
int mpi_size();
}  // namespace detail

}  // namespace ember::train
