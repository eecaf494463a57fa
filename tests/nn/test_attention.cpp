// Attention against a per-head naive computation; causal masking; the transformer block.
#include <cmath>

#include "test_util.hpp"

using namespace ember;
using ember::testing::all_close;
using ember::testing::expect_error;

TEST(Attention, MatchesNaivePerHeadComputation) {
  manual_seed(0);
  nn::MultiheadAttention mha(8, 2);
  mha.to(kFloat64);
  Tensor x = randn({2, 5, 8}, kFloat64);
  Tensor out = mha(x);
  ASSERT_EQ(out.shape(), (Dims{2, 5, 8}));
  Tensor q = mha.q_proj->forward(x), k = mha.k_proj->forward(x), v = mha.v_proj->forward(x);
  std::vector<Tensor> heads;
  for (int64_t h = 0; h < 2; ++h) {
    Tensor qh = q.narrow(2, h * 4, 4), kh = k.narrow(2, h * 4, 4), vh = v.narrow(2, h * 4, 4);
    Tensor s = ops::div(ops::matmul(qh, ops::transpose(kh, 1, 2)), ops::scalar_tensor(2.0, qh));  // sqrt(4) = 2
    heads.push_back(ops::matmul(ops::softmax(s, -1), vh));
  }
  Tensor expect = mha.out_proj->forward(ops::cat(heads, 2));
  EXPECT_TRUE(all_close(out, expect, 1e-12, 1e-10));
}

TEST(Attention, CausalMaskHidesTheFuture) {
  manual_seed(1);
  nn::MultiheadAttention mha(4, 1);
  Tensor x = randn({1, 6, 4});
  Tensor full_out = mha.forward(x, x, x, {}, true);
  // Changing the last token must not change earlier outputs.
  Tensor x2 = ops::clone(x);
  Tensor last = x2.narrow(1, 5, 1);
  last.fill_(3.0);
  Tensor out2 = mha.forward(x2, x2, x2, {}, true);
  EXPECT_TRUE(all_close(full_out.narrow(1, 0, 5), out2.narrow(1, 0, 5), 1e-6, 1e-5));
  EXPECT_FALSE(all_close(full_out.narrow(1, 5, 1), out2.narrow(1, 5, 1), 1e-6, 1e-5));
  expect_error([&] { mha.forward(x, x, x, ones({6, 6})); }, {"attn_mask must be bool"});
  expect_error([] { nn::MultiheadAttention bad(5, 2); }, {"divisible"});
}

TEST(Attention, TransformerBlockTrains) {
  manual_seed(2);
  nn::TransformerBlock block(8, 2, 16, 0.0, true);
  Tensor x = randn({2, 4, 8});
  Tensor y = block(x);
  EXPECT_EQ(y.shape(), x.shape());
  sum(pow(y, 2)).backward();
  for (auto& [n, p] : block.named_parameters()) EXPECT_TRUE(p.grad().defined()) << n;
}
