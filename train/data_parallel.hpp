// Data-parallel training: GradReducer averages gradients over the ranks of a
// ProcessGroup while backward runs; DataParallel keeps the replicas of a model
// on every rank identical, as PyTorch's DistributedDataParallel does.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ember/train/callback.hpp>
#include <ember/train/distributed.hpp>

namespace ember::train {

struct GradReducerOptions {
  // Gradients travel in buckets of about this many bytes, filled in reverse
  // order of the parameters: roughly the order in which backward finishes them.
  int64_t bucket_bytes = 25ll << 20;
  // The first bucket of each dtype (the model's last parameters) is smaller,
  // so that the first reduction starts early in backward.
  int64_t first_bucket_bytes = 1ll << 20;
  // Send each bucket as soon as backward has accumulated all of its gradients
  // (the reduction runs while backward goes on); false: send them all when
  // backward ends. The results are the same either way.
  bool overlap = true;
  // After the first reduced pass, rebuild the buckets in the order its
  // gradients arrived on rank 0 (those it did not reach last), as PyTorch's
  // DDP does: backward's real order, not the parameters' reverse order, fills
  // the first buckets. The rebuild is one broadcast during that pass's finish().
  bool rebuild_buckets = true;
};

// Averages the gradients of `params` over the ranks of `group`, bucket by
// bucket, overlapping the reductions with backward (Note [gradient buckets]).
//
//   GradReducer reducer(group, model->parameters());
//   reducer.prepare();   // before each backward() whose gradients are to be averaged
//   loss.backward();     // returns with every .grad the mean over the ranks
//   reducer.finish();    // needed only when backward reached no parameter; else a no-op
//
// Every rank must prepare() the same passes and build its reducer from the same
// parameter list (shapes, dtypes, order), so the buckets travel in one order
// everywhere. A parameter that backward did not reach contributes its current
// .grad (zeros when undefined). Parameters that do not require grad are left out.
class GradReducer {
 public:
  GradReducer(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, GradReducerOptions options = {});
  ~GradReducer();  // takes its hooks off the parameters
  GradReducer(const GradReducer&) = delete;
  GradReducer& operator=(const GradReducer&) = delete;

  // Arms the reducer for the next backward pass.
  void prepare();
  // Sends what is not sent yet, waits for every bucket and makes every
  // parameter's .grad the mean over the ranks (a view of its bucket: do not
  // hold on to it across passes); called by backward itself once any
  // parameter got its gradient. Does nothing when not prepared.
  void finish();

  // The parameters of each bucket, in the order they travel, as indices into
  // the parameters that require grad (in the order given). Rebuilt after the
  // first pass (GradReducerOptions::rebuild_buckets).
  std::vector<std::vector<size_t>> buckets() const;
  // How many buckets were sent during backward (before its end) in the last pass.
  int64_t sent_during_backward() const { return sent_early_; }

 private:
  struct Bucket;
  void on_ready(size_t param);
  void send_ready_buckets();
  void send(Bucket& b);
  // Cuts the parameters, in `order`, into buckets (fresh buffers).
  void assign_buckets(const std::vector<size_t>& order);
  void rebuild_buckets();
  Tensor slot(size_t param) const;  // the parameter's view of its bucket
  void fill_slot(size_t param, const Tensor& grad);

  std::shared_ptr<ProcessGroup> group_;
  std::vector<Tensor> params_;
  GradReducerOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_, slot_of_;  // per parameter
  std::vector<uint64_t> hooks_;
  std::vector<bool> ready_;
  size_t next_to_send_ = 0;
  std::vector<size_t> ready_order_;  // of the first pass
  bool armed_ = false, finish_queued_ = false, rebuilt_ = false;
  int64_t sent_early_ = 0;
};

// The DataParallel callback's nodes:
//   before_fit      broadcast rank 0's parameters and buffers (one start for
//                   all) and build a GradReducer over the model's parameters
//   after_loss      (train) prepare the reducer, unless the batch's gradients
//                   only accumulate (Learner::skip_gradient_sync)
//   backward        the reducer averages the gradients over the ranks, so
//                   after_backward nodes (clipping, a GradScaler's unscale and
//                   its finite check) see the same gradients on every rank
//   after_backward  finish the reducer (for a pass that reached no parameter)
//   before_batch    (train, broadcast_buffers) rank 0's buffers, e.g. batch-norm
//                   running statistics, to every rank
// With a DistributedSampler each rank sees its share of every epoch; averaging
// the gradients of equal shares is the gradient of their union's mean loss,
// so N ranks with batch B each train as one process with batch N*B.
// With GradientAccumulation only the batch that steps reduces (the sum of its
// group's gradients). With LearnerOptions::process_group set to the same
// group, the loss sums and the metric callbacks' counts are summed over the
// ranks, so each rank can validate its DistributedSampler share and every rank
// sees the global metrics (exact when the shares are equal); log on rank 0.
class DataParallel : public Callback {
 public:
  explicit DataParallel(std::shared_ptr<ProcessGroup> group, bool broadcast_buffers = true,
                        GradReducerOptions reducer = {});
  ~DataParallel() override;
  std::string name() const override { return "data_parallel"; }
  std::vector<CallbackNode> nodes() override;
  ProcessGroup& group() { return *group_; }
  // The reducer of the current (or last) fit; null before the first.
  const GradReducer* reducer() const { return reducer_.get(); }

 private:
  std::shared_ptr<ProcessGroup> group_;
  bool broadcast_buffers_;
  GradReducerOptions reducer_options_;
  std::unique_ptr<GradReducer> reducer_;
};

}  // namespace ember::train
