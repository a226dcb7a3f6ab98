#if canImport(Glibc)
import Glibc
#endif

/// A small persistent pool of pthreads (no Dispatch, no thread creation per call). `run` hands one
/// job to every participant (the calling thread is participant 0) and returns when all are done.
/// Not reentrant: a job must not call `run` on the same pool.
final class ThreadPool {
    let size: Int
    private let state: PoolState
    private var threads: [pthread_t] = []

    init(size: Int) throws {
        self.size = size
        state = PoolState()
        for index in 1..<max(size, 1) {
            let ctx = Unmanaged.passRetained(WorkerContext(state: state, index: index)).toOpaque()
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let ctx = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                ctx.state.workerLoop(index: ctx.index)
                return nil
            }, ctx)
            guard rc == 0 else {
                Unmanaged<WorkerContext>.fromOpaque(ctx).release()
                shutdown()
                throw SSASTError("could not start kernel thread \(index) of \(size) (pthread_create error \(rc))")
            }
            threads.append(tid)
        }
    }

    deinit { shutdown() }

    private func shutdown() {
        state.stop()
        for t in threads { pthread_join(t, nil) }
        threads = []
    }

    /// Calls body(i) once for each participant i in 0..<size, concurrently; body(0) on this thread.
    func run(_ body: (Int) -> Void) {
        if size == 1 { body(0); return }
        withoutActuallyEscaping(body) { job in
            state.start(job, workers: size - 1)
            job(0)
            state.waitDone()
        }
    }

    /// Splits 0..<count into at most `size` contiguous ranges and runs them concurrently.
    /// body gets the range and the participant index (for per-thread scratch).
    func parallelFor(_ count: Int, _ body: (Range<Int>, Int) -> Void) {
        if count <= 0 { return }
        let parts = min(size, count)
        if parts == 1 { body(0..<count, 0); return }
        run { i in
            if i < parts { body((count * i / parts)..<(count * (i + 1) / parts), i) }
        }
    }
}

private final class WorkerContext {
    let state: PoolState
    let index: Int
    init(state: PoolState, index: Int) { self.state = state; self.index = index }
}

/// Shared between the pool and its threads; every field is read and written under `lock`.
private final class PoolState {
    let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var generation = 0
    var remaining = 0
    var stopping = false
    var job: ((Int) -> Void)?

    init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
    }
    deinit {
        pthread_mutex_destroy(lock); pthread_cond_destroy(wake); pthread_cond_destroy(done)
        lock.deallocate(); wake.deallocate(); done.deallocate()
    }

    func start(_ job: @escaping (Int) -> Void, workers: Int) {
        pthread_mutex_lock(lock)
        self.job = job
        remaining = workers
        generation &+= 1
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
    }

    func waitDone() {
        pthread_mutex_lock(lock)
        while remaining > 0 { pthread_cond_wait(done, lock) }
        job = nil
        pthread_mutex_unlock(lock)
    }

    func stop() {
        pthread_mutex_lock(lock)
        stopping = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
    }

    func workerLoop(index: Int) {
        // Generation 0 is "no job yet": a worker that starts late still sees the first job.
        var seen = 0
        pthread_mutex_lock(lock)
        while true {
            while generation == seen && !stopping { pthread_cond_wait(wake, lock) }
            if stopping { break }
            seen = generation
            let job = self.job
            pthread_mutex_unlock(lock)
            job?(index)
            pthread_mutex_lock(lock)
            remaining -= 1
            if remaining == 0 { pthread_cond_signal(done) }
        }
        pthread_mutex_unlock(lock)
    }
}
