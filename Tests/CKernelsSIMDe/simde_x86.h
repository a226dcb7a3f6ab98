// The x86 intrinsic names CKernels' byte kernels use, mapped to SIMDe's portable implementations
// (Debian libsimde-dev, header-only), for building them a second time in the test build. (The names are
// mapped one by one: SIMDe's blanket native aliases clash with clang's own bf16 vector types.)
#ifndef SSAST_SIMDE_X86_H
#define SSAST_SIMDE_X86_H
// SIMDe passes 512-bit vectors by value without AVX-512 enabled; the ABI note does not matter here.
#pragma GCC diagnostic ignored "-Wpsabi"
#include <simde/x86/avx2.h>
#include <simde/x86/avx512/dpbusd.h>
#include <simde/x86/avx512/loadu.h>
#include <simde/x86/avx512/permutex2var.h>
#include <simde/x86/avx512/set1.h>
#include <simde/x86/avx512/setzero.h>
#include <simde/x86/avx512/storeu.h>
#include <simde/x86/avx512/unpackhi.h>
#include <simde/x86/avx512/unpacklo.h>
#include <simde/x86/avx512/add.h>
#include <simde/x86/avx512/cvt.h>
#include <simde/x86/avx512/mul.h>
#include <simde/x86/avx512/mullo.h>
#include <simde/x86/avx512/sub.h>

#define __m512i simde__m512i
#define __m256i simde__m256i
#define __m512 simde__m512
#define __m256 simde__m256
#define _mm512_sub_epi32 simde_mm512_sub_epi32
#define _mm512_mullo_epi32 simde_mm512_mullo_epi32
#define _mm512_cvtepi32_ps cvtepi32_ps_512
#define _mm512_mul_ps simde_mm512_mul_ps
#define _mm512_add_ps simde_mm512_add_ps
#define _mm512_loadu_ps simde_mm512_loadu_ps
#define _mm512_storeu_ps simde_mm512_storeu_ps
#define _mm512_set1_ps simde_mm512_set1_ps
#define _mm256_sub_epi32 simde_mm256_sub_epi32
#define _mm256_mullo_epi32 simde_mm256_mullo_epi32
#define _mm256_cvtepi32_ps simde_mm256_cvtepi32_ps
#define _mm256_mul_ps simde_mm256_mul_ps
#define _mm256_add_ps simde_mm256_add_ps
#define _mm256_loadu_ps simde_mm256_loadu_ps
#define _mm256_storeu_ps simde_mm256_storeu_ps
#define _mm256_set1_ps simde_mm256_set1_ps
#define _mm512_setzero_si512 simde_mm512_setzero_si512
#define _mm512_loadu_si512 simde_mm512_loadu_si512
#define _mm512_storeu_si512 simde_mm512_storeu_si512
#define _mm512_set1_epi32 simde_mm512_set1_epi32
#define _mm512_unpacklo_epi16 simde_mm512_unpacklo_epi16
#define _mm512_unpackhi_epi16 simde_mm512_unpackhi_epi16
#define _mm512_dpbusd_epi32 simde_mm512_dpbusd_epi32
#define _mm512_permutex2var_epi32 simde_mm512_permutex2var_epi32
#define _mm512_add_epi32 simde_mm512_add_epi32
#define _mm256_add_epi32 simde_mm256_add_epi32
#define _mm256_setzero_si256 simde_mm256_setzero_si256
#define _mm256_loadu_si256 simde_mm256_loadu_si256
#define _mm256_storeu_si256 simde_mm256_storeu_si256
#define _mm256_set1_epi32 simde_mm256_set1_epi32
#define _mm256_unpacklo_epi16 simde_mm256_unpacklo_epi16
#define _mm256_unpackhi_epi16 simde_mm256_unpackhi_epi16
#define _mm256_permute2x128_si256 simde_mm256_permute2x128_si256

// SIMDe (0.8) has no 512-bit int -> float conversion: lane by lane, rounding to nearest as vcvtdq2ps does.
static inline simde__m512 cvtepi32_ps_512(simde__m512i a) {
    int32_t t[16];
    float f[16];
    simde_mm512_storeu_si512(t, a);
    for (int i = 0; i < 16; i++) f[i] = (float)t[i];
    return simde_mm512_loadu_ps(f);
}

#endif
