// The FMA loop of ceiling_kernel.hpp compiled for AVX2 + FMA.
#include <ember/kernels/cpu/ceiling_kernel.hpp>
