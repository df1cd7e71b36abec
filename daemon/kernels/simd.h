/* SPDX-License-Identifier: MIT */
/* Which vector instruction set a kernel runs with: one choice, made at run time, for all kernels. */
#ifndef PARD_KERNELS_SIMD_H
#define PARD_KERNELS_SIMD_H

#include <stdbool.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define SIMD_HAVE_X86 1
#else
#define SIMD_HAVE_X86 0
#endif

/* Every kernel gives bit-identical results whichever of these it runs with. */
enum simd_impl { SIMD_SCALAR = 0, SIMD_AVX2 = 1, SIMD_AVX512 = 2, SIMD_IMPL_COUNT };

/* "scalar", "avx2", "avx512", or "?" for an out-of-range value. */
const char *simd_impl_name(enum simd_impl impl);
/* True when this build and this CPU can run impl (scalar always can). */
bool simd_impl_supported(enum simd_impl impl);
/* The fastest implementation this CPU supports: what the kernels use. */
enum simd_impl simd_best_impl(void);

#endif
