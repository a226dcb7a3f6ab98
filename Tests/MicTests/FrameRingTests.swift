import Foundation
import Mic
import TestSupport
import XCTest

final class FrameRingTests: XCTestCase {
    func write(_ r: FrameRing, _ xs: [Float]) -> Bool {
        xs.withUnsafeBufferPointer { r.write($0.baseAddress!, frames: xs.count / r.channels) }
    }
    func read(_ r: FrameRing, _ maxFrames: Int) -> [Float] {
        var buf = [Float](repeating: .nan, count: maxFrames * r.channels)
        let n = buf.withUnsafeMutableBufferPointer { r.read(into: $0.baseAddress!, maxFrames: maxFrames, timeout: 0) } ?? 0
        return Array(buf[0..<(n * r.channels)])
    }

    /// Drop-oldest, step by step, with two interleaved channels and wrap-around.
    func testDropOldestOrder() {
        let r = FrameRing(channels: 2, capacityFrames: 10, policy: .dropOldest)
        func frames(_ a: Int, _ b: Int) -> [Float] { (a..<b).flatMap { [Float($0), -Float($0)] } }
        XCTAssertTrue(write(r, frames(0, 6)))
        XCTAssertEqual(read(r, 3), frames(0, 3))
        XCTAssertTrue(write(r, frames(6, 16)))             // 3 queued + 10 new > 10: frames 3, 4, 5 go
        XCTAssertEqual(r.droppedFrames, 3)
        XCTAssertEqual(r.queuedFrames, 10)
        XCTAssertEqual(read(r, 4), frames(6, 10))
        XCTAssertTrue(write(r, frames(16, 41)))            // 25 frames into a 10-frame ring: keep 31..40
        XCTAssertEqual(r.droppedFrames, 3 + 6 + 15)
        XCTAssertEqual(read(r, 100), frames(31, 41))
        XCTAssertEqual(read(r, 100), [])                   // empty, not closed: nothing (timeout 0)
        r.close()
        XCTAssertFalse(write(r, frames(0, 1)))
        var buf = [Float](repeating: 0, count: 2)
        XCTAssertEqual(buf.withUnsafeMutableBufferPointer { r.read(into: $0.baseAddress!, maxFrames: 1, timeout: 1) }, 0)
    }

    /// Blocking policy across threads: every frame arrives, in order, whatever the chunk sizes.
    func testBlockingIsLossless() {
        let r = FrameRing(channels: 1, capacityFrames: 1000, policy: .block)
        let total = 300_000
        let producer = Thread {
            var i = 0, k = 1
            while i < total {
                let n = min(total - i, (k * 7919) % 2500 + 1)
                let xs = (i..<(i + n)).map { Float($0) }
                _ = xs.withUnsafeBufferPointer { r.write($0.baseAddress!, frames: n) }
                i += n; k += 1
            }
            r.close()
        }
        producer.start()
        var got: [Float] = []
        var buf = [Float](repeating: 0, count: 777)
        while true {
            guard let n = buf.withUnsafeMutableBufferPointer({ r.read(into: $0.baseAddress!, maxFrames: 777, timeout: 1) }) else { continue }
            if n == 0 { break }
            got += buf[0..<n]
        }
        XCTAssertEqual(got.count, total)
        XCTAssertEqual(got, (0..<total).map { Float($0) })
        XCTAssertEqual(r.droppedFrames, 0)
    }

    /// A consumer that stalls while the producer keeps writing: what arrives is in order, the gaps are
    /// exactly the dropped frames, and delivered + dropped = written.
    func testStallingConsumerGapsEqualDrops() {
        let r = FrameRing(channels: 1, capacityFrames: 4096, policy: .dropOldest)
        let total = 2_000_000   // values stay exact in Float (< 2^24)
        let producer = Thread {
            var i = 0
            var chunk = [Float](repeating: 0, count: 1024)
            while i < total {
                let n = min(1024, total - i)
                for j in 0..<n { chunk[j] = Float(i + j) }
                _ = chunk.withUnsafeBufferPointer { r.write($0.baseAddress!, frames: n) }
                i += n
            }
            r.close()
        }
        producer.start()
        var got: [Float] = []
        var buf = [Float](repeating: 0, count: 500)
        var reads = 0
        while true {
            guard let n = buf.withUnsafeMutableBufferPointer({ r.read(into: $0.baseAddress!, maxFrames: 500, timeout: 1) }) else { continue }
            if n == 0 { break }
            got += buf[0..<n]
            reads += 1
            if reads % 50 == 0 { usleep(2000) }   // stall now and then
        }
        var gaps = 0, outOfOrder = 0
        for i in 1..<got.count {
            if got[i] <= got[i - 1] { outOfOrder += 1 }
            gaps += Int(got[i] - got[i - 1]) - 1
        }
        XCTAssertEqual(outOfOrder, 0)
        XCTAssertGreaterThan(r.droppedFrames, 0, "the stalls should have overflowed the ring")
        gaps += Int(got[0])                          // frames dropped before the first delivered one
        gaps += total - 1 - Int(got.last ?? -1)      // and after the last
        XCTAssertEqual(gaps, r.droppedFrames)
        XCTAssertEqual(got.count + r.droppedFrames, total)
    }
}
