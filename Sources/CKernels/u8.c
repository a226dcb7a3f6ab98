// 8-bit activation kernels (see include/ckernels.h): quantiser, column sums, the widening step for
// families without a byte multiply, the plain twin and, on x86, the VNNI drivers (u8_tiles.h).
#include "ckernels.h"
#include "i8_gemm_loops.h"
#include <math.h>
#include <string.h>

#define PANEL SSAST_I8_PANEL

long ssast_u8_stride(long kPad) { return (kPad + 3) & ~3L; }

// Scale, its inverse and the zero point of a row whose range (with 0) is [lo, hi].
static void u8_row_params(float lo, float hi, float *scale, float *inv, int32_t *zero) {
    float range = hi - lo;
    if (range > 0) {
        *scale = range / 255.0f;
        *inv = 255.0f / range;
        *zero = (int32_t)nearbyintf(-lo * *inv);
    } else {
        *scale = 1.0f; *inv = 0.0f; *zero = 0;
    }
}

static inline uint8_t u8_level(float x, float inv, int32_t zero) {
    // nearbyintf: round half to even, as cvtps2dq does in the AVX2 twin.
    int32_t v = (int32_t)nearbyintf(x * inv) + zero;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

void ssast_u8_quantize_generic(const float *x, long ldx, long r0, long r1, long k, long stride, uint8_t *u, int32_t *zero,
                               float *scale) {
    for (long i = r0; i < r1; i++) {
        const float *xr = x + i * ldx;
        float lo = 0, hi = 0, inv;
        for (long kk = 0; kk < k; kk++) { lo = xr[kk] < lo ? xr[kk] : lo; hi = xr[kk] > hi ? xr[kk] : hi; }
        u8_row_params(lo, hi, &scale[i], &inv, &zero[i]);
        uint8_t *q = u + i * stride;
        for (long kk = 0; kk < k; kk++) q[kk] = u8_level(xr[kk], inv, zero[i]);
        memset(q + k, (int)zero[i], (size_t)(stride - k));
    }
}

void ssast_i8_colsums(const int8_t *q, long n, long kPad, long p0, long p1, int32_t *colsum) {
    long pairs = kPad / 2;
    for (long p = p0; p < p1; p++) {
        const int8_t *wp = q + p * kPad * PANEL;
        // Over each pair's 64 contiguous bytes (channel j's two weights at 2j, 2j+1), so the loop vectorises.
        int32_t s[2 * PANEL] = {0};
        for (long g = 0; g < pairs; g++)
            for (long b = 0; b < 2 * PANEL; b++) s[b] += wp[g * 2 * PANEL + b];
        for (long j = 0; j < PANEL && p * PANEL + j < n; j++) colsum[p * PANEL + j] = s[2 * j] + s[2 * j + 1];
    }
}

void ssast_u8_widen(const ssast_u8_rows *X, long r0, long r1, long kPad, int16_t *xq) {
    for (long i = r0; i < r1; i++) {
        const uint8_t *u = X->u + i * X->stride;
        int32_t z = X->zero[i];
        for (long kk = 0; kk < kPad; kk++) xq[i * kPad + kk] = (int16_t)(u[kk] - z);
    }
}

void ssast_u8_gemm_generic(SSAST_U8_GEMM_ARGS) {
    long kPad = W->kPad, pairs = kPad / 2;
    for (long i = r0; i < r1; i++) {
        const uint8_t *u = X->u + i * X->stride;
        int32_t z = X->zero[i];
        for (long p = p0; p < p1; p++) {
            for (long j = 0; j < PANEL && p * PANEL + j < W->n; j++) {
                long col = p * PANEL + j;
                const int8_t *wp = W->q + p * kPad * PANEL + 2 * j;
                int32_t acc = 0;
                for (long g = 0; g < pairs; g++)
                    acc += (u[2 * g] - z) * wp[g * 2 * PANEL] + (u[2 * g + 1] - z) * wp[g * 2 * PANEL + 1];
                ssast_i8_store_row(&acc, 1, X->scale[i], W->scale + col, W->bias ? W->bias + col : 0,
                                   Y->y + i * Y->ldy + col, Y->accumulate);
            }
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2_ATTR __attribute__((target("avx2,fma,f16c")))

AVX2_ATTR void ssast_u8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long stride, uint8_t *u,
                                      int32_t *zero, float *scale) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (long i = r0; i < r1; i++) {
        const float *xr = x + i * ldx;
        __m256 lov = _mm256_setzero_ps(), hiv = lov;
        long kk = 0;
        for (; kk + 8 <= k; kk += 8) {
            __m256 v = _mm256_loadu_ps(xr + kk);
            lov = _mm256_min_ps(lov, v); hiv = _mm256_max_ps(hiv, v);
        }
        float l8[8], h8[8], lo = 0, hi = 0, inv;
        _mm256_storeu_ps(l8, lov); _mm256_storeu_ps(h8, hiv);
        for (int l = 0; l < 8; l++) { lo = l8[l] < lo ? l8[l] : lo; hi = h8[l] > hi ? h8[l] : hi; }
        for (; kk < k; kk++) { lo = xr[kk] < lo ? xr[kk] : lo; hi = xr[kk] > hi ? xr[kk] : hi; }
        u8_row_params(lo, hi, &scale[i], &inv, &zero[i]);
        uint8_t *q = u + i * stride;
        __m256 iv = _mm256_set1_ps(inv);
        __m256i z = _mm256_set1_epi32(zero[i]);
        kk = 0;
        for (; kk + 32 <= k; kk += 32) {
            __m256i a = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + kk), iv)), z);
            __m256i b = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + kk + 8), iv)), z);
            __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + kk + 16), iv)), z);
            __m256i d = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + kk + 24), iv)), z);
            // Saturating packs clamp exactly as the scalar twin (levels lie within ±510); they work per
            // 128-bit lane, and the permute restores element order.
            __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
            _mm256_storeu_si256((__m256i *)(q + kk), _mm256_permutevar8x32_epi32(bytes, order));
        }
        for (; kk < k; kk++) q[kk] = u8_level(xr[kk], inv, zero[i]);
        memset(q + k, (int)zero[i], (size_t)(stride - k));
    }
}

#define U8_ATTR512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define U8_ATTR256 __attribute__((target("avx2,fma,f16c,avxvnni")))
#define U8_DPBUSD256(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
#define U8_NAME(name) name
#include "u8_tiles.h"

#else
void ssast_u8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long stride, uint8_t *u, int32_t *zero,
                            float *scale) {
    ssast_u8_quantize_generic(x, ldx, r0, r1, k, stride, u, zero, scale);
}
void ssast_u8_gemm_avx512vnni(SSAST_U8_GEMM_ARGS) { ssast_u8_gemm_generic(X, r0, r1, W, p0, p1, Y); }
void ssast_u8_gemm_avxvnni(SSAST_U8_GEMM_ARGS) { ssast_u8_gemm_generic(X, r0, r1, W, p0, p1, Y); }
#endif
