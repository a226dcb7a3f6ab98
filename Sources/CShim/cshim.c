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

// MARK: output temporaries and their removal on a fatal signal

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// A handful of outputs are ever open at once; the handler reads these without locks, so a slot is
// filled before it is marked used and marked unused before it is reused.
#define SSAST_TEMP_SLOTS 16
static char temp_paths[SSAST_TEMP_SLOTS][PATH_MAX];
static volatile sig_atomic_t temp_used[SSAST_TEMP_SLOTS];
static pthread_mutex_t temp_lock = PTHREAD_MUTEX_INITIALIZER;
static int handlers_installed;
static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

static void on_fatal_signal(int sig) {
    int saved = errno;
    for (int i = 0; i < SSAST_TEMP_SLOTS; i++) if (temp_used[i]) unlink(temp_paths[i]);
    signal(sig, SIG_DFL);
    errno = saved;
    raise(sig);   // delivered when the handler returns: the process dies of the signal, as before
}

static void install_handlers(void) {
    if (handlers_installed) return;
    handlers_installed = 1;
    for (unsigned i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(fatal_signals[i], NULL, &old) != 0) continue;
        if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;   // someone else's choice
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        for (unsigned j = 0; j < sizeof fatal_signals / sizeof fatal_signals[0]; j++) sigaddset(&sa.sa_mask, fatal_signals[j]);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

// Folder part of `path` (with its slash) and base name.
static void split_path(const char *path, char *dir, size_t dcap, const char **base) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 0;
    if (n >= dcap) n = dcap - 1;
    memcpy(dir, path, n); dir[n] = 0;
    *base = slash ? slash + 1 : path;
}

// The shortened base name used in temporaries: ".BASE.PID.RANDOM.tmp" stays within NAME_MAX.
#define SSAST_TEMP_BASE_MAX 200

int ssast_temp_create(const char *path, char *tmp, unsigned long cap) {
    char dir[PATH_MAX]; const char *base;
    split_path(path, dir, sizeof dir, &base);
    int blen = (int)strlen(base);
    if (blen > SSAST_TEMP_BASE_MAX) blen = SSAST_TEMP_BASE_MAX;
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
            struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
            r = ((uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt;
        }
        int n = snprintf(tmp, cap, "%s.%.*s.%d.%016llx.tmp", dir, blen, base, (int)getpid(), (unsigned long long)r);
        if (n < 0 || (unsigned long)n >= cap) { errno = ENAMETOOLONG; return -1; }
        pthread_mutex_lock(&temp_lock);
        install_handlers();
        int slot = -1;
        for (int i = 0; i < SSAST_TEMP_SLOTS; i++) if (!temp_used[i]) { slot = i; break; }
        if (slot < 0) { pthread_mutex_unlock(&temp_lock); errno = EMFILE; return -1; }
        strncpy(temp_paths[slot], tmp, PATH_MAX - 1); temp_paths[slot][PATH_MAX - 1] = 0;
        // Blocked around creation so a signal cannot come between creating the file and listing it.
        sigset_t block, old; sigemptyset(&block);
        for (unsigned j = 0; j < sizeof fatal_signals / sizeof fatal_signals[0]; j++) sigaddset(&block, fatal_signals[j]);
        pthread_sigmask(SIG_BLOCK, &block, &old);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        int err = errno;
        if (fd >= 0) temp_used[slot] = 1;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_mutex_unlock(&temp_lock);
        if (fd >= 0) return fd;
        if (err != EEXIST) { errno = err; return -1; }
    }
    errno = EEXIST;
    return -1;
}

void ssast_temp_forget(const char *tmp) {
    pthread_mutex_lock(&temp_lock);
    for (int i = 0; i < SSAST_TEMP_SLOTS; i++) if (temp_used[i] && strcmp(temp_paths[i], tmp) == 0) temp_used[i] = 0;
    pthread_mutex_unlock(&temp_lock);
}

int ssast_fsync_folder(const char *path) {
    char dir[PATH_MAX]; const char *base;
    split_path(path, dir, sizeof dir, &base);
    int fd = open(dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd), e = errno;
    close(fd);
    errno = e;
    return r;
}

int ssast_temp_clean_stale(const char *path) {
    char dir[PATH_MAX]; const char *base;
    split_path(path, dir, sizeof dir, &base);
    int blen = (int)strlen(base);
    if (blen > SSAST_TEMP_BASE_MAX) blen = SSAST_TEMP_BASE_MAX;
    DIR *d = opendir(dir[0] ? dir : ".");
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, (size_t)blen) != 0 || n[1 + blen] != '.') continue;
        const char *p = n + 2 + blen;
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p || *end != '.' || pid <= 0) continue;
        p = end + 1;
        int hex = 0;
        while (hex < 16 && ((p[hex] >= '0' && p[hex] <= '9') || (p[hex] >= 'a' && p[hex] <= 'f'))) hex++;
        if (hex != 16 || strcmp(p + 16, ".tmp") != 0) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;   // its writer may still be at work
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s%s", dir, n) >= (int)sizeof full) continue;
        struct stat st;
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && unlink(full) == 0) removed++;
    }
    closedir(d);
    return removed;
}

static struct { uint64_t dev, ino, ctime_ns; } *inputs;
static size_t input_count, input_cap;

void ssast_input_note(uint64_t dev, uint64_t ino, uint64_t ctime_ns) {
    pthread_mutex_lock(&temp_lock);
    int known = 0;
    for (size_t i = 0; i < input_count; i++) if (inputs[i].dev == dev && inputs[i].ino == ino && inputs[i].ctime_ns == ctime_ns) known = 1;
    if (!known) {
        if (input_count == input_cap) {
            size_t cap = input_cap ? input_cap * 2 : 16;
            void *p = realloc(inputs, cap * sizeof *inputs);
            if (p) { inputs = p; input_cap = cap; }
        }
        if (input_count < input_cap) { inputs[input_count].dev = dev; inputs[input_count].ino = ino; inputs[input_count].ctime_ns = ctime_ns; input_count++; }
    }
    pthread_mutex_unlock(&temp_lock);
}

int ssast_input_seen(uint64_t dev, uint64_t ino, uint64_t ctime_ns) {
    pthread_mutex_lock(&temp_lock);
    int seen = 0;
    for (size_t i = 0; i < input_count; i++) if (inputs[i].dev == dev && inputs[i].ino == ino && inputs[i].ctime_ns == ctime_ns) seen = 1;
    pthread_mutex_unlock(&temp_lock);
    return seen;
}

void ssast_input_forget(uint64_t dev, uint64_t ino, uint64_t ctime_ns) {
    pthread_mutex_lock(&temp_lock);
    for (size_t i = 0; i < input_count; i++) {
        if (inputs[i].dev == dev && inputs[i].ino == ino && inputs[i].ctime_ns == ctime_ns) { inputs[i] = inputs[--input_count]; break; }
    }
    pthread_mutex_unlock(&temp_lock);
}
