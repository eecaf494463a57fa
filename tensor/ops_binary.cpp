// Meta functions of the binary and ternary element-wise ops: broadcasting,
// type promotion (PyTorch's rules), device checks, allocation, dispatch.
#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

BinaryKernel* as_binary(BinaryKernel* f) { return f; }
template <class F> BinaryKernel* as_binary(F*) { return nullptr; }

BinaryKernel* binary_slot(Op op, Device device) {
  const KernelTable& t = kernel_table(device.type);
  BinaryKernel* fn = nullptr;
  switch (op) {
#define EMBER_OP(name, sig, diff) \
  case Op::name: fn = as_binary(t.name); break;
#include <ember/tensor/ops.def>
#undef EMBER_OP
    default: break;
  }
  if (fn == nullptr) detail::missing_kernel(op_info(op).name, device);
  return fn;
}

int category(DType d) { return d.is_floating() ? 2 : d.is_bool() ? 0 : 1; }

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.device() == b.device(), op, ": expected all tensors on the same device, got ", a.describe(), " and ",
              b.describe());
}

enum class Out { Common, Bool, Float };

Tensor binary(Op op, const Tensor& a, const Tensor& b, Out out_kind, const BinaryArgs& args = {}) {
  const char* name = op_info(op).name;
  EMBER_CHECK(a.defined() && b.defined(), name, ": undefined input tensor");
  check_same_device(name, a, b);
  DType common = result_type(a, b);
  if (out_kind == Out::Float && !common.is_floating()) common = kDefaultFloat;
  Dims shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, TensorOptions(out_kind == Out::Bool ? kBool : common, a.device()));
  if (out.numel() > 0) binary_slot(op, a.device())(out, to(a, common), to(b, common), args);
  return out;
}

}  // namespace

Dims broadcast_shapes(IntList a, IntList b, const char* op) {
  const size_t nd = std::max(a.size(), b.size());
  Dims out(nd);
  for (size_t i = 0; i < nd; ++i) {
    int64_t da = i < nd - a.size() ? 1 : a[i - (nd - a.size())];
    int64_t db = i < nd - b.size() ? 1 : b[i - (nd - b.size())];
    EMBER_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b, " cannot be broadcast together (size ",
                da, " vs ", db, " at dim ", i, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

DType result_type(const Tensor& a, const Tensor& b) {
  const bool a_dim = a.dim() > 0, b_dim = b.dim() > 0;
  if (a_dim == b_dim) return promote_types(a.dtype(), b.dtype());
  const Tensor& d = a_dim ? a : b;  // dimensioned
  const Tensor& z = a_dim ? b : a;  // zero-dim
  return category(z.dtype()) > category(d.dtype()) ? z.dtype() : d.dtype();
}

Tensor scalar_tensor(const Scalar& s, const Tensor& like) {
  int scat = s.is_floating() ? 2 : s.is_bool() ? 0 : 1;
  DType dt = scat > category(like.dtype()) ? s.default_dtype() : like.dtype();
  return full({}, s, TensorOptions(dt, like.device()));
}

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  return binary(Op::add, a, b, Out::Common, BinaryArgs{alpha.to_double()});
}
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  EMBER_CHECK(!(a.dtype().is_bool() && b.dtype().is_bool()), "sub: subtracting two bool tensors is not supported; use logical_xor or ne");
  return binary(Op::sub, a, b, Out::Common, BinaryArgs{alpha.to_double()});
}
Tensor mul(const Tensor& a, const Tensor& b) { return binary(Op::mul, a, b, Out::Common); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(Op::div, a, b, Out::Float); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(Op::pow, a, b, Out::Common); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(Op::maximum, a, b, Out::Common); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(Op::minimum, a, b, Out::Common); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary(Op::eq, a, b, Out::Bool); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary(Op::ne, a, b, Out::Bool); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(Op::lt, a, b, Out::Bool); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(Op::le, a, b, Out::Bool); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(Op::gt, a, b, Out::Bool); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(Op::ge, a, b, Out::Bool); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return binary(Op::logical_and, a, b, Out::Bool); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return binary(Op::logical_or, a, b, Out::Bool); }

Tensor relu_backward(const Tensor& grad, const Tensor& y) {
  EMBER_CHECK(y.dtype().is_floating(), "relu_backward: expected a floating tensor, got ", y.describe());
  return binary(Op::relu_backward, grad, y, Out::Common);
}

Tensor gelu_backward(const Tensor& grad, const Tensor& x, const std::string& approximate) {
  EMBER_CHECK(x.dtype().is_floating(), "gelu_backward: expected a floating tensor, got ", x.describe());
  BinaryArgs args;
  args.mode = approximate == "tanh" ? 1 : 0;
  return binary(Op::gelu_backward, grad, x, Out::Common, args);
}

Tensor& binary_(Op op, Tensor& self, const Tensor& b, const Scalar& alpha) {
  const char* name = op_info(op).name;
  EMBER_CHECK(self.defined() && b.defined(), name, "_: undefined input tensor");
  check_same_device(name, self, b);
  DType common = result_type(self, b);
  if (op == Op::div && !common.is_floating()) common = kDefaultFloat;
  EMBER_CHECK(category(common) <= category(self.dtype()), name, "_: result type ", common,
              " can't be cast to the desired output type ", self.dtype(), " (self ", self.describe(), ", other ",
              b.describe(), ")");
  Dims shape = broadcast_shapes(self.shape(), b.shape(), name);
  EMBER_CHECK(shape == self.shape(), name, "_: output with shape ", self.shape(),
              " doesn't match the broadcast shape ", shape, " (other ", b.describe(), ")");
  Tensor other = to(b, self.dtype());
  // An operand that aliases self with another layout must be read before self is written.
  if (other.is_alias_of(self) && !(other.strides() == self.strides() && other.storage_offset() == self.storage_offset())) {
    other = clone(other);
  }
  if (self.numel() > 0) binary_slot(op, self.device())(self, self, other, BinaryArgs{alpha.to_double()});
  self.bump_version();
  return self;
}

// ---- ternary ------------------------------------------------------------------

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(cond.dtype() == kBool, "where: expected condition to be bool, got ", cond.describe());
  check_same_device("where", cond, a);
  check_same_device("where", a, b);
  DType common = result_type(a, b);
  Dims shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty(shape, TensorOptions(common, a.device()));
  if (out.numel() > 0) EMBER_KERNEL(where, a.device())(out, cond, to(a, common), to(b, common));
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value) {
  EMBER_CHECK(mask.dtype() == kBool, "masked_fill: expected mask to be bool, got ", mask.describe());
  check_same_device("masked_fill", x, mask);
  Dims shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  EMBER_CHECK(shape == x.shape(), "masked_fill: mask ", mask.describe(), " must broadcast to the input ", x.describe());
  EMBER_CHECK(x.dtype().is_floating() || !value.is_floating(), "masked_fill: cannot fill ", x.describe(),
              " with a floating value");
  Tensor out = empty(x.shape(), x.options());
  if (out.numel() > 0) EMBER_KERNEL(masked_fill, x.device())(out, x, mask, value);
  return out;
}

namespace {
Tensor addc(bool divide, const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value, const Tensor* dest) {
  const char* name = divide ? "addcdiv" : "addcmul";
  check_same_device(name, self, t1);
  check_same_device(name, t1, t2);
  DType common = promote_types(promote_types(self.dtype(), t1.dtype()), t2.dtype());
  if (divide) EMBER_CHECK(common.is_floating(), name, ": integer division is not supported, got ", t1.describe(), " and ", t2.describe());
  Dims shape = broadcast_shapes(broadcast_shapes(self.shape(), t1.shape(), name), t2.shape(), name);
  Tensor out;
  if (dest) {
    EMBER_CHECK(category(common) <= category(dest->dtype()), name, "_: result type ", common,
                " can't be cast to the desired output type ", dest->dtype(), " (self ", dest->describe(), ")");
    EMBER_CHECK(shape == dest->shape(), name, "_: output with shape ", dest->shape(), " doesn't match the broadcast shape ", shape);
    common = dest->dtype();
    out = *dest;
  } else {
    out = empty(shape, TensorOptions(common, self.device()));
  }
  if (out.numel() > 0) {
    auto kernel = divide ? EMBER_KERNEL(addcdiv, self.device()) : EMBER_KERNEL(addcmul, self.device());
    Tensor a = to(t1, common), b = to(t2, common);
    if (dest && (a.is_alias_of(out) || b.is_alias_of(out))) {
      a = clone(a);
      b = clone(b);
    }
    kernel(out, to(self, common), a, b, value);
  }
  return out;
}
}  // namespace

Tensor addcmul(const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  return addc(false, self, t1, t2, value, nullptr);
}
Tensor addcdiv(const Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  return addc(true, self, t1, t2, value, nullptr);
}
Tensor& addcmul_(Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  addc(false, self, t1, t2, value, &self);
  self.bump_version();
  return self;
}
Tensor& addcdiv_(Tensor& self, const Tensor& t1, const Tensor& t2, const Scalar& value) {
  addc(true, self, t1, t2, value, &self);
  self.bump_version();
  return self;
}

}  // namespace ember::ops
