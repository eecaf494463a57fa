// The packed GEMM for float32 and float64, written once with Vf/Vd and
// compiled per ISA by gemm_avx2.cpp and gemm_avx512.cpp (see vec.hpp, Note
// [per-ISA namespaces]). gemm.cpp dispatches to it; the portable blocked GEMM
// there stays the scalar path and the reference the tests compare against.
//
// Goto/BLIS loop nest, C (M, N) = A (M, K) @ B (K, N) (+ C):
//   jc over N in NC columns   pack B panel (KC x NC) for L3, once, shared by all threads
//   pc over K in KC depth     the first slab writes C (unless accumulating), later ones add
//   tasks (ic, column range) in parallel:
//     pack the A block (MC x KC) for L2 into MR-row micro-panels (its own thread)
//     jr over NR columns, ir over MR rows: micro_kernel, an MR x NR register tile
// When all of A fits one block (M <= MC), gemm_one_block packs A once and lets
// each thread pack its own L2-sized chunk of B instead (see there).
// Packing handles any strides (transposed and expanded operands) and zero-pads
// the tails, so the micro-kernel always runs a full tile; only edge stores clip.
//
// Register tile: MR rows (A values broadcast) x NV vectors (B values loaded);
// MR * NV accumulators + NV B registers + 1 broadcast fit the register file
// (AVX2: 6 x 2 of 16 ymm; AVX-512: 12 x 2 of 32 zmm). Per k step: MR * NV FMAs
// against NV loads and MR broadcasts, so the FMA pipes, not loads, limit it.
//
// Ceilings: 2*M*N*K FLOPs; peak is 2 FMA pipes x lanes x 2 FLOPs per cycle per
// core (AVX2 fp32: 32 FLOPs/cycle). benchmarks/bench_gemm.cpp measures the
// machine's FMA peak in the same run and prints the fraction reached.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include <ember/kernels/cpu/gemm.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/vec.hpp>

namespace ember::cpu::EMBER_ISA_NS {
namespace gemm_detail {

// Blocking per element type and ISA. KC * NR * sizeof(T) (a B micro-panel)
// stays in L1, MC * KC * sizeof(T) (the A block) in L2, KC * NC * sizeof(T)
// (the B panel) in L3; with a single A block, each thread packs KC x NCS
// chunks of B that stay in its L2.
template <class T> struct Blocking;
#if defined(__AVX512F__)
template <> struct Blocking<float> { static constexpr int MR = 12, MR_ALT = 8, NV = 2; static constexpr int64_t KC = 384, MC = 192, NC = 3072, NCS = 512; };
template <> struct Blocking<double> { static constexpr int MR = 12, MR_ALT = 8, NV = 2; static constexpr int64_t KC = 256, MC = 144, NC = 2048, NCS = 256; };
#elif defined(__AVX2__)
template <> struct Blocking<float> { static constexpr int MR = 6, MR_ALT = 6, NV = 2; static constexpr int64_t KC = 256, MC = 144, NC = 3072, NCS = 256; };
template <> struct Blocking<double> { static constexpr int MR = 6, MR_ALT = 6, NV = 2; static constexpr int64_t KC = 256, MC = 72, NC = 2048, NCS = 128; };
#else
template <> struct Blocking<float> { static constexpr int MR = 4, MR_ALT = 4, NV = 4; static constexpr int64_t KC = 256, MC = 96, NC = 2048, NCS = 256; };
template <> struct Blocking<double> { static constexpr int MR = 4, MR_ALT = 4, NV = 4; static constexpr int64_t KC = 256, MC = 96, NC = 2048, NCS = 256; };
#endif

template <class T> struct VecOf;
template <> struct VecOf<float> { using type = Vf; };
template <> struct VecOf<double> { using type = Vd; };

// A grow-only, 64-byte aligned scratch buffer (one per thread for A blocks).
template <class T>
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { release(); }
  T* get(size_t n) {
    if (n > capacity_) {
      release();
      data_ = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)));
      capacity_ = n;
    }
    return data_;
  }

 private:
  void release() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t(64));
    data_ = nullptr;
    capacity_ = 0;
  }
  T* data_ = nullptr;
  size_t capacity_ = 0;
};

// This thread's scratch number `Slot` (0: A blocks of gemm_packed, 1: B
// chunks of gemm_one_block), used only inside one task chunk (no waiting
// there). A function, not a `static thread_local` in the gemm: a thread that
// only runs the gemm's lambda never passes that declaration, so its copy
// would never be constructed and its destructor never registered (the buffer
// would outlive the thread).
template <class T, int Slot>
Scratch<T>& thread_scratch() {
  static thread_local Scratch<T> s;
  return s;
}

// A packed panel that one gemm call shares with its helper threads (the B
// panel, or the A block of gemm_one_block). A thread that waits inside a
// parallel loop runs other queued tasks, which may start another gemm on the
// same thread while helpers still read this call's panel: each nesting level
// gets its own buffer (a small per-thread stack; deeper levels allocate).
template <class T>
class PanelLease {
 public:
  explicit PanelLease(size_t n) {
    Stack& s = stack();
    level_ = s.depth++;
    data_ = level_ < kLevels ? s.levels[level_].get(n) : own_.get(n);
  }
  ~PanelLease() { --stack().depth; }
  PanelLease(const PanelLease&) = delete;
  PanelLease& operator=(const PanelLease&) = delete;
  T* data() const { return data_; }

 private:
  static constexpr int kLevels = 4;
  struct Stack {
    Scratch<T> levels[kLevels];
    int depth = 0;
  };
  static Stack& stack() {
    static thread_local Stack s;
    return s;
  }
  Scratch<T> own_;
  T* data_ = nullptr;
  int level_ = 0;
};

#if defined(__AVX2__)
// r[0..7] (eight rows of eight floats) -> their transpose, in place.
inline void transpose_8x8_regs(__m256 r[8]) {
  __m256 t[8];
  for (int j = 0; j < 8; j += 2) {
    t[j] = _mm256_unpacklo_ps(r[j], r[j + 1]);
    t[j + 1] = _mm256_unpackhi_ps(r[j], r[j + 1]);
  }
  for (int j = 0; j < 8; j += 4) {
    r[j] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[j + 1] = _mm256_shuffle_ps(t[j], t[j + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[j + 2] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[j + 3] = _mm256_shuffle_ps(t[j + 1], t[j + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int q = 0; q < 4; ++q) {
    t[q] = _mm256_permute2f128_ps(r[q], r[q + 4], 0x20);
    t[q + 4] = _mm256_permute2f128_ps(r[q], r[q + 4], 0x31);
  }
  for (int q = 0; q < 8; ++q) r[q] = t[q];
}

// The first n (0..8) lanes of v to p; nothing past p + n is written.
inline void store_first(float* p, __m256 v, int n) {
  if (n == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    n -= 2;
  }
  if (n == 1) _mm_store_ss(p, part);
}

// dst[q * ld_dst + j] = src[j * ld_src + q] for q < 8 and j < lanes, where
// rows j >= rows of src read as zero (at most 8 of each): eight columns of a
// few rows, stored transposed, without touching memory past either block.
inline void transpose_rows_x8(const float* src, int64_t ld_src, int rows, float* dst, int64_t ld_dst, int lanes) {
  __m256 r[8];
  for (int j = 0; j < 8; ++j) r[j] = j < rows ? _mm256_loadu_ps(src + j * ld_src) : _mm256_setzero_ps();
  transpose_8x8_regs(r);
  for (int q = 0; q < 8; ++q) store_first(dst + q * ld_dst, r[q], lanes);
}
#endif

// A rows [i0, i0 + mc), columns [p0, p0 + kc) -> ceil(mc / MR) micro-panels,
// each kc steps of MR values (zero rows past mc).
template <class T, int MR>
void pack_a_block(ConstMatrix<T> a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
    const T* src = a.data + (i0 + ir) * a.rs + p0 * a.cs;
    if (a.cs == 1) {
      // Row-major A: eight columns of the panel's rows at a time, transposed
      // in registers (float, AVX2 and up); then the rest row by row.
      int64_t p_done = 0;
#if defined(__AVX2__)
      if constexpr (std::is_same_v<T, float>) {
        p_done = kc / 8 * 8;
        for (int64_t p = 0; p < p_done; p += 8)
          for (int g = 0; g < MR; g += 8)
            transpose_rows_x8(src + g * a.rs + p, a.rs, std::clamp(mr - g, 0, 8), dst + p * MR + g, MR,
                              std::min(MR - g, 8));
      }
#endif
      for (int i = 0; i < mr; ++i) {
        const T* row = src + i * a.rs;
        for (int64_t p = p_done; p < kc; ++p) dst[p * MR + i] = row[p];
      }
      for (int i = mr; i < MR; ++i)
        for (int64_t p = p_done; p < kc; ++p) dst[p * MR + i] = T(0);
    } else {
      int64_t p_done = 0;
#if defined(__AVX2__)
      if constexpr (std::is_same_v<T, float>) {
        if (a.rs == 1) {
          // Column-major A (a transposed weight, as in w^T @ grad): each step's
          // MR values are contiguous, moved as (masked) vectors.
          for (; p_done < kc; ++p_done) {
            const T* col = src + p_done * a.cs;
            for (int g = 0; g < MR; g += 8) {
              const int live = std::clamp(mr - g, 0, 8);
              const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(live), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
              const __m256 v = live == 8 ? _mm256_loadu_ps(col + g) : _mm256_maskload_ps(col + g, lanes);
              store_first(dst + p_done * MR + g, v, std::min(MR - g, 8));
            }
          }
        }
      }
#endif
      for (int64_t p = p_done; p < kc; ++p) {
        const T* col = src + p * a.cs;
        int i = 0;
        for (; i < mr; ++i) dst[p * MR + i] = col[i * a.rs];
        for (; i < MR; ++i) dst[p * MR + i] = T(0);
      }
    }
    dst += kc * MR;
  }
}

// B rows [p0, p0 + kc), columns [j0, j0 + nr) -> one micro-panel of kc steps
// of NR values (zero columns past nr), for B whose rows are not contiguous
// (row-major B goes through rows_to_panels).
template <class T, int NR>
void pack_b_panel(ConstMatrix<T> b, int64_t p0, int64_t kc, int64_t j0, int nr, T* dst) {
  const T* src = b.data + p0 * b.rs + j0 * b.cs;
  if (b.rs == 1) {
    // Column-major B (a transposed weight, x @ w^T): 8 x 8 blocks transposed in
    // registers where they fit, the rest column by column.
    int64_t p_done = 0;
    int j_done = 0;
#if defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
      p_done = kc / 8 * 8;
      j_done = nr / 8 * 8;
      for (int64_t p = 0; p < p_done; p += 8)
        for (int j = 0; j < j_done; j += 8) transpose_rows_x8(src + j * b.cs + p, b.cs, 8, dst + p * NR + j, NR, 8);
    }
#endif
    for (int j = 0; j < nr; ++j) {
      const T* col = src + j * b.cs;
      for (int64_t p = j < j_done ? p_done : 0; p < kc; ++p) dst[p * NR + j] = col[p];
    }
    for (int j = nr; j < NR; ++j)
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = T(0);
  } else {
    for (int64_t p = 0; p < kc; ++p) {
      const T* row = src + p * b.rs;
      int j = 0;
      for (; j < nr; ++j) dst[p * NR + j] = row[j * b.cs];
      for (; j < NR; ++j) dst[p * NR + j] = T(0);
    }
  }
}

// Steps p .. p + rn (rn <= 8) of the ceil(n / NR) micro-panels at dst (each kc
// steps of NR values) from rows[0 .. rn), each holding that step's n values
// contiguously: whole panels as vector copies, the last partial panel's
// columns past n as zeros. The packers of contiguous rows share it.
template <class T, class V, int NR>
inline void rows_to_panels(const T* const* rows, int64_t rn, int64_t n, int64_t kc, int64_t p, T* dst) {
  const int64_t full = n / NR, tail = n - full * NR;
  for (int64_t jp = 0; jp < full; ++jp) {
    T* d = dst + jp * kc * NR + p * NR;
    for (int64_t q = 0; q < rn; ++q)
      for (int v = 0; v < NR; v += V::size) V::load(rows[q] + jp * NR + v).store(d + q * NR + v);
  }
  if (tail > 0) {
    T* d = dst + full * kc * NR + p * NR;
    for (int64_t q = 0; q < rn; ++q) {
      for (int64_t t = 0; t < tail; ++t) d[q * NR + t] = rows[q][full * NR + t];
      for (int64_t t = tail; t < NR; ++t) d[q * NR + t] = T(0);
    }
  }
}

// Where packed B micro-panels come from: a source's pack_range<V, NR>(p0,
// kc, j0, n, dst) writes rows [p0, p0 + kc) and columns [j0, j0 + n) of B as
// ceil(n / NR) consecutive micro-panels of kc steps of NR values (zeros in the
// last panel's columns past n). StridedB reads a strided matrix; the
// convolution's source (conv_gemm_kernel.hpp) reads an im2col view of an image.
template <class T>
struct StridedB {
  ConstMatrix<T> m;
  template <class V, int NR>
  void pack_range(int64_t p0, int64_t kc, int64_t j0, int64_t n, T* dst) const {
    if (m.cs != 1) {
      for (int64_t j = 0; j < n; j += NR)
        pack_b_panel<T, NR>(m, p0, kc, j0 + j, static_cast<int>(std::min<int64_t>(NR, n - j)), dst + (j / NR) * kc * NR);
      return;
    }
    // Row-major B: eight rows at a time across all panels, so each row is read
    // front to back (a panel at a time would read NR values per row and jump a
    // whole row ahead: a strided walk the prefetchers follow poorly).
    for (int64_t p = 0; p < kc; p += 8) {
      const T* rows[8];
      const int64_t rn = std::min<int64_t>(8, kc - p);
      for (int64_t q = 0; q < rn; ++q) rows[q] = m.data + (p0 + p + q) * m.rs + j0;
      rows_to_panels<T, V, NR>(rows, rn, n, kc, p, dst);
    }
  }
};

// The register tile: acc (MR x NV vectors) = sum over kc steps of a (MR) outer b (NR);
// then C = acc (add: C += acc) for the full tile when C's rows are contiguous,
// else through a small buffer with clipping to mr x nr and any strides.
template <class T, class V, int MR, int NV>
inline void micro_kernel(int64_t kc, const T* __restrict a, const T* __restrict b, T* c, int64_t rs, int64_t cs,
                         int mr, int nr, bool add) {
  constexpr int NR = NV * V::size;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  // C's tile is read (add) or written after the k loop: start its lines on
  // their way now, so the misses overlap the arithmetic.
  for (int i = 0; i < mr; ++i) {
    const T* row = c + i * rs;
    for (int j = 0; j < nr; j += 64 / static_cast<int>(sizeof(T))) __builtin_prefetch(row + j * cs, 1);
    __builtin_prefetch(row + (nr - 1) * cs, 1);
  }
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * V::size);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = V::broadcast(a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = fmadd(ai, bv[j], acc[i][j]);
    }
    a += MR;
    b += NR;
  }
  if (cs == 1 && mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      T* row = c + i * rs;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        V r = add ? V::load(row + j * V::size) + acc[i][j] : acc[i][j];
        r.store(row + j * V::size);
      }
    }
    return;
  }
  alignas(64) T tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NV; ++j) acc[i][j].store(tile + i * NR + j * V::size);
  for (int i = 0; i < mr; ++i) {
    T* row = c + i * rs;
    const T* src = tile + i * NR;
    if (add) {
      for (int j = 0; j < nr; ++j) row[j * cs] += src[j];
    } else {
      for (int j = 0; j < nr; ++j) row[j * cs] = src[j];
    }
  }
}

// All of A in one block (M <= MC: batch-sized linears, convolutions' output
// channels). A is packed once per K slab; the columns are cut into chunks that
// threads take in parallel, each packing its own KC x NCS piece of B into a
// per-thread buffer that stays in L2 while every row tile uses it. (The
// general path packs a whole KC x NC panel to L3 first, which pays off only
// when many A blocks reuse it.)
template <class T, int MR, class BSource>
void gemm_one_block(int64_t M, int64_t N, int64_t K, ConstMatrix<T> a, const BSource& b, Matrix<T> c, bool accumulate) {
  using V = typename VecOf<T>::type;
  using B = Blocking<T>;
  constexpr int NV = B::NV, NR = NV * V::size;
  constexpr int64_t KC = B::KC, NCS = B::NCS;
  static_assert(NCS % NR == 0, "chunks hold whole tiles");
  const int64_t m_tiles = (M + MR - 1) / MR;
  PanelLease<T> a_lease(static_cast<size_t>(m_tiles * MR * std::min(K, KC)));
  T* a_pack = a_lease.data();
  const int64_t threads = runtime::default_executor().num_threads();
  const int64_t n_panels = (N + NR - 1) / NR;
  // At least two chunks per thread when the columns allow, each at most NCS wide.
  const int64_t want = std::min(n_panels, 2 * threads);
  const int64_t panels_per_chunk = std::clamp<int64_t>((n_panels + want - 1) / want, 1, NCS / NR);
  const int64_t n_chunks = (n_panels + panels_per_chunk - 1) / panels_per_chunk;
  for (int64_t pc = 0; pc < K; pc += KC) {
    const int64_t kc = std::min(KC, K - pc);
    const bool add = accumulate || pc > 0;
    pack_a_block<T, MR>(a, 0, M, pc, kc, a_pack);
    const int64_t flops_per_chunk = 2 * M * kc * panels_per_chunk * NR;
    const int64_t grain = flops_per_chunk >= (int64_t{1} << 17) ? 1 : n_chunks;
    parallel_range(0, n_chunks, grain, [&](int64_t lo, int64_t hi) {
      T* b_pack = thread_scratch<T, 1>().get(static_cast<size_t>(kc * panels_per_chunk * NR));
      for (int64_t chunk = lo; chunk < hi; ++chunk) {
        const int64_t jp0 = chunk * panels_per_chunk, jp1 = std::min(n_panels, jp0 + panels_per_chunk);
        b.template pack_range<V, NR>(pc, kc, jp0 * NR, std::min(N, jp1 * NR) - jp0 * NR, b_pack);
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, N - jp * NR));
          const T* bp = b_pack + (jp - jp0) * kc * NR;
          for (int64_t ir = 0; ir < M; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, M - ir));
            micro_kernel<T, V, MR, NV>(kc, a_pack + (ir / MR) * kc * MR, bp, c.data + ir * c.rs + jp * NR * c.cs, c.rs,
                                       c.cs, mr, nr, add);
          }
        }
      }
    });
  }
}

template <class T, class BSource>
void gemm_packed(int64_t M, int64_t N, int64_t K, ConstMatrix<T> a, const BSource& b, Matrix<T> c, bool accumulate) {
  using V = typename VecOf<T>::type;
  using B = Blocking<T>;
  constexpr int MR = B::MR, NV = B::NV, NR = NV * V::size;
  constexpr int64_t KC = B::KC, MC = B::MC, NC = B::NC;
  static_assert(MC % MR == 0 && NC % NR == 0, "blocks hold whole tiles");
  if (M <= MC) {
    constexpr int MR_ALT = B::MR_ALT;
    if constexpr (MR_ALT != MR) {
      if ((M + MR_ALT - 1) / MR_ALT * MR_ALT < (M + MR - 1) / MR * MR) {
        gemm_one_block<T, MR_ALT>(M, N, K, a, b, c, accumulate);
        return;
      }
    }
    gemm_one_block<T, MR>(M, N, K, a, b, c, accumulate);
    return;
  }

  const int64_t kc_max = std::min(K, KC);
  const int64_t nc_max = std::min((N + NR - 1) / NR * NR, NC);
  PanelLease<T> panel(static_cast<size_t>(kc_max * nc_max));
  T* b_pack = panel.data();
  const int threads = runtime::default_executor().num_threads();
  // A blocks of equal height (at most MC, whole tiles), their count a multiple
  // of the threads where that keeps blocks of a few tiles: M = 1024 in blocks
  // of at most 144 would be 7 full blocks and a sliver, which two threads
  // share as 4 + 3-and-a-sliver; eight blocks of 128 split evenly.
  int64_t m_blocks = (M + MC - 1) / MC;
  if (const int64_t even = (m_blocks + threads - 1) / threads * threads; M / even >= 4 * MR) m_blocks = even;
  const int64_t mcb = ((M + m_blocks - 1) / m_blocks + MR - 1) / MR * MR;
  m_blocks = (M + mcb - 1) / mcb;

  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t n_panels = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const bool add = accumulate || pc > 0;
      const int64_t pack_grain = std::max<int64_t>(1, 16384 / (kc * NR));
      parallel_range(0, n_panels, pack_grain, [&](int64_t lo, int64_t hi) {
        b.template pack_range<V, NR>(pc, kc, jc + lo * NR, std::min(nc, hi * NR) - lo * NR, b_pack + lo * kc * NR);
      });
      // Tasks: A blocks x column ranges, enough of them to keep every thread busy.
      const int64_t want = 4 * static_cast<int64_t>(threads);
      const int64_t n_chunks = std::clamp<int64_t>((want + m_blocks - 1) / m_blocks, 1, n_panels);
      const int64_t panels_per_chunk = (n_panels + n_chunks - 1) / n_chunks;
      const int64_t flops_per_task = 2 * mcb * kc * panels_per_chunk * NR;
      const int64_t task_grain = flops_per_task >= (int64_t{1} << 17) ? 1 : m_blocks * n_chunks;
      parallel_range(0, m_blocks * n_chunks, task_grain, [&](int64_t lo, int64_t hi) {
        T* a_pack = thread_scratch<T, 0>().get(static_cast<size_t>(MC * kc));
        int64_t packed = -1;
        for (int64_t task = lo; task < hi; ++task) {
          const int64_t ib = task / n_chunks, chunk = task % n_chunks;
          const int64_t i0 = ib * mcb, mc = std::min(mcb, M - i0);
          if (ib != packed) {
            pack_a_block<T, MR>(a, i0, mc, pc, kc, a_pack);
            packed = ib;
          }
          const int64_t jp_end = std::min(n_panels, (chunk + 1) * panels_per_chunk);
          for (int64_t jp = chunk * panels_per_chunk; jp < jp_end; ++jp) {
            const int64_t jr = jp * NR;
            const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
            const T* bp = b_pack + jp * kc * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
              micro_kernel<T, V, MR, NV>(kc, a_pack + (ir / MR) * kc * MR, bp,
                                         c.data + (i0 + ir) * c.rs + (jc + jr) * c.cs, c.rs, c.cs, mr, nr, add);
            }
          }
        }
      });
    }
  }
}

}  // namespace gemm_detail

void sgemm(int64_t M, int64_t N, int64_t K, ConstMatrix<float> a, ConstMatrix<float> b, Matrix<float> c, bool accumulate) {
  gemm_detail::gemm_packed<float>(M, N, K, a, gemm_detail::StridedB<float>{b}, c, accumulate);
}
void dgemm(int64_t M, int64_t N, int64_t K, ConstMatrix<double> a, ConstMatrix<double> b, Matrix<double> c,
           bool accumulate) {
  gemm_detail::gemm_packed<double>(M, N, K, a, gemm_detail::StridedB<double>{b}, c, accumulate);
}

}  // namespace ember::cpu::EMBER_ISA_NS
