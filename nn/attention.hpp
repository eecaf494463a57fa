// Multi-head attention and a pre-norm transformer block (batch first: (N, L, E)).
#pragma once

#include <ember/nn/container.hpp>
#include <ember/nn/layers.hpp>

namespace ember::nn {

// softmax(Q K^T / sqrt(d) + mask) V over num_heads heads of size embed_dim / num_heads.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true);
  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;
  // query (N, Lq, E), key/value (N, Lk, E). attn_mask: bool (Lq, Lk) or (N, Lq, Lk), true = masked out.
  // causal: position i attends to positions <= i only.
  Tensor forward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& attn_mask = {},
                 bool causal = false);
  Tensor forward(const Tensor& x) override { return forward(x, x, x); }
  int64_t embed_dim, num_heads;
  double dropout_p;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;
};

// x + attn(ln1(x)), then + mlp(ln2(x)) with mlp = Linear(E, hidden) -> GELU -> Linear(hidden, E).
class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t embed_dim, int64_t num_heads, int64_t mlp_hidden = -1, double dropout = 0.0, bool causal = false);
  std::string type_name() const override { return "TransformerBlock"; }
  Tensor forward(const Tensor& x) override;  // x: (N, L, E)
  bool causal;
  std::shared_ptr<LayerNorm> ln1, ln2;
  std::shared_ptr<MultiheadAttention> attn;
  std::shared_ptr<Sequential> mlp;
};

}  // namespace ember::nn
