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
