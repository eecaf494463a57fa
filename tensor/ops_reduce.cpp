// Meta functions of the reductions, arg-reductions and cumsum: dim wrapping,
// output shape (keepdim form for the kernel, squeezed afterwards) and dtype
// rules as PyTorch's:
//   sum/prod/cumsum   integer and bool inputs give int64 (sum takes an optional dtype)
//   mean/var/std/norm floating inputs only; logsumexp promotes integers to float32
//   amax/amin/max/min any dtype; an empty reduction is an error (no identity)
// Empty dims list = all dims. Kernels get out in keepdim shape and run
// whenever out has elements, even when the reduced extent is 0 (sum of an
// empty dim is 0, mean is NaN).
#include <cmath>

#include <ember/tensor/factory.hpp>
#include <ember/tensor/ops.hpp>

namespace ember::ops {
namespace {

ReduceKernel* reduce_slot(Op op, Device device) {
  const KernelTable& t = kernel_table(device.type);
  ReduceKernel* fn = nullptr;
  switch (op) {
    case Op::sum: fn = t.sum; break;
    case Op::mean: fn = t.mean; break;
    case Op::prod: fn = t.prod; break;
    case Op::amax: fn = t.amax; break;
    case Op::amin: fn = t.amin; break;
    case Op::var: fn = t.var; break;
    case Op::std: fn = t.std; break;
    case Op::logsumexp: fn = t.logsumexp; break;
    case Op::norm: fn = t.norm; break;
    default: break;
  }
  if (fn == nullptr) detail::missing_kernel(op_info(op).name, device);
  return fn;
}

// The reduced dims, wrapped, sorted and unique (empty list = every dim).
Dims reduce_dims(const Tensor& x, IntList dims, const char* op) {
  const int64_t nd = x.dim();
  Dims out;
  if (dims.empty()) {
    for (int64_t d = 0; d < nd; ++d) out.push_back(d);
    return out;
  }
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(nd, 1)), false);
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, nd, op);
    EMBER_CHECK(!seen[static_cast<size_t>(w)], op, ": dim ", w, " appears multiple times in the list of dims ", dims,
                " (input ", x.describe(), ")");
    seen[static_cast<size_t>(w)] = true;
  }
  for (int64_t d = 0; d < nd; ++d)
    if (seen[static_cast<size_t>(d)]) out.push_back(d);
  return out;
}

Dims keepdim_shape(const Tensor& x, const Dims& dims) {
  Dims shape = x.shape();
  for (int64_t d : dims) shape[static_cast<size_t>(d)] = 1;
  return shape;
}

Dims squeezed_shape(const Tensor& x, const Dims& dims) {
  Dims shape;
  size_t k = 0;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (k < dims.size() && dims[k] == d) {
      ++k;
      continue;
    }
    shape.push_back(x.shape()[static_cast<size_t>(d)]);
  }
  return shape;
}

// Errors when a reduction without identity (max, min) would reduce an empty extent.
void check_nonempty_reduction(const Tensor& x, const Dims& dims, const char* op) {
  for (int64_t d : dims)
    EMBER_CHECK(x.shape()[static_cast<size_t>(d)] != 0, op, ": expected reduction dim ", d,
                " to have non-zero size, got input ", x.describe());
}

// Allocates out (keepdim shape, dtype out_dtype), runs the kernel on x and squeezes.
Tensor reduce(Op op, const Tensor& x, const Dims& dims, bool keepdim, DType out_dtype, const ReduceArgs& base = {}) {
  ReduceArgs args = base;
  args.dims = dims;
  Tensor out = empty(keepdim_shape(x, dims), TensorOptions(out_dtype, x.device()));
  if (out.numel() > 0) reduce_slot(op, x.device())(out, x, args);
  return keepdim ? out : view(out, squeezed_shape(x, dims));
}

void check_defined(const Tensor& x, const char* op) { EMBER_CHECK(x.defined(), op, ": undefined input tensor"); }

void check_floating(const Tensor& x, const char* op) {
  check_defined(x, op);
  EMBER_CHECK(x.dtype().is_floating(), op, ": expected a floating input, got ", x.describe());
}

// int and bool accumulate in int64, as PyTorch's sum/prod/cumsum.
DType widened(DType dt) { return dt.is_floating() ? dt : kInt64; }

std::pair<Tensor, Tensor> arg_reduce(Op op, const Tensor& x, int64_t dim, bool keepdim, bool with_values) {
  const char* name = op == Op::max_dim ? "max" : op == Op::min_dim ? "min" : op_info(op).name;
  check_defined(x, name);
  Dims dims{wrap_dim(dim, x.dim(), name)};
  if (x.dim() == 0) dims.clear();
  check_nonempty_reduction(x, dims, name);
  Dims kshape = keepdim_shape(x, dims);
  Tensor values = with_values ? empty(kshape, x.options()) : Tensor();
  Tensor indices = empty(kshape, TensorOptions(kInt64, x.device()));
  if (indices.numel() > 0) {
    ArgReduceKernel* fn = nullptr;
    const KernelTable& t = kernel_table(x.device().type);
    switch (op) {
      case Op::max_dim: fn = t.max_dim; break;
      case Op::min_dim: fn = t.min_dim; break;
      case Op::argmax: fn = t.argmax; break;
      case Op::argmin: fn = t.argmin; break;
      default: break;
    }
    if (fn == nullptr) detail::missing_kernel(name, x.device());
    // A 0-dim input reduces over nothing: view it as [1] reduced over dim 0.
    if (x.dim() == 0) fn(with_values ? view(values, {1}) : values, view(indices, {1}), view(x, {1}), 0);
    else fn(values, indices, x, dims[0]);
  }
  if (!keepdim) {
    Dims shape = squeezed_shape(x, dims);
    if (with_values) values = view(values, shape);
    indices = view(indices, shape);
  }
  return {values, indices};
}

Tensor arg_reduce_all(Op op, const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  const char* name = op_info(op).name;
  check_defined(x, name);
  if (dim) return arg_reduce(op, x, *dim, keepdim, false).second;
  EMBER_CHECK(x.numel() > 0, name, ": expected reduction dim to be specified for an empty input, got ", x.describe());
  Tensor idx = arg_reduce(op, reshape(x, {x.numel()}), 0, false, false).second;
  return keepdim ? view(idx, Dims(static_cast<size_t>(x.dim()), 1)) : idx;
}

}  // namespace

Tensor sum(const Tensor& x, IntList dims, bool keepdim, std::optional<DType> dtype) {
  check_defined(x, "sum");
  Dims d = reduce_dims(x, dims, "sum");
  DType dt = dtype ? *dtype : widened(x.dtype());
  return reduce(Op::sum, to(x, dt), d, keepdim, dt);
}

Tensor mean(const Tensor& x, IntList dims, bool keepdim) {
  check_defined(x, "mean");
  EMBER_CHECK(x.dtype().is_floating(), "mean: could not infer output dtype; expected a floating input, got ",
              x.describe());
  return reduce(Op::mean, x, reduce_dims(x, dims, "mean"), keepdim, x.dtype());
}

Tensor prod(const Tensor& x, IntList dims, bool keepdim) {
  check_defined(x, "prod");
  Dims d = reduce_dims(x, dims, "prod");
  DType dt = widened(x.dtype());
  return reduce(Op::prod, to(x, dt), d, keepdim, dt);
}

Tensor amax(const Tensor& x, IntList dims, bool keepdim) {
  check_defined(x, "amax");
  Dims d = reduce_dims(x, dims, "amax");
  check_nonempty_reduction(x, d, "amax");
  return reduce(Op::amax, x, d, keepdim, x.dtype());
}

Tensor amin(const Tensor& x, IntList dims, bool keepdim) {
  check_defined(x, "amin");
  Dims d = reduce_dims(x, dims, "amin");
  check_nonempty_reduction(x, d, "amin");
  return reduce(Op::amin, x, d, keepdim, x.dtype());
}

Tensor var(const Tensor& x, IntList dims, double correction, bool keepdim) {
  check_floating(x, "var");
  ReduceArgs args;
  args.correction = correction;
  return reduce(Op::var, x, reduce_dims(x, dims, "var"), keepdim, x.dtype(), args);
}

Tensor std(const Tensor& x, IntList dims, double correction, bool keepdim) {
  check_floating(x, "std");
  ReduceArgs args;
  args.correction = correction;
  return reduce(Op::std, x, reduce_dims(x, dims, "std"), keepdim, x.dtype(), args);
}

Tensor logsumexp(const Tensor& x, IntList dims, bool keepdim) {
  check_defined(x, "logsumexp");
  Tensor in = x.dtype().is_floating() ? x : to(x, kDefaultFloat);
  return reduce(Op::logsumexp, in, reduce_dims(in, dims, "logsumexp"), keepdim, in.dtype());
}

Tensor norm(const Tensor& x, double p, IntList dims, bool keepdim) {
  check_floating(x, "norm");
  Dims d = reduce_dims(x, dims, "norm");
  if (p < 0.0 || std::isinf(p)) {
    // max/min of |x| (and negative p) have no identity on an empty extent.
    for (int64_t k : d)
      EMBER_CHECK(x.shape()[static_cast<size_t>(k)] != 0, "norm: cannot compute the ", p,
                  "-norm over an empty dim (dim ", k, " of input ", x.describe(), ")");
  }
  ReduceArgs args;
  args.p = p;
  return reduce(Op::norm, x, d, keepdim, x.dtype(), args);
}

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduce(Op::max_dim, x, dim, keepdim, true);
}

std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_reduce(Op::min_dim, x, dim, keepdim, true);
}

Tensor max(const Tensor& x) {
  check_defined(x, "max");
  EMBER_CHECK(x.numel() > 0, "max: expected a non-empty input (an empty tensor has no maximum; use max(x, dim) ",
              "or amax to reduce a non-empty dim), got ", x.describe());
  return amax(x);
}

Tensor min(const Tensor& x) {
  check_defined(x, "min");
  EMBER_CHECK(x.numel() > 0, "min: expected a non-empty input (an empty tensor has no minimum; use min(x, dim) ",
              "or amin to reduce a non-empty dim), got ", x.describe());
  return amin(x);
}

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_reduce_all(Op::argmax, x, dim, keepdim);
}

Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_reduce_all(Op::argmin, x, dim, keepdim);
}

Tensor cumsum(const Tensor& x, int64_t dim) {
  check_defined(x, "cumsum");
  int64_t d = wrap_dim(dim, x.dim(), "cumsum");
  DType dt = widened(x.dtype());
  Tensor in = to(x, dt);
  Tensor out = empty(x.shape(), TensorOptions(dt, x.device()));
  if (out.numel() > 0) {
    if (x.dim() == 0) EMBER_KERNEL(cumsum, x.device())(view(out, {1}), view(in, {1}), 0);
    else EMBER_KERNEL(cumsum, x.device())(out, in, d);
  }
  return out;
}

}  // namespace ember::ops
