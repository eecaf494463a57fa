// PLACEHOLDER (being written): meta functions of this family.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor mm(const Tensor& a, const Tensor& b) { EMBER_FAIL("mm: not implemented yet"); }
Tensor bmm(const Tensor& a, const Tensor& b) { EMBER_FAIL("bmm: not implemented yet"); }
Tensor matmul(const Tensor& a, const Tensor& b) { EMBER_FAIL("matmul: not implemented yet"); }
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) { EMBER_FAIL("linear: not implemented yet"); }

}  // namespace ember::ops
