// The 8-bit attention's compute pass (see include/ckernels.h, ssast_attn_u8_*), written once: the layout
// of the packed heads, the float steps in plain C, the loop over tiles as a macro taking the register tile,
// and the x86 VNNI and aarch64 SDOT tiles. Included by attention_u8.c (natively, per-function target
// attributes) and, in the test build, by Tests/CKernelsSIMDe (the same text against SIMDe's portable
// intrinsics), so the VNNI and SDOT kernels are checked bit for bit against the plain twin on any CPU.
// Private to CKernels.
//
// Bit-identical across families by construction: every kernel runs the same integer sums and the same
// float operations in the same order (the plain C steps below, inlined into each kernel; fused
// multiply-adds are switched off for them), whatever vector width the compiler picks for them.
#ifndef SSAST_ATTENTION_U8_BODY_H
#define SSAST_ATTENTION_U8_BODY_H
#include "ckernels.h"
#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#define U8A_ROWS 6        // query rows per task
#define U8A_PANEL 16      // keys per Q·Kᵀ panel, head dimensions per P·V chunk
#define U8A_CHUNK 128     // keys per V scale block
#define U8A_QK_LEVELS 127.0f
#define U8A_V_LEVELS 127.0f
#define U8A_P_LEVELS 255.0f

static inline long u8a_up(long x, long m) { return (x + m - 1) / m * m; }

// Byte layout of one head's packed data, 64-byte aligned sections.
typedef struct { long tP, dq, dh16, chunks, qq, sq, kq, kc, sk, vq, sv, vc, bytes; } u8a_layout;

// x rounded to the nearest integer, half to even, for |x| <= 2^22 (as nearbyintf in the default rounding
// mode, but inline and vectorisable on any x86-64: nearbyintf is a library call without SSE4.1).
SSAST_INLINE float u8a_round(float x) { return (x + 12582912.0f) - 12582912.0f; }

static inline u8a_layout u8a_layout_of(long t, long dh) {
    u8a_layout L;
    L.tP = u8a_up(t, U8A_PANEL); L.dq = u8a_up(dh, 4); L.dh16 = u8a_up(dh, U8A_PANEL);
    L.chunks = (t + U8A_CHUNK - 1) / U8A_CHUNK;
    long o = 0;
    L.qq = o; o += u8a_up(t * L.dq, 64);              // u8 [t][dq]: q + 128
    L.sq = o; o += u8a_up(t * 4, 64);                 // float [t] (includes dh^-0.5)
    L.kq = o; o += u8a_up(L.tP * L.dq, 64);           // s8 [tP/16][dq/4][16 keys][4 dims]
    L.kc = o; o += u8a_up(L.tP * 4, 64);              // int32 [tP]: 128·Σ kq (the sign trick's correction)
    L.sk = o; o += u8a_up(L.tP * 4, 64);              // float [tP]
    L.vq = o; o += u8a_up(L.dh16 * L.tP, 64);         // s8 [dh16/16][tP/4][16 dims][4 keys]
    L.sv = o; o += u8a_up(L.chunks * L.dh16 * 4, 64); // float [chunks][dh16]
    L.vc = o; o += u8a_up(L.chunks * L.dh16 * 4, 64); // int32 [chunks][dh16]: 128·Σ vq over the block
    L.bytes = o;
    return L;
}

// e^x for x <= 0 (scores minus their row's maximum), to the precision 255 levels need: 2^(x·log2 e) as
// 2^n (exponent bits) times a cubic in f = x·log2 e - n, |f| <= 1/2 (relative error < 7.5e-5: at most
// 0.02 of a level). Plain C without fused multiply-adds, so every
// vectorisation of it gives the same bits. Below -87.3 the result is clamped to e^-87.3 (0 as a level).
SSAST_INLINE float u8a_exp(float x) {
    x = x < -87.3f ? -87.3f : x;
    float t = x * 1.44269504088896341f;
    float tt = t + 12582912.0f;  // round(t) in the low mantissa bits
    float n = tt - 12582912.0f;
    float f = t - n;
    float p = ((0.05517132208f * f + 0.24261054397f) * f + 0.69326096773f) * f + 0.99992811680f;  // minimax
    uint32_t bits;
    memcpy(&bits, &tt, 4);
    bits = (bits << 23) + (127u << 23);
    float two;
    memcpy(&two, &bits, 4);
    return p * two;
}

// pq[j] = round(e^(s[j] - m)·255) for n values (a multiple of 16); returns Σ pq.
SSAST_INLINE int32_t u8a_expq(const float *s, long n, float m, uint8_t *pq) {
    int32_t sum = 0;
    for (long j = 0; j < n; j++) {
        int32_t v = (int32_t)u8a_round(u8a_exp(s[j] - m) * U8A_P_LEVELS);
        pq[j] = (uint8_t)v;
        sum += v;
    }
    return sum;
}

// Max of n floats (a multiple of 16), in 16 lanes so that it vectorises (the maximum does not depend on
// the order; ±0 ties give the same exponentials).
SSAST_INLINE float u8a_max(const float *s, long n) {
    float lane[16];
    for (int c = 0; c < 16; c++) lane[c] = -INFINITY;
    for (long j = 0; j < n; j += 16)
        for (int c = 0; c < 16; c++) lane[c] = s[j + c] > lane[c] ? s[j + c] : lane[c];
    float m = lane[0];
    for (int c = 1; c < 16; c++) m = lane[c] > m ? lane[c] : m;
    return m;
}

// Max |x| of n floats, likewise in lanes.
SSAST_INLINE float u8a_absmax(const float *x, long n) {
    float lane[16] = {0}, m = 0;
    long i = 0;
    for (; i + 16 <= n; i += 16)
        for (int c = 0; c < 16; c++) { float a = fabsf(x[i + c]); lane[c] = a > lane[c] ? a : lane[c]; }
    for (; i < n; i++) { float a = fabsf(x[i]); m = a > m ? a : m; }
    for (int c = 0; c < 16; c++) m = lane[c] > m ? lane[c] : m;
    return m;
}

// Symmetric levels round(x·inv) of n floats into q (within ±127 by construction of inv).
SSAST_INLINE void u8a_levels(const float *x, long n, float inv, int8_t *q) {
    for (long e = 0; e < n; e++) q[e] = (int8_t)(int32_t)u8a_round(x[e] * inv);
}

// The packing pass over tasks [task0, task1) (task = head x block of 128 keys): Q as q + 128, K in
// 16-key panels of 4-dimension groups with 128·Σk per key, V per dimension over the block in 16-dimension
// chunks of 4-key groups with 128·Σv per dimension, and the scales.
SSAST_INLINE void u8a_pack(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    u8a_layout L = u8a_layout_of(t, dh);
    long d = heads * dh, ld = 3 * d;
    float scale = 1.0f / sqrtf((float)dh);
    int8_t row[L.dh16 + 4];
    float inv[L.dh16];
    for (long task = task0; task < task1; task++) {
        long h = task / L.chunks, ci = task % L.chunks;
        long j0 = ci * U8A_CHUNK, j1 = j0 + U8A_CHUNK < t ? j0 + U8A_CHUNK : t;
        uint8_t *base = (uint8_t *)packed + h * L.bytes;
        uint8_t *qq = base + L.qq;
        int8_t *kq = (int8_t *)(base + L.kq), *vq = (int8_t *)(base + L.vq);
        int32_t *kc = (int32_t *)(base + L.kc);
        float *sq = (float *)(base + L.sq), *sk = (float *)(base + L.sk), *sv = (float *)(base + L.sv) + ci * L.dh16;
        int32_t *vc = (int32_t *)(base + L.vc) + ci * L.dh16;
        for (long e = dh; e < L.dh16 + 4; e++) row[e] = 0;
        for (long j = j0; j < j1; j++) {
            const float *q = qkv + j * ld + h * dh, *k = q + d;
            float m = u8a_absmax(q, dh);
            sq[j] = m > 0 ? m / U8A_QK_LEVELS * scale : 0;
            u8a_levels(q, dh, m > 0 ? U8A_QK_LEVELS / m : 0, row);
            uint8_t *qr = qq + j * L.dq;
            for (long e = 0; e < L.dq; e++) qr[e] = (uint8_t)(row[e] + 128);
            m = u8a_absmax(k, dh);
            sk[j] = m > 0 ? m / U8A_QK_LEVELS : 0;
            u8a_levels(k, dh, m > 0 ? U8A_QK_LEVELS / m : 0, row);
            int32_t sum = 0;
            for (long e = 0; e < dh; e++) sum += row[e];
            kc[j] = 128 * sum;
            int8_t *panel = kq + (j / U8A_PANEL) * L.dq * U8A_PANEL + (j % U8A_PANEL) * 4;
            for (long g = 0; g < L.dq / 4; g++) memcpy(panel + g * U8A_PANEL * 4, row + 4 * g, 4);
        }
        // V: one scale per head dimension over this block's keys.
        for (long e = 0; e < L.dh16; e++) sv[e] = 0;
        for (long j = j0; j < j1; j++) {
            const float *v = qkv + j * ld + 2 * d + h * dh;
            for (long e = 0; e < dh; e++) { float a = fabsf(v[e]); sv[e] = a > sv[e] ? a : sv[e]; }
        }
        for (long e = 0; e < L.dh16; e++) { inv[e] = sv[e] > 0 ? U8A_V_LEVELS / sv[e] : 0; sv[e] /= U8A_V_LEVELS; vc[e] = 0; }
        for (long j = j0; j < j1; j++) {
            const float *v = qkv + j * ld + 2 * d + h * dh;
            for (long e = 0; e < dh; e++) { row[e] = (int8_t)(int32_t)u8a_round(v[e] * inv[e]); vc[e] += 128 * row[e]; }
            int8_t *dst = vq + (j / 4) * 64 + (j & 3);
            for (long c = 0; c < L.dh16 / U8A_PANEL; c++)
                for (int e = 0; e < U8A_PANEL; e++) dst[c * L.tP * U8A_PANEL + e * 4] = row[c * U8A_PANEL + e];
        }
        if (ci == L.chunks - 1) {  // keys t..tP: zero K panels, correction, scale and V
            for (long j = t; j < L.tP; j++) {
                kc[j] = 0; sk[j] = 0;
                int8_t *panel = kq + (j / U8A_PANEL) * L.dq * U8A_PANEL + (j % U8A_PANEL) * 4;
                for (long g = 0; g < L.dq / 4; g++) memset(panel + g * U8A_PANEL * 4, 0, 4);
                int8_t *dst = vq + (j / 4) * 64 + (j & 3);
                for (long c = 0; c < L.dh16 / U8A_PANEL; c++)
                    for (int e = 0; e < U8A_PANEL; e++) dst[c * L.tP * U8A_PANEL + e * 4] = 0;
            }
        }
    }
}

// The loop over one task range, around TILE(xr, groups, w0, w1, c0, c1, acc): acc[r][16p + c] = Σ_g Σ_{b<4}
// xr[r][4g+b]·wp[g][c][b] for 6 rows of u8 and two 16-column panels w0, w1 of s8 (64 bytes per group of 4),
// i.e. 32 columns, so that each broadcast row group feeds two multiplies. c0, c1: 128·Σ_g Σ_b wp[g][c][b]
// per column (kc, vc), which a tile multiplying signed bytes x - 128 adds back. Where only one panel is
// left it is passed twice and the second half ignored. Rows past the end repeat the last one and are not
// stored.
#define U8A_RUN(NAME, ATTR, TILE)                                                                                 \
ATTR void NAME(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packedv, float *out, \
               void *scratch) {                                                                                   \
    (void)qkv;                                                                                                    \
    u8a_layout L = u8a_layout_of(t, dh);                                                                          \
    long d = heads * dh, qBlocks = (t + U8A_ROWS - 1) / U8A_ROWS, vPanels = L.dh16 / U8A_PANEL;                   \
    float *S = (float *)scratch;                                  /* [6][tP] */                                   \
    uint8_t *P = (uint8_t *)(S + U8A_ROWS * L.tP);                /* [6][tP] */                                   \
    int32_t acc[U8A_ROWS][32];                                                                                    \
    float O[U8A_ROWS][32];                                                                                        \
    for (long task = task0; task < task1; task++) {                                                               \
        long h = task / qBlocks, i0 = (task % qBlocks) * U8A_ROWS;                                                \
        long rows = t - i0 < U8A_ROWS ? t - i0 : U8A_ROWS;                                                        \
        const uint8_t *base = (const uint8_t *)packedv + h * L.bytes;                                             \
        const uint8_t *qq = base + L.qq;                                                                          \
        const int8_t *kq = (const int8_t *)(base + L.kq), *vq = (const int8_t *)(base + L.vq);                    \
        const int32_t *kc = (const int32_t *)(base + L.kc);                                                       \
        const float *sq = (const float *)(base + L.sq), *sk = (const float *)(base + L.sk);                       \
        const float *sv = (const float *)(base + L.sv);                                                           \
        const int32_t *vc = (const int32_t *)(base + L.vc);                                                       \
        const uint8_t *xr[U8A_ROWS];                                                                              \
        for (int r = 0; r < U8A_ROWS; r++) xr[r] = qq + (i0 + (r < rows ? r : rows - 1)) * L.dq;                  \
        for (long pn = 0; pn < L.tP; pn += 2 * U8A_PANEL) {                                                       \
            long width = L.tP - pn < 32 ? L.tP - pn : 32;                                                         \
            TILE(xr, L.dq / 4, kq + pn * L.dq, kq + (pn + width - U8A_PANEL) * L.dq, kc + pn,                     \
                 kc + pn + width - U8A_PANEL, acc);                                                               \
            for (long r = 0; r < rows; r++) {                                                                     \
                float a = sq[i0 + r], *s = S + r * L.tP + pn;                                                     \
                for (long c = 0; c < width; c++) s[c] = ((float)(acc[r][c] - kc[pn + c]) * a) * sk[pn + c];      \
            }                                                                                                     \
        }                                                                                                         \
        int32_t l[U8A_ROWS];                                                                                      \
        for (long r = 0; r < rows; r++) {                                                                         \
            float *sr = S + r * L.tP;                                                                             \
            for (long j = t; j < L.tP; j++) sr[j] = -INFINITY;                                                    \
            l[r] = u8a_expq(sr, L.tP, u8a_max(sr, L.tP), P + r * L.tP);                                           \
        }                                                                                                         \
        for (int r = 0; r < U8A_ROWS; r++) xr[r] = P + (r < rows ? r : rows - 1) * L.tP;                          \
        for (long c = 0; c < vPanels; c += 2) {                                                                   \
            long c1 = c + 1 < vPanels ? c + 1 : c;                                                                \
            memset(O, 0, sizeof O);                                                                               \
            for (long ci = 0; ci < L.chunks; ci++) {                                                              \
                long j0 = ci * U8A_CHUNK, j1 = j0 + U8A_CHUNK < L.tP ? j0 + U8A_CHUNK : L.tP;                     \
                const uint8_t *xs[U8A_ROWS];                                                                      \
                for (int r = 0; r < U8A_ROWS; r++) xs[r] = xr[r] + j0;                                            \
                TILE(xs, (j1 - j0) / 4, vq + c * L.tP * 16 + j0 * 16, vq + c1 * L.tP * 16 + j0 * 16,              \
                     vc + ci * L.dh16 + c * 16, vc + ci * L.dh16 + c1 * 16, acc);                                 \
                const float *s = sv + ci * L.dh16 + c * 16;                                                       \
                for (long r = 0; r < rows; r++)                                                                   \
                    for (long e = 0; e < 16 * (c1 - c + 1); e++) O[r][e] = O[r][e] + (float)acc[r][e] * s[e];     \
            }                                                                                                     \
            long cols = dh - c * 16 < 32 ? dh - c * 16 : 32;                                                      \
            for (long r = 0; r < rows; r++) {                                                                     \
                float inv = 1.0f / (float)l[r];                                                                   \
                float *dst = out + (i0 + r) * d + h * dh + c * 16;                                                \
                for (long e = 0; e < cols; e++) dst[e] = O[r][e] * inv;                                           \
            }                                                                                                     \
        }                                                                                                         \
    }                                                                                                             \
}

static inline int32_t u8a_load4(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

#if defined(U8A_ATTR512)
// AVX-512 VNNI: a tile row's 16 columns of a panel are one zmm accumulator, 12 accumulators for 6 rows x 2
// panels (enough chains for vpdpbusd's latency); each broadcast of 4 u8 feeds two vpdpbusd.
U8A_ATTR512 static inline void u8a_tile_avx512vnni(const uint8_t *const xr[U8A_ROWS], long groups, const int8_t *w0,
                                                  const int8_t *w1, const int32_t *c0, const int32_t *c1,
                                                  int32_t out[U8A_ROWS][32]) {
    (void)c0; (void)c1;  // vpdpbusd multiplies u8 by s8: nothing to add back
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
    const uint8_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5];
    for (long g = 0; g < groups; g++) {
        __m512i p = _mm512_loadu_si512((const void *)(w0 + g * 64)), q = _mm512_loadu_si512((const void *)(w1 + g * 64));
        __m512i v;
        v = _mm512_set1_epi32(u8a_load4(x0 + 4 * g)); a0 = _mm512_dpbusd_epi32(a0, v, p); b0 = _mm512_dpbusd_epi32(b0, v, q);
        v = _mm512_set1_epi32(u8a_load4(x1 + 4 * g)); a1 = _mm512_dpbusd_epi32(a1, v, p); b1 = _mm512_dpbusd_epi32(b1, v, q);
        v = _mm512_set1_epi32(u8a_load4(x2 + 4 * g)); a2 = _mm512_dpbusd_epi32(a2, v, p); b2 = _mm512_dpbusd_epi32(b2, v, q);
        v = _mm512_set1_epi32(u8a_load4(x3 + 4 * g)); a3 = _mm512_dpbusd_epi32(a3, v, p); b3 = _mm512_dpbusd_epi32(b3, v, q);
        v = _mm512_set1_epi32(u8a_load4(x4 + 4 * g)); a4 = _mm512_dpbusd_epi32(a4, v, p); b4 = _mm512_dpbusd_epi32(b4, v, q);
        v = _mm512_set1_epi32(u8a_load4(x5 + 4 * g)); a5 = _mm512_dpbusd_epi32(a5, v, p); b5 = _mm512_dpbusd_epi32(b5, v, q);
    }
    _mm512_storeu_si512((void *)out[0], a0); _mm512_storeu_si512((void *)(out[0] + 16), b0);
    _mm512_storeu_si512((void *)out[1], a1); _mm512_storeu_si512((void *)(out[1] + 16), b1);
    _mm512_storeu_si512((void *)out[2], a2); _mm512_storeu_si512((void *)(out[2] + 16), b2);
    _mm512_storeu_si512((void *)out[3], a3); _mm512_storeu_si512((void *)(out[3] + 16), b3);
    _mm512_storeu_si512((void *)out[4], a4); _mm512_storeu_si512((void *)(out[4] + 16), b4);
    _mm512_storeu_si512((void *)out[5], a5); _mm512_storeu_si512((void *)(out[5] + 16), b5);
}
U8A_RUN(U8A_NAME(ssast_attn_u8_avx512vnni), U8A_ATTR512, u8a_tile_avx512vnni)

// AVX-VNNI (VEX, 16 ymm): a panel's 16 columns are two ymm per row, 12 accumulators: one panel at a time.
U8A_ATTR256 static inline void u8a_tile_avxvnni(const uint8_t *const xr[U8A_ROWS], long groups, const int8_t *w0,
                                               const int8_t *w1, const int32_t *c0, const int32_t *c1,
                                               int32_t out[U8A_ROWS][32]) {
    (void)c0; (void)c1;
    for (int half = 0; half < 2; half++) {
        const int8_t *w = half ? w1 : w0;
        __m256i lo[U8A_ROWS], hi[U8A_ROWS];
        for (int r = 0; r < U8A_ROWS; r++) lo[r] = hi[r] = _mm256_setzero_si256();
        for (long g = 0; g < groups; g++) {
            __m256i p = _mm256_loadu_si256((const __m256i *)(w + g * 64)), q = _mm256_loadu_si256((const __m256i *)(w + g * 64 + 32));
            for (int r = 0; r < U8A_ROWS; r++) {
                __m256i v = _mm256_set1_epi32(u8a_load4(xr[r] + 4 * g));
                lo[r] = U8A_DPBUSD256(lo[r], v, p);
                hi[r] = U8A_DPBUSD256(hi[r], v, q);
            }
        }
        for (int r = 0; r < U8A_ROWS; r++) {
            _mm256_storeu_si256((__m256i *)(out[r] + 16 * half), lo[r]);
            _mm256_storeu_si256((__m256i *)(out[r] + 16 * half + 8), hi[r]);
        }
    }
}
U8A_RUN(U8A_NAME(ssast_attn_u8_avxvnni), U8A_ATTR256, u8a_tile_avxvnni)
#endif

#if defined(U8A_ATTR_DOTPROD)
// aarch64 dot product (SDOT, s8 x s8): rows enter as x ^ 0x80 = x - 128 and each column starts from
// c = 128·Σw (kc, vc from the packing), so the sums are exactly the plain tile's. One 16-column panel per
// pass: 6 rows x 4 vectors of 4 columns = 24 int32x4 accumulators, 6 registers holding 4 groups of each
// row (SDOT by element picks the group) and the weight vector in flight: within the 32 NEON registers
// without spills, each weight vector feeding 6 dot products. The whole 6 x 32 tile would need 48
// accumulators; 3 rows x 32 columns would load every weight vector twice as often per dot product.
#define U8A_SDOT_GROUP(LANE)                                                                                      \
    for (int i = 0; i < 4; i++) {                                                                                 \
        int8x16_t wv = vld1q_s8(wp + (g + LANE) * 64 + 16 * i);                                                  \
        for (int r = 0; r < U8A_ROWS; r++) acc[r][i] = vdotq_laneq_s32(acc[r][i], wv, x[r], LANE);                \
    }
U8A_ATTR_DOTPROD static inline void u8a_tile_dotprod(const uint8_t *const xr[U8A_ROWS], long groups, const int8_t *w0,
                                                    const int8_t *w1, const int32_t *c0, const int32_t *c1,
                                                    int32_t out[U8A_ROWS][32]) {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    for (int half = 0; half < 2; half++) {
        const int8_t *wp = half ? w1 : w0;
        const int32_t *c = half ? c1 : c0;
        int32x4_t acc[U8A_ROWS][4];
        for (int r = 0; r < U8A_ROWS; r++)
            for (int i = 0; i < 4; i++) acc[r][i] = vld1q_s32(c + 4 * i);
        long g = 0;
        for (; g + 4 <= groups; g += 4) {
            int8x16_t x[U8A_ROWS];
            for (int r = 0; r < U8A_ROWS; r++) x[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(xr[r] + 4 * g), flip));
            U8A_SDOT_GROUP(0) U8A_SDOT_GROUP(1) U8A_SDOT_GROUP(2) U8A_SDOT_GROUP(3)
        }
        if (g < groups) {  // 1...3 groups left (Q·Kᵀ with head dimensions not a multiple of 16): not read past the row
            int8x16_t x[U8A_ROWS];
            for (int r = 0; r < U8A_ROWS; r++) {
                uint8_t b[16] = {0};
                memcpy(b, xr[r] + 4 * g, (size_t)(4 * (groups - g)));
                x[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(b), flip));
            }
            U8A_SDOT_GROUP(0)
            if (g + 1 < groups) { U8A_SDOT_GROUP(1) }
            if (g + 2 < groups) { U8A_SDOT_GROUP(2) }
        }
        for (int r = 0; r < U8A_ROWS; r++)
            for (int i = 0; i < 4; i++) vst1q_s32(out[r] + 16 * half + 4 * i, acc[r][i]);
    }
}
U8A_RUN(U8A_NAME(ssast_attn_u8_dotprod), U8A_ATTR_DOTPROD, u8a_tile_dotprod)
#endif

#endif
