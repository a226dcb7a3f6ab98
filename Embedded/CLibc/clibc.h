// What Runtime uses from glibc when built with Embedded Swift for aarch64 Linux (the target triple is
// aarch64-none-none-elf, so Swift's Glibc module and overlay are absent). The real aarch64 glibc
// headers are included (same structs and constants as a native build); the helpers below replace
// what the Glibc overlay would give Swift (errno is a macro, open() is variadic).
#ifndef SSAST_CLIBC_H
#define SSAST_CLIBC_H
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline int ssast_errno(void) { return errno; }
static inline int ssast_open(const char *path, int flags, unsigned mode) { return open(path, flags, mode); }
static inline void *ssast_map_failed(void) { return MAP_FAILED; }
// printf-style number formatting for the test driver's reports (snprintf is variadic).
static inline void ssast_format_double(char *buf, unsigned long size, double v) { snprintf(buf, size, "%.3g", v); }
#endif
