// DataParallel: keeps the replicas of a model on every rank of a ProcessGroup
// identical, as PyTorch's DistributedDataParallel does.
//
//   before_fit      broadcast rank 0's parameters and buffers (one start for all)
//   after_backward  average the gradients over ranks (one collective per dtype
//                   with MPI, one NCCL group call), before clipping and the step
//   before_batch    (train, broadcast_buffers) rank 0's buffers, e.g. batch-norm
//                   running statistics, to every rank
// With a DistributedSampler each rank sees its share of every epoch; averaging
// the gradients of equal shares is the gradient of their union's mean loss,
// so N ranks with batch B each train as one process with batch N*B.
// Undefined gradients (a parameter no loss reached) are reduced as zeros, so
// the ranks stay in step. With LearnerOptions::process_group set to the same
// group, the loss sums and the metric callbacks' counts are summed over the
// ranks, so each rank can validate its DistributedSampler share and every rank
// sees the global metrics (exact when the shares are equal); log on rank 0.
#pragma once

#include <memory>

#include <ember/train/callback.hpp>
#include <ember/train/distributed.hpp>

namespace ember::train {

class DataParallel : public Callback {
 public:
  explicit DataParallel(std::shared_ptr<ProcessGroup> group, bool broadcast_buffers = true);
  std::string name() const override { return "data_parallel"; }
  std::vector<CallbackNode> nodes() override;
  ProcessGroup& group() { return *group_; }

 private:
  std::shared_ptr<ProcessGroup> group_;
  bool broadcast_buffers_;
};

}  // namespace ember::train
