import Glibc

/// A mutual-exclusion lock (pthread mutex).
public final class Lock: @unchecked Sendable {
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() { pthread_mutex_init(m, nil) }
    deinit { pthread_mutex_destroy(m); m.deallocate() }

    public func lock() { pthread_mutex_lock(m) }
    public func unlock() { pthread_mutex_unlock(m) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }
}

/// A lock with a condition variable; timed waits run on the monotonic clock, so a change of the
/// wall clock neither shortens nor stretches them.
public final class Condition: @unchecked Sendable {
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let c = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(m, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(c, &attr)
        pthread_condattr_destroy(&attr)
    }
    deinit {
        pthread_cond_destroy(c); pthread_mutex_destroy(m)
        c.deallocate(); m.deallocate()
    }

    public func lock() { pthread_mutex_lock(m) }
    public func unlock() { pthread_mutex_unlock(m) }
    public func broadcast() { pthread_cond_broadcast(c) }
    public func wait() { pthread_cond_wait(c, m) }

    /// Waits (the lock held) until signalled or until `deadline`, a `monotonicTime()` value.
    /// Returns false when the deadline passed.
    public func wait(until deadline: Double) -> Bool {
        guard deadline.isFinite else { wait(); return true }
        let whole = deadline.rounded(.down)
        var ts = timespec(tv_sec: Int(max(whole, 0)), tv_nsec: Int((deadline - whole) * 1e9))
        return pthread_cond_timedwait(c, m, &ts) != ETIMEDOUT
    }
}
