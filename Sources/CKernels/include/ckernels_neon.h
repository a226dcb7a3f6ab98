// aarch64 int8 kernels: the linears (neon_int8.c), same arguments and layouts as ssast_i8_gemm_generic
// in ckernels.h, and the int16 attention's NEON tile (attention_i16.c); the same int32 sums as the
// generic kernels, so results are bit-identical to them.
#ifndef SSAST_CKERNELS_NEON_H
#define SSAST_CKERNELS_NEON_H
#include "ckernels.h"

// SMLAL (int16 x int16 -> int32): any NEON core.
void ssast_i8_gemm_neon(SSAST_I8_GEMM_ARGS);
// SDOT (4 x int8 -> int32): only when getauxval(AT_HWCAP) has HWCAP_ASIMDDP. Activations of up to
// 12 bits are split as x = 16·hi + lo (hi in -128...127, lo in 0...15), two dot products.
void ssast_i8_gemm_dotprod(SSAST_I8_GEMM_ARGS);
// 8-bit activations (ssast_u8_rows) on SDOT, one dot product per 4 products: SDOT multiplies signed
// bytes, so u - 128 is multiplied and (zero - 128)·colsum subtracted; the same integers as
// ssast_u8_gemm_generic.
void ssast_u8_gemm_dotprod(SSAST_U8_GEMM_ARGS);

// int16-product attention (attention_i16.c) with its tile on SMLAL; packed by
// ssast_attn_i16_pack_generic, arguments and results as ssast_attn_i16_generic.
void ssast_attn_i16_neon(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                         float *out, void *scratch);
// 8-bit-product attention (attention_u8_body.h) with its tile on SDOT (only with HWCAP_ASIMDDP): rows of
// u8 enter as u - 128 and the packed 128·Σ k, 128·Σ v are added back, so the integer sums, and the
// results, are bit-identical to ssast_attn_u8_generic; packed by ssast_attn_u8_pack.
void ssast_attn_u8_dotprod(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                           float *out, void *scratch);
#endif
