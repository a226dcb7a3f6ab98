import Runtime
import Support

/// A bounded FIFO of interleaved float frames between one producer thread (capture) and one consumer
/// (the screener), guarded by one lock and a condition variable.
///
/// When full, `.dropOldest` discards the oldest queued audio (counted in `droppedFrames`) so a stalled
/// consumer resumes on fresh audio with bounded latency and memory; `.block` makes the producer wait
/// (lossless, for unpaced devices such as test fixtures).
public final class FrameRing {
    public enum OverflowPolicy: Sendable { case dropOldest, block }

    public let channels: Int
    public let capacityFrames: Int
    public let policy: OverflowPolicy
    private var storage: [Float]
    private var head = 0          // frame index of the oldest queued frame
    private var count = 0         // queued frames
    private var closed = false
    private var dropped = 0
    private let cond = Condition()

    public init(channels: Int, capacityFrames: Int, policy: OverflowPolicy) {
        self.channels = max(1, channels)
        self.capacityFrames = max(1, capacityFrames)
        self.policy = policy
        storage = [Float](repeating: 0, count: self.capacityFrames * self.channels)
    }

    public var queuedFrames: Int { cond.lock(); defer { cond.unlock() }; return count }
    public var droppedFrames: Int { cond.lock(); defer { cond.unlock() }; return dropped }

    /// Appends `frames` frames. Returns false when the ring was closed (the producer should stop).
    @discardableResult
    public func write(_ src: UnsafePointer<Float>, frames: Int) -> Bool {
        var done = 0
        cond.lock(); defer { cond.unlock() }
        while done < frames {
            if closed { return false }
            var n = frames - done
            switch policy {
            case .block:
                let free = capacityFrames - count
                if free == 0 { cond.wait(); continue }
                n = min(n, free)
            case .dropOldest:
                if n > capacityFrames {
                    // Only the newest `capacity` frames of this block can survive.
                    dropped += count + (n - capacityFrames)
                    head = 0; count = 0
                    done += n - capacityFrames
                    n = capacityFrames
                }
                let free = capacityFrames - count
                if n > free {
                    let drop = n - free
                    head = (head + drop) % capacityFrames
                    count -= drop
                    dropped += drop
                }
            }
            copyIn(src + done * channels, frames: n)
            done += n
            cond.broadcast()
        }
        return true
    }

    private func copyIn(_ src: UnsafePointer<Float>, frames n: Int) {
        var tail = (head + count) % capacityFrames
        var left = n, off = 0
        storage.withUnsafeMutableBufferPointer { buf in
            while left > 0 {
                let run = min(left, capacityFrames - tail)
                (buf.baseAddress! + tail * channels).update(from: src + off * channels, count: run * channels)
                left -= run; off += run; tail = (tail + run) % capacityFrames
            }
        }
        count += n
    }

    /// Takes up to `maxFrames` frames, waiting up to `timeout` seconds for some to arrive.
    /// Returns nil on timeout with nothing queued, 0 once closed and drained.
    public func read(into dst: UnsafeMutablePointer<Float>, maxFrames: Int, timeout: Double) -> Int? {
        cond.lock(); defer { cond.unlock() }
        if count == 0 && !closed {
            let deadline = monotonicTime() + timeout
            while count == 0 && !closed {
                if !cond.wait(until: deadline) { break }
            }
        }
        if count == 0 { return closed ? 0 : nil }
        let n = min(maxFrames, count)
        var left = n, off = 0
        storage.withUnsafeBufferPointer { buf in
            while left > 0 {
                let run = min(left, capacityFrames - head)
                (dst + off * channels).update(from: buf.baseAddress! + head * channels, count: run * channels)
                left -= run; off += run; head = (head + run) % capacityFrames
            }
        }
        count -= n
        cond.broadcast()   // a blocked producer may continue
        return n
    }

    /// No more writes; readers drain what is queued and then get 0.
    public func close() {
        cond.lock(); closed = true; cond.broadcast(); cond.unlock()
    }
}
