// DataParallel (data_parallel.hpp).
#include <ember/train/data_parallel.hpp>

#include <ember/autograd/grad_mode.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/train/learner.hpp>

namespace ember::train {

namespace {

std::vector<Tensor> buffers_of(nn::Module& model) {
  std::vector<Tensor> out;
  for (auto& [name, t] : model.state_dict()) {
    (void)name;
    out.push_back(t);
  }
  return out;
}

}  // namespace

DataParallel::DataParallel(std::shared_ptr<ProcessGroup> group, bool broadcast_buffers)
    : group_(std::move(group)), broadcast_buffers_(broadcast_buffers) {
  EMBER_CHECK(group_ != nullptr, "DataParallel: no process group");
}

std::vector<CallbackNode> DataParallel::nodes() {
  std::vector<CallbackNode> nodes = {
      {.event = Event::before_fit, .name = "data_parallel.broadcast", .writes = {"params", "collective"},
       .run = [this](Learner& l) {
         NoGradGuard no_grad;
         group_->broadcast(buffers_of(l.model()), 0);  // parameters and buffers: the whole state dict
       }},
      {.event = Event::after_backward, .name = "data_parallel.all_reduce", .reads = {"grads"}, .writes = {"grads", "collective"},
       .after = {"grad_accumulation.gate"}, .phases = kTrainPhase, .run = [this](Learner& l) {
         NoGradGuard no_grad;
         std::vector<Tensor> grads;
         for (Tensor& p : l.model().parameters()) {
           if (!p.grad().defined()) p.set_grad(zeros_like(p));
           grads.push_back(p.grad());
         }
         group_->all_reduce(grads, ReduceOp::mean);
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
