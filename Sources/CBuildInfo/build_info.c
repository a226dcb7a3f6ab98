#include "build_info.h"

#ifndef SSAST_COMMIT
#define SSAST_COMMIT "unknown"
#endif

const char *ssast_build_commit(void) { return SSAST_COMMIT; }
