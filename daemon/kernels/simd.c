/* SPDX-License-Identifier: MIT */
/* Run-time CPU dispatch shared by the kernels, so the binary runs on any x86-64. */
#include "kernels/simd.h"

const char *simd_impl_name(enum simd_impl impl)
{
	switch (impl) {
	case SIMD_SCALAR:
		return "scalar";
	case SIMD_AVX2:
		return "avx2";
	case SIMD_AVX512:
		return "avx512";
	default:
		return "?";
	}
}

bool simd_impl_supported(enum simd_impl impl)
{
	switch (impl) {
	case SIMD_SCALAR:
		return true;
#if SIMD_HAVE_X86
	/* libgcc's checks include the OS having enabled the register state (XCR0), not just CPUID. */
	case SIMD_AVX2:
		return __builtin_cpu_supports("avx2");
	case SIMD_AVX512:
		return __builtin_cpu_supports("avx512f");
#endif
	default:
		return false;
	}
}

enum simd_impl simd_best_impl(void)
{
	if (simd_impl_supported(SIMD_AVX512))
		return SIMD_AVX512;
	if (simd_impl_supported(SIMD_AVX2))
		return SIMD_AVX2;
	return SIMD_SCALAR;
}
