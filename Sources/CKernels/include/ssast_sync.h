// Sequentially consistent atomics and a spin-wait hint for the runtime's thread pool (Swift's
// Runtime module may use only the standard library, Glibc and these C modules).
#ifndef SSAST_SYNC_H
#define SSAST_SYNC_H
#include <stdint.h>

static inline int64_t ssast_atomic_load(const int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
static inline void ssast_atomic_store(int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
// Returns the new value.
static inline int64_t ssast_atomic_add(int64_t *p, int64_t v) { return __atomic_add_fetch(p, v, __ATOMIC_SEQ_CST); }
// Stores v and returns the old value. A read-modify-write, so it also orders this thread's later
// loads after the store on every target, emulated ones included: qemu-aarch64 on an x86 host was
// seen to let a load pass a preceding seq-cst store (STLR then LDAR), which lost a pool wake-up.
static inline int64_t ssast_atomic_exchange(int64_t *p, int64_t v) { return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }

// One step of a spin-wait: tells the core (and an SMT sibling) that this thread is only polling.
static inline void ssast_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}
#endif
