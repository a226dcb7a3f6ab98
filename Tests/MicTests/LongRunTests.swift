import Foundation
import Mic
import Runtime
import TestSupport
import XCTest

/// One hour of audio through the whole live path — ALSA capture (48 kHz stereo from an unpaced fixture
/// device reading /dev/urandom, an endless source), ring, downmix, streaming resample to 16 kHz,
/// incremental fbank, 512-frame windows every second — with memory that stays flat.
final class LongRunTests: XCTestCase {
    func testOneHourCaptureResampleFbankWindowsFlatMemory() throws {
        let seconds = 3600.0
        let src = try ALSASource(FixtureMic.options(infile: "/dev/urandom", rate: 48000, channels: 2, policy: .block))
        XCTAssertEqual(src.sampleRate, 48000)
        XCTAssertEqual(src.channels, 2)
        let T = 512, hop = 100
        var calls = 0
        let cls = ClosureClassifier(targetLength: T, labels: ["a", "b"], datasetMean: -8.2096, datasetStd: 6.1568) { x in
            calls += 1
            return [x[0], x[T * 128 - 1]]
        }
        let session = try ScreeningSession(source: src, screener: try Screener(classifier: cls, hopFrames: hop))
        var windows: [(start: Int, frames: Int)] = []
        var rssWarm = 0, rssMax = 0
        let summary = try session.run(maxAudioSeconds: seconds, onWindow: { w in
            windows.append((w.startFrame, w.frames))
            if w.index == 300 { rssWarm = FixtureMic.currentRSS() }          // after 5 minutes of audio
            if w.index > 300 && w.index % 10 == 0 { rssMax = max(rssMax, FixtureMic.currentRSS()) }
        })
        rssMax = max(rssMax, FixtureMic.currentRSS())
        XCTAssertEqual(summary.sourceFrames, Int(seconds) * 48000)
        XCTAssertEqual(summary.droppedFrames, 0)
        XCTAssertEqual(summary.xruns, 0)
        // 48 kHz -> 16 kHz gives exactly a third; frames and windows follow from snip_edges framing.
        let n16 = Int(seconds) * 16000
        let frames = 1 + (n16 - 400) / 160
        let full = (frames - T) / hop + 1
        let tail = frames > (full - 1) * hop + T ? 1 : 0
        XCTAssertEqual(windows.count, full + tail)
        XCTAssertEqual(summary.windows, windows.count)
        XCTAssertEqual(calls, windows.count)
        // Every hop, then (if frames are left over) the last T frames, aligned to the end.
        XCTAssertTrue(windows.prefix(full).enumerated().allSatisfy { $0.element.start == $0.offset * hop })
        XCTAssertEqual(windows.last?.start, tail == 1 ? frames - T : (full - 1) * hop)
        XCTAssertTrue(windows.allSatisfy { $0.frames == T })
        let growth = rssMax - rssWarm
        print(String(format: "1 h run: %d windows, %.1f s wall, RSS after 5 min %.1f MB, max after %.1f MB, growth %.2f MB",
                     windows.count, summary.wallSeconds, Double(rssWarm) / 1e6, Double(rssMax) / 1e6, Double(growth) / 1e6))
        XCTAssertGreaterThan(rssWarm, 0)
        XCTAssertLessThan(growth, 4 << 20, "memory grew by \(growth) bytes over 55 minutes of audio")
    }
}
