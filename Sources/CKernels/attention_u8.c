// The 8-bit attention of int8 models (see include/ckernels.h): the packing pass, the plain twin, and
// the VNNI kernels on x86, the SDOT one on aarch64 (attention_u8_body.h).
#include "ckernels.h"
#if defined(__x86_64__)
#include <immintrin.h>
#define U8A_ATTR512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define U8A_ATTR256 __attribute__((target("avx2,fma,f16c,avxvnni")))
#define U8A_DPBUSD256(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
#define U8A_NAME(name) name
#elif defined(__aarch64__)
#include <arm_neon.h>
#include "ckernels_neon.h"
#if defined(__clang__)
#define U8A_ATTR_DOTPROD __attribute__((target("dotprod")))
#else
#define U8A_ATTR_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#define U8A_NAME(name) name
#endif
#include "attention_u8_body.h"

long ssast_attn_u8_packed_bytes(long t, long heads, long dh) { return heads * u8a_layout_of(t, dh).bytes; }
long ssast_attn_u8_pack_tasks(long t, long heads) { return heads * ((t + U8A_CHUNK - 1) / U8A_CHUNK); }
long ssast_attn_u8_tasks(long t, long heads) { return heads * ((t + U8A_ROWS - 1) / U8A_ROWS); }
long ssast_attn_u8_scratch_bytes(long t, long dh) { (void)dh; return U8A_ROWS * u8a_up(t, U8A_PANEL) * 5 + 64; }

void ssast_attn_u8_pack(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    u8a_pack(qkv, t, heads, dh, task0, task1, packed);
}
#if defined(__x86_64__)
// The same pass vectorised for AVX2 (identical results: integer levels, and the same float operations).
__attribute__((target("avx2,fma,f16c"))) void ssast_attn_u8_pack_avx2(const float *qkv, long t, long heads, long dh,
                                                                      long task0, long task1, void *packed) {
    u8a_pack(qkv, t, heads, dh, task0, task1, packed);
}
#else
void ssast_attn_u8_pack_avx2(const float *qkv, long t, long heads, long dh, long task0, long task1, void *packed) {
    u8a_pack(qkv, t, heads, dh, task0, task1, packed);
}
#endif

// The plain tile: the integer sums every kernel computes.
static inline void u8a_tile_plain(const uint8_t *const xr[U8A_ROWS], long groups, const int8_t *w0, const int8_t *w1,
                                  const int32_t *c0, const int32_t *c1, int32_t acc[U8A_ROWS][32]) {
    (void)c0; (void)c1;
    for (int r = 0; r < U8A_ROWS; r++) {
        for (int c = 0; c < 32; c++) acc[r][c] = 0;
        for (long g = 0; g < groups; g++) {
            const uint8_t *x = xr[r] + 4 * g;
            for (int c = 0; c < 32; c++) {
                const int8_t *wg = (c < 16 ? w0 : w1) + g * 64 + 4 * (c % 16);
                acc[r][c] += x[0] * wg[0] + x[1] * wg[1] + x[2] * wg[2] + x[3] * wg[3];
            }
        }
    }
}
U8A_RUN(ssast_attn_u8_generic, , u8a_tile_plain)

#if !defined(__x86_64__)
void ssast_attn_u8_avx512vnni(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                              float *out, void *scratch) {
    ssast_attn_u8_generic(qkv, t, heads, dh, task0, task1, packed, out, scratch);
}
void ssast_attn_u8_avxvnni(const float *qkv, long t, long heads, long dh, long task0, long task1, const void *packed,
                           float *out, void *scratch) {
    ssast_attn_u8_generic(qkv, t, heads, dh, task0, task1, packed, out, scratch);
}
#endif
