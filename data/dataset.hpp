// Dataset: what a DataLoader reads from. An example is an (input, target)
// pair; a batch stacks examples along a new leading dim.
//
// Invariant: get() and get_batch() are const and safe to call from several
// threads at once (the DataLoader loads batches as concurrent tasks on the
// process's executor). A dataset that caches must guard its cache itself.
//
// Use: auto ds = std::make_shared<TensorDataset>(images, labels);
//      Example e = ds->get(3);                       // images[3], labels[3]
//      Batch b = ds->get_batch(std::vector<int64_t>{0, 5, 9});
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <ember/tensor/tensor.hpp>

namespace ember::data {

struct Example {
  Tensor input;
  Tensor target;  // may be undefined (unlabelled data)
};

struct Batch {
  Tensor input;   // (B, ...) the examples' inputs stacked
  Tensor target;  // (B, ...) or undefined when the examples have none
};

// Stacks examples into a batch: every input (and every target) must have the
// same shape and dtype; the error names the first position that differs.
Batch collate(const std::vector<Example>& examples);

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The example at `index`, 0 <= index < size(). Thread-safe.
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices`, stacked. The default calls get() for each and
  // collate(); datasets that hold whole tensors override it with one gather.
  virtual Batch get_batch(std::span<const int64_t> indices) const;
  // A short name for error messages ("TensorDataset", "ImageFolder '/data/x'").
  virtual std::string name() const { return "dataset"; }
};

// Throws an ember::Error naming the dataset when index is outside [0, size).
void check_index(const Dataset& dataset, int64_t index);

// Inputs and targets held as tensors whose dim 0 is the example index (like
// torch.utils.data.TensorDataset). They may live on any device: a batch is one
// index_select on that device.
class TensorDataset : public Dataset {
 public:
  // targets may be undefined; when defined its dim 0 must equal inputs'.
  TensorDataset(Tensor inputs, Tensor targets = {});
  int64_t size() const override { return inputs_.size(0); }
  Example get(int64_t index) const override;
  Batch get_batch(std::span<const int64_t> indices) const override;
  std::string name() const override { return "TensorDataset"; }
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
};

// The examples of `base` at `indices`, in that order (like torch's Subset):
// a train/validation split, or the first N examples of a dataset.
class Subset : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  Batch get_batch(std::span<const int64_t> indices) const override;
  std::string name() const override { return "Subset of " + base_->name(); }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

// Splits 0..size-1 into consecutive random parts of the given lengths (they
// must add up to the dataset's size), from a permutation seeded with `seed`.
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<const Dataset> dataset,
                                                  const std::vector<int64_t>& lengths, uint64_t seed);

// Applies a deterministic per-example function to another dataset's examples
// (decode, resize, convert), in the loading task. Random augmentation belongs
// in the DataLoader's batch transforms, which receive a seeded generator.
class MapDataset : public Dataset {
 public:
  using Fn = std::function<Example(Example)>;
  MapDataset(std::shared_ptr<const Dataset> base, Fn fn);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index) const override { return fn_(base_->get(index)); }
  std::string name() const override { return "MapDataset over " + base_->name(); }

 private:
  std::shared_ptr<const Dataset> base_;
  Fn fn_;
};

}  // namespace ember::data
