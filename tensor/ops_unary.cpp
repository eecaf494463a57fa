// Meta functions of the unary element-wise ops: dtype rules, allocation, dispatch.
//
// Transcendental ops (exp, log, sqrt, sin, ...) promote integer inputs to
// float32 as PyTorch does; activations (gelu, silu, ...) require a floating
// input; neg/abs/sign/relu/clamp/pow keep integer dtypes.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

UnaryKernel* as_unary(UnaryKernel* f) { return f; }
template <class F> UnaryKernel* as_unary(F*) { return nullptr; }

UnaryKernel* unary_slot(Op op, Device device) {
  const KernelTable& t = kernel_table(device.type);
  UnaryKernel* fn = nullptr;
  switch (op) {
#define EMBER_OP(name, sig, diff) \
  case Op::name: fn = as_unary(t.name); break;
#include <ember/tensor/ops.def>
#undef EMBER_OP
    default: break;
  }
  if (fn == nullptr) detail::missing_kernel(op_info(op).name, device);
  return fn;
}

enum class Rule { ToFloat, Floating, Numeric };

Tensor unary(Op op, const Tensor& x, Rule rule, const UnaryArgs& args = {}) {
  const char* name = op_info(op).name;
  EMBER_CHECK(x.defined(), name, ": undefined input tensor");
  Tensor in = x;
  switch (rule) {
    case Rule::ToFloat:
      if (!x.dtype().is_floating()) in = to(x, kDefaultFloat);
      break;
    case Rule::Floating:
      EMBER_CHECK(x.dtype().is_floating(), name, ": expected a floating tensor, got ", x.describe());
      break;
    case Rule::Numeric:
      EMBER_CHECK(!x.dtype().is_bool(), name, ": not supported for bool tensors, got ", x.describe());
      break;
  }
  Tensor out = empty(in.shape(), in.options());
  if (out.numel() > 0) unary_slot(op, in.device())(out, in, args);
  return out;
}

}  // namespace

Tensor neg(const Tensor& x) { return unary(Op::neg, x, Rule::Numeric); }
Tensor abs(const Tensor& x) { return unary(Op::abs, x, Rule::Numeric); }
Tensor sign(const Tensor& x) { return unary(Op::sign, x, Rule::Numeric); }
Tensor exp(const Tensor& x) { return unary(Op::exp, x, Rule::ToFloat); }
Tensor log(const Tensor& x) { return unary(Op::log, x, Rule::ToFloat); }
Tensor log1p(const Tensor& x) { return unary(Op::log1p, x, Rule::ToFloat); }
Tensor sqrt(const Tensor& x) { return unary(Op::sqrt, x, Rule::ToFloat); }
Tensor rsqrt(const Tensor& x) { return unary(Op::rsqrt, x, Rule::ToFloat); }
Tensor sin(const Tensor& x) { return unary(Op::sin, x, Rule::ToFloat); }
Tensor cos(const Tensor& x) { return unary(Op::cos, x, Rule::ToFloat); }
Tensor tanh(const Tensor& x) { return unary(Op::tanh, x, Rule::ToFloat); }
Tensor sigmoid(const Tensor& x) { return unary(Op::sigmoid, x, Rule::ToFloat); }
Tensor reciprocal(const Tensor& x) { return unary(Op::reciprocal, x, Rule::ToFloat); }
Tensor relu(const Tensor& x) { return unary(Op::relu, x, Rule::Numeric); }
Tensor silu(const Tensor& x) { return unary(Op::silu, x, Rule::Floating); }

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return unary(Op::leaky_relu, x, Rule::Floating, UnaryArgs{negative_slope});
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  EMBER_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '",
              approximate, "'");
  UnaryArgs args;
  args.mode = approximate == "tanh" ? 1 : 0;
  return unary(Op::gelu, x, Rule::Floating, args);
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  EMBER_CHECK(beta != 0.0, "softplus: beta must be nonzero");
  return unary(Op::softplus, x, Rule::Floating, UnaryArgs{beta, threshold});
}

Tensor pow(const Tensor& x, const Scalar& exponent) {
  if (!x.dtype().is_floating() && exponent.is_floating()) return unary(Op::pow_scalar, to(x, kDefaultFloat), Rule::Numeric, UnaryArgs{exponent.to_double()});
  EMBER_CHECK(x.dtype().is_floating() || exponent.to_int() >= 0, "pow: integers to negative integer powers are not allowed (",
              x.describe(), " ** ", exponent.to_int(), ")");
  return unary(Op::pow_scalar, x, Rule::Numeric, UnaryArgs{exponent.to_double()});
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  EMBER_CHECK(min || max, "clamp: at least one of min and max must be given");
  UnaryArgs args;
  args.has_a = min.has_value();
  args.has_b = max.has_value();
  args.a = min ? min->to_double() : 0.0;
  args.b = max ? max->to_double() : 0.0;
  bool float_bound = (min && min->is_floating()) || (max && max->is_floating());
  Tensor in = !x.dtype().is_floating() && float_bound ? to(x, kDefaultFloat) : x;
  return unary(Op::clamp, in, Rule::Numeric, args);
}

Tensor logical_not(const Tensor& x) {
  EMBER_CHECK(x.defined(), "logical_not: undefined input tensor");
  Tensor out = empty(x.shape(), TensorOptions(kBool, x.device()));
  if (out.numel() > 0) EMBER_KERNEL(logical_not, x.device())(out, x, UnaryArgs{});
  return out;
}

Tensor& unary_(Op op, Tensor& x, const UnaryArgs& args) {
  const char* name = op_info(op).name;
  EMBER_CHECK(!x.dtype().is_bool(), name, "_: not supported for bool tensors, got ", x.describe());
  if (x.numel() > 0) unary_slot(op, x.device())(x, x, args);
  x.bump_version();
  return x;
}

}  // namespace ember::ops
