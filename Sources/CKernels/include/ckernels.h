// int8 linear kernels in C: Swift cannot be made to emit vpmaddwd / vpdpwssd from SIMD code (its
// SIMD integer widening is not lowered to vector instructions), so these few loops use intrinsics,
// each function compiled for its own ISA with a `target` attribute and called only after dispatch.
//
// Layout (Packing.packI8): panels of 32 output channels; k padded to kPad = k rounded up to 2;
// within a panel, pair p = kk/2 of channel j at byte p*64 + j*2 + (kk & 1).
// Activations: xq[i*kPad + kk] int16 holding a symmetric value in -qmax...qmax, xs[i] its scale.
// qmax is 127 for int8 activations; with int16 lanes up to 2047 (12 bits) costs nothing extra as
// long as k·127·qmax < 2^31 (the caller checks).
#ifndef SSAST_CKERNELS_H
#define SSAST_CKERNELS_H
#include <stdint.h>

// For helpers shared by several per-ISA kernels: inlined, they compile with each caller's target
// attributes (AVX2, AVX-512, ...); called, they would run the baseline (SSE2) build of themselves.
#define SSAST_INLINE static inline __attribute__((always_inline))

// Quantise rows [r0, r1) of x (row stride ldx floats, k columns): xs[i] = max|x_i| / qmax,
// xq[i*kPad + kk] = round(x / xs) (zeros for kk >= k).
void ssast_i8_quantize_generic(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs);
void ssast_i8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs);

// 8-bit activations, for CPUs that multiply bytes (vpdpbusd: u8 x s8, four products per int32 lane;
// SDOT on aarch64). Row i is quantised asymmetrically: scale = (max(x,0) - min(x,0)) / 255,
// zero = round(-min(x,0) / scale), u = clamp(round(x / scale) + zero, 0, 255), so x ≈ scale·(u - zero).
// A zero point rather than the sign trick (u = s8 + 128, a fixed offset): both cost the same, one
// integer correction per output, zero[i]·colsum[j] (colsum = Σ_k q[j, k]), subtracted from Σ u·q in
// the epilogue. But the sign trick keeps symmetric 8-bit levels (-127...127 over ±max|x|), while a zero
// point spends all 256 levels on [min, max]: inputs far from symmetric (fc2 reads GELU output, which
// is >= -0.17) get up to twice the resolution. Every kernel family computes the same integer
// Σ (u - zero)·q, so 8-bit results are bit-identical across families, byte-multiplying or not.
// Rows are `stride` bytes (ssast_u8_stride(kPad)), padded with the row's zero point.
typedef struct {
    const uint8_t *u;
    const int32_t *zero;
    const float *scale;
    long stride;
} ssast_u8_rows;
// Packed int8 weights (layout as above) with what the kernels need beside them.
typedef struct {
    const int8_t *q;
    const float *scale;    // per channel
    const int32_t *colsum; // Σ_k q[j, k] per channel (ssast_i8_colsums); read by the byte kernels only (else NULL)
    const float *bias;     // or NULL
    long n, kPad;
} ssast_i8_matrix;
typedef struct {
    float *y;
    long ldy;
    int accumulate;
} ssast_f32_out;
// Activations quantised symmetrically per row in int16 lanes: xq[i*kPad + kk] in -qmax...qmax, xs[i]
// its scale (ssast_i8_quantize_*).
typedef struct {
    const int16_t *xq;
    const float *scale;
} ssast_i16_rows;

// Rows [r0, r1) and panels [p0, p1), j < n: y[i, j] = (Σ_kk xq[i,kk]·q[j,kk])·xs[i]·ws[j] + bias[j] (+ y).
#define SSAST_I8_GEMM_ARGS const ssast_i16_rows *X, long r0, long r1, const ssast_i8_matrix *W, long p0, long p1, \
    const ssast_f32_out *Y
typedef void (*ssast_i8_gemm_fn)(SSAST_I8_GEMM_ARGS);
typedef void (*ssast_i8_quantize_fn)(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq,
                                     float *xs);
void ssast_i8_gemm_generic(SSAST_I8_GEMM_ARGS);
void ssast_i8_gemm_avx2(SSAST_I8_GEMM_ARGS);
void ssast_i8_gemm_avx512(SSAST_I8_GEMM_ARGS);
void ssast_i8_gemm_avx512vnni(SSAST_I8_GEMM_ARGS);


// Rows [r0, r1) and panels [p0, p1): y[i, j] = (Σ_k (u - zero)·q)·scale[i]·wscale[j] + bias[j] (+ y).
#define SSAST_U8_GEMM_ARGS const ssast_u8_rows *X, long r0, long r1, const ssast_i8_matrix *W, long p0, long p1, \
    const ssast_f32_out *Y
typedef void (*ssast_u8_gemm_fn)(SSAST_U8_GEMM_ARGS);
long ssast_u8_stride(long kPad);
typedef void (*ssast_u8_quantize_fn)(const float *x, long ldx, long r0, long r1, long k, long stride, uint8_t *u, int32_t *zero,
                                     float *scale);
void ssast_u8_quantize_generic(const float *x, long ldx, long r0, long r1, long k, long stride, uint8_t *u, int32_t *zero,
                               float *scale);
void ssast_u8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long stride, uint8_t *u, int32_t *zero,
                            float *scale);
// colsum[j] for the channels of panels [p0, p1) (j < n).
void ssast_i8_colsums(const int8_t *q, long n, long kPad, long p0, long p1, int32_t *colsum);
// For families without a byte multiply: xq[i*kPad + kk] = u - zero (int16), then ssast_i8_gemm_*.
void ssast_u8_widen(const ssast_u8_rows *X, long r0, long r1, long kPad, int16_t *xq);
// The plain twin (Σ (u - zero)·q directly, no colsum), and the byte-multiplying kernels:
// AVX-512 VNNI (EVEX vpdpbusd on zmm, 32 channels) and AVX-VNNI (VEX vpdpbusd on ymm, 16 channels).
void ssast_u8_gemm_generic(SSAST_U8_GEMM_ARGS);
void ssast_u8_gemm_avx512vnni(SSAST_U8_GEMM_ARGS);
void ssast_u8_gemm_avxvnni(SSAST_U8_GEMM_ARGS);

// Multi-head attention with int16 products, for int8 models. Per head: q and k rows are quantised
// symmetrically per token to L = ssast_attn_i16_qk_levels(dh) levels (2047 for dh <= 256), v per
// head dimension over blocks of 128 keys to 2047 levels; scores s = (Σ qq·kq)·sq·sk·dh^-0.5 in
// float; P = round(exp(s - row max)·8191); out = Σ_blocks (Σ P·vq)·sv / Σ P. Every int32 sum is
// bounded below 2^31 (128 keys · 8191 · 2047 per block). Two passes: pack (tasks = head x block of
// 128 keys, ssast_attn_i16_pack_tasks of them) into ssast_attn_i16_packed_bytes, then compute
// (tasks = head x block of 6 query rows) with ssast_attn_i16_scratch_bytes of scratch per thread.
long ssast_attn_i16_packed_bytes(long t, long heads, long dh);
long ssast_attn_i16_pack_tasks(long t, long heads);
long ssast_attn_i16_scratch_bytes(long t, long dh);
float ssast_attn_i16_qk_levels(long dh);
typedef void (*ssast_attn_i16_pack_fn)(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed);
typedef void (*ssast_attn_i16_fn)(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                                  float *out, void *scratch);
void ssast_attn_i16_pack_generic(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed);
void ssast_attn_i16_pack_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed);
void ssast_attn_i16_generic(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                            float *out, void *scratch);
void ssast_attn_i16_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                         float *out, void *scratch);
// AVX-512 compute pass (one zmm per tile row; vpdpwssd with VNNI), same packing and results as avx2.
void ssast_attn_i16_avx512(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                           float *out, void *scratch);
void ssast_attn_i16_avx512vnni(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                               float *out, void *scratch);

// Multi-head attention with 8-bit products (u8 x s8: vpdpbusd, four per 32-bit lane; SDOT on aarch64, see
// ckernels_neon.h), for int8 models at
// 8-bit activations. Per head: q and k rows quantised symmetrically per token to ±127; q is stored as
// u = q + 128 (the sign trick), so Σ u·k = Σ q·k + 128·Σ k, and the per-key correction 128·Σ k is
// subtracted before scaling. The sign trick rather than a zero point: q and k are linear projections of
// LayerNorm output, roughly symmetric about 0, so a zero point would gain little resolution, while the
// sign trick's correction does not depend on the query row (one integer per key, computed when packing).
// v per head dimension over blocks of 128 keys to ±127 (s8). Scores s = (Σ u·k - 128·Σ k)·sq·sk·dh^-0.5
// in float; P = round(exp(s - row max)·255) as u8 (probabilities relative to the row's largest, in
// [0, 1]: the natural unsigned side, one fixed scale); out = Σ_blocks (Σ P·vq)·sv / Σ P, with 128·Σ vq per
// dimension and block packed too (for kernels multiplying signed bytes, P - 128). Integer sums
// stay far below 2^31 (255·127·128 per block). Every kernel computes the same integers and the same
// float steps in the same order (attention_u8_body.h), so all are bit-identical to ssast_attn_u8_generic.
// Two passes: ssast_attn_u8_pack (tasks = head x block of 128 keys, ssast_attn_u8_pack_tasks of them)
// into ssast_attn_u8_packed_bytes, then compute (ssast_attn_u8_tasks tasks of 6 query rows of one head)
// with ssast_attn_u8_scratch_bytes of scratch per thread.
long ssast_attn_u8_packed_bytes(long t, long heads, long dh);
long ssast_attn_u8_pack_tasks(long t, long heads);
long ssast_attn_u8_tasks(long t, long heads);
long ssast_attn_u8_scratch_bytes(long t, long dh);
typedef void (*ssast_attn_u8_pack_fn)(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed);
void ssast_attn_u8_pack(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed);
void ssast_attn_u8_pack_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed);
typedef void (*ssast_attn_u8_fn)(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                                 float *out, void *scratch);
void ssast_attn_u8_generic(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                           float *out, void *scratch);
// AVX-512 VNNI (EVEX vpdpbusd on zmm) and AVX-VNNI (VEX vpdpbusd on ymm).
void ssast_attn_u8_avx512vnni(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                              float *out, void *scratch);
void ssast_attn_u8_avxvnni(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                           float *out, void *scratch);

#endif
