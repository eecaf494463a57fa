// Module: registration, dotted names, train/eval, state dicts, moves, printing.
#include <sstream>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;

namespace {
std::shared_ptr<nn::Sequential> small_net() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::ReLU>(),
                                          std::make_shared<nn::BatchNorm1d>(3), std::make_shared<nn::Linear>(3, 2, false));
}
}  // namespace

TEST(Module, NamedParametersUseDottedNames) {
  auto net = small_net();
  std::vector<std::string> names;
  for (auto& [n, t] : net->named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight"}));
  std::vector<std::string> buffers;
  for (auto& [n, t] : net->named_buffers()) buffers.push_back(n);
  EXPECT_EQ(buffers, (std::vector<std::string>{"2.running_mean", "2.running_var", "2.num_batches_tracked"}));
  EXPECT_EQ(net->num_parameters(), 4 * 3 + 3 + 3 + 3 + 3 * 2);
  for (auto& p : net->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(Module, TrainEvalPropagates) {
  auto net = small_net();
  net->eval();
  for (auto& [n, m] : net->named_modules()) EXPECT_FALSE(m->is_training()) << n;
  net->train();
  for (auto& [n, m] : net->named_modules()) EXPECT_TRUE(m->is_training()) << n;
}

TEST(Module, StateDictRoundTrip) {
  manual_seed(1);
  auto a = small_net();
  manual_seed(2);
  auto b = small_net();
  Tensor x = randn({5, 4});
  a->eval();
  b->eval();
  EXPECT_FALSE(all_close(a->forward(x), b->forward(x)));
  b->load_state_dict(a->state_dict());
  EXPECT_TRUE(all_close(a->forward(x), b->forward(x), 0, 0));
}

TEST(Module, StrictLoadListsEveryProblem) {
  auto net = small_net();
  auto state = net->state_dict();
  state.erase("0.bias");
  state["extra.weight"] = zeros({1});
  state["3.weight"] = zeros({7, 7});
  try {
    net->load_state_dict(state);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("missing keys: 0.bias"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected keys: extra.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("3.weight (checkpoint [7, 7], model [2, 3])"), std::string::npos) << msg;
  }
  // Non-strict still refuses mis-shaped entries but ignores missing/unexpected ones.
  state["3.weight"] = zeros({2, 3});
  net->load_state_dict(state, false);
  EXPECT_TRUE(all_close(net->state_dict()["3.weight"], zeros({2, 3}), 0, 0));
}

TEST(Module, ToDtypeKeepsIdentity) {
  auto lin = std::make_shared<nn::Linear>(3, 2);
  Tensor w = lin->weight;
  lin->to(kFloat64);
  EXPECT_EQ(w.dtype(), kFloat64);
  EXPECT_EQ(lin->named_parameters()[0].second.dtype(), kFloat64);
  EXPECT_TRUE(w.is_same(lin->weight));
  expect_error([&] { lin->to(kInt64); }, {"floating", "int64"});
}

TEST(Module, ZeroGradDropsGradients) {
  auto lin = std::make_shared<nn::Linear>(3, 2);
  sum(lin->forward(randn({4, 3}))).backward();
  EXPECT_TRUE(lin->weight.grad().defined());
  lin->zero_grad();
  EXPECT_FALSE(lin->weight.grad().defined());
}

TEST(Module, PrintsTheTree) {
  std::ostringstream os;
  os << *small_net();
  EXPECT_EQ(os.str(),
            "Sequential(\n"
            "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
            "  (1): ReLU()\n"
            "  (2): BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
            "  (3): Linear(in_features=3, out_features=2, bias=False)\n"
            ")");
}

TEST(Module, DuplicateNamesAreErrors) {
  struct Twice : nn::Module {
    std::string type_name() const override { return "Twice"; }
    Twice() {
      register_parameter("w", zeros({1}));
      register_parameter("w", zeros({1}));
    }
  };
  expect_error([] { Twice t; }, {"Twice", "'w'", "already registered"});
}
