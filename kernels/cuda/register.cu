// CUDA backend entry point: installs the caching allocator and the pinned host
// memory provider, and fills the CUDA kernel table family by family (see
// kernels/cuda/register.hpp).
#include <ember/kernels/cuda/register.hpp>
#include <ember/runtime/allocator.hpp>
#include <ember/runtime/cuda_allocator.hpp>

namespace ember::cuda {

void register_cuda_kernels(KernelTable& t) {
  // Creating the allocator object touches no device; its first allocation does.
  set_allocator(DeviceType::CUDA, cuda_allocator());
  set_pinned_memory(pinned_memory_provider());
  register_unary_kernels(t);
  register_binary_kernels(t);
  register_copy_kernels(t);
  register_random_kernels(t);
  register_reduce_kernels(t);
  register_arg_reduce_kernels(t);
  register_softmax_kernels(t);
  register_loss_kernels(t);
  register_linalg_kernels(t);
  register_norm_kernels(t);
  register_conv_kernels(t);
  register_pool_kernels(t);
  register_index_kernels(t);
  register_optim_kernels(t);
}

}  // namespace ember::cuda
