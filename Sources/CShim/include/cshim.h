// The one C shim of the runtime: what Swift cannot ask the CPU directly.
#ifndef SSAST_CSHIM_H
#define SSAST_CSHIM_H
#include <stdint.h>

// Bit set of instruction-set features that the CPU has AND the OS saves the registers of
// (CPUID + XGETBV on x86, getauxval(AT_HWCAP) on aarch64). /proc/cpuinfo is not used: under
// qemu-user it shows the host's flags, not the emulated CPU's.
enum {
    SSAST_CPU_AVX2     = 1 << 0,  // AVX2 + FMA + F16C, YMM state enabled
    SSAST_CPU_AVX512   = 1 << 1,  // AVX-512 F/BW/DQ/VL, ZMM state enabled
    SSAST_CPU_AVX512VNNI = 1 << 2,
    SSAST_CPU_AVXVNNI  = 1 << 3,
    SSAST_CPU_NEON     = 1 << 8,  // aarch64 Advanced SIMD
    SSAST_CPU_DOTPROD  = 1 << 9,  // aarch64 SDOT/UDOT
    SSAST_CPU_FP16     = 1 << 10, // aarch64 half-precision arithmetic
};

uint32_t ssast_cpu_features(void);

// Peak resident set size of this process in bytes (getrusage), for benchmarks.
uint64_t ssast_peak_rss_bytes(void);

// Zeroed memory for a large activation buffer: 2 MiB-aligned anonymous pages with MADV_HUGEPAGE
// (transparent huge pages in "madvise" mode, Debian's default), so the buffers a forward pass
// streams through cost a few TLB entries instead of hundreds. NULL on failure. Free with
// ssast_free_buffer(p, bytes).
void *ssast_alloc_buffer(uint64_t bytes);
void ssast_free_buffer(void *p, uint64_t bytes);

// Output files (Runtime/IO/OutputFile.swift). A temporary is created beside `path` as
// ".BASE.PID.RANDOM.tmp" (BASE shortened so the name fits NAME_MAX), with O_CREAT | O_EXCL |
// O_NOFOLLOW and mode 0644 less the umask, and registered so that SIGINT, SIGTERM, SIGHUP or SIGPIPE
// unlink it before the process dies of the signal (handlers are installed for signals still at their
// default action). Returns the descriptor, or -1 with errno set; the temporary's path goes to `tmp`.
int ssast_temp_create(const char *path, char *tmp, unsigned long cap);
// Stops tracking a temporary (it was renamed into place or unlinked).
void ssast_temp_forget(const char *tmp);
// Unlinks temporaries of `path` whose process no longer exists; returns how many.
int ssast_temp_clean_stale(const char *path);
// fsync on the folder that holds `path`, so that a rename into it survives a power cut. 0, or -1
// with errno set.
int ssast_fsync_folder(const char *path);

// Files this process has opened as inputs (device, inode, status-change time in ns), so that no output
// replaces one. The change time tells a deleted input's reused inode from the input itself.
void ssast_input_note(uint64_t dev, uint64_t ino, uint64_t ctime_ns);
int ssast_input_seen(uint64_t dev, uint64_t ino, uint64_t ctime_ns);
void ssast_input_forget(uint64_t dev, uint64_t ino, uint64_t ctime_ns);

#endif
