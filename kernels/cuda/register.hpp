// Registration of the CUDA kernels (compiled only in a CUDA build).
#pragma once

#include <ember/tensor/dispatch.hpp>

namespace ember::cuda {

// Fills the CUDA kernel table and installs the CUDA allocator. Safe to call
// on a machine without a GPU: nothing here touches the device.
void register_cuda_kernels(KernelTable& t);

// Number of usable GPUs; 0 when the driver or device is missing (any error counts as none).
int device_count();

}  // namespace ember::cuda
