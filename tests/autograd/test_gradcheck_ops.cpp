// Table-driven gradcheck (and gradgradcheck) of every differentiable op in
// tensor/ops.def, plus the view ops and composite functions. Inputs are small
// random float64 tensors, with broadcasting and non-contiguous layouts.
// OpList.EveryDifferentiableOpHasRuleAndGradcheck walks ops.def and fails for a
// differentiable op with no gradient rule or no case here.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <ember/autograd/gradcheck.hpp>
#include <ember/autograd/rules.hpp>
#include <test_util.hpp>

namespace ember {
namespace {
using autograd::TensorFunction;
using TL = std::vector<Tensor>;

enum class Kind { Grad, GradGrad, OnceDifferentiable };

struct Case {
  std::string op;     // ops.def name (or a view/composite name)
  std::string label;
  std::function<TL()> make;
  TensorFunction fn;
  Kind kind;
};

std::vector<Case>& cases() {
  static std::vector<Case> c;
  return c;
}
bool add_case(std::string op, std::string label, std::function<TL()> make, TensorFunction fn, Kind kind) {
  cases().push_back({std::move(op), std::move(label), std::move(make), std::move(fn), kind});
  return true;
}

// Leaves: R random normal, P positive, N non-contiguous, C constant (no grad).
Tensor R(IntList s) { return randn(s, kFloat64).requires_grad_(); }
Tensor P(IntList s) { return add(rand(s, kFloat64), 0.5).requires_grad_(); }
Tensor N(IntList s) { return testing::non_contiguous(randn(s, kFloat64)).detach().requires_grad_(); }
Tensor C(IntList s) { return randn(s, kFloat64); }
Tensor Idx(std::vector<int64_t> v) { return tensor(v); }

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define CASE(op, label, kind, make, fn) \
  [[maybe_unused]] static const bool CAT(case_, __LINE__) = add_case(op, label, [] { return TL make; }, fn, Kind::kind)
#define F1(expr) [](const TL& v) -> TL { const Tensor& x = v[0]; (void)x; return {expr}; }
#define F2(expr) [](const TL& v) -> TL { const Tensor& a = v[0]; const Tensor& b = v[1]; return {expr}; }
#define F3(expr) \
  [](const TL& v) -> TL { const Tensor& a = v[0]; const Tensor& b = v[1]; const Tensor& c = v[2]; return {expr}; }

// ---- unary --------------------------------------------------------------------------
CASE("neg", "nc", GradGrad, ({N({2, 3})}), F1(neg(x)));
CASE("abs", "", GradGrad, ({R({2, 3})}), F1(abs(x)));
CASE("sign", "", Grad, ({R({4})}), F1(mul(sign(x), x)));
CASE("exp", "nc", GradGrad, ({N({2, 3})}), F1(exp(x)));
CASE("log", "", GradGrad, ({P({2, 3})}), F1(log(x)));
CASE("log1p", "", GradGrad, ({P({5})}), F1(log1p(x)));
CASE("sqrt", "", GradGrad, ({P({2, 2})}), F1(sqrt(x)));
CASE("rsqrt", "", GradGrad, ({P({3})}), F1(rsqrt(x)));
CASE("sin", "", GradGrad, ({R({3})}), F1(sin(x)));
CASE("cos", "", GradGrad, ({R({3})}), F1(cos(x)));
CASE("tanh", "nc", GradGrad, ({N({2, 3})}), F1(tanh(x)));
CASE("sigmoid", "", GradGrad, ({R({4})}), F1(sigmoid(x)));
CASE("relu", "", GradGrad, ({R({2, 3})}), F1(relu(x)));
CASE("leaky_relu", "", GradGrad, ({R({2, 3})}), F1(leaky_relu(x, 0.2)));
CASE("gelu", "erf", GradGrad, ({R({2, 3})}), F1(gelu(x)));
CASE("gelu", "tanh", GradGrad, ({N({2, 3})}), F1(gelu(x, "tanh")));
CASE("silu", "", GradGrad, ({R({5})}), F1(silu(x)));
CASE("softplus", "", GradGrad, ({R({5})}), F1(softplus(mul(x, 10.0), 0.5, 3.0)));
CASE("pow_scalar", "2.5", GradGrad, ({P({2, 3})}), F1(pow(x, 2.5)));
CASE("pow_scalar", "3", GradGrad, ({R({4})}), F1(pow(x, 3)));
CASE("clamp", "", GradGrad, ({R({3, 3})}), F1(clamp(x, -0.5, 0.5)));
CASE("reciprocal", "", GradGrad, ({P({4})}), F1(reciprocal(x)));

// ---- binary (broadcasting, non-contiguous) ----------------------------------------------
CASE("add", "broadcast", GradGrad, ({N({2, 3}), R({3})}), F2(add(a, b, 2.0)));
CASE("add", "scalar", Grad, ({R({2, 3})}), F1(x + 1.5));
CASE("sub", "broadcast", GradGrad, ({R({2, 1}), R({1, 3})}), F2(sub(a, b, 0.5)));
CASE("mul", "broadcast", GradGrad, ({N({2, 3}), R({2, 1})}), F2(a * b));
CASE("div", "broadcast", GradGrad, ({R({2, 3}), P({3})}), F2(a / b));
CASE("pow", "", GradGrad, ({P({2, 3}), R({3})}), F2(pow(a, b)));
CASE("maximum", "", GradGrad, ({R({2, 3}), R({3})}), F2(maximum(a, b)));
CASE("minimum", "", GradGrad, ({R({2, 3}), N({2, 3})}), F2(minimum(a, b)));
CASE("gelu_backward", "erf", GradGrad, ({R({2, 3}), R({2, 3})}), F2(gelu_backward(a, b)));
CASE("gelu_backward", "tanh", GradGrad, ({R({4}), R({4})}), F2(gelu_backward(a, b, "tanh")));
CASE("relu_backward", "broadcast", GradGrad, ({R({2, 3}), R({3})}), F2(relu_backward(a, b)));

// ---- ternary ------------------------------------------------------------------------------
CASE("where", "", GradGrad, ({R({2, 3}), R({3}), C({2, 3})}), F3(where(gt(c, 0.0), a, b)));
CASE("masked_fill", "", GradGrad, ({R({2, 3}), C({3})}), F2(masked_fill(a, gt(b, 0.0), 2.0)));
CASE("addcmul", "", GradGrad, ({R({2, 3}), R({3}), R({2, 1})}), F3(addcmul(a, b, c, 0.5)));
CASE("addcdiv", "", GradGrad, ({R({2, 3}), R({3}), P({2, 1})}), F3(addcdiv(a, b, c, 0.5)));

// ---- copies, dropout ----------------------------------------------------------------------------
CASE("copy", "clone", GradGrad, ({N({2, 3})}), F1(clone(x)));
CASE("copy", "contiguous", Grad, ({N({3, 2})}), F1(mul(contiguous(x), x)));
CASE("copy", "copy_", Grad, ({R({2, 3}), R({3})}), F2(([&] { Tensor y = mul(a, 2.0); y.copy_(b); return add(y, a); })()));
CASE("dropout", "", GradGrad, ({R({4, 5})}), F1(([&] { Generator g(7); return dropout(x, 0.4, true, &g); })()));

// ---- reductions ---------------------------------------------------------------------------------
CASE("sum", "all", GradGrad, ({N({2, 3})}), F1(sum(x)));
CASE("sum", "dim", GradGrad, ({R({2, 3, 2})}), F1(sum(x, {0, 2})));
CASE("sum", "keepdim", Grad, ({R({2, 3})}), F1(sum(x, {-1}, true)));
CASE("mean", "", GradGrad, ({R({2, 3})}), F1(mean(x, {1})));
CASE("prod", "", GradGrad, ({P({2, 3})}), F1(prod(x, {1})));
CASE("amax", "", Grad, ({R({3, 4})}), F1(amax(x, {1})));
CASE("amin", "", Grad, ({R({3, 4})}), F1(amin(x, {0}, true)));
CASE("amax", "max()", Grad, ({R({3, 4})}), F1(max(x)));
CASE("amin", "min()", Grad, ({R({3, 4})}), F1(min(x)));
CASE("var", "", GradGrad, ({R({3, 4})}), F1(var(x, {1})));
CASE("std", "", GradGrad, ({R({3, 4})}), F1(std(x, {}, 0.0)));
CASE("logsumexp", "", GradGrad, ({R({3, 4})}), F1(logsumexp(x, {1})));
CASE("norm", "p2", GradGrad, ({R({3, 4})}), F1(norm(x)));
CASE("norm", "p1", Grad, ({R({3, 4})}), F1(norm(x, 1.0, {1})));
CASE("norm", "p3", GradGrad, ({R({3, 4})}), F1(norm(x, 3.0, {0})));
CASE("max_dim", "", GradGrad, ({R({3, 4})}), F1(max(x, 1).first));
CASE("min_dim", "keepdim", Grad, ({N({3, 4})}), F1(min(x, 0, true).first));
CASE("cumsum", "", GradGrad, ({R({3, 4})}), F1(cumsum(x, 1)));

// ---- softmax and losses --------------------------------------------------------------------------
CASE("softmax", "", GradGrad, ({N({3, 4})}), F1(softmax(x, 1)));
CASE("log_softmax", "", GradGrad, ({R({3, 4})}), F1(log_softmax(x, -1)));
CASE("softmax_backward", "", GradGrad, ({R({3, 4}), R({3, 4})}), F2(softmax_backward(a, softmax(b, 1), 1)));
CASE("log_softmax_backward", "", GradGrad, ({R({3, 4}), R({3, 4})}), F2(log_softmax_backward(a, log_softmax(b, 1), 1)));
CASE("nll_loss", "mean", GradGrad, ({R({4, 3})}), F1(nll_loss(x, Idx({0, 2, 1, 2}))));
CASE("nll_loss", "none", Grad, ({R({4, 3})}), F1(nll_loss(x, Idx({0, 2, 1, 2}), {}, CrossEntropyArgs{Reduction::None})));
CASE("nll_loss_backward", "", GradGrad, ({R({}), R({4, 3})}),
     F2(nll_loss_backward(a, b, Idx({0, 2, 1, 2}), {}, CrossEntropyArgs{})));
CASE("cross_entropy", "mean", Grad, ({R({4, 3})}), F1(cross_entropy(x, Idx({0, 2, 1, 2}))));
CASE("cross_entropy", "smoothing_sum", Grad, ({N({4, 3})}),
     F1(cross_entropy(x, Idx({0, 2, 1, 2}), {}, CrossEntropyArgs{Reduction::Sum, -100, 0.1})));
CASE("cross_entropy_backward", "grad", GradGrad, ({R({4}), C({4, 3})}),
     F2(cross_entropy_backward(a, b, Idx({0, 2, 1, 2}), {}, CrossEntropyArgs{Reduction::None})));
CASE("cross_entropy_backward", "logits", OnceDifferentiable, ({R({4, 3})}), F1(cross_entropy(x, Idx({0, 2, 1, 2}))));

// ---- linear algebra --------------------------------------------------------------------------------
CASE("mm", "", GradGrad, ({R({2, 3}), N({3, 2})}), F2(mm(a, b)));
CASE("bmm", "", GradGrad, ({R({2, 2, 3}), R({2, 3, 2})}), F2(bmm(a, b)));
CASE("bmm", "matmul_broadcast", GradGrad, ({R({2, 1, 2, 3}), R({3, 3, 2})}), F2(matmul(a, b)));
CASE("mm", "matmul_vec", GradGrad, ({R({3}), R({3, 2})}), F2(matmul(a, b)));
CASE("linear", "", GradGrad, ({R({2, 3}), R({4, 3}), R({4})}), F3(linear(a, b, c)));
CASE("linear", "3d_nobias", Grad, ({R({2, 2, 3}), N({3, 3})}), F2(linear(a, b)));
// The fused epilogues: relu differentiated through its output, gelu composed under autograd.
CASE("linear", "relu_epilogue", GradGrad, ({R({2, 3}), R({4, 3}), R({4})}), F3(linear(a, b, c, Activation::relu)));
CASE("linear", "gelu_epilogue", GradGrad, ({R({2, 3}), R({4, 3}), N({4})}), F3(linear(a, b, c, Activation::gelu_tanh)));

// ---- convolution and pooling --------------------------------------------------------------------------
Conv2dArgs conv_args() {
  Conv2dArgs a;
  a.stride[0] = a.stride[1] = 2;
  a.padding[0] = a.padding[1] = 1;
  return a;
}
Conv2dArgs group_args() {
  Conv2dArgs a;
  a.groups = 2;
  a.dilation[0] = 2;
  return a;
}
Pool2dArgs pool_args() {
  Pool2dArgs p;
  p.kernel[0] = p.kernel[1] = 2;
  p.stride[0] = p.stride[1] = 2;
  return p;
}
Pool2dArgs avg_args() {
  Pool2dArgs p;
  p.kernel[0] = p.kernel[1] = 3;
  p.stride[0] = p.stride[1] = 2;
  p.padding[0] = p.padding[1] = 1;
  p.count_include_pad = false;
  return p;
}
CASE("conv2d", "stride_pad", GradGrad, ({R({1, 2, 5, 5}), R({3, 2, 3, 3}), R({3})}), F3(conv2d(a, b, c, conv_args())));
CASE("conv2d", "groups_dilation", Grad, ({N({1, 4, 5, 4}), R({2, 2, 2, 2})}), F2(conv2d(a, b, {}, group_args())));
CASE("conv2d_backward_input", "", GradGrad, ({R({1, 3, 3, 3}), R({3, 2, 3, 3})}),
     F2(conv2d_backward_input(a, b, {1, 2, 5, 5}, conv_args())));
CASE("conv2d_backward_weight", "", GradGrad, ({R({1, 3, 3, 3}), R({1, 2, 5, 5})}),
     F2(conv2d_backward_weight(a, b, {3, 2, 3, 3}, conv_args())));
CASE("max_pool2d", "", GradGrad, ({R({1, 2, 4, 4})}), F1(max_pool2d(x, pool_args())));
CASE("max_pool2d_backward", "", GradGrad, ({R({1, 2, 2, 2}), C({1, 2, 4, 4})}),
     F2(max_pool2d_backward(a, max_pool2d_with_indices(b, pool_args()).second, {1, 2, 4, 4})));
CASE("avg_pool2d", "", GradGrad, ({N({1, 2, 5, 5})}), F1(avg_pool2d(x, avg_args())));
CASE("avg_pool2d_backward", "", GradGrad, ({R({1, 2, 3, 3})}), F1(avg_pool2d_backward(x, {1, 2, 5, 5}, avg_args())));
CASE("adaptive_avg_pool2d", "", GradGrad, ({R({1, 2, 5, 4})}), F1(adaptive_avg_pool2d(x, {2, 3})));
CASE("adaptive_avg_pool2d_backward", "", GradGrad, ({R({1, 2, 2, 3})}), F1(adaptive_avg_pool2d_backward(x, {1, 2, 5, 4})));

// ---- normalisation -------------------------------------------------------------------------------------
CASE("batch_norm", "training", Grad, ({R({3, 2, 2, 2}), R({2}), R({2})}),
     F3(batch_norm(a, b, c, zeros({2}, kFloat64), ones({2}, kFloat64), true)));
CASE("batch_norm", "eval", GradGrad, ({R({3, 2, 2}), R({2}), R({2})}),
     F3(batch_norm(a, b, c, full({2}, 0.1, kFloat64), full({2}, 2.0, kFloat64), false)));
CASE("layer_norm", "", Grad, ({N({3, 4}), R({4}), R({4})}), F3(layer_norm(a, {4}, b, c)));
CASE("group_norm", "", Grad, ({R({2, 4, 3}), R({4}), R({4})}), F3(group_norm(a, 2, b, c)));
CASE("batch_norm_backward", "", OnceDifferentiable, ({R({3, 2, 2, 2}), R({2})}),
     F2(batch_norm(a, b, {}, zeros({2}, kFloat64), ones({2}, kFloat64), true)));
CASE("layer_norm_backward", "", OnceDifferentiable, ({R({3, 4}), R({4})}), F2(layer_norm(a, {4}, b)));
CASE("group_norm_backward", "", OnceDifferentiable, ({R({2, 4, 3}), R({4})}), F2(group_norm(a, 2, b)));

// ---- indexing and shape ----------------------------------------------------------------------------------
CASE("index_select", "", GradGrad, ({R({4, 3})}), F1(index_select(x, 0, Idx({3, 0, 3}))));
CASE("index_select", "embedding", Grad, ({R({5, 3})}), F1(embedding(x, tensor({{1, 4}, {1, 0}}))));
CASE("index_add", "", GradGrad, ({R({4, 3}), R({2, 3})}), F2(index_add(a, 0, Idx({1, 1}), b)));
CASE("gather", "", GradGrad, ({R({3, 4})}), F1(gather(x, 1, tensor({{0, 0}, {3, 1}, {2, 2}}))));
CASE("scatter_add", "", GradGrad, ({R({3, 4}), R({3, 2})}), F2(scatter_add(a, 1, tensor({{0, 0}, {3, 1}, {2, 2}}), b)));
CASE("cat", "", GradGrad, ({R({2, 3}), N({2, 2})}), F2(cat({a, b}, 1)));
CASE("cat", "stack", Grad, ({R({2, 3}), R({2, 3})}), F2(stack({a, b}, 1)));
CASE("pad", "", GradGrad, ({R({2, 3})}), F1(pad(x, {1, 2, 0, 1}, 0.5)));
CASE("flip", "", GradGrad, ({N({2, 3})}), F1(flip(x, {0, 1})));
CASE("topk", "", GradGrad, ({R({3, 5})}), F1(topk(x, 2, 1).first));
CASE("sort", "", GradGrad, ({R({3, 4})}), F1(sort(x, 0, true).first));

// ---- views (not in ops.def) ---------------------------------------------------------------------------------
CASE("view", "", GradGrad, ({R({2, 6})}), F1(view(x, {3, 4})));
CASE("reshape", "copy", GradGrad, ({N({2, 3})}), F1(reshape(x, {6})));
CASE("permute", "", GradGrad, ({R({2, 3, 4})}), F1(permute(x, {2, 0, 1})));
CASE("transpose", "", GradGrad, ({R({2, 3}), C({3, 2})}), F2(mul(transpose(a, 0, 1), b)));
CASE("narrow", "", GradGrad, ({R({4, 3})}), F1(narrow(x, 0, 1, 2)));
CASE("slice", "step", GradGrad, ({N({5, 3})}), F1(slice(x, 0, 1, {}, 2)));
CASE("select", "", GradGrad, ({R({4, 3})}), F1(select(x, 1, -1)));
CASE("expand", "", GradGrad, ({R({3, 1}), C({2, 3, 4})}), F2(mul(expand(a, {2, 3, 4}), b)));
CASE("squeeze", "", Grad, ({R({3, 1, 2})}), F1(squeeze(x)));
CASE("unsqueeze", "", Grad, ({R({3, 2})}), F1(unsqueeze(x, 1)));
CASE("flatten", "", Grad, ({N({2, 3})}), F1(flatten(x)));
CASE("as_strided", "overlap", GradGrad, ({R({6})}), F1(as_strided(x, {3, 3}, {1, 1}, 0)));
CASE("split", "", Grad, ({R({5, 2})}), F1(mul(split(x, 2, 0)[2], 3.0)));
CASE("chunk", "", Grad, ({R({5, 2})}), F1(add(chunk(x, 2, 0)[0], 1.0)));

std::string case_name(const Case& c) { return c.op + (c.label.empty() ? "" : "/" + c.label); }

void run_case(const Case& c) {
  SCOPED_TRACE(case_name(c));
  manual_seed(1234);
  try {
    TL in = c.make();
    std::string err;
    if (c.kind == Kind::OnceDifferentiable) {
      // First derivatives work; asking for a second derivative is a clear error.
      EXPECT_TRUE(autograd::gradcheck(c.fn, in, {}, &err)) << err;
      testing::expect_error([&] { autograd::gradgradcheck(c.fn, in, {}, &err); }, {"not implemented"});
      return;
    }
    EXPECT_TRUE(autograd::gradcheck(c.fn, in, {}, &err)) << case_name(c) << ": " << err;
    if (c.kind == Kind::GradGrad) {
      EXPECT_TRUE(autograd::gradgradcheck(c.fn, in, {}, &err)) << case_name(c) << ": " << err;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << case_name(c) << " threw: " << e.what();
  }
}

// One test per family prefix, so a failing family does not hide the others.
void run_ops(const std::set<std::string>& ops) {
  int n = 0;
  for (const Case& c : cases())
    if (ops.count(c.op)) {
      run_case(c);
      ++n;
    }
  EXPECT_GT(n, 0);
}

TEST(Gradcheck, Unary) {
  run_ops({"neg", "abs", "sign", "exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu",
           "leaky_relu", "gelu", "silu", "softplus", "pow_scalar", "clamp", "reciprocal"});
}
TEST(Gradcheck, BinaryTernary) {
  run_ops({"add", "sub", "mul", "div", "pow", "maximum", "minimum", "gelu_backward", "relu_backward", "where", "masked_fill", "addcmul",
           "addcdiv", "copy", "dropout"});
}
TEST(Gradcheck, Reductions) {
  run_ops({"sum", "mean", "prod", "amax", "amin", "var", "std", "logsumexp", "norm", "max_dim", "min_dim", "cumsum"});
}
TEST(Gradcheck, SoftmaxLosses) {
  run_ops({"softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "nll_loss", "nll_loss_backward",
           "cross_entropy", "cross_entropy_backward"});
}
TEST(Gradcheck, Linalg) { run_ops({"mm", "bmm", "linear"}); }
TEST(Gradcheck, ConvPool) {
  run_ops({"conv2d", "conv2d_backward_input", "conv2d_backward_weight", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
           "avg_pool2d_backward", "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"});
}
TEST(Gradcheck, Norm) {
  run_ops({"batch_norm", "layer_norm", "group_norm", "batch_norm_backward", "layer_norm_backward", "group_norm_backward"});
}
TEST(Gradcheck, Indexing) {
  run_ops({"index_select", "index_add", "gather", "scatter_add", "cat", "pad", "flip", "topk", "sort"});
}
TEST(Gradcheck, Views) {
  run_ops({"view", "reshape", "permute", "transpose", "narrow", "slice", "select", "expand", "squeeze", "unsqueeze",
           "flatten", "as_strided", "split", "chunk"});
}

// Walks ops.def: every differentiable op has a gradient rule and a gradcheck case.
TEST(OpList, EveryDifferentiableOpHasRuleAndGradcheck) {
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(c.op);
  int n = 0;
#define EMBER_OP(name, sig, diff)                                                                   \
  if (diff) {                                                                                       \
    ++n;                                                                                            \
    EXPECT_TRUE(autograd::has_gradient_rule(Op::name)) << #name << " has no gradient rule";        \
    EXPECT_TRUE(covered.count(#name)) << #name << " has no gradcheck case in test_gradcheck_ops.cpp"; \
  } else {                                                                                          \
    EXPECT_FALSE(autograd::has_gradient_rule(Op::name)) << #name << " is not differentiable";      \
  }
#include <ember/tensor/ops.def>
#undef EMBER_OP
  EXPECT_GT(n, 50);
}

}  // namespace
}  // namespace ember
