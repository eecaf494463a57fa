// PLACEHOLDER (being written): meta functions of this family.
#include <ember/tensor/ops.hpp>

namespace ember::ops {

Tensor embedding(const Tensor& weight, const Tensor& indices) { EMBER_FAIL("embedding: not implemented yet"); }
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) { EMBER_FAIL("index_select: not implemented yet"); }
Tensor index_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) { EMBER_FAIL("index_add: not implemented yet"); }
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) { EMBER_FAIL("gather: not implemented yet"); }
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) { EMBER_FAIL("scatter_add: not implemented yet"); }
Tensor one_hot(const Tensor& indices, int64_t num_classes) { EMBER_FAIL("one_hot: not implemented yet"); }
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) { EMBER_FAIL("cat: not implemented yet"); }
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) { EMBER_FAIL("stack: not implemented yet"); }
Tensor pad(const Tensor& x, IntList pads, const Scalar& value) { EMBER_FAIL("pad: not implemented yet"); }
Tensor flip(const Tensor& x, IntList dims) { EMBER_FAIL("flip: not implemented yet"); }
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) { EMBER_FAIL("topk: not implemented yet"); }
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool stable) { EMBER_FAIL("sort: not implemented yet"); }

}  // namespace ember::ops
