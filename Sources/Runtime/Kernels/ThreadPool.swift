#if canImport(Glibc)
import Glibc
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif
import CKernels

/// A small persistent pool of pthreads (no Dispatch, no thread creation per call). `run` hands one
/// job to every participant (the calling thread is participant 0) and returns when all are done.
/// Not reentrant: a job must not call `run` on the same pool.
///
/// A forward pass dispatches ~10 jobs per transformer block, often under 100 µs apart, so waking
/// a sleeping thread through a condition variable (tens of µs, milliseconds on a loaded machine)
/// would dominate. Workers therefore poll an atomic job counter for a while after each job and only
/// then sleep on the condition variable; the caller likewise polls for completion before sleeping.
final class ThreadPool {
    let size: Int
    private let state: PoolState
    private var threads: [pthread_t] = []

    init(size: Int) throws(SSASTError) {
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

    /// Contiguous chunks per participant in `parallelFor`: enough that a thread slowed by another
    /// process on its core hands work to the others, few enough that a chunk of a GEMM still spans a
    /// whole row block.
    static let chunksPerParticipant = 4

    /// Splits 0..<count into contiguous chunks that the participants claim in order from an atomic
    /// counter until none is left (static halves made every kernel wait for the slower core on a
    /// shared machine). body gets a chunk and the participant index (for per-thread scratch); it may
    /// be called several times per participant, and which participant runs a chunk varies, so bodies
    /// must not depend on either (every element's arithmetic is the same for any split). Only
    /// participants 0..<min(size, count) take chunks, so per-participant scratch for that many suffices.
    func parallelFor(_ count: Int, _ body: (Range<Int>, Int) -> Void) {
        if count <= 0 { return }
        let parts = min(size, count)
        if parts == 1 { body(0..<count, 0); return }
        let chunks = min(count, parts * ThreadPool.chunksPerParticipant)
        let next = state.nextChunk
        ssast_atomic_store(next, 0)
        run { i in
            if i >= parts { return }
            while true {
                let c = Int(ssast_atomic_add(next, 1) - 1)   // ssast_atomic_add returns the new value
                if c >= chunks { break }
                body((count * c / chunks)..<(count * (c + 1) / chunks), i)
            }
        }
    }
}

private final class WorkerContext {
    let state: PoolState
    let index: Int
    init(state: PoolState, index: Int) { self.state = state; self.index = index }
}

/// Shared between the pool and its threads. `generation`, `remaining` and the two sleeper counts
/// are atomics (C, sequentially consistent); `job` is written before `generation` is published and
/// read after it is seen. Sleeping uses the mutex and condition variables: a waker publishes its
/// change, then checks the sleeper count (both seq-cst), and a sleeper registers itself under the
/// mutex before re-checking, so no wake-up is lost.
private final class PoolState {
    /// Polls before sleeping (each a `pause`, ~10-50 ns): ~50-200 µs, longer than the gaps
    /// between a forward pass's kernels, far shorter than the gaps between inferences.
    static let spins = 4000
    let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// [generation, remaining, sleeping workers, sleeping caller, stopping, next parallelFor chunk]
    let atomics = UnsafeMutablePointer<Int64>.allocate(capacity: 6)
    var generation: UnsafeMutablePointer<Int64> { atomics }
    var remaining: UnsafeMutablePointer<Int64> { atomics + 1 }
    var sleepers: UnsafeMutablePointer<Int64> { atomics + 2 }
    var callerSleeping: UnsafeMutablePointer<Int64> { atomics + 3 }
    var stopping: UnsafeMutablePointer<Int64> { atomics + 4 }
    var nextChunk: UnsafeMutablePointer<Int64> { atomics + 5 }
    var job: ((Int) -> Void)?

    init() {
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        atomics.initialize(repeating: 0, count: 6)
    }
    deinit {
        pthread_mutex_destroy(lock); pthread_cond_destroy(wake); pthread_cond_destroy(done)
        lock.deallocate(); wake.deallocate(); done.deallocate(); atomics.deallocate()
    }

    func start(_ job: @escaping (Int) -> Void, workers: Int) {
        self.job = job
        ssast_atomic_store(remaining, Int64(workers))
        _ = ssast_atomic_add(generation, 1)
        if ssast_atomic_load(sleepers) > 0 {
            pthread_mutex_lock(lock)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(lock)
        }
    }

    func waitDone() {
        var n = 0
        while ssast_atomic_load(remaining) > 0 {
            if n < PoolState.spins { ssast_cpu_relax(); n += 1; continue }
            pthread_mutex_lock(lock)
            // An exchange, not a store: the load of `remaining` below must not pass it (a worker that
            // finishes in between must see the flag and signal). See ssast_atomic_exchange.
            _ = ssast_atomic_exchange(callerSleeping, 1)
            while ssast_atomic_load(remaining) > 0 { pthread_cond_wait(done, lock) }
            ssast_atomic_store(callerSleeping, 0)
            pthread_mutex_unlock(lock)
        }
        job = nil
    }

    func stop() {
        pthread_mutex_lock(lock)
        ssast_atomic_store(stopping, 1)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
    }

    func workerLoop(index: Int) {
        // Generation 0 is "no job yet": a worker that starts late still sees the first job.
        var seen: Int64 = 0
        while true {
            var n = 0
            while ssast_atomic_load(generation) == seen && ssast_atomic_load(stopping) == 0 && n < PoolState.spins {
                ssast_cpu_relax(); n += 1
            }
            if ssast_atomic_load(generation) == seen && ssast_atomic_load(stopping) == 0 {
                pthread_mutex_lock(lock)
                _ = ssast_atomic_add(sleepers, 1)
                while ssast_atomic_load(generation) == seen && ssast_atomic_load(stopping) == 0 { pthread_cond_wait(wake, lock) }
                _ = ssast_atomic_add(sleepers, -1)
                pthread_mutex_unlock(lock)
            }
            if ssast_atomic_load(stopping) != 0 { break }
            seen = ssast_atomic_load(generation)
            job?(index)
            if ssast_atomic_add(remaining, -1) == 0 && ssast_atomic_load(callerSleeping) != 0 {
                pthread_mutex_lock(lock)
                pthread_cond_signal(done)
                pthread_mutex_unlock(lock)
            }
        }
    }
}
