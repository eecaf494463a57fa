// Cache-blocked GEMM core (see gemm.hpp for the contract).
//
// Loop nest (Goto/BLIS order):
//   jc over N in kNC columns   B panel (KC x NC) packed once, shared by all tasks (L3)
//   pc over K in kKC depth     first slab writes C (unless accumulating), later ones add
//   task = (ic block of kMC rows, kNT columns of the panel), run with parallel_range:
//     pack the A block (MC x KC, L2) into MR-row micro-panels
//     jr over NR columns, ir over MR rows: micro_kernel (an MR x NR register tile)
// Packing zero-pads the tails, so the micro-kernel always runs a full tile and
// only the store is clipped. Packing also converts: Half/BFloat16 -> float,
// signed ints -> unsigned (wrap-around arithmetic without undefined behaviour).
//
// Ceilings: 2*M*N*K FLOPs; bytes moved ~ (M*K*ceil(N/NC) + K*N + 2*M*N*ceil(K/KC)) * itemsize.
// This is the scalar path and the reference: compiled for baseline x86-64
// (SSE2, no FMA), it sustains about 8-10 GFLOP/s float32 per core. gemm()
// sends float32/float64 to the packed per-ISA GEMM (gemm_kernel.hpp) when the
// CPU has AVX2 or AVX-512.
#include <ember/kernels/cpu/gemm.hpp>

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include <ember/kernels/cpu/isa.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>

namespace ember::cpu {
namespace {

// The arithmetic type of the packed panels and accumulators.
template <class T> struct AccOf { using type = T; };
template <> struct AccOf<Half> { using type = float; };
template <> struct AccOf<BFloat16> { using type = float; };
template <> struct AccOf<int32_t> { using type = uint32_t; };
template <> struct AccOf<int64_t> { using type = uint64_t; };
template <class T> using Acc = typename AccOf<T>::type;

// Register tile per accumulator type: MR x NR accumulators live in vector registers.
template <class A> struct Tile;
template <> struct Tile<float> { static constexpr int MR = 6, NR = 8; };
template <> struct Tile<double> { static constexpr int MR = 6, NR = 4; };
template <> struct Tile<uint32_t> { static constexpr int MR = 4, NR = 8; };
template <> struct Tile<uint64_t> { static constexpr int MR = 4, NR = 4; };

constexpr int64_t kKC = 256;   // depth of a packed slab
constexpr int64_t kMC = 96;    // rows of an A block (multiple of every MR)
constexpr int64_t kNC = 2048;  // columns of a packed B panel
constexpr int64_t kNT = 128;   // columns of C per task (multiple of every NR)
// Below this many multiply-adds the packing overhead is not worth it.
constexpr int64_t kSmallWork = 8 * 8 * 8 * 8;

template <class A, class S>
inline A load(S v) {
  if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) return static_cast<float>(v);
  else return static_cast<A>(v);
}

// A rows [i0, i0 + mc), columns [p0, p0 + kc) -> ceil(mc / MR) micro-panels of kc x MR.
template <class A, int MR, class S>
void pack_a_block(const ConstMatrix<S>& a, int64_t i0, int64_t mc, int64_t p0, int64_t kc, A* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min<int64_t>(MR, mc - ir);
    const S* src = a.data + (i0 + ir) * a.rs + p0 * a.cs;
    for (int64_t p = 0; p < kc; ++p) {
      const S* col = src + p * a.cs;
      int64_t i = 0;
      for (; i < mr; ++i) dst[i] = load<A>(col[i * a.rs]);
      for (; i < MR; ++i) dst[i] = A(0);
      dst += MR;
    }
  }
}

// B rows [p0, p0 + kc), columns [j0 + panel * NR, ...) -> one micro-panel of kc x NR.
template <class A, int NR, class S>
void pack_b_panel(const ConstMatrix<S>& b, int64_t p0, int64_t kc, int64_t j0, int64_t nr, A* dst) {
  const S* src = b.data + p0 * b.rs + j0 * b.cs;
  for (int64_t p = 0; p < kc; ++p) {
    const S* row = src + p * b.rs;
    int64_t j = 0;
    if (b.cs == 1) {
      for (; j < nr; ++j) dst[j] = load<A>(row[j]);
    } else {
      for (; j < nr; ++j) dst[j] = load<A>(row[j * b.cs]);
    }
    for (; j < NR; ++j) dst[j] = A(0);
    dst += NR;
  }
}

// acc (MR x NR, row-major) = sum over p of a[p] (MR) outer b[p] (NR).
template <class A, int MR, int NR>
inline void micro_kernel(int64_t kc, const A* __restrict a, const A* __restrict b, A* __restrict out) {
  A acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < MR; ++i) {
      const A ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) out[i * NR + j] = acc[i][j];
}

// Writes (or adds) the valid mr x nr corner of a tile into C (of compute type C_t).
template <class A, class CT, int NR>
inline void store_tile(const A* acc, int64_t mr, int64_t nr, CT* c, int64_t rs, int64_t cs, bool add) {
  for (int64_t i = 0; i < mr; ++i) {
    CT* row = c + i * rs;
    const A* src = acc + i * NR;
    if (add) {
      for (int64_t j = 0; j < nr; ++j) row[j * cs] = static_cast<CT>(static_cast<A>(row[j * cs]) + src[j]);
    } else {
      for (int64_t j = 0; j < nr; ++j) row[j * cs] = static_cast<CT>(src[j]);
    }
  }
}

// Small problems: a direct triple loop (no packing, no allocation).
template <class A, class S, class CT>
void gemm_small(int64_t M, int64_t N, int64_t K, ConstMatrix<S> a, ConstMatrix<S> b, Matrix<CT> c, bool accumulate) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      A sum = A(0);
      for (int64_t p = 0; p < K; ++p) sum += load<A>(a.data[i * a.rs + p * a.cs]) * load<A>(b.data[p * b.rs + j * b.cs]);
      CT& dst = c.data[i * c.rs + j * c.cs];
      dst = accumulate ? static_cast<CT>(static_cast<A>(dst) + sum) : static_cast<CT>(sum);
    }
  }
}

// The blocked driver. S: storage type of A and B; CT: type of C (S, or float for Half/BFloat16).
template <class S, class CT>
void gemm_blocked(int64_t M, int64_t N, int64_t K, ConstMatrix<S> a, ConstMatrix<S> b, Matrix<CT> c, bool accumulate) {
  using A = Acc<S>;
  constexpr int MR = Tile<A>::MR, NR = Tile<A>::NR;
  if (M * N * K <= kSmallWork) {
    gemm_small<A>(M, N, K, a, b, c, accumulate);
    return;
  }
  const int64_t kc_max = std::min(K, kKC);
  const int64_t nc_max = std::min((N + NR - 1) / NR * NR, kNC);
  std::unique_ptr<A[]> b_pack(new A[static_cast<size_t>(kc_max * nc_max)]);
  for (int64_t jc = 0; jc < N; jc += kNC) {
    const int64_t nc = std::min(kNC, N - jc);
    const int64_t n_panels = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const bool add = accumulate || pc > 0;
      // Pack the B panel (disjoint micro-panels per chunk).
      const int64_t pack_grain = std::max<int64_t>(1, kGrain / (kc * NR));
      parallel_range(0, n_panels, pack_grain, [&](int64_t lo, int64_t hi) {
        for (int64_t jp = lo; jp < hi; ++jp) {
          pack_b_panel<A, NR>(b, pc, kc, jc + jp * NR, std::min<int64_t>(NR, nc - jp * NR), b_pack.get() + jp * kc * NR);
        }
      });
      // Tasks: (A block, column range) pairs; each writes its own C tile.
      const int64_t m_blocks = (M + kMC - 1) / kMC;
      const int64_t n_tasks = (nc + kNT - 1) / kNT;
      parallel_range(0, m_blocks * n_tasks, 1, [&](int64_t lo, int64_t hi) {
        std::unique_ptr<A[]> a_pack(new A[static_cast<size_t>(kMC * kc)]);
        int64_t packed_block = -1;
        alignas(64) A acc[MR * NR];
        for (int64_t task = lo; task < hi; ++task) {
          const int64_t ib = task / n_tasks, jt = task % n_tasks;
          const int64_t i0 = ib * kMC, mc = std::min(kMC, M - i0);
          if (ib != packed_block) {
            pack_a_block<A, MR>(a, i0, mc, pc, kc, a_pack.get());
            packed_block = ib;
          }
          const int64_t j_end = std::min(nc, (jt + 1) * kNT);
          for (int64_t jr = jt * kNT; jr < j_end; jr += NR) {
            const int64_t nr = std::min<int64_t>(NR, nc - jr);
            const A* bp = b_pack.get() + (jr / NR) * kc * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int64_t mr = std::min<int64_t>(MR, mc - ir);
              micro_kernel<A, MR, NR>(kc, a_pack.get() + (ir / MR) * kc * MR, bp, acc);
              store_tile<A, CT, NR>(acc, mr, nr, c.data + (i0 + ir) * c.rs + (jc + jr) * c.cs, c.rs, c.cs, add);
            }
          }
        }
      });
    }
  }
}

// rows x cols of a strided 16-bit matrix, widened into a dense row-major float buffer (rows split across the pool).
// bfloat16 rows with unit column stride go through the ISA's vector conversion.
template <class T>
void widen(ConstMatrix<T> m, int64_t rows, int64_t cols, float* out) {
  const VecKernels* vk = std::is_same_v<T, BFloat16> && m.cs == 1 ? vec_kernels() : nullptr;
  parallel_range(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      if constexpr (std::is_same_v<T, BFloat16>) {
        if (vk != nullptr) {
          vk->bf16_to_f32(out + i * cols, &m.data[i * m.rs].bits, cols);
          continue;
        }
      }
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = static_cast<float>(m.data[i * m.rs + j * m.cs]);
    }
  });
}

// The other way: c = fc (rows x cols, dense row-major) rounded, once per element.
template <class T>
void narrow(const float* fc, int64_t rows, int64_t cols, Matrix<T> c) {
  const VecKernels* vk = std::is_same_v<T, BFloat16> && c.cs == 1 ? vec_kernels() : nullptr;
  parallel_range(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      if constexpr (std::is_same_v<T, BFloat16>) {
        if (vk != nullptr) {
          vk->f32_to_bf16(&c.data[i * c.rs].bits, fc + i * cols, cols);
          continue;
        }
      }
      for (int64_t j = 0; j < cols; ++j) c.data[i * c.rs + j * c.cs] = T(fc[i * cols + j]);
    }
  });
}

// float16/bfloat16 with C accumulated in float and rounded once, as the
// reference path computes: bfloat16 on the AVX-512 BF16 dot products where
// the CPU has them, else the packed float32 GEMM on A and B widened (exactly)
// to float, at its speed plus one pass over each operand.
template <class T>
void gemm_16bit_packed(Isa isa, int64_t M, int64_t N, int64_t K, ConstMatrix<T> a, ConstMatrix<T> b, Matrix<T> c,
                       bool accumulate) {
  // C in float; written in full by the GEMM unless accumulating, so not zeroed.
  std::unique_ptr<float[]> fc(new float[static_cast<size_t>(M * N)]);
  if (accumulate) widen(ConstMatrix<T>{c.data, c.rs, c.cs}, M, N, fc.get());
  const Matrix<float> C{fc.get(), N, 1};
  bool done = false;
  if constexpr (std::is_same_v<T, BFloat16>) {
    if (isa == Isa::avx512 && cpu_has_avx512_bf16()) {
      avx512bf16::bf16gemm(M, N, K, a, b, C, accumulate);
      done = true;
    }
  }
  if (!done) {
    std::unique_ptr<float[]> fa(new float[static_cast<size_t>(M * K)]), fb(new float[static_cast<size_t>(K * N)]);
    widen(a, M, K, fa.get());
    widen(b, K, N, fb.get());
    const ConstMatrix<float> A{fa.get(), K, 1}, B{fb.get(), N, 1};
    if (isa == Isa::avx512) avx512::sgemm(M, N, K, A, B, C, accumulate);
    else avx2::sgemm(M, N, K, A, B, C, accumulate);
  }
  narrow(fc.get(), M, N, c);
}

}  // namespace

template <class T>
void gemm(int64_t M, int64_t N, int64_t K, ConstMatrix<T> a, ConstMatrix<T> b, Matrix<T> c, bool accumulate) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    if (M > 0 && N > 0 && K > 0 && M * N * K > kSmallWork) {
      const Isa isa = active_cpu_isa();
      if (isa == Isa::avx512 || isa == Isa::avx2) return gemm_16bit_packed(isa, M, N, K, a, b, c, accumulate);
    }
  }
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    // Tiny products stay on the unpacked loop: packing would cost more than it saves.
    if (M > 0 && N > 0 && K > 0 && M * N * K > kSmallWork) {
      const Isa isa = active_cpu_isa();
      if (isa == Isa::avx512) {
        if constexpr (std::is_same_v<T, float>) avx512::sgemm(M, N, K, a, b, c, accumulate);
        else avx512::dgemm(M, N, K, a, b, c, accumulate);
        return;
      }
      if (isa == Isa::avx2) {
        if constexpr (std::is_same_v<T, float>) avx2::sgemm(M, N, K, a, b, c, accumulate);
        else avx2::dgemm(M, N, K, a, b, c, accumulate);
        return;
      }
    }
  }
  gemm_reference<T>(M, N, K, a, b, c, accumulate);
}

template <class T>
void gemm_reference(int64_t M, int64_t N, int64_t K, ConstMatrix<T> a, ConstMatrix<T> b, Matrix<T> c, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) c.data[i * c.rs + j * c.cs] = T(0);
    }
    return;
  }
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) {
    // Accumulate in a float copy of C, round once at the end.
    std::vector<float> scratch(static_cast<size_t>(M * N), 0.0f);
    if (accumulate) {
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) scratch[static_cast<size_t>(i * N + j)] = static_cast<float>(c.data[i * c.rs + j * c.cs]);
    }
    gemm_blocked<T, float>(M, N, K, a, b, Matrix<float>{scratch.data(), N, 1}, accumulate);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) c.data[i * c.rs + j * c.cs] = T(scratch[static_cast<size_t>(i * N + j)]);
  } else {
    gemm_blocked<T, T>(M, N, K, a, b, c, accumulate);
  }
}

template void gemm<float>(int64_t, int64_t, int64_t, ConstMatrix<float>, ConstMatrix<float>, Matrix<float>, bool);
template void gemm<double>(int64_t, int64_t, int64_t, ConstMatrix<double>, ConstMatrix<double>, Matrix<double>, bool);
template void gemm<Half>(int64_t, int64_t, int64_t, ConstMatrix<Half>, ConstMatrix<Half>, Matrix<Half>, bool);
template void gemm<BFloat16>(int64_t, int64_t, int64_t, ConstMatrix<BFloat16>, ConstMatrix<BFloat16>, Matrix<BFloat16>, bool);
template void gemm<int32_t>(int64_t, int64_t, int64_t, ConstMatrix<int32_t>, ConstMatrix<int32_t>, Matrix<int32_t>, bool);
template void gemm<int64_t>(int64_t, int64_t, int64_t, ConstMatrix<int64_t>, ConstMatrix<int64_t>, Matrix<int64_t>, bool);

template void gemm_reference<float>(int64_t, int64_t, int64_t, ConstMatrix<float>, ConstMatrix<float>, Matrix<float>, bool);
template void gemm_reference<double>(int64_t, int64_t, int64_t, ConstMatrix<double>, ConstMatrix<double>, Matrix<double>, bool);
template void gemm_reference<Half>(int64_t, int64_t, int64_t, ConstMatrix<Half>, ConstMatrix<Half>, Matrix<Half>, bool);
template void gemm_reference<BFloat16>(int64_t, int64_t, int64_t, ConstMatrix<BFloat16>, ConstMatrix<BFloat16>, Matrix<BFloat16>, bool);
template void gemm_reference<int32_t>(int64_t, int64_t, int64_t, ConstMatrix<int32_t>, ConstMatrix<int32_t>, Matrix<int32_t>, bool);
template void gemm_reference<int64_t>(int64_t, int64_t, int64_t, ConstMatrix<int64_t>, ConstMatrix<int64_t>, Matrix<int64_t>, bool);

}  // namespace ember::cpu
