// The float32 sum/max/dot row reductions (reduce_kernel.hpp) compiled for AVX2 + FMA.
#include <ember/kernels/cpu/reduce_kernel.hpp>
