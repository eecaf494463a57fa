// gradcheck / gradgradcheck: compare autograd's gradients with central finite
// differences, as torch.autograd.gradcheck does.
//
// Use float64 inputs. For each input that requires grad, each element is
// perturbed by ±eps and the function re-run; the numerical Jacobian is
// compared with the analytical one (one backward per output element) per
// element: |analytical - numerical| <= atol + rtol * |numerical|.
// gradgradcheck runs gradcheck on the function (inputs, v) -> grad(f, inputs, v)
// with create_graph, checking second derivatives.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ember/tensor/tensor.hpp>

namespace ember::autograd {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

// A function of tensors returning tensors (only floating outputs are checked).
using TensorFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// True when the gradients match; otherwise false, with what differs in *error (when given).
bool gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {},
               std::string* error = nullptr);
bool gradgradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {},
                   std::string* error = nullptr);

}  // namespace ember::autograd
