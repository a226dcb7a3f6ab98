// CKernels' 8-bit attention SDOT kernel (attention_u8_body.h, aarch64) built on x86 against SIMDe's
// portable NEON: the same source text with the NEON names mapped one by one, no target attribute, the
// kernel renamed ssast_attn_u8_dotprod_simde, so it is checked bit for bit on any CPU.
#include <simde/arm/neon.h>
#include "ckernels_simde.h"

#define int8x16_t simde_int8x16_t
#define int32x4_t simde_int32x4_t
#define uint8x16_t simde_uint8x16_t
#define vld1q_s8 simde_vld1q_s8
#define vld1q_u8 simde_vld1q_u8
#define vld1q_s32 simde_vld1q_s32
#define vst1q_s32 simde_vst1q_s32
#define vdupq_n_u8 simde_vdupq_n_u8
#define veorq_u8 simde_veorq_u8
#define vreinterpretq_s8_u8 simde_vreinterpretq_s8_u8
#define vdotq_laneq_s32 simde_vdotq_laneq_s32

#define U8A_ATTR_DOTPROD
#define U8A_NAME(name) name##_simde
#include "../../Sources/CKernels/attention_u8_body.h"
