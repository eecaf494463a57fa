// gradcheck and gradgradcheck (see autograd/gradcheck.hpp).
#include <ember/autograd/gradcheck.hpp>

#include <cmath>
#include <sstream>

#include <ember/autograd/functions.hpp>

namespace ember::autograd {
namespace {

// Offsets (in elements, from the data pointer) of each element of t in row-major order.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> out;
  const int64_t n = t.numel();
  out.reserve(static_cast<size_t>(n));
  const Dims& sizes = t.shape();
  const Dims& strides = t.strides();
  Dims idx(sizes.size(), 0);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = 0;
    for (size_t d = 0; d < sizes.size(); ++d) off += idx[d] * strides[d];
    out.push_back(off);
    for (size_t d = sizes.size(); d-- > 0;) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

std::vector<double> values(const Tensor& t) {
  Tensor c = ops::contiguous(ops::to(t.detach(), kFloat64));
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// Concatenated values of the floating outputs.
std::vector<double> flat_outputs(const std::vector<Tensor>& outs) {
  std::vector<double> v;
  for (const Tensor& o : outs) {
    if (!o.defined() || !o.dtype().is_floating()) continue;
    auto x = values(o);
    v.insert(v.end(), x.begin(), x.end());
  }
  return v;
}

}  // namespace

bool gradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opts,
               std::string* error) {
  std::ostringstream why;
  auto fail = [&](const std::string& msg) {
    if (error) *error = msg;
    return false;
  };
  std::vector<size_t> diff;  // inputs that require grad
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    if (!(x.dtype() == kFloat64)) return fail("gradcheck: input " + std::to_string(i) + " is " + x.describe() + ", use float64");
    diff.push_back(i);
  }
  if (diff.empty()) return fail("gradcheck: no input requires grad");

  // Analytical Jacobian: one backward per output element.
  std::vector<Tensor> outs = fn(inputs);
  std::vector<Tensor> douts;
  for (const Tensor& o : outs)
    if (o.defined() && o.dtype().is_floating()) douts.push_back(o);
  int64_t n_out = 0;
  for (const Tensor& o : douts) n_out += o.numel();
  std::vector<Tensor> diff_inputs;
  for (size_t i : diff) diff_inputs.push_back(inputs[i]);
  // analytical[k][j]: d out_j / d (input k, element), stored per input as rows of out elements.
  std::vector<std::vector<double>> analytical(diff.size());
  for (size_t k = 0; k < diff.size(); ++k)
    analytical[k].assign(static_cast<size_t>(inputs[diff[k]].numel() * n_out), 0.0);
  std::vector<Tensor> with_history;
  for (const Tensor& o : douts)
    if (o.requires_grad()) with_history.push_back(o);
  int64_t j = 0;
  for (const Tensor& o : douts) {
    for (int64_t e = 0; e < o.numel(); ++e, ++j) {
      if (!o.requires_grad()) continue;
      std::vector<Tensor> gos;
      for (const Tensor& p : with_history) {
        Tensor g = zeros(p.shape(), p.options());
        if (p.is_same(o)) {
          Tensor flat = ops::reshape(g, {-1});
          Tensor one = ops::narrow(flat, 0, e, 1);
          ops::fill_(one, 1.0);
        }
        gos.push_back(g);
      }
      std::vector<Tensor> grads = grad(with_history, diff_inputs, gos, true, false, true);
      for (size_t k = 0; k < diff.size(); ++k) {
        const Tensor& gk = grads[k];
        if (!gk.defined()) continue;
        if (!(gk.shape() == inputs[diff[k]].shape()))
          return fail("gradcheck: gradient for input " + std::to_string(diff[k]) + " has shape " + gk.describe() +
                      ", expected " + inputs[diff[k]].describe());
        auto v = values(gk);
        for (size_t m = 0; m < v.size(); ++m) analytical[k][m * static_cast<size_t>(n_out) + static_cast<size_t>(j)] = v[m];
      }
    }
  }

  // Numerical Jacobian by central differences, perturbing each input element in place.
  for (size_t k = 0; k < diff.size(); ++k) {
    Tensor x = inputs[diff[k]];
    double* base = static_cast<double*>(x.data_ptr());
    std::vector<int64_t> offs = element_offsets(x);
    for (size_t m = 0; m < offs.size(); ++m) {
      double orig = base[offs[m]];
      base[offs[m]] = orig + opts.eps;
      std::vector<double> plus = flat_outputs(fn(inputs));
      base[offs[m]] = orig - opts.eps;
      std::vector<double> minus = flat_outputs(fn(inputs));
      base[offs[m]] = orig;
      if (plus.size() != static_cast<size_t>(n_out) || minus.size() != static_cast<size_t>(n_out))
        return fail("gradcheck: the function's output size changed under perturbation");
      for (int64_t jj = 0; jj < n_out; ++jj) {
        double num = (plus[static_cast<size_t>(jj)] - minus[static_cast<size_t>(jj)]) / (2.0 * opts.eps);
        double ana = analytical[k][m * static_cast<size_t>(n_out) + static_cast<size_t>(jj)];
        if (!(std::fabs(ana - num) <= opts.atol + opts.rtol * std::fabs(num))) {
          why << "gradcheck: Jacobian mismatch for input " << diff[k] << " (" << x.describe() << "), element " << m
              << ", output element " << jj << ": analytical " << ana << " vs numerical " << num;
          return fail(why.str());
        }
      }
    }
  }
  return true;
}

bool gradgradcheck(const TensorFunction& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opts,
                   std::string* error) {
  // Random upstream gradients v, which require grad themselves.
  std::vector<Tensor> outs = fn(inputs);
  std::vector<Tensor> vs;
  for (const Tensor& o : outs) {
    if (!o.defined() || !o.dtype().is_floating() || !o.requires_grad()) continue;
    Tensor v = randn(o.shape(), TensorOptions(kFloat64, o.device()));
    v.requires_grad_();
    vs.push_back(v);
  }
  if (vs.empty()) {
    if (error) *error = "gradgradcheck: no output requires grad";
    return false;
  }
  std::vector<size_t> diff;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) diff.push_back(i);
  const size_t n_in = inputs.size();
  TensorFunction g = [&fn, diff, n_in](const std::vector<Tensor>& all) {
    std::vector<Tensor> in(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n_in));
    std::vector<Tensor> v(all.begin() + static_cast<std::ptrdiff_t>(n_in), all.end());
    std::vector<Tensor> outs = fn(in), with_history;
    for (const Tensor& o : outs)
      if (o.defined() && o.dtype().is_floating() && o.requires_grad()) with_history.push_back(o);
    std::vector<Tensor> dx;
    for (size_t i : diff) dx.push_back(in[i]);
    std::vector<Tensor> grads = grad(with_history, dx, v, true, true, true);
    for (size_t k = 0; k < grads.size(); ++k)
      if (!grads[k].defined()) grads[k] = zeros(dx[k].shape(), dx[k].options());
    return grads;
  };
  std::vector<Tensor> all(inputs);
  all.insert(all.end(), vs.begin(), vs.end());
  return gradcheck(g, all, opts, error);
}

}  // namespace ember::autograd
