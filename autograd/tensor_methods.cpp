// Tensor's computing methods (declared in tensor/tensor.hpp), defined on top of
// the public differentiable functions so that x.sum() records like ember::sum(x).
// The in-place methods are in autograd/inplace.cpp.
#include <ember/autograd/functions.hpp>

namespace ember {

Tensor Tensor::view(IntList s) const { return ember::view(*this, s); }
Tensor Tensor::reshape(IntList s) const { return ember::reshape(*this, s); }
Tensor Tensor::permute(IntList d) const { return ember::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return ember::transpose(*this, a, b); }
Tensor Tensor::t() const { return ember::t(*this); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return ember::narrow(*this, d, s, l); }
Tensor Tensor::slice(int64_t d, std::optional<int64_t> s, std::optional<int64_t> e, int64_t st) const { return ember::slice(*this, d, s, e, st); }
Tensor Tensor::select(int64_t d, int64_t i) const { return ember::select(*this, d, i); }
Tensor Tensor::expand(IntList s) const { return ember::expand(*this, s); }
Tensor Tensor::squeeze() const { return ember::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return ember::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return ember::unsqueeze(*this, d); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return ember::flatten(*this, s, e); }
Tensor Tensor::as_strided(IntList s, IntList st, std::optional<int64_t> o) const { return ember::as_strided(*this, s, st, o); }
std::vector<Tensor> Tensor::split(int64_t s, int64_t d) const { return ember::split(*this, s, d); }
std::vector<Tensor> Tensor::chunk(int64_t c, int64_t d) const { return ember::chunk(*this, c, d); }

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : ember::contiguous(*this); }
Tensor Tensor::clone() const { return ember::clone(*this); }
Tensor Tensor::to(DType d) const { return ember::to(*this, d); }
Tensor Tensor::to(Device d, bool non_blocking) const { return ember::to(*this, d, non_blocking); }
Tensor Tensor::pin_memory() const { return ember::pin_memory(*this); }
bool Tensor::is_pinned() const { return ops::is_pinned(*this); }
Tensor Tensor::to(Device d, DType dt) const { return ember::to(ember::to(*this, d), dt); }

Tensor Tensor::sum() const { return ember::sum(*this); }
Tensor Tensor::sum(IntList d, bool k) const { return ember::sum(*this, d, k); }
Tensor Tensor::mean() const { return ember::mean(*this); }
Tensor Tensor::mean(IntList d, bool k) const { return ember::mean(*this, d, k); }
Tensor Tensor::max() const { return ember::max(*this); }
Tensor Tensor::min() const { return ember::min(*this); }
Tensor Tensor::argmax(int64_t d, bool k) const { return ember::argmax(*this, d, k); }
Tensor Tensor::pow(const Scalar& e) const { return ember::pow(*this, e); }
Tensor Tensor::abs() const { return ember::abs(*this); }
Tensor Tensor::exp() const { return ember::exp(*this); }
Tensor Tensor::log() const { return ember::log(*this); }
Tensor Tensor::sqrt() const { return ember::sqrt(*this); }
Tensor Tensor::relu() const { return ember::relu(*this); }
Tensor Tensor::sigmoid() const { return ember::sigmoid(*this); }
Tensor Tensor::tanh() const { return ember::tanh(*this); }
Tensor Tensor::neg() const { return ember::neg(*this); }
Tensor Tensor::matmul(const Tensor& o) const { return ember::matmul(*this, o); }
Tensor Tensor::softmax(int64_t d) const { return ember::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return ember::log_softmax(*this, d); }

}  // namespace ember
