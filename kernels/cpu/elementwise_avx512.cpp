// The float32 unary/binary fast paths (elementwise_kernel.hpp) compiled for AVX-512.
#include <ember/kernels/cpu/elementwise_kernel.hpp>
