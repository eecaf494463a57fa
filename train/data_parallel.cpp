// GradReducer and DataParallel (data_parallel.hpp).
//
// Note [gradient buckets]
// The parameters are cut, in reverse order, into buckets of about
// bucket_bytes (the first of each dtype and device first_bucket_bytes), one
// dtype and device per bucket; each bucket owns one flat buffer with a slot per parameter. A
// post-accumulate hook on every parameter copies its finished gradient into
// its slot. Buckets are sent strictly in index order, each as soon as it and
// every bucket before it are full: collectives must be called in the same
// order on every rank, and backward may finish the parameters in a different
// order on different ranks (or skip some). The first hook of a pass queues
// finish() on the backward pass, which sends the rest (a parameter backward
// did not reach sends its current .grad, or zeros) and waits for the buckets
// in order, so backward() returns with reduced gradients. Each .grad is then
// set to its slot of the bucket rather than copied back: the next pass's
// gradients are new tensors (zero_grad sets them to none) copied in, or, when
// they were accumulated into the slot in place, are there already. So a
// gradient costs one copy per pass at most. After the first pass the buckets
// are rebuilt in the order its gradients arrived on rank 0 (broadcast, so all
// ranks agree), parameters it did not reach last: a parameter that backward
// reaches late or never then no longer holds back the buckets before it.
// With ProcessGroup::all_reduce_async
// a bucket is reduced on the group's communication thread (MPI) or stream
// (NCCL) while backward computes the next ones.
#include <ember/train/data_parallel.hpp>

#include <map>
#include <utility>

#include <ember/autograd/engine.hpp>
#include <ember/autograd/grad_mode.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/train/learner.hpp>

namespace ember::train {

struct GradReducer::Bucket {
  std::vector<size_t> params;  // indices into params_
  std::vector<int64_t> offsets;
  Tensor buffer;
  size_t pending = 0;  // parameters not yet ready this pass
  std::shared_ptr<Work> work;
};

GradReducer::GradReducer(std::shared_ptr<ProcessGroup> group, std::vector<Tensor> params, GradReducerOptions options)
    : group_(std::move(group)), options_(options) {
  EMBER_CHECK(group_ != nullptr, "GradReducer: no process group");
  EMBER_CHECK(options_.bucket_bytes > 0 && options_.first_bucket_bytes > 0, "GradReducer: bucket sizes must be ",
              "positive, got bucket_bytes ", options_.bucket_bytes, " and first_bucket_bytes ",
              options_.first_bucket_bytes);
  for (Tensor& p : params)
    if (p.defined() && p.requires_grad()) params_.push_back(std::move(p));

  std::vector<size_t> reverse(params_.size());
  for (size_t k = 0; k < reverse.size(); ++k) reverse[k] = reverse.size() - 1 - k;
  assign_buckets(reverse);
  ready_.assign(params_.size(), false);
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(autograd::register_post_accumulate_grad_hook(params_[i], [this, i](const Tensor&) { on_ready(i); }));
}

void GradReducer::assign_buckets(const std::vector<size_t>& order) {
  // One open bucket per (dtype, device), closed when the next parameter would
  // overflow it. Each key's first bucket has the smaller cap.
  using Key = std::pair<int, std::string>;
  std::map<Key, size_t> open;        // key -> index in buckets_
  std::map<Key, int> opened;         // key -> buckets made
  std::vector<int64_t> bytes, caps;  // per bucket
  buckets_.clear();
  bucket_of_.assign(params_.size(), 0);
  slot_of_.assign(params_.size(), 0);
  for (size_t i : order) {
    const Tensor& p = params_[i];
    const auto key = std::make_pair(static_cast<int>(p.dtype().kind), p.device().str());
    const int64_t size = p.numel() * static_cast<int64_t>(p.dtype().itemsize());
    auto it = open.find(key);
    if (it != open.end() && bytes[it->second] + size > caps[it->second]) {
      open.erase(it);
      it = open.end();
    }
    if (it == open.end()) {
      it = open.emplace(key, buckets_.size()).first;
      buckets_.emplace_back();
      bytes.push_back(0);
      caps.push_back(opened[key]++ == 0 ? options_.first_bucket_bytes : options_.bucket_bytes);
    }
    Bucket& b = buckets_[it->second];
    bucket_of_[i] = it->second;
    slot_of_[i] = b.params.size();
    b.offsets.push_back(b.params.empty() ? 0 : b.offsets.back() + params_[b.params.back()].numel());
    b.params.push_back(i);
    bytes[it->second] += size;
  }
  for (Bucket& b : buckets_) {
    const Tensor& first = params_[b.params.front()];
    const int64_t numel = b.offsets.back() + params_[b.params.back()].numel();
    b.buffer = empty({numel}, TensorOptions(first.dtype(), first.device()));
  }
}

void GradReducer::rebuild_buckets() {
  // This rank's order: as the gradients came, then the ones that did not, latest parameters first.
  std::vector<int64_t> order(ready_order_.begin(), ready_order_.end());
  for (size_t i = params_.size(); i-- > 0;)
    if (!ready_[i]) order.push_back(static_cast<int64_t>(i));
  Tensor shared = tensor(order, TensorOptions(kInt64));
  if (group_->device() != kCPU) shared = shared.to(group_->device());
  group_->broadcast({shared}, 0);  // every rank takes rank 0's, so the buckets match
  const Tensor host = ops::contiguous(shared.to(kCPU));
  const int64_t* chosen = host.data_ptr<int64_t>();
  assign_buckets(std::vector<size_t>(chosen, chosen + host.numel()));
}

GradReducer::~GradReducer() {
  for (size_t i = 0; i < params_.size(); ++i) autograd::remove_post_accumulate_grad_hook(params_[i], hooks_[i]);
  for (Bucket& b : buckets_)  // the buffers must outlive a collective still in flight
    if (b.work) try {
        b.work->wait();
      } catch (...) {
      }
}

void GradReducer::prepare() {
  // A pass abandoned half-way (backward threw): wait for what it sent, in order, before reusing the buffers.
  for (Bucket& b : buckets_)
    if (auto work = std::exchange(b.work, nullptr)) work->wait();
  for (Bucket& b : buckets_) b.pending = b.params.size();
  ready_.assign(params_.size(), false);
  next_to_send_ = 0;
  sent_early_ = 0;
  finish_queued_ = false;
  armed_ = true;
}

void GradReducer::on_ready(size_t i) {
  if (!armed_) return;
  EMBER_CHECK(!ready_[i], "GradReducer: parameter ", i, " ", params_[i].describe(), " got a second gradient in one ",
              "prepared pass; call prepare() before every backward() whose gradients are to be reduced");
  ready_[i] = true;
  if (!rebuilt_) ready_order_.push_back(i);
  Bucket& b = buckets_[bucket_of_[i]];
  {
    NoGradGuard no_grad;
    fill_slot(i, params_[i].grad());
  }
  --b.pending;
  if (!finish_queued_) {
    finish_queued_ = true;
    autograd::queue_callback([this] { finish(); });
  }
  if (options_.overlap) {
    const size_t before = next_to_send_;
    send_ready_buckets();
    sent_early_ += static_cast<int64_t>(next_to_send_ - before);
  }
}

void GradReducer::send_ready_buckets() {
  while (next_to_send_ < buckets_.size() && buckets_[next_to_send_].pending == 0) send(buckets_[next_to_send_++]);
}

void GradReducer::send(Bucket& b) { b.work = group_->all_reduce_async({b.buffer}, ReduceOp::mean); }

void GradReducer::finish() {
  if (!armed_) return;
  armed_ = false;
  NoGradGuard no_grad;
  // Whatever backward did not reach goes as it is.
  for (size_t i = 0; i < params_.size(); ++i) {
    if (ready_[i]) continue;
    fill_slot(i, params_[i].grad());
    buckets_[bucket_of_[i]].pending = 0;
  }
  send_ready_buckets();
  // Each .grad becomes its slot of the bucket (Note [gradient buckets]).
  for (Bucket& b : buckets_) {
    std::exchange(b.work, nullptr)->wait();
    for (size_t i : b.params) params_[i].set_grad(slot(i));
  }
  if (!rebuilt_) {  // the .grad views keep the old buffers alive
    rebuilt_ = true;
    if (options_.rebuild_buckets) rebuild_buckets();
  }
}

Tensor GradReducer::slot(size_t i) const {
  const Bucket& b = buckets_[bucket_of_[i]];
  return b.buffer.narrow(0, b.offsets[slot_of_[i]], params_[i].numel()).view(params_[i].shape());
}

void GradReducer::fill_slot(size_t i, const Tensor& grad) {
  Tensor dst = slot(i);
  if (!grad.defined()) ops::fill_(dst, 0.0);
  else if (grad.data_ptr() != dst.data_ptr() || !(grad.strides() == dst.strides())) ops::copy_(dst, grad);
  // else: the gradient was accumulated into its slot in place (zero_grad(false), or accumulation)
}

std::vector<std::vector<size_t>> GradReducer::buckets() const {
  std::vector<std::vector<size_t>> out;
  for (const Bucket& b : buckets_) out.push_back(b.params);
  return out;
}

// ---- DataParallel ---------------------------------------------------------------

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, bool broadcast_buffers, GradReducerOptions reducer)
    : group_(std::move(group)), broadcast_buffers_(broadcast_buffers), reducer_options_(reducer) {
  EMBER_CHECK(group_ != nullptr, "DataParallel: no process group");
}

DataParallel::~DataParallel() = default;

std::vector<CallbackNode> DataParallel::nodes() {
  std::vector<CallbackNode> nodes = {
      {.event = Event::before_fit, .name = "data_parallel.broadcast", .writes = {"params", "collective"},
       .run = [this](Learner& l) {
         NoGradGuard no_grad;
         std::vector<Tensor> state;  // parameters and buffers: the whole state dict
         for (auto& [name, t] : l.model().state_dict()) {
           (void)name;
           state.push_back(t);
         }
         group_->broadcast(state, 0);
         reducer_.reset();  // its hooks come off before the new one's go on
         reducer_ = std::make_unique<GradReducer>(group_, l.model().parameters(), reducer_options_);
       }},
      {.event = Event::after_loss, .name = "data_parallel.prepare", .reads = {"sync"}, .writes = {"collective"},
       .after = {"grad_accumulation.no_sync"}, .phases = kTrainPhase, .run = [this](Learner& l) {
         if (reducer_ && l.gradient_sync()) reducer_->prepare();
       }},
      {.event = Event::after_backward, .name = "data_parallel.all_reduce", .reads = {"grads"},
       .writes = {"grads", "collective"}, .after = {"grad_accumulation.gate"}, .phases = kTrainPhase,
       .run = [this](Learner&) {
         if (reducer_) reducer_->finish();
       }}};
  if (broadcast_buffers_)
    nodes.push_back({.event = Event::before_batch, .name = "data_parallel.buffers", .writes = {"params", "collective"},
                     .phases = kTrainPhase, .run = [this](Learner& l) {
                       std::vector<Tensor> buffers;
                       for (auto& [name, t] : l.model().named_buffers()) {
                         (void)name;
                         buffers.push_back(t);
                       }
                       if (!buffers.empty()) group_->broadcast(buffers, 0);
                     }});
  return nodes;
}

}  // namespace ember::train
