// PLACEHOLDER (being written): meta functions of this family.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dArgs& args) { EMBER_FAIL("conv2d: not implemented yet"); }
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, IntList input_shape, const Conv2dArgs& args) { EMBER_FAIL("conv2d_backward_input: not implemented yet"); }
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, IntList weight_shape, const Conv2dArgs& args) { EMBER_FAIL("conv2d_backward_weight: not implemented yet"); }
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const Pool2dArgs& args) { EMBER_FAIL("max_pool2d_with_indices: not implemented yet"); }
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, IntList input_shape) { EMBER_FAIL("max_pool2d_backward: not implemented yet"); }
Tensor avg_pool2d(const Tensor& x, const Pool2dArgs& args) { EMBER_FAIL("avg_pool2d: not implemented yet"); }
Tensor avg_pool2d_backward(const Tensor& grad_out, IntList input_shape, const Pool2dArgs& args) { EMBER_FAIL("avg_pool2d_backward: not implemented yet"); }
Tensor adaptive_avg_pool2d(const Tensor& x, IntList output_size) { EMBER_FAIL("adaptive_avg_pool2d: not implemented yet"); }
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, IntList input_shape) { EMBER_FAIL("adaptive_avg_pool2d_backward: not implemented yet"); }

}  // namespace ember::ops
