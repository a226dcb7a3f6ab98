// int8 linear kernels for aarch64 (see include/ckernels_neon.h). Weights stay in the pair-interleaved
// panels of Packing.packI8 (used in place from the mmap): SMLAL de-interleaves them with LD2, SDOT
// builds 4-k groups per channel by zipping two adjacent pair rows.
#include "ckernels_neon.h"
#include "i8_gemm_loops.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <stdlib.h>
#include <string.h>

#define PANEL SSAST_I8_PANEL

// ---- SMLAL: 4 rows x 16 channels; per pair, LD2 splits even/odd k of 16 channels.
#define SM_ROWS 4
static void tile_smlal(const int16_t *const xr[SM_ROWS], long pairs, const int8_t *w, int32_t out[SM_ROWS][16]) {
    int32x4_t acc[SM_ROWS][4];
    for (int r = 0; r < SM_ROWS; r++) for (int c = 0; c < 4; c++) acc[r][c] = vdupq_n_s32(0);
    for (long q = 0; q < pairs; q++) {
        int8x16x2_t raw = vld2q_s8(w + q * 2 * PANEL);  // val[0]: k even, val[1]: k odd; 16 channels
        int16x8_t e0 = vmovl_s8(vget_low_s8(raw.val[0])), e1 = vmovl_high_s8(raw.val[0]);
        int16x8_t o0 = vmovl_s8(vget_low_s8(raw.val[1])), o1 = vmovl_high_s8(raw.val[1]);
        for (int r = 0; r < SM_ROWS; r++) {
            int16_t xe = xr[r][2 * q], xo = xr[r][2 * q + 1];
            acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(e0), xe);
            acc[r][1] = vmlal_high_n_s16(acc[r][1], e0, xe);
            acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(e1), xe);
            acc[r][3] = vmlal_high_n_s16(acc[r][3], e1, xe);
            acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(o0), xo);
            acc[r][1] = vmlal_high_n_s16(acc[r][1], o0, xo);
            acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(o1), xo);
            acc[r][3] = vmlal_high_n_s16(acc[r][3], o1, xo);
        }
    }
    for (int r = 0; r < SM_ROWS; r++) for (int c = 0; c < 4; c++) vst1q_s32(out[r] + 4 * c, acc[r][c]);
}

void ssast_i8_gemm_neon(SSAST_I8_GEMM_ARGS) { SSAST_I8_GEMM_LOOPS(SM_ROWS, 16, tile_smlal, SSAST_I8_STORE_ROWS); }

// ---- SDOT: 4 rows x 8 channels. Group g = k 4g...4g+3 = pair rows 2g and 2g+1; zipping their
// 16-bit (one channel's pair) lanes gives 4 channels x 4 k per vector. Activation rows are first
// split into hi/lo int8 rows, zero-padded to a multiple of 16 k (one vector = 4 groups).
#define DP_ROWS 4
#if defined(__clang__)
#define DOTPROD_ATTR __attribute__((target("dotprod")))
#else
#define DOTPROD_ATTR __attribute__((target("arch=armv8.2-a+dotprod")))
#endif

// Weight vectors of group g for channels c0..c0+7 (zero past the last group, and a zero second pair
// when kPad is not a multiple of 4).
static inline void group_weights(const int8_t *w, long g, long pairs, int8x16_t *lo4, int8x16_t *hi4) {
    int16x8_t a = vreinterpretq_s16_s8(vld1q_s8(w + (2 * g) * 2 * PANEL));
    int16x8_t b = 2 * g + 1 < pairs ? vreinterpretq_s16_s8(vld1q_s8(w + (2 * g + 1) * 2 * PANEL)) : vdupq_n_s16(0);
    *lo4 = vreinterpretq_s8_s16(vzip1q_s16(a, b));
    *hi4 = vreinterpretq_s8_s16(vzip2q_s16(a, b));
}

#define DP_STEP(LANE)                                                                       \
    if (g + LANE < groups) {                                                                \
        int8x16_t w0, w1;                                                                   \
        group_weights(w, g + LANE, pairs, &w0, &w1);                                        \
        for (int r = 0; r < DP_ROWS; r++) {                                                 \
            hi[r][0] = vdotq_laneq_s32(hi[r][0], w0, xh[r], LANE);                          \
            hi[r][1] = vdotq_laneq_s32(hi[r][1], w1, xh[r], LANE);                          \
            if (split) {                                                                    \
                lo[r][0] = vdotq_laneq_s32(lo[r][0], w0, xl[r], LANE);                      \
                lo[r][1] = vdotq_laneq_s32(lo[r][1], w1, xl[r], LANE);                      \
            }                                                                               \
        }                                                                                   \
    }

DOTPROD_ATTR
static void tile_sdot(const int8_t *const ah[DP_ROWS], const int8_t *const al[DP_ROWS], int split, long pairs,
                      const int8_t *w, int32_t out[DP_ROWS][8]) {
    long groups = (pairs + 1) / 2;
    int32x4_t hi[DP_ROWS][2], lo[DP_ROWS][2];
    for (int r = 0; r < DP_ROWS; r++) hi[r][0] = hi[r][1] = lo[r][0] = lo[r][1] = vdupq_n_s32(0);
    for (long g = 0; g < groups; g += 4) {
        int8x16_t xh[DP_ROWS], xl[DP_ROWS];
        for (int r = 0; r < DP_ROWS; r++) {
            xh[r] = vld1q_s8(ah[r] + 4 * g);
            xl[r] = split ? vld1q_s8(al[r] + 4 * g) : vdupq_n_s8(0);
        }
        DP_STEP(0) DP_STEP(1) DP_STEP(2) DP_STEP(3)
    }
    for (int r = 0; r < DP_ROWS; r++) {
        for (int c = 0; c < 2; c++) {
            // x·w = 16·(hi·w) + lo·w, exact in int32 (the caller bounds k·127·qmax below 2^31).
            int32x4_t v = split ? vaddq_s32(vshlq_n_s32(hi[r][c], 4), lo[r][c]) : hi[r][c];
            vst1q_s32(out[r] + 4 * c, v);
        }
    }
}

DOTPROD_ATTR
void ssast_i8_gemm_dotprod(SSAST_I8_GEMM_ARGS) {
    if (r0 >= r1 || p0 >= p1) return;
    SSAST_I8_GEMM_UNPACK;
    long pairs = kPad / 2;
    long kv = (kPad + 15) / 16 * 16;
    // Split only when some activation is outside int8 (12-bit activations, the default).
    int split = 0;
    for (long i = r0; i < r1 && !split; i++)
        for (long kk = 0; kk < kPad; kk++) if (xq[i * kPad + kk] > 127 || xq[i * kPad + kk] < -128) { split = 1; break; }
    int8_t *buf = malloc((size_t)(2 * DP_ROWS * kv));
    if (!buf) { ssast_i8_gemm_neon(X, r0, r1, W, p0, p1, Y); return; }
    int32_t acc[DP_ROWS][8];
    for (long i = r0; i < r1; i += DP_ROWS) {
        long rows = r1 - i < DP_ROWS ? r1 - i : DP_ROWS;
        const int8_t *ah[DP_ROWS], *al[DP_ROWS];
        for (int r = 0; r < DP_ROWS; r++) {
            int8_t *h = buf + (2 * r) * kv, *l = buf + (2 * r + 1) * kv;
            const int16_t *x = xq + (i + (r < rows ? r : rows - 1)) * kPad;
            for (long kk = 0; kk < kPad; kk++) {
                int v = x[kk];
                if (split) { int lo = v & 15; l[kk] = (int8_t)lo; h[kk] = (int8_t)((v - lo) >> 4); }
                else h[kk] = (int8_t)v;
            }
            memset(h + kPad, 0, (size_t)(kv - kPad));
            memset(l + kPad, 0, (size_t)(kv - kPad));
            ah[r] = h; al[r] = l;
        }
        for (long p = p0; p < p1; p++) {
            for (int c = 0; c < 4; c++) {
                long col = p * PANEL + c * 8;
                if (col >= n) break;
                long cols = n - col < 8 ? n - col : 8;
                tile_sdot(ah, al, split, pairs, w + p * kPad * PANEL + c * 16, acc);
                for (long r = 0; r < rows; r++)
                    ssast_i8_store_row(acc[r], cols, xs[i + r], ws + col, bias ? bias + col : 0, y + (i + r) * ldy + col, accumulate);
            }
        }
    }
    free(buf);
}

// 8-bit activations: one SDOT per 4 products. SDOT multiplies signed bytes, so rows are shifted to
// s = u - 128 and 128·colsum added back: the tile sums Σ s·q + 128·colsum = Σ u·q, which the shared
// epilogue turns into Σ (u - zero)·q.
DOTPROD_ATTR
void ssast_u8_gemm_dotprod(SSAST_U8_GEMM_ARGS) {
    if (r0 >= r1 || p0 >= p1) return;
    long kPad = W->kPad, n = W->n, pairs = kPad / 2;
    long kv = (kPad + 15) / 16 * 16;
    int8_t *buf = malloc((size_t)(DP_ROWS * kv));
    if (!buf) { ssast_u8_gemm_generic(X, r0, r1, W, p0, p1, Y); return; }
    int32_t acc[DP_ROWS][8];
    for (long i = r0; i < r1; i += DP_ROWS) {
        long rows = r1 - i < DP_ROWS ? r1 - i : DP_ROWS;
        const int8_t *a[DP_ROWS];
        for (int r = 0; r < DP_ROWS; r++) {
            int8_t *s = buf + r * kv;
            const uint8_t *u = X->u + (i + (r < rows ? r : rows - 1)) * X->stride;
            for (long kk = 0; kk < kPad; kk++) s[kk] = (int8_t)(u[kk] ^ 0x80);
            memset(s + kPad, 0, (size_t)(kv - kPad));
            a[r] = s;
        }
        for (long p = p0; p < p1; p++) {
            for (int c = 0; c < 4; c++) {
                long col = p * PANEL + c * 8;
                if (col >= n) break;
                long cols = n - col < 8 ? n - col : 8;
                tile_sdot(a, a, 0, pairs, W->q + p * kPad * PANEL + c * 16, acc);
                for (long r = 0; r < rows; r++)
                    for (long j = 0; j < cols; j++) acc[r][j] += 128 * W->colsum[col + j];
                ssast_u8_store_rows(&acc[0][0], 8, rows, cols, i, col, X, W, Y);
            }
        }
    }
    free(buf);
}
#endif
