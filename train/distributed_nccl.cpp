// The NCCL process group (distributed.hpp): one communicator over the MPI
// world, one GPU per rank. Rank 0's ncclUniqueId reaches the others through
// MPI, the usual way to start NCCL. Collectives are queued on the device's
// current stream (Note [stream ownership] in runtime/cuda_stream.hpp), so they
// are ordered after the backward pass that produced the gradients and before
// the optimizer step that reads them, with no host synchronisation.
// all_reduce_async queues its reduction on a communication stream of the
// group instead, after an event of the current stream (so it sees what was
// queued before it), marks the tensors' memory as used there, and wait()
// makes the then-current stream wait for it: the reduction of one bucket of
// gradients runs on the GPU beside the backward kernels that follow it.
#include <ember/train/distributed.hpp>

#include <ember/runtime/error.hpp>
#include <ember/tensor/ops.hpp>

#if defined(EMBER_WITH_NCCL)
#include <nccl.h>

#include <ember/runtime/cuda_allocator.hpp>
#include <ember/runtime/cuda_check.hpp>
#include <ember/runtime/cuda_stream.hpp>
#endif

namespace ember::train {

bool built_with_nccl() {
#if defined(EMBER_WITH_NCCL)
  return true;
#else
  return false;
#endif
}

#if defined(EMBER_WITH_NCCL)

namespace {

void nccl_check(ncclResult_t rc, const char* call) {
  if (rc == ncclSuccess) return;
  EMBER_FAIL("NCCL: ", call, " failed: ", ncclGetErrorString(rc), " (", ncclGetLastError(nullptr), ")");
}

ncclDataType_t nccl_type(DType dt) {
  if (dt == kFloat32) return ncclFloat32;
  if (dt == kFloat64) return ncclFloat64;
  if (dt == kFloat16) return ncclFloat16;
  if (dt == kBFloat16) return ncclBfloat16;
  if (dt == kInt32) return ncclInt32;
  if (dt == kInt64) return ncclInt64;
  if (dt == kUInt8 || dt == kBool) return ncclUint8;
  EMBER_FAIL("NCCL process group: ", dt, " tensors are not supported");
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return ncclSum;
    case ReduceOp::mean: return ncclAvg;
    case ReduceOp::max: return ncclMax;
    case ReduceOp::min: return ncclMin;
  }
  return ncclSum;
}

// A reduction queued on the communication stream: wait() orders the waiting
// thread's current stream after it (no host wait). Dropped unwaited, it still
// orders the stream current at that moment, so nothing later races it.
class NcclWork final : public Work {
 public:
  NcclWork(cuda::Event done, int device) : done_(std::move(done)), device_(device) {}
  ~NcclWork() override {
    try {
      wait();
    } catch (...) {
    }
  }
  void wait() override {
    if (waited_) return;
    waited_ = true;
    done_.block(cuda::current_stream(device_));
  }

 private:
  cuda::Event done_;
  int device_;
  bool waited_ = false;
};

class NcclProcessGroup : public ProcessGroup {
 public:
  explicit NcclProcessGroup(Device device) : device_(device) {
    EMBER_CHECK(device.is_cuda(), "nccl_process_group: expected a CUDA device, got ", device);
    rank_ = detail::mpi_rank();
    size_ = detail::mpi_size();
    ncclUniqueId id{};
    if (rank_ == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    detail::mpi_broadcast_bytes(&id, sizeof id, 0);
    cuda::DeviceGuard guard(device_.index);
    nccl_check(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }
  ~NcclProcessGroup() override {
    if (comm_) ncclCommDestroy(comm_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "nccl"; }
  Device device() const override { return device_; }

  void all_reduce(const std::vector<Tensor>& tensors, ReduceOp op) override {
    run(tensors, "all_reduce", [&](Tensor& t, cudaStream_t stream) {
      nccl_check(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()),
                               nccl_op(op), comm_, stream),
                 "ncclAllReduce");
    });
  }

  std::shared_ptr<Work> all_reduce_async(const std::vector<Tensor>& tensors, ReduceOp op) override {
    cuda::DeviceGuard guard(device_.index);
    const cuda::Stream compute = cuda::current_stream(device_.index);
    if (comm_stream_.handle() == nullptr) comm_stream_ = cuda::stream_from_pool(device_.index, /*high_priority=*/true);
    cuda::Event inputs_ready;
    inputs_ready.record(compute);
    inputs_ready.block(comm_stream_);
    {
      cuda::StreamGuard on_comm(comm_stream_);
      all_reduce(tensors, op);
    }
    for (const Tensor& t : tensors) cuda::record_stream(t.storage()->data, comm_stream_);
    cuda::Event done;
    done.record(comm_stream_);
    return std::make_shared<NcclWork>(std::move(done), device_.index);
  }

  void broadcast(const std::vector<Tensor>& tensors, int root) override {
    EMBER_CHECK(root >= 0 && root < size_, "NCCL process group: broadcast root ", root, " is outside [0, ", size_, ")");
    run(tensors, "broadcast", [&](Tensor& t, cudaStream_t stream) {
      nccl_check(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t.dtype()), root,
                               comm_, stream),
                 "ncclBroadcast");
    });
  }

  void barrier() override {
    cuda::DeviceGuard guard(device_.index);
    EMBER_CUDA_CHECK(cudaStreamSynchronize(cuda::current_stream(device_.index).handle()), "NCCL barrier");
    detail::mpi_barrier();
  }

 private:
  // One NCCL group call over contiguous tensors on this rank's GPU; views are
  // reduced in a contiguous copy that is written back afterwards.
  template <class Call>
  void run(const std::vector<Tensor>& tensors, const char* what, Call&& call) {
    cuda::DeviceGuard guard(device_.index);
    const cudaStream_t stream = cuda::current_stream(device_.index).handle();
    std::vector<std::pair<Tensor, Tensor>> copies;  // (the caller's view, its contiguous stand-in)
    std::vector<Tensor> work;
    for (const Tensor& t : tensors) {
      EMBER_CHECK(t.defined() && t.device() == device_, "NCCL process group: ", what, " expects tensors on ", device_,
                  ", got ", t.defined() ? t.describe() : std::string("an undefined tensor"));
      if (t.is_contiguous()) {
        work.push_back(t);
      } else {
        copies.emplace_back(t, ops::contiguous(t));
        work.push_back(copies.back().second);
      }
    }
    nccl_check(ncclGroupStart(), "ncclGroupStart");
    for (Tensor& t : work) call(t, stream);
    nccl_check(ncclGroupEnd(), "ncclGroupEnd");
    for (auto& [view, copy] : copies) ops::copy_(view, copy);
  }

  Device device_;
  int rank_ = 0, size_ = 1;
  ncclComm_t comm_ = nullptr;
  cuda::Stream comm_stream_;  // all_reduce_async's, taken on first use
};

}  // namespace

std::shared_ptr<ProcessGroup> nccl_process_group(Device device) { return std::make_shared<NcclProcessGroup>(device); }

#else  // !EMBER_WITH_NCCL

std::shared_ptr<ProcessGroup> nccl_process_group(Device device) {
  EMBER_FAIL("nccl_process_group(", device, "): this build of ember has no NCCL (it needs the CUDA build, NCCL and MPI)");
}

#endif

}  // namespace ember::train
