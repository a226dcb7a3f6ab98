// The byte-multiplying int8 kernels (CKernels' u8_tiles.h) compiled against SIMDe's portable x86
// intrinsics, for the tests: they run on any CPU and must match ssast_u8_gemm_generic bit for bit.
#ifndef SSAST_CKERNELS_SIMDE_H
#define SSAST_CKERNELS_SIMDE_H
#include "ckernels.h"

void ssast_u8_gemm_avx512vnni_simde(SSAST_U8_GEMM_ARGS);
void ssast_u8_gemm_avxvnni_simde(SSAST_U8_GEMM_ARGS);
// The 8-bit attention's VNNI kernels likewise; they must match ssast_attn_u8_generic bit for bit.
void ssast_attn_u8_avx512vnni_simde(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                                    float *out, void *scratch);
void ssast_attn_u8_avxvnni_simde(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                                 float *out, void *scratch);
// The aarch64 SDOT one on SIMDe's NEON (simde_attn_u8_neon.c), likewise.
void ssast_attn_u8_dotprod_simde(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                                 float *out, void *scratch);
#endif
