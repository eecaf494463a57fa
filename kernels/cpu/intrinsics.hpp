// immintrin.h for the per-ISA kernel files (vec.hpp, the *_avx512bf16.cpp files).
//
// g++ 12's AVX-512 intrinsics pass an undefined vector as the unused merge
// source, which -Wuninitialized reports at every inlined use (GCC bug 105593);
// the warning is located in the header, so silencing it here is enough.
#pragma once

#if defined(__AVX2__) || defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
