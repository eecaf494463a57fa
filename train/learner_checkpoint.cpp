// Learner checkpoints (learner.hpp, "Exact resume"): one safetensors file with
// the model's state dict ("model.<key>"), the optimizer's ("optimizer.<key>"),
// and in its metadata the loop position, the running sums of the epoch, the
// global generator, the metrics history and each callback's state (JSON).
//
// Invariant: the position saved is the first thing not yet done. From a train
// batch's node: the next batch; from validation: the epoch's validation; from
// the epoch's end: the next epoch. So fit() after load_checkpoint() neither
// repeats nor skips a step.
#include <ember/train/learner.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

#include <ember/nn/safetensors.hpp>
#include <ember/tensor/ops.hpp>
#include <ember/tensor/random.hpp>

namespace ember::train {

namespace {

constexpr const char* kFormat = "ember.learner/1";


const std::string& required(const nn::Metadata& m, const std::string& key, const std::string& path) {
  auto it = m.find(key);
  EMBER_CHECK(it != m.end(), "Learner::load_checkpoint: '", path, "' lacks metadata '", key,
              "' (is it a Learner checkpoint?)");
  return it->second;
}

nlohmann::json parse_json(const std::string& text, const std::string& key, const std::string& path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("Learner::load_checkpoint: '", path, "': metadata '", key, "' is not valid JSON: ", e.what());
  }
}

// JSON has no NaN or infinity: a metric that was not a finite number is left
// out of its row, as if it had not been measured.
nlohmann::json finite_rows(const std::vector<std::map<std::string, double>>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    nlohmann::json r = nlohmann::json::object();
    for (const auto& [k, v] : row)
      if (std::isfinite(v)) r[k] = v;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

void Learner::save_checkpoint(const std::string& path) const {
  nn::TensorMap tensors;
  for (const auto& [k, v] : model_->state_dict()) tensors["model." + k] = v;
  for (const auto& [k, v] : opt_->state_dict()) tensors["optimizer." + k] = v;

  int64_t epoch = epoch_, batch = batch_;
  double loss_sum = train_loss_sum_ + restored_loss_sum_.value_or(0.0);
  int64_t loss_count = train_loss_count_;
  switch (where_) {
    case Where::train_batch:
      batch = batch_ + 1;
      loss_sum += read_sum(loss_sum_);
      loss_count += loss_count_;
      break;
    case Where::validation: batch = train_dl_->size(); break;
    case Where::epoch_end:
      epoch = epoch_ + 1, batch = 0, loss_sum = 0, loss_count = 0;
      break;
    case Where::idle: break;
  }
  const double epoch_seconds =
      where_ == Where::epoch_end
          ? 0.0
          : seconds_before_ + std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();

  nlohmann::json state = {{"epoch", epoch},
                          {"batch", batch},
                          {"iteration", iteration_},
                          {"training_seconds", training_seconds()},
                          {"train_loss_sum", loss_sum},
                          {"train_loss_count", loss_count},
                          {"epoch_seconds", batch > 0 ? epoch_seconds : 0.0},
                          {"rng_seed", default_generator().seed()},
                          {"rng_offset", default_generator().offset()},
                          {"history", finite_rows(history_)}};
  nlohmann::json callbacks = nlohmann::json::object();
  for (const auto& cb : callbacks_) {
    auto s = cb->state();
    if (!s.empty()) callbacks[cb->name()] = finite_rows({s})[0];
  }
  if (options_.grad_scaler) state["grad_scaler"] = options_.grad_scaler->state_dict();
  nn::Metadata metadata{{"format", kFormat}, {"learner", state.dump()}, {"callbacks", callbacks.dump()}};
  nn::save_safetensors(path, tensors, metadata);
}

void Learner::load_checkpoint(const std::string& path) {
  EMBER_CHECK(!fitting_, "Learner::load_checkpoint: not while fit() runs");
  nn::Metadata metadata;
  nn::TensorMap tensors = nn::load_safetensors(path, &metadata);
  EMBER_CHECK(required(metadata, "format", path) == kFormat, "Learner::load_checkpoint: '", path, "' has format '",
              metadata["format"], "', expected '", kFormat, "'");
  nlohmann::json state = parse_json(required(metadata, "learner", path), "learner", path);
  nlohmann::json callbacks = parse_json(required(metadata, "callbacks", path), "callbacks", path);

  std::map<std::string, Tensor> model_state, opt_state;
  for (auto& [k, v] : tensors) {
    if (k.rfind("model.", 0) == 0) {
      model_state[k.substr(6)] = v;
    } else if (k.rfind("optimizer.", 0) == 0) {
      opt_state[k.substr(10)] = v;
    } else {
      EMBER_FAIL("Learner::load_checkpoint: '", path, "' holds an unexpected tensor '", k, "'");
    }
  }
  try {
    model_->load_state_dict(model_state);
    opt_->load_state_dict(opt_state);
    epoch_ = state.at("epoch").get<int64_t>();
    batch_ = state.at("batch").get<int64_t>();
    iteration_ = state.at("iteration").get<int64_t>();
    trained_seconds_ = state.at("training_seconds").get<double>();
    train_loss_sum_ = 0;
    restored_loss_sum_ = state.at("train_loss_sum").get<double>();
    train_loss_count_ = state.at("train_loss_count").get<int64_t>();
    seconds_before_ = state.at("epoch_seconds").get<double>();
    history_ = state.at("history").get<std::vector<std::map<std::string, double>>>();
    if (options_.grad_scaler && state.contains("grad_scaler"))
      options_.grad_scaler->load_state_dict(state.at("grad_scaler").get<std::map<std::string, double>>());
    default_generator().manual_seed(state.at("rng_seed").get<uint64_t>());
    default_generator().set_offset(state.at("rng_offset").get<uint64_t>());
    pending_state_ = callbacks.get<std::map<std::string, std::map<std::string, double>>>();
    for (const auto& cb : callbacks_) {
      auto it = pending_state_.find(cb->name());
      if (it == pending_state_.end()) continue;
      cb->load_state(it->second);
      pending_state_.erase(it);
    }
  } catch (const nlohmann::json::exception& e) {
    EMBER_FAIL("Learner::load_checkpoint: '", path, "': bad learner metadata: ", e.what());
  }
  EMBER_CHECK(epoch_ >= 0 && batch_ >= 0 && batch_ <= train_dl_->size(), "Learner::load_checkpoint: '", path,
              "' resumes at epoch ", epoch_, " batch ", batch_, ", but the training loader has ", train_dl_->size(),
              " batches per epoch (a different dataset or batch size?)");
  loss_sum_ = {};
  loss_count_ = 0;
  where_ = Where::idle;
}

}  // namespace ember::train
