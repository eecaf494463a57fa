// Attention composed from differentiable primitives (matmul, softmax, masked_fill).
#include <ember/nn/attention.hpp>

#include <cmath>
#include <limits>
#include <sstream>

namespace ember::nn {

MultiheadAttention::MultiheadAttention(int64_t e, int64_t h, double dropout, bool bias)
    : embed_dim(e), num_heads(h), dropout_p(dropout) {
  EMBER_CHECK(h > 0 && e % h == 0, "MultiheadAttention: embed_dim (", e, ") must be divisible by num_heads (", h, ")");
  q_proj = register_module("q_proj", std::make_shared<Linear>(e, e, bias));
  k_proj = register_module("k_proj", std::make_shared<Linear>(e, e, bias));
  v_proj = register_module("v_proj", std::make_shared<Linear>(e, e, bias));
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, bias));
}

std::string MultiheadAttention::extra_repr() const {
  std::ostringstream os;
  os << "embed_dim=" << embed_dim << ", num_heads=" << num_heads << ", dropout=" << dropout_p;
  return os.str();
}

Tensor MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value, const Tensor& attn_mask,
                                   bool causal) {
  EMBER_CHECK(query.dim() == 3 && key.dim() == 3 && value.dim() == 3 && query.size(2) == embed_dim &&
                  key.size(2) == embed_dim && value.size(2) == embed_dim && key.size(1) == value.size(1) &&
                  query.size(0) == key.size(0) && key.size(0) == value.size(0),
              "MultiheadAttention: expected query (N, Lq, ", embed_dim, ") and key/value (N, Lk, ", embed_dim,
              "), got query ", query.describe(), ", key ", key.describe(), ", value ", value.describe());
  const int64_t n = query.size(0), lq = query.size(1), lk = key.size(1), d = embed_dim / num_heads;
  // (N, L, E) -> (N, H, L, d)
  auto heads = [&](const Tensor& t, int64_t len) { return transpose(reshape(t, {n, len, num_heads, d}), 1, 2); };
  Tensor q = heads(q_proj->forward(query), lq);
  Tensor k = heads(k_proj->forward(key), lk);
  Tensor v = heads(v_proj->forward(value), lk);
  Tensor scores = matmul(q, transpose(k, -2, -1)) * (1.0 / std::sqrt(static_cast<double>(d)));  // (N, H, Lq, Lk)
  Tensor mask;
  if (attn_mask.defined()) {
    EMBER_CHECK(attn_mask.dtype() == kBool, "MultiheadAttention: attn_mask must be bool (true = masked out), got ",
                attn_mask.describe());
    mask = attn_mask.dim() == 3 ? unsqueeze(attn_mask, 1) : attn_mask;
  }
  if (causal) {
    Tensor rows = reshape(arange(0, lq, TensorOptions(kInt64, query.device())), {lq, 1});
    Tensor cols = reshape(arange(0, lk, TensorOptions(kInt64, query.device())), {1, lk});
    Tensor future = gt(cols, rows);
    mask = mask.defined() ? logical_or(mask, future) : future;
  }
  if (mask.defined()) scores = masked_fill(scores, mask, -std::numeric_limits<double>::infinity());
  Tensor attn = softmax(scores, -1);
  if (dropout_p > 0.0) attn = dropout(attn, dropout_p, is_training());
  Tensor out = transpose(matmul(attn, v), 1, 2);  // (N, Lq, H, d)
  return out_proj->forward(reshape(out, {n, lq, embed_dim}));
}

TransformerBlock::TransformerBlock(int64_t e, int64_t h, int64_t hidden, double dropout, bool causal) : causal(causal) {
  if (hidden < 0) hidden = 4 * e;
  ln1 = register_module("ln1", std::make_shared<LayerNorm>(std::vector<int64_t>{e}));
  attn = register_module("attn", std::make_shared<MultiheadAttention>(e, h, dropout));
  ln2 = register_module("ln2", std::make_shared<LayerNorm>(std::vector<int64_t>{e}));
  mlp = register_module("mlp", std::make_shared<Sequential>(std::make_shared<Linear>(e, hidden), std::make_shared<GELU>(),
                                                            std::make_shared<Linear>(hidden, e), std::make_shared<Dropout>(dropout)));
}

Tensor TransformerBlock::forward(const Tensor& x) {
  Tensor h = ln1->forward(x);
  Tensor y = x + attn->forward(h, h, h, {}, causal);
  return y + mlp->forward(ln2->forward(y));
}

}  // namespace ember::nn
