// PLACEHOLDER (being written): meta functions of this family.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor sum(const Tensor& x, IntList dims, bool keepdim, std::optional<DType> dtype) { EMBER_FAIL("sum: not implemented yet"); }
Tensor mean(const Tensor& x, IntList dims, bool keepdim) { EMBER_FAIL("mean: not implemented yet"); }
Tensor prod(const Tensor& x, IntList dims, bool keepdim) { EMBER_FAIL("prod: not implemented yet"); }
Tensor amax(const Tensor& x, IntList dims, bool keepdim) { EMBER_FAIL("amax: not implemented yet"); }
Tensor amin(const Tensor& x, IntList dims, bool keepdim) { EMBER_FAIL("amin: not implemented yet"); }
Tensor var(const Tensor& x, IntList dims, double correction, bool keepdim) { EMBER_FAIL("var: not implemented yet"); }
Tensor std(const Tensor& x, IntList dims, double correction, bool keepdim) { EMBER_FAIL("std: not implemented yet"); }
Tensor logsumexp(const Tensor& x, IntList dims, bool keepdim) { EMBER_FAIL("logsumexp: not implemented yet"); }
Tensor norm(const Tensor& x, double p, IntList dims, bool keepdim) { EMBER_FAIL("norm: not implemented yet"); }
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) { EMBER_FAIL("max: not implemented yet"); }
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) { EMBER_FAIL("min: not implemented yet"); }
Tensor max(const Tensor& x) { EMBER_FAIL("max: not implemented yet"); }
Tensor min(const Tensor& x) { EMBER_FAIL("min: not implemented yet"); }
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { EMBER_FAIL("argmax: not implemented yet"); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { EMBER_FAIL("argmin: not implemented yet"); }
Tensor cumsum(const Tensor& x, int64_t dim) { EMBER_FAIL("cumsum: not implemented yet"); }

}  // namespace ember::ops
