// aarch64 int8 linear kernels (neon_int8.c); same arguments and layouts as ssast_i8_gemm_generic
// in ckernels.h, and the same int32 sums, so results are bit-identical to it.
#ifndef SSAST_CKERNELS_NEON_H
#define SSAST_CKERNELS_NEON_H
#include "ckernels.h"

// SMLAL (int16 x int16 -> int32): any NEON core.
void ssast_i8_gemm_neon(SSAST_I8_GEMM_ARGS);
// SDOT (4 x int8 -> int32): only when getauxval(AT_HWCAP) has HWCAP_ASIMDDP. Activations of up to
// 12 bits are split as x = 16·hi + lo (hi in -128...127, lo in 0...15), two dot products.
void ssast_i8_gemm_dotprod(SSAST_I8_GEMM_ARGS);
#endif
