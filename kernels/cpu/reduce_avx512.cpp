// The float32 sum/max/dot row reductions (reduce_kernel.hpp) compiled for AVX-512.
#include <ember/kernels/cpu/reduce_kernel.hpp>
