// Dataset basics: collate, TensorDataset, Subset, random_split, MapDataset.
#include <ember/data/dataset.hpp>

#include <numeric>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/tensor/random.hpp>

namespace ember::data {

namespace {

// Int64 indices on `device`, for one gather of a whole batch.
Tensor index_tensor(std::span<const int64_t> indices, Device device) {
  Tensor idx = tensor(std::vector<int64_t>(indices.begin(), indices.end()), TensorOptions(kInt64));
  return device == kCPU ? idx : idx.to(device);
}

// Stacks one field of every example; `field` names it in errors.
Tensor stack_field(const std::vector<Example>& examples, Tensor Example::*member, const char* field) {
  const Tensor& first = examples.front().*member;
  if (!first.defined()) {
    for (size_t i = 1; i < examples.size(); ++i)
      EMBER_CHECK(!(examples[i].*member).defined(), "collate: example 0 has no ", field, " but example ", i, " has ",
                  (examples[i].*member).describe());
    return {};
  }
  std::vector<Tensor> parts;
  parts.reserve(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const Tensor& t = examples[i].*member;
    EMBER_CHECK(t.defined(), "collate: example ", i, " has no ", field, " but example 0 has ", first.describe());
    EMBER_CHECK(t.shape() == first.shape() && t.dtype() == first.dtype() && t.device() == first.device(),
                "collate: the examples of a batch must agree in ", field, " shape, dtype and device: example 0 is ",
                first.describe(), ", example ", i, " is ", t.describe(),
                " (resize or convert them in a MapDataset, or use batch_size 1)");
    parts.push_back(t);
  }
  return ops::stack(parts, 0);
}

}  // namespace

Batch collate(const std::vector<Example>& examples) {
  EMBER_CHECK(!examples.empty(), "collate: no examples to stack");
  return {stack_field(examples, &Example::input, "input"), stack_field(examples, &Example::target, "target")};
}

void check_index(const Dataset& dataset, int64_t index) {
  EMBER_CHECK(index >= 0 && index < dataset.size(), dataset.name(), ": index ", index, " is out of range for ",
              dataset.size(), " examples");
}

Batch Dataset::get_batch(std::span<const int64_t> indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (int64_t i : indices) examples.push_back(get(i));
  return collate(examples);
}

// ---- TensorDataset ---------------------------------------------------------

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  EMBER_CHECK(inputs_.defined() && inputs_.dim() >= 1, "TensorDataset: inputs need a leading example dim, got ",
              inputs_.defined() ? inputs_.describe() : std::string("an undefined tensor"));
  if (targets_.defined()) {
    EMBER_CHECK(targets_.dim() >= 1 && targets_.size(0) == inputs_.size(0), "TensorDataset: inputs ",
                inputs_.describe(), " and targets ", targets_.describe(), " differ in their number of examples");
    EMBER_CHECK(targets_.device() == inputs_.device(), "TensorDataset: inputs ", inputs_.describe(), " and targets ",
                targets_.describe(), " are on different devices");
  }
}

Example TensorDataset::get(int64_t index) const {
  check_index(*this, index);
  return {inputs_.select(0, index), targets_.defined() ? targets_.select(0, index) : Tensor()};
}

Batch TensorDataset::get_batch(std::span<const int64_t> indices) const {
  for (int64_t i : indices) check_index(*this, i);
  Tensor idx = index_tensor(indices, inputs_.device());
  return {ops::index_select(inputs_, 0, idx), targets_.defined() ? ops::index_select(targets_, 0, idx) : Tensor()};
}

// ---- Subset ------------------------------------------------------------------

Subset::Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  EMBER_CHECK(base_ != nullptr, "Subset: no base dataset");
  for (int64_t i : indices_) check_index(*base_, i);
}

Example Subset::get(int64_t index) const {
  check_index(*this, index);
  return base_->get(indices_[static_cast<size_t>(index)]);
}

Batch Subset::get_batch(std::span<const int64_t> indices) const {
  std::vector<int64_t> mapped;
  mapped.reserve(indices.size());
  for (int64_t i : indices) {
    check_index(*this, i);
    mapped.push_back(indices_[static_cast<size_t>(i)]);
  }
  return base_->get_batch(mapped);
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const std::vector<int64_t>& lengths, uint64_t seed) {
  EMBER_CHECK(dataset != nullptr, "random_split: no dataset");
  int64_t total = 0;
  for (int64_t len : lengths) {
    EMBER_CHECK(len >= 0, "random_split: negative length ", len, " in ", IntList(lengths));
    total += len;
  }
  EMBER_CHECK(total == dataset->size(), "random_split: lengths ", IntList(lengths), " add up to ", total, ", but ",
              dataset->name(), " has ", dataset->size(), " examples");
  Generator gen(seed);
  Tensor perm = randperm(total, &gen);
  const int64_t* p = perm.data_ptr<int64_t>();
  std::vector<std::shared_ptr<Subset>> parts;
  int64_t start = 0;
  for (int64_t len : lengths) {
    parts.push_back(std::make_shared<Subset>(dataset, std::vector<int64_t>(p + start, p + start + len)));
    start += len;
  }
  return parts;
}

// ---- MapDataset --------------------------------------------------------------

MapDataset::MapDataset(std::shared_ptr<const Dataset> base, Fn fn) : base_(std::move(base)), fn_(std::move(fn)) {
  EMBER_CHECK(base_ != nullptr, "MapDataset: no base dataset");
  EMBER_CHECK(static_cast<bool>(fn_), "MapDataset: no function");
}

}  // namespace ember::data
