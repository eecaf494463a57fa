// The FMA loop of ceiling_kernel.hpp compiled for AVX-512.
#include <ember/kernels/cpu/ceiling_kernel.hpp>
