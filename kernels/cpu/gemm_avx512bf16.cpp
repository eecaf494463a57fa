// bfloat16 GEMM on the CPU's bfloat16 dot products (AVX-512 BF16,
// vdpbf16ps), compiled with -mavx512bf16 (EmberCompileOptions.cmake) and run
// only where cpu_has_avx512_bf16() says the CPU has them; gemm() chooses.
//
// One vdpbf16ps does, in each of 16 float lanes, acc += a0 * b0 + a1 * b1 for
// two bfloat16 pairs: twice the multiply-adds of a float32 FMA per
// instruction. The products of two bfloat16 values are exact in float32, so
// each step is two float32 additions (round to nearest even; subnormal inputs
// and results are flushed to zero, which the float32 path does not do).
//
// The Goto/BLIS loop nest of gemm_kernel.hpp with k taken two at a time and
// the slab loop outside the column panels, so all of A's KC slab is packed
// once (in parallel) and shared by every column range:
//   A is packed into MR-row panels of k pairs (one 32-bit word per row and
//   pair: a[i][k] in the low half, a[i][k + 1] in the high half);
//   B into NR-column panels of k pairs (one 32-bit word per column and pair);
//   the 12 x 32 register tile is 24 float accumulators, each step 2 loads of
//   B, 12 broadcasts of A and 24 dot products.
// C is float32 (gemm.cpp accumulates in a float32 copy of the bfloat16 C and
// rounds once at the end, as the reference path does).
#include <algorithm>
#include <cstring>
#include <new>

#include <ember/kernels/cpu/bf16_pairs.hpp>
#include <ember/kernels/cpu/gemm.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/tensor/half.hpp>

namespace ember::cpu::avx512bf16 {
namespace {

constexpr int MR = 12, NR = 32;
constexpr int64_t KC = 512, MC = 192, NC = 3072;  // KC even: slabs start on a pair
static_assert(KC % 2 == 0 && MC % MR == 0 && NC % NR == 0, "blocks hold whole pairs and tiles");

// An uninitialized buffer of n words, owned here rather than by a standard
// container (Note [per-ISA namespaces] in vec.hpp: no library template this
// file compiles with AVX-512 flags may be shared with baseline code).
struct Words {
  uint32_t* p;
  explicit Words(size_t n) : p(static_cast<uint32_t*>(::operator new(4 * n))) {}
  ~Words() { ::operator delete(p); }
  Words(const Words&) = delete;
  Words& operator=(const Words&) = delete;
};

// A rows [i0, i0 + mc), depth [p0, p0 + kc) -> ceil(mc / MR) panels of
// ceil(kc / 2) steps of MR words (zero rows past mc, zero high half past kc).
void pack_a(ConstMatrix<BFloat16> a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, uint32_t* dst) {
  const int64_t steps = (kc + 1) / 2;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - ir));
    for (int64_t q = 0; q < steps; ++q) {
      const int64_t k = p0 + 2 * q;
      const bool second = 2 * q + 1 < kc;
      for (int i = 0; i < MR; ++i) {
        if (i >= rows) {
          dst[q * MR + i] = 0;
        } else if (a.cs == 1 && second) {
          std::memcpy(dst + q * MR + i, a.data + (i0 + ir + i) * a.rs + k, 4);  // the pair is one word of the row
        } else {
          const BFloat16* row = a.data + (i0 + ir + i) * a.rs;
          dst[q * MR + i] = pair(row[k * a.cs].bits, second ? row[(k + 1) * a.cs].bits : uint16_t{0});
        }
      }
    }
    dst += steps * MR;
  }
}

// B rows [p0, p0 + kc), columns [j0, j0 + n) -> ceil(n / NR) panels of
// ceil(kc / 2) steps of NR words (zero columns past n, zero high half past kc).
void pack_b(ConstMatrix<BFloat16> b, int64_t p0, int64_t kc, int64_t j0, int64_t n, uint32_t* dst) {
  const int64_t steps = (kc + 1) / 2;
  const __m256i zero16 = _mm256_setzero_si256();
  for (int64_t jp = 0; jp < n; jp += NR) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, n - jp));
    for (int64_t q = 0; q < steps; ++q) {
      const BFloat16* r0 = b.data + (p0 + 2 * q) * b.rs + (j0 + jp) * b.cs;
      const BFloat16* r1 = 2 * q + 1 < kc ? r0 + b.rs : nullptr;
      uint32_t* d = dst + q * NR;
      if (b.cs == 1 && cols == NR) {
        // Row-major B: 16 columns of both rows widened to 32 bits and merged.
        for (int h = 0; h < NR; h += 16) {
          const __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0 + h)));
          const __m256i h16 = r1 != nullptr ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1 + h)) : zero16;
          const __m512i hi = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h16), 16);
          _mm512_storeu_si512(d + h, _mm512_or_si512(lo, hi));
        }
        continue;
      }
      if (b.rs == 1 && r1 != nullptr) {
        // Column-major B (a transposed weight): each column's pair is one word.
        for (int j = 0; j < cols; ++j) std::memcpy(d + j, r0 + j * b.cs, 4);
        for (int j = cols; j < NR; ++j) d[j] = 0;
        continue;
      }
      for (int j = 0; j < NR; ++j)
        d[j] = j < cols ? pair(r0[j * b.cs].bits, r1 != nullptr ? r1[j * b.cs].bits : uint16_t{0}) : 0;
    }
    dst += steps * NR;
  }
}

// c (mr x nr of a row-major float matrix, leading dimension ldc) = (add: +=)
// the product of one A panel and one B panel over `steps` pairs.
void micro_kernel(int64_t steps, const uint32_t* __restrict a, const uint32_t* __restrict b, float* c, int64_t ldc,
                  int mr, int nr, bool add) {
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t q = 0; q < steps; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i]));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
    a += MR;
    b += NR;
  }
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << nr) - 1u);
  const __mmask16 m1 = nr >= 32 ? __mmask16(0xFFFF) : nr > 16 ? static_cast<__mmask16>((1u << (nr - 16)) - 1u)
                                                                : __mmask16(0);
  for (int i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    __m512 r0 = acc[i][0], r1 = acc[i][1];
    if (add) {
      r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(m0, row));
      r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, r0);
    _mm512_mask_storeu_ps(row + 16, m1, r1);
  }
}

}  // namespace

void bf16gemm(int64_t M, int64_t N, int64_t K, ConstMatrix<BFloat16> a, ConstMatrix<BFloat16> b, Matrix<float> c,
              bool accumulate) {
  const int64_t threads = runtime::default_executor().num_threads();
  // A blocks of equal height (whole tiles), a few per thread where M allows.
  int64_t m_blocks = (M + MC - 1) / MC;
  if (const int64_t even = (m_blocks + threads - 1) / threads * threads; M / even >= 4 * MR) m_blocks = even;
  const int64_t mcb = ((M + m_blocks - 1) / m_blocks + MR - 1) / MR * MR;
  m_blocks = (M + mcb - 1) / mcb;
  const int64_t kc_max = std::min(K, KC), nc_max = std::min((N + NR - 1) / NR * NR, NC);
  const int64_t m_tiles = (M + MR - 1) / MR, tiles_per_block = mcb / MR;
  // Uninitialized: the packers write every word the kernel reads.
  const Words b_pack(static_cast<size_t>((kc_max + 1) / 2 * nc_max));
  const Words a_pack(static_cast<size_t>((kc_max + 1) / 2 * m_tiles * MR));
  for (int64_t pc = 0; pc < K; pc += KC) {
    const int64_t kc = std::min(KC, K - pc), steps = (kc + 1) / 2;
    // All of A's slab once, a tile's panel per index, before any column range needs it.
    parallel_range(0, m_tiles, std::max<int64_t>(1, 8192 / (steps * MR)), [&](int64_t lo, int64_t hi) {
      pack_a(a, lo * MR, std::min(M, hi * MR) - lo * MR, pc, kc, a_pack.p + lo * steps * MR);
    });
    for (int64_t jc = 0; jc < N; jc += NC) {
      const int64_t nc = std::min(NC, N - jc), n_panels = (nc + NR - 1) / NR;
      const bool add = accumulate || pc > 0;
      parallel_range(0, n_panels, std::max<int64_t>(1, 8192 / (steps * NR)), [&](int64_t lo, int64_t hi) {
        pack_b(b, pc, kc, jc + lo * NR, std::min(nc, hi * NR) - lo * NR, b_pack.p + lo * steps * NR);
      });
      // Tasks: A blocks x column ranges, enough of them to keep every thread busy.
      const int64_t n_chunks = std::clamp<int64_t>((4 * threads + m_blocks - 1) / m_blocks, 1, n_panels);
      const int64_t panels_per_chunk = (n_panels + n_chunks - 1) / n_chunks;
      const int64_t task_flops = 2 * mcb * kc * panels_per_chunk * NR;
      const int64_t grain = task_flops >= (int64_t{1} << 17) ? 1 : m_blocks * n_chunks;
      parallel_range(0, m_blocks * n_chunks, grain, [&](int64_t lo, int64_t hi) {
        for (int64_t task = lo; task < hi; ++task) {
          const int64_t ib = task / n_chunks, chunk = task % n_chunks;
          const int64_t t0 = ib * tiles_per_block, t1 = std::min(m_tiles, t0 + tiles_per_block);
          const int64_t jp_end = std::min(n_panels, (chunk + 1) * panels_per_chunk);
          for (int64_t jp = chunk * panels_per_chunk; jp < jp_end; ++jp) {
            const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jp * NR));
            for (int64_t t = t0; t < t1; ++t) {
              const int mr = static_cast<int>(std::min<int64_t>(MR, M - t * MR));
              micro_kernel(steps, a_pack.p + t * steps * MR, b_pack.p + jp * steps * NR,
                           c.data + t * MR * c.rs + jc + jp * NR, c.rs, mr, nr, add);
            }
          }
        }
      });
    }
  }
}

}  // namespace ember::cpu::avx512bf16
