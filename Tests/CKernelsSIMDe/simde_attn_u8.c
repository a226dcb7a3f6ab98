// CKernels' 8-bit attention kernels (attention_u8_body.h) built a second time, on SIMDe: the same source
// text with the x86 intrinsic names mapped to SIMDe's portable implementations (simde_x86.h), no target
// attributes, the kernels renamed *_simde.
#include "simde_x86.h"
#include "ckernels_simde.h"

#define U8A_ATTR512
#define U8A_ATTR256
#define U8A_DPBUSD256(acc, a, b) simde_mm256_dpbusd_epi32(acc, a, b)
#define U8A_NAME(name) name##_simde
#include "../../Sources/CKernels/attention_u8_body.h"
