// The per-ISA tables of vec_kernels.hpp, the streaming-store policy and merge_moments.
// Built for baseline x86-64: it only takes the addresses of the per-ISA entries.
#include <ember/kernels/cpu/vec_kernels.hpp>

#include <unistd.h>

#include <cstdlib>

#include <ember/kernels/cpu/isa.hpp>

namespace ember::cpu {
namespace {

#define EMBER_VEC_ENTRY_AVX2(ret, name, params) &avx2::name,
#define EMBER_VEC_ENTRY_AVX512(ret, name, params) &avx512::name,
const VecKernels kAvx2{EMBER_VEC_KERNEL_LIST(EMBER_VEC_ENTRY_AVX2)};
const VecKernels kAvx512{EMBER_VEC_KERNEL_LIST(EMBER_VEC_ENTRY_AVX512)};
#undef EMBER_VEC_ENTRY_AVX2
#undef EMBER_VEC_ENTRY_AVX512

int64_t streaming_threshold() {
  if (const char* env = std::getenv("EMBER_STREAM_MIN_BYTES"); env != nullptr && *env != '\0')
    return std::strtoll(env, nullptr, 10);
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 <= 0) l3 = long{32} << 20;
  return static_cast<int64_t>(l3);
}

}  // namespace

const VecKernels* vec_kernels() {
  switch (active_cpu_isa()) {
    case Isa::avx512: return &kAvx512;
    case Isa::avx2: return &kAvx2;
    case Isa::scalar: break;
  }
  return nullptr;
}

void merge_moments(Moments* acc, const Moments& b) {
  if (b.n == 0.0) return;
  if (acc->n == 0.0) {
    *acc = b;
    return;
  }
  const double total = acc->n + b.n, delta = b.mean - acc->mean;
  acc->mean += delta * (b.n / total);
  acc->m2 += b.m2 + delta * delta * (acc->n * b.n / total);
  acc->n = total;
}

bool use_streaming_stores(int64_t bytes) {
  static const int64_t threshold = streaming_threshold();
  return bytes >= threshold;
}

}  // namespace ember::cpu
