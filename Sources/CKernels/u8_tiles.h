// The byte-multiplying register tiles and their drivers, written once and compiled twice: natively in
// u8.c (x86 intrinsics, per-function target attributes) and, in the test build, against SIMDe's
// portable implementations (Tests/CKernelsSIMDe), so CPUs without VNNI check them bit for bit too.
// The includer defines U8_ATTR512 / U8_ATTR256 (function attributes), U8_DPBUSD256 (the VEX or a
// portable ymm vpdpbusd) and U8_NAME (the drivers' names) and includes the x86 intrinsics first.
//
// Weights stay in the pair-interleaved panels used in place from the weight file: vpdpbusd wants 4
// consecutive k of one channel per 32-bit lane, so each group of 4 k is built from two pair rows by
// interleaving their 16-bit (one channel's pair) elements: unpacklo gives channels 0-3 of every
// 8-channel (128-bit) lane, unpackhi channels 4-7. The accumulators hold channels in that order and
// are put back in order once per tile. Activations: 4 consecutive u8 broadcast to every lane.
#include "i8_gemm_loops.h"
#include <string.h>

static inline int32_t u8_load4(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

// AVX-512 VNNI: 8 rows x 32 channels, 16 zmm accumulators; per group of 4 k, 2 weight loads,
// 2 unpacks and 8 broadcasts feed 16 vpdpbusd.
#define U8_ROWS512 8
U8_ATTR512 static void tile_u8_avx512vnni(const uint8_t *const xr[U8_ROWS512], long pairs, const int8_t *w,
                                          int32_t out[U8_ROWS512][32]) {
    __m512i lo[U8_ROWS512], hi[U8_ROWS512];
    for (int r = 0; r < U8_ROWS512; r++) lo[r] = hi[r] = _mm512_setzero_si512();
    long groups = (pairs + 1) / 2;
    for (long g = 0; g < groups; g++) {
        __m512i a = _mm512_loadu_si512((const void *)(w + 2 * g * 2 * SSAST_I8_PANEL));
        // An odd number of pairs: the last group's second pair is zero (its activations are padding).
        __m512i b = 2 * g + 1 < pairs ? _mm512_loadu_si512((const void *)(w + (2 * g + 1) * 2 * SSAST_I8_PANEL))
                                      : _mm512_setzero_si512();
        __m512i wl = _mm512_unpacklo_epi16(a, b), wh = _mm512_unpackhi_epi16(a, b);
        for (int r = 0; r < U8_ROWS512; r++) {
            __m512i v = _mm512_set1_epi32(u8_load4(xr[r] + 4 * g));
            lo[r] = _mm512_dpbusd_epi32(lo[r], v, wl);
            hi[r] = _mm512_dpbusd_epi32(hi[r], v, wh);
        }
    }
    static const int32_t order[2][16] = {{0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23},
                                         {8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31}};
    __m512i o0 = _mm512_loadu_si512((const void *)order[0]), o1 = _mm512_loadu_si512((const void *)order[1]);
    for (int r = 0; r < U8_ROWS512; r++) {
        _mm512_storeu_si512((void *)out[r], _mm512_permutex2var_epi32(lo[r], o0, hi[r]));
        _mm512_storeu_si512((void *)(out[r] + 16), _mm512_permutex2var_epi32(lo[r], o1, hi[r]));
    }
}

// The epilogue of ssast_u8_store_rows on whole vectors, for tiles of full width: the same operations
// in the same order (no fused multiply-add), so bit-identical to it. With k = 192 (qkv, fc1) the
// tile's products take about as long as a scalar epilogue would.
U8_ATTR512 static void store_u8_512(int32_t acc[U8_ROWS512][32], long rows, long cols, long i, long col,
                                    const ssast_u8_rows *X, const ssast_i8_matrix *W, const ssast_f32_out *Y) {
    if (cols < 32) { ssast_u8_store_rows(&acc[0][0], 32, rows, cols, i, col, X, W, Y); return; }
    for (long r = 0; r < rows; r++) {
        __m512i z = _mm512_set1_epi32(X->zero[i + r]);
        __m512 s = _mm512_set1_ps(X->scale[i + r]);
        float *y = Y->y + (i + r) * Y->ldy + col;
        for (int h = 0; h < 2; h++) {
            __m512i a = _mm512_sub_epi32(_mm512_loadu_si512((const void *)(acc[r] + 16 * h)),
                                         _mm512_mullo_epi32(z, _mm512_loadu_si512((const void *)(W->colsum + col + 16 * h))));
            __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), s), _mm512_loadu_ps(W->scale + col + 16 * h));
            if (W->bias) v = _mm512_add_ps(v, _mm512_loadu_ps(W->bias + col + 16 * h));
            if (Y->accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(y + 16 * h));
            _mm512_storeu_ps(y + 16 * h, v);
        }
    }
}
#define U8_STORE512(acc, rows, cols, i, col) store_u8_512(acc, rows, cols, i, col, X, W, Y)

U8_ATTR512 void U8_NAME(ssast_u8_gemm_avx512vnni)(SSAST_U8_GEMM_ARGS) {
    SSAST_U8_GEMM_UNPACK;
    SSAST_GEMM_LOOPS(uint8_t, X->u, X->stride, U8_ROWS512, 32, tile_u8_avx512vnni, U8_STORE512);
}

// AVX-VNNI (VEX, 16 ymm registers): 6 rows x 16 channels, 12 accumulators.
#define U8_ROWS256 6
U8_ATTR256 static void tile_u8_avxvnni(const uint8_t *const xr[U8_ROWS256], long pairs, const int8_t *w,
                                       int32_t out[U8_ROWS256][16]) {
    __m256i lo[U8_ROWS256], hi[U8_ROWS256];
    for (int r = 0; r < U8_ROWS256; r++) lo[r] = hi[r] = _mm256_setzero_si256();
    long groups = (pairs + 1) / 2;
    for (long g = 0; g < groups; g++) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(w + 2 * g * 2 * SSAST_I8_PANEL));
        __m256i b = 2 * g + 1 < pairs ? _mm256_loadu_si256((const __m256i *)(w + (2 * g + 1) * 2 * SSAST_I8_PANEL))
                                      : _mm256_setzero_si256();
        __m256i wl = _mm256_unpacklo_epi16(a, b), wh = _mm256_unpackhi_epi16(a, b);
        for (int r = 0; r < U8_ROWS256; r++) {
            __m256i v = _mm256_set1_epi32(u8_load4(xr[r] + 4 * g));
            lo[r] = U8_DPBUSD256(lo[r], v, wl);
            hi[r] = U8_DPBUSD256(hi[r], v, wh);
        }
    }
    for (int r = 0; r < U8_ROWS256; r++) {
        _mm256_storeu_si256((__m256i *)out[r], _mm256_permute2x128_si256(lo[r], hi[r], 0x20));
        _mm256_storeu_si256((__m256i *)(out[r] + 8), _mm256_permute2x128_si256(lo[r], hi[r], 0x31));
    }
}

U8_ATTR256 static void store_u8_256(int32_t acc[U8_ROWS256][16], long rows, long cols, long i, long col,
                                    const ssast_u8_rows *X, const ssast_i8_matrix *W, const ssast_f32_out *Y) {
    if (cols < 16) { ssast_u8_store_rows(&acc[0][0], 16, rows, cols, i, col, X, W, Y); return; }
    for (long r = 0; r < rows; r++) {
        __m256i z = _mm256_set1_epi32(X->zero[i + r]);
        __m256 s = _mm256_set1_ps(X->scale[i + r]);
        float *y = Y->y + (i + r) * Y->ldy + col;
        for (int h = 0; h < 2; h++) {
            __m256i a = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(acc[r] + 8 * h)),
                                         _mm256_mullo_epi32(z, _mm256_loadu_si256((const __m256i *)(W->colsum + col + 8 * h))));
            __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a), s), _mm256_loadu_ps(W->scale + col + 8 * h));
            if (W->bias) v = _mm256_add_ps(v, _mm256_loadu_ps(W->bias + col + 8 * h));
            if (Y->accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(y + 8 * h));
            _mm256_storeu_ps(y + 8 * h, v);
        }
    }
}
#define U8_STORE256(acc, rows, cols, i, col) store_u8_256(acc, rows, cols, i, col, X, W, Y)

U8_ATTR256 void U8_NAME(ssast_u8_gemm_avxvnni)(SSAST_U8_GEMM_ARGS) {
    SSAST_U8_GEMM_UNPACK;
    SSAST_GEMM_LOOPS(uint8_t, X->u, X->stride, U8_ROWS256, 16, tile_u8_avxvnni, U8_STORE256);
}
