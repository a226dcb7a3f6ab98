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

// Quantise rows [r0, r1) of x (row stride ldx floats, k columns): xs[i] = max|x_i| / qmax,
// xq[i*kPad + kk] = round(x / xs) (zeros for kk >= k).
void ssast_i8_quantize_generic(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs);
void ssast_i8_quantize_avx2(const float *x, long ldx, long r0, long r1, long k, long kPad, float qmax, int16_t *xq, float *xs);

// y[i*ldy + j] = (Σ_kk xq[i,kk]·q[j,kk]) · xs[i] · ws[j] + bias[j] for rows [r0, r1), panels [p0, p1), j < n.
#define SSAST_I8_GEMM_ARGS const int16_t *xq, const float *xs, long r0, long r1, const int8_t *w, const float *ws, \
    const float *bias, long n, long kPad, long p0, long p1, float *y, long ldy
void ssast_i8_gemm_generic(SSAST_I8_GEMM_ARGS);
void ssast_i8_gemm_avx2(SSAST_I8_GEMM_ARGS);
void ssast_i8_gemm_avx512(SSAST_I8_GEMM_ARGS);
void ssast_i8_gemm_avx512vnni(SSAST_I8_GEMM_ARGS);

#endif
