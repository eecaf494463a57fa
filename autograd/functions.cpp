// Public functions: forwards to the raw ops. The autograd engine wraps the
// differentiable ones so that they record graph nodes (autograd/record.cpp).
#include <ember/autograd/functions.hpp>

namespace ember {

namespace {
Tensor wrap(const Scalar& s, const Tensor& like) { return ops::scalar_tensor(s, like); }
}  // namespace

Tensor neg(const Tensor& x) { return ops::neg(x); }
Tensor abs(const Tensor& x) { return ops::abs(x); }
Tensor sign(const Tensor& x) { return ops::sign(x); }
Tensor exp(const Tensor& x) { return ops::exp(x); }
Tensor log(const Tensor& x) { return ops::log(x); }
Tensor log1p(const Tensor& x) { return ops::log1p(x); }
Tensor sqrt(const Tensor& x) { return ops::sqrt(x); }
Tensor rsqrt(const Tensor& x) { return ops::rsqrt(x); }
Tensor sin(const Tensor& x) { return ops::sin(x); }
Tensor cos(const Tensor& x) { return ops::cos(x); }
Tensor tanh(const Tensor& x) { return ops::tanh(x); }
Tensor sigmoid(const Tensor& x) { return ops::sigmoid(x); }
Tensor relu(const Tensor& x) { return ops::relu(x); }
Tensor leaky_relu(const Tensor& x, double s) { return ops::leaky_relu(x, s); }
Tensor gelu(const Tensor& x, const std::string& a) { return ops::gelu(x, a); }
Tensor silu(const Tensor& x) { return ops::silu(x); }
Tensor softplus(const Tensor& x, double beta, double threshold) { return ops::softplus(x, beta, threshold); }
Tensor pow(const Tensor& x, const Scalar& e) { return ops::pow(x, e); }
Tensor clamp(const Tensor& x, std::optional<Scalar> lo, std::optional<Scalar> hi) { return ops::clamp(x, lo, hi); }
Tensor reciprocal(const Tensor& x) { return ops::reciprocal(x); }
Tensor logical_not(const Tensor& x) { return ops::logical_not(x); }
Tensor square(const Tensor& x) { return mul(x, x); }

Tensor add(const Tensor& a, const Tensor& b, const Scalar& alpha) { return ops::add(a, b, alpha); }
Tensor add(const Tensor& a, const Scalar& b) { return add(a, wrap(b, a)); }
Tensor sub(const Tensor& a, const Tensor& b, const Scalar& alpha) { return ops::sub(a, b, alpha); }
Tensor sub(const Tensor& a, const Scalar& b) { return sub(a, wrap(b, a)); }
Tensor mul(const Tensor& a, const Tensor& b) { return ops::mul(a, b); }
Tensor mul(const Tensor& a, const Scalar& b) { return mul(a, wrap(b, a)); }
Tensor div(const Tensor& a, const Tensor& b) { return ops::div(a, b); }
Tensor div(const Tensor& a, const Scalar& b) { return div(a, wrap(b, a)); }
Tensor pow(const Tensor& a, const Tensor& b) { return ops::pow(a, b); }
Tensor pow(const Scalar& a, const Tensor& b) { return pow(wrap(a, b), b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return ops::maximum(a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return ops::minimum(a, b); }
Tensor eq(const Tensor& a, const Tensor& b) { return ops::eq(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return ops::ne(a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return ops::lt(a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return ops::le(a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return ops::gt(a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return ops::ge(a, b); }
Tensor eq(const Tensor& a, const Scalar& b) { return ops::eq(a, wrap(b, a)); }
Tensor ne(const Tensor& a, const Scalar& b) { return ops::ne(a, wrap(b, a)); }
Tensor lt(const Tensor& a, const Scalar& b) { return ops::lt(a, wrap(b, a)); }
Tensor le(const Tensor& a, const Scalar& b) { return ops::le(a, wrap(b, a)); }
Tensor gt(const Tensor& a, const Scalar& b) { return ops::gt(a, wrap(b, a)); }
Tensor ge(const Tensor& a, const Scalar& b) { return ops::ge(a, wrap(b, a)); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return ops::logical_and(a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return ops::logical_or(a, b); }
Tensor gelu_backward(const Tensor& g, const Tensor& x, const std::string& a) { return ops::gelu_backward(g, x, a); }

Tensor where(const Tensor& c, const Tensor& a, const Tensor& b) { return ops::where(c, a, b); }
Tensor masked_fill(const Tensor& x, const Tensor& m, const Scalar& v) { return ops::masked_fill(x, m, v); }
Tensor addcmul(const Tensor& s, const Tensor& a, const Tensor& b, const Scalar& v) { return ops::addcmul(s, a, b, v); }
Tensor addcdiv(const Tensor& s, const Tensor& a, const Tensor& b, const Scalar& v) { return ops::addcdiv(s, a, b, v); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(wrap(a, b), b); }
Tensor operator-(const Scalar& a, const Tensor& b) { return sub(wrap(a, b), b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(wrap(a, b), b); }
Tensor operator/(const Scalar& a, const Tensor& b) { return div(wrap(a, b), b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, const Scalar& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Scalar& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Scalar& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Scalar& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Scalar& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Scalar& b) { return ge(a, b); }
Tensor operator&&(const Tensor& a, const Tensor& b) { return logical_and(a, b); }
Tensor operator||(const Tensor& a, const Tensor& b) { return logical_or(a, b); }
Tensor operator!(const Tensor& a) { return logical_not(a); }
Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, const Scalar& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Scalar& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Scalar& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Scalar& b) { return a.div_(b); }

Tensor view(const Tensor& x, IntList s) { return ops::view(x, s); }
Tensor reshape(const Tensor& x, IntList s) { return ops::reshape(x, s); }
Tensor permute(const Tensor& x, IntList d) { return ops::permute(x, d); }
Tensor transpose(const Tensor& x, int64_t a, int64_t b) { return ops::transpose(x, a, b); }
Tensor t(const Tensor& x) { return ops::t(x); }
Tensor narrow(const Tensor& x, int64_t d, int64_t s, int64_t l) { return ops::narrow(x, d, s, l); }
Tensor slice(const Tensor& x, int64_t d, std::optional<int64_t> s, std::optional<int64_t> e, int64_t st) { return ops::slice(x, d, s, e, st); }
Tensor select(const Tensor& x, int64_t d, int64_t i) { return ops::select(x, d, i); }
Tensor expand(const Tensor& x, IntList s) { return ops::expand(x, s); }
Tensor squeeze(const Tensor& x) { return ops::squeeze(x); }
Tensor squeeze(const Tensor& x, int64_t d) { return ops::squeeze(x, d); }
Tensor unsqueeze(const Tensor& x, int64_t d) { return ops::unsqueeze(x, d); }
Tensor flatten(const Tensor& x, int64_t s, int64_t e) { return ops::flatten(x, s, e); }
Tensor as_strided(const Tensor& x, IntList s, IntList st, std::optional<int64_t> o) { return ops::as_strided(x, s, st, o); }
std::vector<Tensor> split(const Tensor& x, int64_t s, int64_t d) { return ops::split(x, s, d); }
std::vector<Tensor> split_with_sizes(const Tensor& x, IntList s, int64_t d) { return ops::split_with_sizes(x, s, d); }
std::vector<Tensor> chunk(const Tensor& x, int64_t c, int64_t d) { return ops::chunk(x, c, d); }
Tensor contiguous(const Tensor& x) { return ops::contiguous(x); }
Tensor clone(const Tensor& x) { return ops::clone(x); }
Tensor to(const Tensor& x, DType d) { return ops::to(x, d); }
Tensor to(const Tensor& x, Device d) { return ops::to(x, d); }

Tensor sum(const Tensor& x, IntList d, bool k, std::optional<DType> dt) { return ops::sum(x, d, k, dt); }
Tensor mean(const Tensor& x, IntList d, bool k) { return ops::mean(x, d, k); }
Tensor prod(const Tensor& x, IntList d, bool k) { return ops::prod(x, d, k); }
Tensor amax(const Tensor& x, IntList d, bool k) { return ops::amax(x, d, k); }
Tensor amin(const Tensor& x, IntList d, bool k) { return ops::amin(x, d, k); }
Tensor var(const Tensor& x, IntList d, double c, bool k) { return ops::var(x, d, c, k); }
Tensor std(const Tensor& x, IntList d, double c, bool k) { return ops::std(x, d, c, k); }
Tensor logsumexp(const Tensor& x, IntList d, bool k) { return ops::logsumexp(x, d, k); }
Tensor norm(const Tensor& x, double p, IntList d, bool k) { return ops::norm(x, p, d, k); }
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t d, bool k) { return ops::max(x, d, k); }
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t d, bool k) { return ops::min(x, d, k); }
Tensor max(const Tensor& x) { return ops::max(x); }
Tensor min(const Tensor& x) { return ops::min(x); }
Tensor argmax(const Tensor& x, std::optional<int64_t> d, bool k) { return ops::argmax(x, d, k); }
Tensor argmin(const Tensor& x, std::optional<int64_t> d, bool k) { return ops::argmin(x, d, k); }
Tensor cumsum(const Tensor& x, int64_t d) { return ops::cumsum(x, d); }

Tensor softmax(const Tensor& x, int64_t d) { return ops::softmax(x, d); }
Tensor log_softmax(const Tensor& x, int64_t d) { return ops::log_softmax(x, d); }
Tensor nll_loss(const Tensor& lp, const Tensor& t, const Tensor& w, const CrossEntropyArgs& a) { return ops::nll_loss(lp, t, w, a); }
Tensor cross_entropy(const Tensor& x, const Tensor& t, const Tensor& w, const CrossEntropyArgs& a) { return ops::cross_entropy(x, t, w, a); }

Tensor mm(const Tensor& a, const Tensor& b) { return ops::mm(a, b); }
Tensor bmm(const Tensor& a, const Tensor& b) { return ops::bmm(a, b); }
Tensor matmul(const Tensor& a, const Tensor& b) { return ops::matmul(a, b); }
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) { return ops::linear(x, w, b); }

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a) { return ops::conv2d(x, w, b, a); }
Tensor max_pool2d(const Tensor& x, const Pool2dArgs& a) { return ops::max_pool2d_with_indices(x, a).first; }
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dArgs& a) { return ops::max_pool2d_with_indices(x, a); }
Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& a) { return ops::avg_pool2d(x, a); }
Tensor adaptive_avg_pool2d(const Tensor& x, IntList s) { return ops::adaptive_avg_pool2d(x, s); }
Tensor batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv, bool training,
                  double momentum, double eps) {
  NormArgs args;
  args.training = training;
  args.momentum = momentum;
  args.eps = eps;
  return std::get<0>(ops::batch_norm(x, w, b, rm, rv, args));
}
Tensor layer_norm(const Tensor& x, IntList s, const Tensor& w, const Tensor& b, double eps) { return std::get<0>(ops::layer_norm(x, s, w, b, eps)); }
Tensor group_norm(const Tensor& x, int64_t g, const Tensor& w, const Tensor& b, double eps) { return std::get<0>(ops::group_norm(x, g, w, b, eps)); }
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) { return ops::dropout(x, p, training, gen).first; }

Tensor embedding(const Tensor& w, const Tensor& i) { return ops::embedding(w, i); }
Tensor index_select(const Tensor& x, int64_t d, const Tensor& i) { return ops::index_select(x, d, i); }
Tensor index_add(const Tensor& s, int64_t d, const Tensor& i, const Tensor& src) { return ops::index_add(s, d, i, src); }
Tensor gather(const Tensor& x, int64_t d, const Tensor& i) { return ops::gather(x, d, i); }
Tensor scatter_add(const Tensor& s, int64_t d, const Tensor& i, const Tensor& src) { return ops::scatter_add(s, d, i, src); }
Tensor one_hot(const Tensor& i, int64_t n) { return ops::one_hot(i, n); }
Tensor cat(const std::vector<Tensor>& ts, int64_t d) { return ops::cat(ts, d); }
Tensor stack(const std::vector<Tensor>& ts, int64_t d) { return ops::stack(ts, d); }
Tensor pad(const Tensor& x, IntList p, const Scalar& v) { return ops::pad(x, p, v); }
Tensor flip(const Tensor& x, IntList d) { return ops::flip(x, d); }
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t d, bool l, bool s) { return ops::topk(x, k, d, l, s); }
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t d, bool desc, bool stable) { return ops::sort(x, d, desc, stable); }

}  // namespace ember
