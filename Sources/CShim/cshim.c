#include "cshim.h"
#include <sys/resource.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

uint32_t ssast_cpu_features(void) {
    uint32_t a, b, c, d, f = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return 0;
    uint64_t xcr0 = xgetbv0();
    int ymm = (xcr0 & 0x6) == 0x6;            // SSE + AVX state
    int zmm = (xcr0 & 0xE6) == 0xE6;          // + opmask, ZMM_Hi256, Hi16_ZMM
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int avx512vnni = (c >> 11) & 1;
    if (ymm && avx2 && fma && f16c) f |= SSAST_CPU_AVX2;
    if (zmm && (f & SSAST_CPU_AVX2) && avx512f && avx512dq && avx512bw && avx512vl) {
        f |= SSAST_CPU_AVX512;
        if (avx512vnni) f |= SSAST_CPU_AVX512VNNI;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1) && (f & SSAST_CPU_AVX2)) f |= SSAST_CPU_AVXVNNI;
    return f;
}

#elif defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
uint32_t ssast_cpu_features(void) {
    unsigned long hw = getauxval(AT_HWCAP);
    uint32_t f = 0;
    if (hw & HWCAP_ASIMD) f |= SSAST_CPU_NEON;
    if (hw & HWCAP_ASIMDDP) f |= SSAST_CPU_DOTPROD;
    if (hw & HWCAP_ASIMDHP) f |= SSAST_CPU_FP16;
    return f;
}
#else
uint32_t ssast_cpu_features(void) { return 0; }
#endif

uint64_t ssast_peak_rss_bytes(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return (uint64_t)u.ru_maxrss * 1024;  // Linux reports kilobytes
}

#include <sys/mman.h>

static uint64_t ssast_buffer_span(uint64_t bytes) {
    const uint64_t huge = 2u << 20;
    return (bytes + huge - 1) / huge * huge;
}

void *ssast_alloc_buffer(uint64_t bytes) {
    if (bytes == 0) bytes = 1;
    uint64_t span = ssast_buffer_span(bytes);
    // Over-map by one huge page and trim, so the buffer starts on a 2 MiB boundary.
    uint64_t extra = 2u << 20;
    char *raw = mmap(0, span + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return 0;
    uintptr_t start = ((uintptr_t)raw + extra - 1) & ~(uintptr_t)(extra - 1);
    if (start > (uintptr_t)raw) munmap(raw, start - (uintptr_t)raw);
    uintptr_t end = (uintptr_t)raw + span + extra;
    if (end > start + span) munmap((void *)(start + span), end - (start + span));
#ifdef MADV_HUGEPAGE
    madvise((void *)start, span, MADV_HUGEPAGE);  // advice only: without THP the pages stay 4 KiB
#endif
    return (void *)start;
}

void ssast_free_buffer(void *p, uint64_t bytes) {
    if (p) munmap(p, ssast_buffer_span(bytes ? bytes : 1));
}
