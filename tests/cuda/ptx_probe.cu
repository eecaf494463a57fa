// The contiguous fast paths of the CUDA elementwise engine (elementwise.cuh)
// and the row-reduction engine (reduce.cuh), and the elementwise strided path,
// instantiated for float32 with plain functors, compiled to PTX at build time:
// check_ptx.cmake then checks that the fast paths read their operands with
// 128-bit loads and the strided path divides by multiply-high (IntDivider). This guards the memory-bound
// kernels' load width on machines without a GPU, where no benchmark can.
#include <ember/kernels/cuda/elementwise.cuh>
#include <ember/kernels/cuda/reduce.cuh>

namespace ember::cuda::ptx_probe {

struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};

struct Sum {
  using A = float;
  __device__ A init() const { return 0.f; }
  __device__ A load(float v) const { return v; }
  __device__ A combine(A a, A b) const { return a + b; }
  __device__ float finish(A a, int64_t) const { return a; }
};

}  // namespace ember::cuda::ptx_probe

template __global__ void ember::cuda::elementwise_vectorized_fwd_kernel<4, ember::cuda::ptx_probe::Add, float, float,
                                                                        float>(int64_t, ember::cuda::ptx_probe::Add,
                                                                               float*, const float*, const float*);
template __global__ void ember::cuda::elementwise_strided_fwd_kernel<ember::cuda::ptx_probe::Add, float, float, float>(
    int64_t, ember::cuda::StridedLayout<3>, ember::cuda::ptx_probe::Add);
template __global__ void ember::cuda::reduce_rows_fwd_kernel<ember::cuda::ptx_probe::Sum, float, float, true>(
    const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*, float*, ember::cuda::ptx_probe::Sum, bool);
