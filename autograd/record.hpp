// Private helpers for autograd/functions_*.cpp: record a unary or binary op
// with a rule written as a lambda over (grad, saved inputs, saved output).
#pragma once

#include <ember/autograd/functions.hpp>
#include <ember/autograd/node.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::autograd {

// fn(g, x, y) -> grad of x; x and y are the saved input and output (undefined unless kept).
template <class F>
Tensor record_unary(const char* name, const Tensor& x, const Tensor& out, bool keep_x, bool keep_out, F fn) {
  if (!any_requires_grad(x)) return out;
  auto node = make_node(
      name,
      [fn, keep_x, keep_out](Node& n, const Tensor& g) -> tensor_list {
        Tensor xs = keep_x ? n.saved(0) : Tensor();
        Tensor ys = keep_out ? n.saved(keep_x ? 1 : 0) : Tensor();
        return {fn(g, xs, ys)};
      },
      x);
  if (keep_x) node->save(x);
  if (keep_out) node->save_output(out);
  return set_history(out, node);
}

// fn(g, a, b, y, need_a, need_b) -> {grad a, grad b} at the broadcast shape; summed back here.
template <class F>
Tensor record_binary(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool keep_ab, bool keep_out,
                     F fn) {
  if (!any_requires_grad(a, b)) return out;
  auto node = make_node(
      name,
      [fn, keep_ab, keep_out, sa = Dims(a.shape()), sb = Dims(b.shape())](Node& n, const Tensor& g) -> tensor_list {
        Tensor as = keep_ab ? n.saved(0) : Tensor();
        Tensor bs = keep_ab ? n.saved(1) : Tensor();
        Tensor ys = keep_out ? n.saved(keep_ab ? 2 : 0) : Tensor();
        auto [ga, gb] = fn(g, as, bs, ys, n.needs(0), n.needs(1));
        return {n.needs(0) ? sum_to(ga, sa) : Tensor(), n.needs(1) ? sum_to(gb, sb) : Tensor()};
      },
      a, b);
  if (keep_ab) {
    node->save(a);
    node->save(b);
  }
  if (keep_out) node->save_output(out);
  return set_history(out, node);
}

// A node whose rule refuses to run: for backward ops that are once-differentiable.
Tensor record_once_differentiable(const char* name, const Tensor& out, const std::vector<Tensor>& inputs);

// Float 0/1 mask of a bool tensor in dtype dt (non-differentiable).
inline Tensor mask_as(const Tensor& b, DType dt) { return ops::to(b, dt); }

// The keepdim form of a reduction's gradient, expanded to the input's shape.
Tensor expand_reduced(const Tensor& g, IntList in_shape, IntList dims, bool keepdim);
// Wrapped, sorted reduction dims (empty: all dims).
Dims reduce_dims(IntList dims, int64_t ndim, const char* op);

}  // namespace ember::autograd
