// int8 x int8 -> int32 linear kernels (see include/ckernels.h for the layouts).
#include "ckernels.h"
#include "i8_gemm_loops.h"
#include <math.h>
#include <string.h>

#define PANEL SSAST_I8_PANEL
#define TILE_ROWS 6

static float row_scale(float m, float qmax) { return m > 0 ? m / qmax : 1.0f; }

void ssast_i8_quantize_generic(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs) {
    for (long i = r0; i < r1; i++) {
        const float *xr = x + i * ldx;
        float m = 0;
        for (long kk = 0; kk < k; kk++) { float a = fabsf(xr[kk]); m = a > m ? a : m; }
        float s = row_scale(m, qmax), inv = m > 0 ? qmax / m : 0.0f;
        xs[i] = s;
        int16_t *q = xq + i * kPad;
        // nearbyintf: round half to even, as cvtps2dq does in the AVX2 twin.
        for (long kk = 0; kk < k; kk++) q[kk] = (int16_t)nearbyintf(xr[kk] * inv);
        for (long kk = k; kk < kPad; kk++) q[kk] = 0;
    }
}

#if defined(__x86_64__)
#include <emmintrin.h>
// SSE2 is part of the x86-64 baseline, so the generic kernel can use pmaddwd: 6 rows x 8 channels.
static void tile_sse2(const int16_t *const xr[TILE_ROWS], long pairs, const int8_t *w, int32_t out[TILE_ROWS][8]) {
    __m128i acc[TILE_ROWS][2];
    for (int r = 0; r < TILE_ROWS; r++) acc[r][0] = acc[r][1] = _mm_setzero_si128();
    for (long q = 0; q < pairs; q++) {
        __m128i raw = _mm_loadu_si128((const __m128i *)(w + q * 2 * PANEL));  // 8 channels x 2 k
        __m128i w0 = _mm_srai_epi16(_mm_unpacklo_epi8(raw, raw), 8);          // sign-extend to int16
        __m128i w1 = _mm_srai_epi16(_mm_unpackhi_epi8(raw, raw), 8);
        for (int r = 0; r < TILE_ROWS; r++) {
            int32_t pair; memcpy(&pair, xr[r] + 2 * q, 4);
            __m128i v = _mm_set1_epi32(pair);
            acc[r][0] = _mm_add_epi32(acc[r][0], _mm_madd_epi16(v, w0));
            acc[r][1] = _mm_add_epi32(acc[r][1], _mm_madd_epi16(v, w1));
        }
    }
    for (int r = 0; r < TILE_ROWS; r++) {
        _mm_storeu_si128((__m128i *)out[r], acc[r][0]);
        _mm_storeu_si128((__m128i *)(out[r] + 4), acc[r][1]);
    }
}

void ssast_i8_gemm_generic(SSAST_I8_GEMM_ARGS) { SSAST_I8_GEMM_LOOPS(TILE_ROWS, 8, tile_sse2, SSAST_I8_STORE_ROWS); }
#else
// Plain C (no x86 SIMD): 6 rows x 32 channels, the compiler vectorises the channel loop.
static void tile_scalar(const int16_t *const xr[TILE_ROWS], long pairs, const int8_t *w, int32_t out[TILE_ROWS][PANEL]) {
    for (int r = 0; r < TILE_ROWS; r++) {
        for (int c = 0; c < PANEL; c++) out[r][c] = 0;
        for (long q = 0; q < pairs; q++) {
            int32_t a = xr[r][2 * q], b = xr[r][2 * q + 1];
            const int8_t *wq = w + q * 2 * PANEL;
            for (int c = 0; c < PANEL; c++) out[r][c] += a * wq[2 * c] + b * wq[2 * c + 1];
        }
    }
}

void ssast_i8_gemm_generic(SSAST_I8_GEMM_ARGS) { SSAST_I8_GEMM_LOOPS(TILE_ROWS, PANEL, tile_scalar, SSAST_I8_STORE_ROWS); }

#endif

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2_ATTR __attribute__((target("avx2,fma,f16c")))
#define AVX512_ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))
#define VNNI_ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

AVX2_ATTR void ssast_i8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (long i = r0; i < r1; i++) {
        const float *xr = x + i * ldx;
        __m256 mv = _mm256_setzero_ps();
        long kk = 0;
        for (; kk + 8 <= k; kk += 8) mv = _mm256_max_ps(mv, _mm256_and_ps(absmask, _mm256_loadu_ps(xr + kk)));
        float lanes[8];
        _mm256_storeu_ps(lanes, mv);
        float m = 0;
        for (int l = 0; l < 8; l++) m = lanes[l] > m ? lanes[l] : m;
        for (; kk < k; kk++) { float a = fabsf(xr[kk]); m = a > m ? a : m; }
        float s = row_scale(m, qmax), inv = m > 0 ? qmax / m : 0.0f;
        xs[i] = s;
        int16_t *q = xq + i * kPad;
        __m256 iv = _mm256_set1_ps(inv);
        kk = 0;
        for (; kk + 16 <= k; kk += 16) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + kk), iv));
            __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(xr + kk + 8), iv));
            // packs works per 128-bit lane; the permute restores element order.
            __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8);
            _mm256_storeu_si256((__m256i *)(q + kk), p);
        }
        for (; kk < k; kk++) q[kk] = (int16_t)nearbyintf(xr[kk] * inv);
        for (; kk < kPad; kk++) q[kk] = 0;
    }
}

static inline int32_t load_pair(const int16_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

// 6 rows x 16 channels: 12 int32 accumulators (8 lanes each); vpmaddwd multiplies a broadcast
// (x[2q], x[2q+1]) pair with 8 channels' (w[2q], w[2q+1]) pairs and adds each pair.
AVX2_ATTR static void tile_avx2(const int16_t *const xr[TILE_ROWS], long pairs, const int8_t *w, int32_t out[TILE_ROWS][16]) {
    __m256i a0 = _mm256_setzero_si256(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
    __m256i a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0;
    const int16_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5];
    for (long q = 0; q < pairs; q++) {
        const int8_t *wq = w + q * 2 * PANEL;
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wq));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wq + 16)));
        __m256i v;
        v = _mm256_set1_epi32(load_pair(x0 + 2 * q));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(v, w0)); b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(v, w1));
        v = _mm256_set1_epi32(load_pair(x1 + 2 * q));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(v, w0)); b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(v, w1));
        v = _mm256_set1_epi32(load_pair(x2 + 2 * q));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(v, w0)); b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(v, w1));
        v = _mm256_set1_epi32(load_pair(x3 + 2 * q));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(v, w0)); b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(v, w1));
        v = _mm256_set1_epi32(load_pair(x4 + 2 * q));
        a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(v, w0)); b4 = _mm256_add_epi32(b4, _mm256_madd_epi16(v, w1));
        v = _mm256_set1_epi32(load_pair(x5 + 2 * q));
        a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(v, w0)); b5 = _mm256_add_epi32(b5, _mm256_madd_epi16(v, w1));
    }
    _mm256_storeu_si256((__m256i *)out[0], a0); _mm256_storeu_si256((__m256i *)(out[0] + 8), b0);
    _mm256_storeu_si256((__m256i *)out[1], a1); _mm256_storeu_si256((__m256i *)(out[1] + 8), b1);
    _mm256_storeu_si256((__m256i *)out[2], a2); _mm256_storeu_si256((__m256i *)(out[2] + 8), b2);
    _mm256_storeu_si256((__m256i *)out[3], a3); _mm256_storeu_si256((__m256i *)(out[3] + 8), b3);
    _mm256_storeu_si256((__m256i *)out[4], a4); _mm256_storeu_si256((__m256i *)(out[4] + 8), b4);
    _mm256_storeu_si256((__m256i *)out[5], a5); _mm256_storeu_si256((__m256i *)(out[5] + 8), b5);
}

AVX2_ATTR static void store_tile_avx2(int32_t acc[TILE_ROWS][16], long rows, long cols, const float *xs, const float *ws,
                                      const float *bias, float *y, long ldy, int accumulate) {
    if (cols == 16) {
        __m256 w0 = _mm256_loadu_ps(ws), w1 = _mm256_loadu_ps(ws + 8);
        __m256 c0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps(), c1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
        for (long r = 0; r < rows; r++) {
            __m256 s = _mm256_set1_ps(xs[r]);
            __m256 u0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)acc[r])), s);
            __m256 u1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc[r] + 8))), s);
            __m256 v0 = _mm256_fmadd_ps(u0, w0, c0), v1 = _mm256_fmadd_ps(u1, w1, c1);
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(y + r * ldy));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(y + r * ldy + 8));
            }
            _mm256_storeu_ps(y + r * ldy, v0);
            _mm256_storeu_ps(y + r * ldy + 8, v1);
        }
    } else {
        for (long r = 0; r < rows; r++) ssast_i8_store_row(acc[r], cols, xs[r], ws, bias, y + r * ldy, accumulate);
    }
}

#define STORE_TILE_AVX2(acc, rows, cols, i, col)                                                                \
    store_tile_avx2(acc, rows, cols, X->scale + (i), W->scale + (col), W->bias ? W->bias + (col) : 0,          \
                    Y->y + (i) * Y->ldy + (col), Y->ldy, Y->accumulate)
AVX2_ATTR void ssast_i8_gemm_avx2(SSAST_I8_GEMM_ARGS) { SSAST_I8_GEMM_LOOPS(TILE_ROWS, 16, tile_avx2, STORE_TILE_AVX2); }

// AVX-512: 6 rows x 32 channels (a whole panel), two zmm per row. With VNNI, vpdpwssd fuses the
// multiply-add-pairs and the accumulation.
#define I8_TILE512(NAME, ATTR, MADD)                                                                          \
ATTR static void NAME(const int16_t *const xr[TILE_ROWS], long pairs, const int8_t *w, int32_t out[TILE_ROWS][32]) { \
    __m512i a0 = _mm512_setzero_si512(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;                           \
    __m512i a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0;                                               \
    for (long q = 0; q < pairs; q++) {                                                                          \
        const int8_t *wq = w + q * 2 * PANEL;                                                                   \
        __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)wq));                              \
        __m512i w1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(wq + 32)));                       \
        __m512i v;                                                                                              \
        v = _mm512_set1_epi32(load_pair(xr[0] + 2 * q)); a0 = MADD(a0, v, w0); b0 = MADD(b0, v, w1);            \
        v = _mm512_set1_epi32(load_pair(xr[1] + 2 * q)); a1 = MADD(a1, v, w0); b1 = MADD(b1, v, w1);            \
        v = _mm512_set1_epi32(load_pair(xr[2] + 2 * q)); a2 = MADD(a2, v, w0); b2 = MADD(b2, v, w1);            \
        v = _mm512_set1_epi32(load_pair(xr[3] + 2 * q)); a3 = MADD(a3, v, w0); b3 = MADD(b3, v, w1);            \
        v = _mm512_set1_epi32(load_pair(xr[4] + 2 * q)); a4 = MADD(a4, v, w0); b4 = MADD(b4, v, w1);            \
        v = _mm512_set1_epi32(load_pair(xr[5] + 2 * q)); a5 = MADD(a5, v, w0); b5 = MADD(b5, v, w1);            \
    }                                                                                                           \
    _mm512_storeu_si512(out[0], a0); _mm512_storeu_si512(out[0] + 16, b0);                                      \
    _mm512_storeu_si512(out[1], a1); _mm512_storeu_si512(out[1] + 16, b1);                                      \
    _mm512_storeu_si512(out[2], a2); _mm512_storeu_si512(out[2] + 16, b2);                                      \
    _mm512_storeu_si512(out[3], a3); _mm512_storeu_si512(out[3] + 16, b3);                                      \
    _mm512_storeu_si512(out[4], a4); _mm512_storeu_si512(out[4] + 16, b4);                                      \
    _mm512_storeu_si512(out[5], a5); _mm512_storeu_si512(out[5] + 16, b5);                                      \
}

#define MADD512(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#define MADDVNNI(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
I8_TILE512(tile_avx512, AVX512_ATTR, MADD512)
I8_TILE512(tile_avx512vnni, VNNI_ATTR, MADDVNNI)

// The shared epilogue on whole vectors for full-width tiles: same operations, same order (no fused
// multiply-add), so bit-identical to ssast_i8_store_row; with k = 192 a scalar epilogue costs about as
// much as the tile's products.
AVX512_ATTR static void store_tile_avx512(int32_t acc[TILE_ROWS][32], long rows, long cols, const float *xs, const float *ws,
                                          const float *bias, float *y, long ldy, int accumulate) {
    if (cols < 32) {
        for (long r = 0; r < rows; r++) ssast_i8_store_row(acc[r], cols, xs[r], ws, bias, y + r * ldy, accumulate);
        return;
    }
    for (long r = 0; r < rows; r++) {
        __m512 s = _mm512_set1_ps(xs[r]);
        for (int h = 0; h < 2; h++) {
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(acc[r] + 16 * h)), s), _mm512_loadu_ps(ws + 16 * h));
            if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + 16 * h));
            if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(y + r * ldy + 16 * h));
            _mm512_storeu_ps(y + r * ldy + 16 * h, v);
        }
    }
}
#define STORE_TILE_AVX512(acc, rows, cols, i, col)                                                              \
    store_tile_avx512(acc, rows, cols, X->scale + (i), W->scale + (col), W->bias ? W->bias + (col) : 0,        \
                      Y->y + (i) * Y->ldy + (col), Y->ldy, Y->accumulate)

#define I8_GEMM512(NAME, ATTR, TILE) \
ATTR void NAME(SSAST_I8_GEMM_ARGS) { SSAST_I8_GEMM_LOOPS(TILE_ROWS, 32, TILE, STORE_TILE_AVX512); }
I8_GEMM512(ssast_i8_gemm_avx512, AVX512_ATTR, tile_avx512)
I8_GEMM512(ssast_i8_gemm_avx512vnni, VNNI_ATTR, tile_avx512vnni)

#else
// Other architectures: only the generic kernels exist; the x86 names forward so the tables link.
void ssast_i8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs) {
    ssast_i8_quantize_generic(x, ldx, r0, r1, k, kPad, qmax, xq, xs);
}
void ssast_i8_gemm_avx2(SSAST_I8_GEMM_ARGS) { ssast_i8_gemm_generic(X, r0, r1, W, p0, p1, Y); }
void ssast_i8_gemm_avx512(SSAST_I8_GEMM_ARGS) { ssast_i8_gemm_generic(X, r0, r1, W, p0, p1, Y); }
void ssast_i8_gemm_avx512vnni(SSAST_I8_GEMM_ARGS) { ssast_i8_gemm_generic(X, r0, r1, W, p0, p1, Y); }
#endif
