// Meta functions of the linear-algebra ops: mm, bmm, linear (kernels) and
// matmul (a composite with numpy semantics, no kernel of its own).
//
// mm/bmm accept float32/float64/float16/bfloat16 and int32/int64 (as PyTorch's
// CPU does); linear is floating only. Operands must share dtype and device.
// Kernels get operands with any strides (the GEMM packs them) and a
// contiguous output.
#include <algorithm>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

void check_operands(const char* op, const Tensor& a, const Tensor& b, bool allow_int) {
  EMBER_CHECK(a.defined() && b.defined(), op, ": undefined input tensor");
  EMBER_CHECK(a.device() == b.device(), op, ": expected both operands on the same device, got a is ", a.describe(),
              ", b is ", b.describe());
  EMBER_CHECK(a.dtype() == b.dtype(), op, ": expected both operands to have the same dtype, got a is ", a.describe(),
              ", b is ", b.describe());
  const DType dt = a.dtype();
  const bool ok = dt.is_floating() || (allow_int && (dt == kInt32 || dt == kInt64));
  EMBER_CHECK(ok, op, ": dtype ", dt, " is not supported (expected ",
              allow_int ? "float32, float64, float16, bfloat16, int32 or int64" : "a floating dtype", "), got a is ",
              a.describe(), ", b is ", b.describe());
}

Dims concat(IntList head, IntList tail) {
  Dims out(head);
  for (int64_t v : tail) out.push_back(v);
  return out;
}

}  // namespace

// a: (n, k), b: (k, m) -> (n, m)
Tensor mm(const Tensor& a, const Tensor& b) {
  check_operands("mm", a, b, true);
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2, "mm: expected 2-D matrices, got a is ", a.describe(), ", b is ",
              b.describe());
  EMBER_CHECK(a.size(1) == b.size(0), "mm: inner dimensions differ: a is ", a.describe(), ", b is ", b.describe());
  Tensor out = empty({a.size(0), b.size(1)}, a.options());
  if (out.numel() > 0) EMBER_KERNEL(mm, a.device())(out, a, b);
  return out;
}

// a: (B, n, k), b: (B, k, m) -> (B, n, m)
Tensor bmm(const Tensor& a, const Tensor& b) {
  check_operands("bmm", a, b, true);
  EMBER_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D batches of matrices, got a is ", a.describe(),
              ", b is ", b.describe());
  EMBER_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ: a is ", a.describe(), ", b is ", b.describe());
  EMBER_CHECK(a.size(2) == b.size(1), "bmm: inner dimensions differ: a is ", a.describe(), ", b is ", b.describe());
  Tensor out = empty({a.size(0), a.size(1), b.size(2)}, a.options());
  if (out.numel() > 0) EMBER_KERNEL(bmm, a.device())(out, a, b);
  return out;
}

// numpy matmul: 1-D operands gain (and lose) a unit dim; batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", a, b, true);
  EMBER_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got a is ", a.describe(),
              ", b is ", b.describe());
  const int64_t da = a.dim(), db = b.dim();
  const int64_t k = a.size(-1);
  EMBER_CHECK(k == (db == 1 ? b.size(0) : b.size(-2)), "matmul: inner dimensions differ: a is ", a.describe(),
              ", b is ", b.describe());
  if (da == 1 && db == 1) return reshape(mm(reshape(a, {1, k}), reshape(b, {k, 1})), {});
  if (da == 2 && db == 1) return squeeze(mm(a, unsqueeze(b, 1)), 1);
  if (da == 1 && db == 2) return squeeze(mm(unsqueeze(a, 0), b), 0);
  if (da == 2 && db == 2) return mm(a, b);
  if (db <= 2) {
    // (..., n, k) @ (k[, m]): fold a's batch dims into the rows of one mm.
    Dims lead(a.shape());
    lead.pop_back();
    Tensor out = mm(reshape(a, {product(lead), k}), db == 1 ? unsqueeze(b, 1) : b);
    if (db == 2) lead.push_back(b.size(1));
    return reshape(out, lead);
  }
  // General case: broadcast batch dims, flatten them, one bmm.
  Tensor A = da == 1 ? unsqueeze(a, 0) : a;  // (..., n, k)
  Tensor B = b;                              // (..., k, m)
  Dims batch_a(A.shape()), batch_b(B.shape());
  for (int i = 0; i < 2; ++i) {
    batch_a.pop_back();
    batch_b.pop_back();
  }
  const size_t nd = std::max(batch_a.size(), batch_b.size());
  Dims batch(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t x = i < nd - batch_a.size() ? 1 : batch_a[i - (nd - batch_a.size())];
    const int64_t y = i < nd - batch_b.size() ? 1 : batch_b[i - (nd - batch_b.size())];
    EMBER_CHECK(x == y || x == 1 || y == 1, "matmul: batch dimensions cannot be broadcast together: a is ",
                a.describe(), ", b is ", b.describe());
    batch[i] = x == 1 ? y : x;
  }
  const int64_t n = A.size(-2), m = B.size(-1), bs = product(batch);
  Tensor A3 = reshape(expand(A, concat(batch, {n, k})), {bs, n, k});
  Tensor B3 = reshape(expand(B, concat(batch, {k, m})), {bs, k, m});
  Tensor out = bmm(A3, B3);
  Dims shape = batch;
  if (da > 1) shape.push_back(n);
  shape.push_back(m);
  return reshape(out, shape);
}

// x: (*, in), w: (out, in), bias: (out) or undefined -> (*, out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act) {
  check_operands("linear", x, w, false);
  EMBER_CHECK(w.dim() == 2, "linear: expected a 2-D weight (out_features, in_features), got w is ", w.describe());
  EMBER_CHECK(x.dim() >= 1, "linear: expected an input with at least 1 dim, got x is ", x.describe());
  EMBER_CHECK(x.size(-1) == w.size(1), "linear: inner dimensions differ: x is ", x.describe(), ", w is ",
              w.describe(), " (x's last dim must equal w's dim 1)");
  const int64_t K = w.size(1), N = w.size(0);
  if (bias.defined()) {
    EMBER_CHECK(bias.device() == x.device() && bias.dtype() == x.dtype(), "linear: bias ", bias.describe(),
                " must match the input's dtype and device, x is ", x.describe());
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == N, "linear: expected bias of shape [", N, "], got bias is ",
                bias.describe(), " (w is ", w.describe(), ")");
  }
  Dims lead(x.shape());
  lead.pop_back();
  const int64_t M = product(lead);
  Tensor out = empty({M, N}, x.options());
  EMBER_CHECK(act == Activation::none || act == Activation::relu || act == Activation::gelu_tanh,
              "linear: unknown activation ", static_cast<int>(act));
  if (out.numel() > 0) EMBER_KERNEL(linear, x.device())(out, reshape(x, {M, K}), w, bias, act);
  lead.push_back(N);
  return reshape(out, lead);
}

void apply_activation_(const Tensor& out, Activation act) {
  if (act == Activation::none || out.numel() == 0) return;
  Tensor o = out;
  UnaryArgs args;
  args.mode = 1;  // gelu: the tanh form; relu ignores it
  unary_(act == Activation::relu ? Op::relu : Op::gelu, o, args);
}

}  // namespace ember::ops

namespace ember {

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::none: return "none";
    case Activation::relu: return "relu";
    case Activation::gelu_tanh: return "gelu_tanh";
  }
  return "unknown";
}

}  // namespace ember
