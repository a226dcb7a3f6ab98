// Attention with int16 products for int8 models (see include/ckernels.h for the quantisation).
// Q·Kᵀ and P·V run on vpmaddwd / pmaddwd like the int8 linears (16-bit pairs into int32): on
// AVX2 machines that is ~1.5x the multiply-adds per cycle of fp32 FMA.
#include "ckernels.h"
#include <math.h>
#include <string.h>

#define TILE_ROWS 6
#define KEY_PANEL 16      // keys per Q·Kᵀ panel, head dimensions per P·V chunk
#define V_CHUNK 128       // keys per V scale block (and per int32 flush)
#define P_LEVELS 8191.0f  // P = exp(s - max) in [0, 1] -> 0...8191
#define LOG2E 1.44269504088896341f
#define V_LEVELS 2047.0f

static long up(long x, long m) { return (x + m - 1) / m * m; }

// Byte layout of one head's packed data, 64-byte aligned sections.
typedef struct { long tP, dhP, dq, dh16, chunks, qq, sq, kq, sk, vq, sv, bytes; } head_layout;

static head_layout layout(long t, long dh) {
    head_layout L;
    L.tP = up(t, KEY_PANEL); L.dhP = up(dh, 2); L.dq = L.dhP / 2; L.dh16 = up(dh, KEY_PANEL);
    L.chunks = (t + V_CHUNK - 1) / V_CHUNK;
    long o = 0;
    L.qq = o; o += up(t * L.dhP * 2, 64);            // int16 [t][dhP]
    L.sq = o; o += up(t * 4, 64);                    // float [t]   (includes dh^-0.5)
    L.kq = o; o += up(L.tP * L.dhP * 2, 64);         // int16 [tP/16][dq][16][2]
    L.sk = o; o += up(L.tP * 4, 64);                 // float [tP]
    L.vq = o; o += up(L.dh16 * L.tP * 2, 64);        // int16 [dh16/16][tP/2][16][2]
    L.sv = o; o += up(L.chunks * L.dh16 * 4, 64);    // float [chunks][dh16]
    L.bytes = o;
    return L;
}

long ssast_attn_i16_packed_bytes(long t, long heads, long dh) { return heads * layout(t, dh).bytes; }
long ssast_attn_i16_pack_tasks(long t, long heads) { return heads * ((t + V_CHUNK - 1) / V_CHUNK); }
long ssast_attn_i16_scratch_bytes(long t, long dh) { (void)dh; return TILE_ROWS * up(t, KEY_PANEL) * 6 + 64 * 4 + 256; }

float ssast_attn_i16_qk_levels(long dh) {
    // Σ over dhP of two products of QK levels must fit int32.
    double l = floor(sqrt(2147483647.0 / (double)up(dh, 2)));
    return l < 2047 ? (float)l : 2047.0f;
}

SSAST_INLINE float absmax(const float *x, long n) {
    float m = 0;
    for (long i = 0; i < n; i++) { float a = fabsf(x[i]); m = a > m ? a : m; }
    return m;
}

// Quantise n floats x·inv (round half to even) to int16.
typedef void (*quant_fn)(const float *x, long n, float inv, int16_t *q);

// Packs Q, K, V of tasks [task0, task1) (task = head * chunks + block of V_CHUNK keys).
SSAST_INLINE void pack(const float *qkv, long t, long heads, long dh, long task0, long task1, uint8_t *packed, quant_fn quant) {
    head_layout L = layout(t, dh);
    long d = heads * dh, ld = 3 * d;
    float lqk = ssast_attn_i16_qk_levels(dh), scale = 1.0f / sqrtf((float)dh);
    int16_t row[L.dhP + 16];
    for (long task = task0; task < task1; task++) {
        long h = task / L.chunks, ci = task % L.chunks;
        long j0 = ci * V_CHUNK, j1 = j0 + V_CHUNK < t ? j0 + V_CHUNK : t;
        uint8_t *base = packed + h * L.bytes;
        int16_t *qq = (int16_t *)(base + L.qq), *kq = (int16_t *)(base + L.kq), *vq = (int16_t *)(base + L.vq);
        float *sq = (float *)(base + L.sq), *sk = (float *)(base + L.sk), *sv = (float *)(base + L.sv) + ci * L.dh16;
        for (long j = j0; j < j1; j++) {
            const float *q = qkv + j * ld + h * dh, *k = q + d;
            float m = absmax(q, dh);
            sq[j] = m > 0 ? m / lqk * scale * LOG2E : 0;  // scores come out as s·log2 e: P = 2^(s - max)
            quant(q, dh, m > 0 ? lqk / m : 0, qq + j * L.dhP);
            if (dh & 1) qq[j * L.dhP + dh] = 0;
            m = absmax(k, dh);
            sk[j] = m > 0 ? m / lqk : 0;
            quant(k, dh, m > 0 ? lqk / m : 0, row);
            if (dh & 1) row[dh] = 0;
            int16_t *panel = kq + (j / KEY_PANEL) * L.dq * KEY_PANEL * 2 + (j % KEY_PANEL) * 2;
            for (long p = 0; p < L.dq; p++) memcpy(panel + p * KEY_PANEL * 2, row + 2 * p, 4);
        }
        // V: one scale per head dimension over this block's keys.
        float inv[L.dh16];
        for (long e = 0; e < L.dh16; e++) { sv[e] = 0; inv[e] = 0; }
        for (long j = j0; j < j1; j++) {
            const float *v = qkv + j * ld + 2 * d + h * dh;
            for (long e = 0; e < dh; e++) { float a = fabsf(v[e]); sv[e] = a > sv[e] ? a : sv[e]; }
        }
        for (long e = 0; e < dh; e++) { inv[e] = sv[e] > 0 ? V_LEVELS / sv[e] : 0; sv[e] /= V_LEVELS; }
        float tmp[L.dh16];
        for (long j = j0; j < j1; j++) {
            const float *v = qkv + j * ld + 2 * d + h * dh;
            for (long e = 0; e < dh; e++) tmp[e] = v[e] * inv[e];
            quant(tmp, dh, 1.0f, row);
            for (long e = dh; e < L.dh16; e++) row[e] = 0;
            for (long c = 0; c < L.dh16 / KEY_PANEL; c++) {
                int16_t *dst = vq + (c * (L.tP / 2) + j / 2) * KEY_PANEL * 2 + (j & 1);
                for (long e = 0; e < KEY_PANEL; e++) dst[2 * e] = row[c * KEY_PANEL + e];
            }
        }
        if (ci == L.chunks - 1) {  // zero keys t..tP (K panels, scales, V pairs)
            for (long j = t; j < L.tP; j++) {
                sk[j] = 0;
                int16_t *panel = kq + (j / KEY_PANEL) * L.dq * KEY_PANEL * 2 + (j % KEY_PANEL) * 2;
                for (long p = 0; p < L.dq; p++) { panel[p * KEY_PANEL * 2] = 0; panel[p * KEY_PANEL * 2 + 1] = 0; }
                for (long c = 0; c < L.dh16 / KEY_PANEL; c++) {
                    int16_t *dst = vq + (c * (L.tP / 2) + j / 2) * KEY_PANEL * 2 + (j & 1);
                    for (long e = 0; e < KEY_PANEL; e++) dst[2 * e] = 0;
                }
            }
        }
    }
}


// P levels from base-2 scores x = s - max <= 0: round(2^x · 8191) = 2^n · p(f) with n = round(x), f = x - n in
// [-1/2, 1/2], p the degree-5 polynomial of 2^f (Cephes exp2f, relative error ~1e-7) with the levels folded into
// its coefficients, and 2^n added to the exponent bits. x is clamped at -30, where the level is 0 (keys past
// the end hold -inf). Cheaper than e^x with its ln 2 range reduction: the log2 e is folded into the q scales.
#define EXP2Q_BODY(V, SET1, ADD, SUB, MADD, MAX, BITS, FLOAT, ADDI, SHLI)                                      \
    x = MAX(x, SET1(-30.0f));                                                                               \
    V magic = SET1(12582912.0f);   /* 1.5·2^23: adding it rounds to an integer, kept in the low bits */      \
    V tt = ADD(x, magic);                                                                                   \
    V f = SUB(x, SUB(tt, magic));                                                                           \
    V p = SET1(1.3333558146e-3f * P_LEVELS);                                                                \
    p = MADD(p, f, SET1(9.6181291076e-3f * P_LEVELS));                                                      \
    p = MADD(p, f, SET1(5.5504108665e-2f * P_LEVELS));                                                      \
    p = MADD(p, f, SET1(2.4022650696e-1f * P_LEVELS));                                                      \
    p = MADD(p, f, SET1(6.9314718056e-1f * P_LEVELS));                                                      \
    p = MADD(p, f, SET1(P_LEVELS));                                                                         \
    return FLOAT(ADDI(BITS(p), SHLI(BITS(tt), 23)));  /* n << 23: the low bits of tt, shifted into the exponent */

static inline float maxrow_c(const float *s, long n) {
    float m = -INFINITY;
    for (long j = 0; j < n; j++) m = s[j] > m ? s[j] : m;
    return m;
}
static inline void scale16_c(const int32_t *acc, float a, const float *sk, float *s) {
    for (int c = 0; c < 16; c++) s[c] = (float)acc[c] * a * sk[c];
}
static inline void flush16_c(const int32_t *acc, const float *sv, float *o) {
    for (int c = 0; c < 16; c++) o[c] += (float)acc[c] * sv[c];
}

// The compute pass, written once over four primitives:
//   TILE(xr, pairs, w, acc): acc[r][c] = Σ_p xr[r][2p]·w[p][c][0] + xr[r][2p+1]·w[p][c][1], 6 rows x 16 columns,
//                            w advancing 32 int16 per pair;
//   EXPQ(s, n, m, pq): pq[j] = round(2^(s[j] - m)·8191) (scores in base 2) for n (multiple of 16) values, returns Σ pq;
//   MAXROW(s, n): max of n (multiple of 16) floats;
//   SCALE16(acc, a, sk, s): s[c] = acc[c]·a·sk[c]; FLUSH16(acc, sv, o): o[c] += acc[c]·sv[c] (16 columns).
#define ATTN_RUN(NAME, ATTR, TILE, EXPQ, MAXROW, SCALE16, FLUSH16)                                                                        \
ATTR void NAME(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packedv,       \
               float *out, void *scratch) {                                                                    \
    head_layout L = layout(t, dh);                                                                              \
    long d = heads * dh, qBlocks = (t + TILE_ROWS - 1) / TILE_ROWS;                                             \
    float *S = (float *)scratch;                                 /* [6][tP] */                                  \
    int16_t *P = (int16_t *)(S + TILE_ROWS * L.tP);              /* [6][tP] */                                  \
    int32_t acc[TILE_ROWS][16];                                                                                 \
    float O[TILE_ROWS][16];                                                                                     \
    for (long task = task0; task < task1; task++) {                                                             \
        long h = task / qBlocks, i0 = (task % qBlocks) * TILE_ROWS;                                             \
        long rows = t - i0 < TILE_ROWS ? t - i0 : TILE_ROWS;                                                    \
        const uint8_t *base = (const uint8_t *)packedv + h * L.bytes;                                           \
        const int16_t *qq = (const int16_t *)(base + L.qq), *kq = (const int16_t *)(base + L.kq);               \
        const int16_t *vq = (const int16_t *)(base + L.vq);                                                     \
        const float *sq = (const float *)(base + L.sq), *sk = (const float *)(base + L.sk);                     \
        const float *sv = (const float *)(base + L.sv);                                                         \
        const int16_t *xr[TILE_ROWS];                                                                           \
        for (int r = 0; r < TILE_ROWS; r++) xr[r] = qq + (i0 + (r < rows ? r : rows - 1)) * L.dhP;              \
        for (long pn = 0; pn < L.tP; pn += KEY_PANEL) {                                                         \
            TILE(xr, L.dq, kq + pn * L.dhP, acc);                                                               \
            for (long r = 0; r < rows; r++) SCALE16(acc[r], sq[i0 + r], sk + pn, S + r * L.tP + pn);         \
        }                                                                                                       \
        long l[TILE_ROWS];                                                                                      \
        for (long r = 0; r < rows; r++) {                                                                       \
            float *sr = S + r * L.tP;                                                                           \
            for (long j = t; j < L.tP; j++) sr[j] = -INFINITY;                                                  \
            float m = MAXROW(sr, L.tP);                                                                         \
            l[r] = EXPQ(sr, L.tP, m, P + r * L.tP);                                                             \
        }                                                                                                       \
        for (int r = 0; r < TILE_ROWS; r++) xr[r] = P + (r < rows ? r : rows - 1) * L.tP;                       \
        for (long c = 0; c < L.dh16 / KEY_PANEL; c++) {                                                         \
            memset(O, 0, sizeof O);                                                                             \
            for (long ci = 0; ci < L.chunks; ci++) {                                                            \
                long p0 = ci * (V_CHUNK / 2), p1 = p0 + V_CHUNK / 2 < L.tP / 2 ? p0 + V_CHUNK / 2 : L.tP / 2;   \
                const int16_t *xs[TILE_ROWS];                                                                   \
                for (int r = 0; r < TILE_ROWS; r++) xs[r] = xr[r] + 2 * p0;                                     \
                TILE(xs, p1 - p0, vq + (c * (L.tP / 2) + p0) * 32, acc);                                        \
                const float *s = sv + ci * L.dh16 + c * 16;                                                     \
                for (long r = 0; r < rows; r++) FLUSH16(acc[r], s, O[r]);                                       \
            }                                                                                                   \
            long cols = dh - c * 16 < 16 ? dh - c * 16 : 16;                                                    \
            for (long r = 0; r < rows; r++) {                                                                   \
                float inv = 1.0f / (float)l[r];                                                                 \
                float *dst = out + (i0 + r) * d + h * dh + c * 16;                                              \
                for (long e = 0; e < cols; e++) dst[e] = O[r][e] * inv;                                         \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
}

#if defined(__x86_64__)
#include <immintrin.h>

// SSE2 (x86-64 baseline): 6 rows x 8 columns per pass, two passes per 16-column panel.
static void tile_sse2(const int16_t *const xr[TILE_ROWS], long pairs, const int16_t *w, int32_t acc[TILE_ROWS][16]) {
    for (int half = 0; half < 2; half++) {
        __m128i a[TILE_ROWS][2];
        for (int r = 0; r < TILE_ROWS; r++) a[r][0] = a[r][1] = _mm_setzero_si128();
        const int16_t *wh = w + half * 16;
        for (long p = 0; p < pairs; p++) {
            __m128i w0 = _mm_loadu_si128((const __m128i *)(wh + p * 32));
            __m128i w1 = _mm_loadu_si128((const __m128i *)(wh + p * 32 + 8));
            for (int r = 0; r < TILE_ROWS; r++) {
                int32_t pair; memcpy(&pair, xr[r] + 2 * p, 4);
                __m128i v = _mm_set1_epi32(pair);
                a[r][0] = _mm_add_epi32(a[r][0], _mm_madd_epi16(v, w0));
                a[r][1] = _mm_add_epi32(a[r][1], _mm_madd_epi16(v, w1));
            }
        }
        for (int r = 0; r < TILE_ROWS; r++) {
            _mm_storeu_si128((__m128i *)(acc[r] + half * 8), a[r][0]);
            _mm_storeu_si128((__m128i *)(acc[r] + half * 8 + 4), a[r][1]);
        }
    }
}

static void quant_sse2(const float *x, long n, float inv, int16_t *q) {
    __m128 iv = _mm_set1_ps(inv);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i a = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + i), iv));      // round half to even
        __m128i b = _mm_cvtps_epi32(_mm_mul_ps(_mm_loadu_ps(x + i + 4), iv));
        _mm_storeu_si128((__m128i *)(q + i), _mm_packs_epi32(a, b));
    }
    for (; i < n; i++) q[i] = (int16_t)nearbyintf(x[i] * inv);
}

#define SSE_MADD(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
static inline __m128 exp2q_sse2(__m128 x) {
    EXP2Q_BODY(__m128, _mm_set1_ps, _mm_add_ps, _mm_sub_ps, SSE_MADD, _mm_max_ps, _mm_castps_si128, _mm_castsi128_ps, _mm_add_epi32,
               _mm_slli_epi32)
}
static long expq_sse2(const float *s, long n, float m, int16_t *pq) {
    __m128 mv = _mm_set1_ps(m);
    __m128i sum = _mm_setzero_si128();
    for (long j = 0; j < n; j += 8) {
        __m128i a = _mm_cvtps_epi32(exp2q_sse2(_mm_sub_ps(_mm_loadu_ps(s + j), mv)));
        __m128i b = _mm_cvtps_epi32(exp2q_sse2(_mm_sub_ps(_mm_loadu_ps(s + j + 4), mv)));
        sum = _mm_add_epi32(sum, _mm_add_epi32(a, b));
        _mm_storeu_si128((__m128i *)(pq + j), _mm_packs_epi32(a, b));
    }
    int32_t lanes[4]; _mm_storeu_si128((__m128i *)lanes, sum);
    return (long)lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

#define AVX2_ATTR __attribute__((target("avx2,fma,f16c")))

AVX2_ATTR static void tile_avx2(const int16_t *const xr[TILE_ROWS], long pairs, const int16_t *w, int32_t out[TILE_ROWS][16]) {
    __m256i a0 = _mm256_setzero_si256(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
    __m256i a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0;
    const int16_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5];
    for (long p = 0; p < pairs; p++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + p * 32));
        __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + p * 32 + 16));
        __m256i v; int32_t pr;
#define ROW(X, A, B) memcpy(&pr, X + 2 * p, 4); v = _mm256_set1_epi32(pr); \
        A = _mm256_add_epi32(A, _mm256_madd_epi16(v, w0)); B = _mm256_add_epi32(B, _mm256_madd_epi16(v, w1));
        ROW(x0, a0, b0) ROW(x1, a1, b1) ROW(x2, a2, b2) ROW(x3, a3, b3) ROW(x4, a4, b4) ROW(x5, a5, b5)
#undef ROW
    }
    // w holds channels interleaved as 8 (k, k+1) pairs per 256-bit half: lanes map 1:1 to columns.
    _mm256_storeu_si256((__m256i *)out[0], a0); _mm256_storeu_si256((__m256i *)(out[0] + 8), b0);
    _mm256_storeu_si256((__m256i *)out[1], a1); _mm256_storeu_si256((__m256i *)(out[1] + 8), b1);
    _mm256_storeu_si256((__m256i *)out[2], a2); _mm256_storeu_si256((__m256i *)(out[2] + 8), b2);
    _mm256_storeu_si256((__m256i *)out[3], a3); _mm256_storeu_si256((__m256i *)(out[3] + 8), b3);
    _mm256_storeu_si256((__m256i *)out[4], a4); _mm256_storeu_si256((__m256i *)(out[4] + 8), b4);
    _mm256_storeu_si256((__m256i *)out[5], a5); _mm256_storeu_si256((__m256i *)(out[5] + 8), b5);
}

AVX2_ATTR static void quant_avx2(const float *x, long n, float inv, int16_t *q) {
    __m256 iv = _mm256_set1_ps(inv);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), iv));
        __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), iv));
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
    }
    for (; i < n; i++) q[i] = (int16_t)nearbyintf(x[i] * inv);
}

AVX2_ATTR static inline __m256 exp2q_avx2(__m256 x) {
    EXP2Q_BODY(__m256, _mm256_set1_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_fmadd_ps, _mm256_max_ps, _mm256_castps_si256,
               _mm256_castsi256_ps, _mm256_add_epi32, _mm256_slli_epi32)
}

AVX2_ATTR static long expq_avx2(const float *s, long n, float m, int16_t *pq) {
    __m256 mv = _mm256_set1_ps(m);
    __m256i sum = _mm256_setzero_si256();
    for (long j = 0; j < n; j += 16) {
        __m256i a = _mm256_cvtps_epi32(exp2q_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv)));
        __m256i b = _mm256_cvtps_epi32(exp2q_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), mv)));
        sum = _mm256_add_epi32(sum, _mm256_add_epi32(a, b));
        _mm256_storeu_si256((__m256i *)(pq + j), _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
    }
    int32_t lanes[8]; _mm256_storeu_si256((__m256i *)lanes, sum);
    long total = 0;
    for (int i = 0; i < 8; i++) total += lanes[i];
    return total;
}

AVX2_ATTR static inline float maxrow_avx2(const float *s, long n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    for (long j = 0; j < n; j += 16) { m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j)); m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8)); }
    float lanes[8]; _mm256_storeu_ps(lanes, _mm256_max_ps(m0, m1));
    float m = lanes[0];
    for (int i = 1; i < 8; i++) m = lanes[i] > m ? lanes[i] : m;
    return m;
}
// Same multiplication order as scale16_c: (acc·a)·sk.
AVX2_ATTR static inline void scale16_avx2(const int32_t *acc, float a, const float *sk, float *s) {
    __m256 av = _mm256_set1_ps(a);
    _mm256_storeu_ps(s, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)acc)), av), _mm256_loadu_ps(sk)));
    _mm256_storeu_ps(s + 8, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + 8))), av), _mm256_loadu_ps(sk + 8)));
}
AVX2_ATTR static inline void flush16_avx2(const int32_t *acc, const float *sv, float *o) {
    _mm256_storeu_ps(o, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)acc)), _mm256_loadu_ps(sv), _mm256_loadu_ps(o)));
    _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + 8))), _mm256_loadu_ps(sv + 8), _mm256_loadu_ps(o + 8)));
}

void ssast_attn_i16_pack_generic(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    pack(qkv, t, heads, dh, task0, task1, (uint8_t *)packed, quant_sse2);
}
ATTN_RUN(ssast_attn_i16_generic, , tile_sse2, expq_sse2, maxrow_c, scale16_c, flush16_c)
AVX2_ATTR void ssast_attn_i16_pack_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    pack(qkv, t, heads, dh, task0, task1, (uint8_t *)packed, quant_avx2);
}
ATTN_RUN(ssast_attn_i16_avx2, AVX2_ATTR, tile_avx2, expq_avx2, maxrow_avx2, scale16_avx2, flush16_avx2)

// AVX-512: one zmm holds a whole pair row of a 16-column panel (16 columns x 2 int16), so a tile row
// is one accumulator. Two pairs per step into separate accumulators (12 chains: vpdpwssd's latency
// of ~5 cycles at 2 per cycle needs 10), added at the end: integer sums, identical to the other tiles.
static inline int32_t load_pair(const int16_t *p) { int32_t v; memcpy(&v, p, 4); return v; }
#define AVX512_ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl")))
#define VNNI_ATTR __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define ATTN_TILE512(NAME, ATTR, MADD)                                                                           \
ATTR static void NAME(const int16_t *const xr[TILE_ROWS], long pairs, const int16_t *w, int32_t out[TILE_ROWS][16]) { \
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;                            \
    __m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;                                                \
    const int16_t *x0 = xr[0], *x1 = xr[1], *x2 = xr[2], *x3 = xr[3], *x4 = xr[4], *x5 = xr[5];                  \
    long p = 0;                                                                                                  \
    for (; p + 2 <= pairs; p += 2) {                                                                             \
        __m512i w0 = _mm512_loadu_si512(w + p * 32), w1 = _mm512_loadu_si512(w + p * 32 + 32);                   \
        a0 = MADD(a0, _mm512_set1_epi32(load_pair(x0 + 2 * p)), w0); b0 = MADD(b0, _mm512_set1_epi32(load_pair(x0 + 2 * p + 2)), w1); \
        a1 = MADD(a1, _mm512_set1_epi32(load_pair(x1 + 2 * p)), w0); b1 = MADD(b1, _mm512_set1_epi32(load_pair(x1 + 2 * p + 2)), w1); \
        a2 = MADD(a2, _mm512_set1_epi32(load_pair(x2 + 2 * p)), w0); b2 = MADD(b2, _mm512_set1_epi32(load_pair(x2 + 2 * p + 2)), w1); \
        a3 = MADD(a3, _mm512_set1_epi32(load_pair(x3 + 2 * p)), w0); b3 = MADD(b3, _mm512_set1_epi32(load_pair(x3 + 2 * p + 2)), w1); \
        a4 = MADD(a4, _mm512_set1_epi32(load_pair(x4 + 2 * p)), w0); b4 = MADD(b4, _mm512_set1_epi32(load_pair(x4 + 2 * p + 2)), w1); \
        a5 = MADD(a5, _mm512_set1_epi32(load_pair(x5 + 2 * p)), w0); b5 = MADD(b5, _mm512_set1_epi32(load_pair(x5 + 2 * p + 2)), w1); \
    }                                                                                                            \
    if (p < pairs) {                                                                                             \
        __m512i w0 = _mm512_loadu_si512(w + p * 32);                                                             \
        a0 = MADD(a0, _mm512_set1_epi32(load_pair(x0 + 2 * p)), w0); a1 = MADD(a1, _mm512_set1_epi32(load_pair(x1 + 2 * p)), w0); \
        a2 = MADD(a2, _mm512_set1_epi32(load_pair(x2 + 2 * p)), w0); a3 = MADD(a3, _mm512_set1_epi32(load_pair(x3 + 2 * p)), w0); \
        a4 = MADD(a4, _mm512_set1_epi32(load_pair(x4 + 2 * p)), w0); a5 = MADD(a5, _mm512_set1_epi32(load_pair(x5 + 2 * p)), w0); \
    }                                                                                                            \
    _mm512_storeu_si512(out[0], _mm512_add_epi32(a0, b0)); _mm512_storeu_si512(out[1], _mm512_add_epi32(a1, b1)); \
    _mm512_storeu_si512(out[2], _mm512_add_epi32(a2, b2)); _mm512_storeu_si512(out[3], _mm512_add_epi32(a3, b3)); \
    _mm512_storeu_si512(out[4], _mm512_add_epi32(a4, b4)); _mm512_storeu_si512(out[5], _mm512_add_epi32(a5, b5)); \
}
#define ATTN_MADD512(acc, a, b) _mm512_add_epi32(acc, _mm512_madd_epi16(a, b))
#define ATTN_MADDVNNI(acc, a, b) _mm512_dpwssd_epi32(acc, a, b)
ATTN_TILE512(tile_avx512, AVX512_ATTR, ATTN_MADD512)
ATTN_TILE512(tile_avx512vnni, VNNI_ATTR, ATTN_MADDVNNI)
ATTN_RUN(ssast_attn_i16_avx512, AVX512_ATTR, tile_avx512, expq_avx2, maxrow_avx2, scale16_avx2, flush16_avx2)
ATTN_RUN(ssast_attn_i16_avx512vnni, VNNI_ATTR, tile_avx512vnni, expq_avx2, maxrow_avx2, scale16_avx2, flush16_avx2)

#else
static void quant_scalar(const float *x, long n, float inv, int16_t *q) {
    for (long i = 0; i < n; i++) q[i] = (int16_t)nearbyintf(x[i] * inv);
}

// ---- portable C (any architecture) ----

static void tile_scalar(const int16_t *const xr[TILE_ROWS], long pairs, const int16_t *w, int32_t acc[TILE_ROWS][16]) {
    for (int r = 0; r < TILE_ROWS; r++) {
        for (int c = 0; c < 16; c++) acc[r][c] = 0;
        for (long p = 0; p < pairs; p++) {
            int32_t a = xr[r][2 * p], b = xr[r][2 * p + 1];
            const int16_t *wp = w + p * 32;
            for (int c = 0; c < 16; c++) acc[r][c] += a * wp[2 * c] + b * wp[2 * c + 1];
        }
    }
}

#define EXP2Q_ADD(a, b) ((a) + (b))
#define EXP2Q_SUB(a, b) ((a) - (b))
#define EXP2Q_MADD(a, b, c) ((a) * (b) + (c))
#define EXP2Q_SHL(a, k) ((a) << (k))
static inline uint32_t exp2q_bits(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float exp2q_float(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline float exp2q_scalar(float x) {
    EXP2Q_BODY(float, (float), EXP2Q_ADD, EXP2Q_SUB, EXP2Q_MADD, fmaxf, exp2q_bits, exp2q_float, EXP2Q_ADD, EXP2Q_SHL)
}
static long expq_scalar(const float *s, long n, float m, int16_t *pq) {
    long sum = 0;
    for (long j = 0; j < n; j++) {
        pq[j] = (int16_t)nearbyintf(exp2q_scalar(s[j] - m));
        sum += pq[j];
    }
    return sum;
}

void ssast_attn_i16_pack_generic(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    pack(qkv, t, heads, dh, task0, task1, (uint8_t *)packed, quant_scalar);
}
ATTN_RUN(ssast_attn_i16_generic, , tile_scalar, expq_scalar, maxrow_c, scale16_c, flush16_c)

#if defined(__aarch64__)
#include "ckernels_neon.h"
#include <arm_neon.h>
// NEON (any aarch64 core): the tile, which holds nearly all the multiply-adds, on SMLAL by lane. Two
// pairs of head dimensions (or keys) per step: one 4-lane load per row gives both pairs' activations,
// LD2 splits each pair's 16 interleaved (even, odd) int16 weights, and each product goes into 4 int32x4
// accumulators per row (24 for the 6 rows, of 32 registers). Integer sums in int32, as in tile_scalar,
// so the results are identical to it.
#define NEON_PAIR(W, LE, LO)                                                                    \
    do {                                                                                        \
        int16x8x2_t lo = vld2q_s16(W), hi = vld2q_s16((W) + 16);  /* val[0]: even, val[1]: odd */ \
        for (int r = 0; r < TILE_ROWS; r++) {                                                   \
            a[r][0] = vmlal_lane_s16(a[r][0], vget_low_s16(lo.val[0]), x4[r], LE);              \
            a[r][1] = vmlal_high_lane_s16(a[r][1], lo.val[0], x4[r], LE);                       \
            a[r][2] = vmlal_lane_s16(a[r][2], vget_low_s16(hi.val[0]), x4[r], LE);              \
            a[r][3] = vmlal_high_lane_s16(a[r][3], hi.val[0], x4[r], LE);                       \
            a[r][0] = vmlal_lane_s16(a[r][0], vget_low_s16(lo.val[1]), x4[r], LO);              \
            a[r][1] = vmlal_high_lane_s16(a[r][1], lo.val[1], x4[r], LO);                       \
            a[r][2] = vmlal_lane_s16(a[r][2], vget_low_s16(hi.val[1]), x4[r], LO);              \
            a[r][3] = vmlal_high_lane_s16(a[r][3], hi.val[1], x4[r], LO);                       \
        }                                                                                       \
    } while (0)

static void tile_neon(const int16_t *const xr[TILE_ROWS], long pairs, const int16_t *w, int32_t acc[TILE_ROWS][16]) {
    int32x4_t a[TILE_ROWS][4];
    int16x4_t x4[TILE_ROWS];
    for (int r = 0; r < TILE_ROWS; r++) for (int c = 0; c < 4; c++) a[r][c] = vdupq_n_s32(0);
    long p = 0;
    for (; p + 2 <= pairs; p += 2) {
        for (int r = 0; r < TILE_ROWS; r++) x4[r] = vld1_s16(xr[r] + 2 * p);  // (even, odd) of pairs p, p+1
        NEON_PAIR(w + p * 32, 0, 1);
        NEON_PAIR(w + (p + 1) * 32, 2, 3);
    }
    if (p < pairs) {
        for (int r = 0; r < TILE_ROWS; r++) {
            int16_t two[4] = { xr[r][2 * p], xr[r][2 * p + 1], 0, 0 };
            x4[r] = vld1_s16(two);
        }
        NEON_PAIR(w + p * 32, 0, 1);
    }
    for (int r = 0; r < TILE_ROWS; r++) for (int c = 0; c < 4; c++) vst1q_s32(acc[r] + 4 * c, a[r][c]);
}
ATTN_RUN(ssast_attn_i16_neon, , tile_neon, expq_scalar, maxrow_c, scale16_c, flush16_c)
#endif
void ssast_attn_i16_pack_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    ssast_attn_i16_pack_generic(qkv, t, heads, dh, task0, task1, packed);
}
void ssast_attn_i16_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed, float *out, void *scratch) {
    ssast_attn_i16_generic(qkv, t, heads, dh, task0, task1, packed, out, scratch);
}
void ssast_attn_i16_avx512(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed, float *out, void *scratch) {
    ssast_attn_i16_generic(qkv, t, heads, dh, task0, task1, packed, out, scratch);
}
void ssast_attn_i16_avx512vnni(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed, float *out, void *scratch) {
    ssast_attn_i16_generic(qkv, t, heads, dh, task0, task1, packed, out, scratch);
}
#endif
