// EMBER_HOST_DEVICE marks a function compiled for both the host and CUDA
// devices under nvcc, and is empty for a plain C++ compiler: code shared by the
// CPU and CUDA kernels (philox streams, integer pow, IntDivider) uses it, so the
// CPU tests exercise the same source the GPU runs.
#pragma once

#if defined(__CUDACC__)
#define EMBER_HOST_DEVICE __host__ __device__
#else
#define EMBER_HOST_DEVICE
#endif
