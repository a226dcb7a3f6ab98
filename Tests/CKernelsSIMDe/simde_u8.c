// CKernels' byte tiles built a second time, on SIMDe: the same source text, with the x86 intrinsic names
// mapped to SIMDe's portable implementations (simde_x86.h), no target attributes, and the drivers renamed
// *_simde.
#include "simde_x86.h"
#include "ckernels_simde.h"

#define U8_ATTR512
#define U8_ATTR256
// SIMDe has no AVX-VNNI header; the VEX instruction computes what the EVEX ymm form does.
#define U8_DPBUSD256(acc, a, b) simde_mm256_dpbusd_epi32(acc, a, b)
#define U8_NAME(name) name##_simde
#include "../../Sources/CKernels/u8_tiles.h"
