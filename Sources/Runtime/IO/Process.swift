import CShim
#if canImport(Glibc)
import Glibc
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif

/// Peak resident set size of this process so far, in bytes.
public func peakResidentBytes() -> Int { Int(ssast_peak_rss_bytes()) }

/// Monotonic clock in seconds, for timings.
public func monotonicTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU seconds spent by the calling thread. On a shared machine this, unlike wall time, does not
/// count time the thread waited for a core (single-threaded measurements only).
public func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
