// Printing of dim lists and dim wrapping.
#include <ember/tensor/dims.hpp>

#include <ostream>

#include <ember/runtime/error.hpp>

namespace ember {

std::ostream& operator<<(std::ostream& os, IntList dims) {
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? ", " : "") << dims[i];
  return os << ']';
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim;  // a 0-dim tensor accepts dim 0 and -1, as in PyTorch
  int64_t hi = ndim == 0 ? 0 : ndim - 1;
  EMBER_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " is out of range for a tensor with ", ndim,
              " dims (expected a dim in [", lo, ", ", hi, "])");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

}  // namespace ember
