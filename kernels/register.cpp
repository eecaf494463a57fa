// Fills the kernel tables of every backend this build has. Called once, by
// tensor/dispatch.cpp, on the first dispatch (see tensor/dispatch.hpp).
#include <ember/kernels/cpu/register.hpp>

#if defined(EMBER_WITH_CUDA)
#include <ember/kernels/cuda/register.hpp>
#endif

namespace ember {

void register_all_kernels(KernelTable* tables[kNumDeviceTypes]) {
  KernelTable& cpu = *tables[static_cast<int>(DeviceType::CPU)];
  cpu::register_unary_kernels(cpu);
  cpu::register_binary_kernels(cpu);
  cpu::register_copy_kernels(cpu);
  cpu::register_random_kernels(cpu);
  cpu::register_reduce_kernels(cpu);
  cpu::register_softmax_kernels(cpu);
  cpu::register_linalg_kernels(cpu);
  cpu::register_conv_kernels(cpu);
  cpu::register_pool_kernels(cpu);
  cpu::register_norm_kernels(cpu);
  cpu::register_index_kernels(cpu);
  cpu::register_optim_kernels(cpu);
#if defined(EMBER_WITH_CUDA)
  cuda::register_cuda_kernels(*tables[static_cast<int>(DeviceType::CUDA)]);
#endif
}

}  // namespace ember
