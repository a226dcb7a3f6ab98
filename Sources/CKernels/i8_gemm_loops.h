// What every int8 GEMM driver shares (int8.c for x86, neon_int8.c for aarch64): the float epilogue
// and the loop nest around the per-ISA register tile. Private to CKernels.
#ifndef SSAST_I8_GEMM_LOOPS_H
#define SSAST_I8_GEMM_LOOPS_H
#include <stdint.h>
#include "ckernels.h"

#define SSAST_I8_PANEL 32      // channels per packed weight panel (Packing.panel)
#define SSAST_I8_GROUP_BYTES (192 * 1024)  // weight bytes a tile walks with its rows in L1 (see SSAST_GEMM_LOOPS)

// The epilogue of every variant, one row: y = (acc·sx)·ws + bias (+ y). The same operations in the
// same order everywhere, so kernels that share it give bit-identical results.
static inline void ssast_i8_store_row(const int32_t *acc, long cols, float sx, const float *ws, const float *bias, float *y,
                                      int accumulate) {
    for (long c = 0; c < cols; c++) {
        float v = ((float)acc[c] * sx) * ws[c];
        if (bias) v += bias[c];
        y[c] = accumulate ? v + y[c] : v;
    }
}

// STORE for SSAST_I8_GEMM_LOOPS: the valid rows of a tile through ssast_i8_store_row.
#define SSAST_I8_STORE_ROWS(acc, rows, cols, i, col)                                                            \
    for (long r_ = 0; r_ < (rows); r_++)                                                                        \
        ssast_i8_store_row((acc)[r_], (cols), X->scale[(i) + r_], W->scale + (col), W->bias ? W->bias + (col) : 0, \
                           Y->y + ((i) + r_) * Y->ldy + (col), Y->accumulate)

// The body of a driver: rows r0..<r1; panels p0..<p1 of the weights w (kPad k per channel, n channels),
// each in chunks of WIDTH channels (a divisor of 32); tiles of ROWS rows, where rows past the end repeat
// the last one and are not stored. Activation row i starts at XBASE + i·XSTRIDE (elements of type XT).
// TILE(xr, pairs, w, acc) fills int32 acc[ROWS][WIDTH] from ROWS activation row pointers and the chunk's
// pair-interleaved weights (2·WIDTH bytes per pair of k); STORE(acc, rows, cols, i, col) writes the valid
// part of the tile at row i, channel col.
// Loop order as the fp32 GEMM's (KernelsCore's Core.gemmPanels): a tile's activation rows stay in L1 while
// it walks a group of weight chunks (SSAST_I8_GROUP_BYTES in all, L2).
#define SSAST_GEMM_LOOPS(XT, XBASE, XSTRIDE, ROWS, WIDTH, TILE, STORE)                                          \
    do {                                                                                                        \
        long pairs = kPad / 2;                                                                                  \
        int32_t acc[ROWS][WIDTH];                                                                               \
        const long perPanel = SSAST_I8_PANEL / (WIDTH);                                                         \
        long group = SSAST_I8_GROUP_BYTES / (kPad * (WIDTH) > 0 ? kPad * (WIDTH) : 1);                          \
        if (group < 1) group = 1;                                                                               \
        long total = (p1 - p0) * perPanel;                                                                      \
        for (long g0 = 0; g0 < total; g0 += group) {                                                            \
            long g1 = g0 + group < total ? g0 + group : total;                                                  \
            for (long i = r0; i < r1; i += (ROWS)) {                                                            \
                long rows = r1 - i < (ROWS) ? r1 - i : (ROWS);                                                  \
                const XT *xr[ROWS];                                                                             \
                for (int r = 0; r < (ROWS); r++) xr[r] = (XBASE) + (i + (r < rows ? r : rows - 1)) * (XSTRIDE); \
                for (long gc = g0; gc < g1; gc++) {                                                             \
                    long p = p0 + gc / perPanel, c = gc % perPanel;                                             \
                    long col = p * SSAST_I8_PANEL + c * (WIDTH);                                                \
                    if (col >= n) continue;                                                                     \
                    long cols = n - col < (WIDTH) ? n - col : (WIDTH);                                          \
                    const int8_t *wp = w + p * kPad * SSAST_I8_PANEL + c * 2 * (WIDTH);                         \
                    TILE(xr, pairs, wp, acc);                                                                   \
                    STORE(acc, rows, cols, i, col);                                                             \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    } while (0)

// Drivers taking SSAST_I8_GEMM_ARGS. The loops read xq, w, n and kPad; the epilogues read the rest from
// the structs where they need it (locals for all of them cost the tile loop row-pointer reloads).
#define SSAST_I8_GEMM_LOOPS(ROWS, WIDTH, TILE, STORE)                                                           \
    do {                                                                                                        \
        const int16_t *xq = X->xq;                                                                              \
        const int8_t *w = W->q;                                                                                 \
        long n = W->n, kPad = W->kPad;                                                                          \
        SSAST_GEMM_LOOPS(int16_t, xq, kPad, ROWS, WIDTH, TILE, STORE);                                          \
    } while (0)
// Drivers written out by hand (neon_int8.c): every argument as a local.
#define SSAST_I8_GEMM_UNPACK                                                                                    \
    const int16_t *xq = X->xq;                                                                                  \
    const float *xs = X->scale, *ws = W->scale, *bias = W->bias;                                                \
    const int8_t *w = W->q;                                                                                     \
    long n = W->n, kPad = W->kPad, ldy = Y->ldy;                                                                \
    float *y = Y->y;                                                                                            \
    int accumulate = Y->accumulate

// Drivers taking SSAST_U8_GEMM_ARGS: the names the loops use, unpacked from the argument structs.
#define SSAST_U8_GEMM_UNPACK                                                                                    \
    long kPad = W->kPad, n = W->n;                                                                              \
    const int8_t *w = W->q

// The 8-bit epilogue: the byte kernels sum u·q; subtracting zero[i]·colsum[j] gives Σ (u - zero)·q,
// the exact integer the generic kernel sums directly, then the shared float epilogue.
static inline void ssast_u8_store_rows(int32_t *acc, long width, long rows, long cols, long i, long col,
                                       const ssast_u8_rows *X, const ssast_i8_matrix *W, const ssast_f32_out *Y) {
    for (long r = 0; r < rows; r++) {
        int32_t *a = acc + r * width, z = X->zero[i + r];
        for (long c = 0; c < cols; c++) a[c] -= z * W->colsum[col + c];
        ssast_i8_store_row(a, cols, X->scale[i + r], W->scale + col, W->bias ? W->bias + col : 0,
                           Y->y + (i + r) * Y->ldy + col, Y->accumulate);
    }
}
#define SSAST_U8_STORE_ROWS(acc, rows, cols, i, col) \
    ssast_u8_store_rows(&(acc)[0][0], sizeof((acc)[0]) / sizeof(int32_t), rows, cols, i, col, X, W, Y)

#endif
