import AudioFile
import Foundation
import Mic
import Runtime
import TestSupport
import XCTest

/// The sliding-window screener with the real streaming fbank and a recording stand-in for the model
/// (the model call is a closure; `ModelWindowTests` plugs in the real SSAST model).
final class ScreenerTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    static let mean: Float = -8.2096, std: Float = 6.1568   // tiny-patch-ciab-ft (manifest)

    /// A classifier that keeps every input it is given and returns two fixed functions of it.
    final class Recorder {
        var inputs: [[Float]] = []
        func classifier(T: Int) -> ClosureClassifier {
            ClosureClassifier(targetLength: T, labels: ["Negative", "Positive"], datasetMean: ScreenerTests.mean,
                              datasetStd: ScreenerTests.std) { [unowned self] x in
                let v = Array(UnsafeBufferPointer(start: x, count: T * 128))
                self.inputs.append(v)
                var a: Float = 0, b: Float = 0
                for (i, e) in v.enumerated() { a += e; b += e * Float(i % 7) }
                return [a / Float(v.count), b / Float(v.count)]
            }
        }
    }

    /// Offline reference: whole-clip fbank, then window `start` cut/padded and normalised.
    func offlineWindow(_ fb: (frames: Int, data: [Float]), start: Int, T: Int) throws -> [Float] {
        let rest = Array(fb.data[(start * 128)...])
        return try InputPreparation(targetLength: T, bins: 128, mean: Self.mean, std: Self.std).prepare(rest, frames: fb.frames - start)
    }

    func run(_ samples: [Float], T: Int, hop: Int, chunk: Int, gateDB: Float? = nil) throws -> ([WindowResult], Recorder) {
        let rec = Recorder()
        let s = try Screener(classifier: rec.classifier(T: T), hopFrames: hop, gateDB: gateDB)
        var out: [WindowResult] = []
        var i = 0
        while i < samples.count {
            let e = min(samples.count, i + chunk)
            try s.push(Array(samples[i..<e])) { out.append($0) }
            i = e
        }
        try s.finish { out.append($0) }
        return (out, rec)
    }

    /// 12.5 s clip, 512-frame windows every 100 frames: window positions, times, the final padded
    /// window, and every input equal to the offline fbank cut at the same frame (and the first one
    /// equal to PyTorch's input fixture).
    func testWindowsEqualOfflineFeatures() throws {
        let samples = try loadMono16k(path: Fixtures.audio("long16k.wav"))
        let fb = try fbank(samples)
        XCTAssertEqual(fb.frames, 1248)
        let (ws, rec) = try run(samples, T: 512, hop: 100, chunk: 1237)
        // The last window is aligned to the end of the stream (frames 736..1247): no padding.
        XCTAssertEqual(ws.map(\.startFrame), [0, 100, 200, 300, 400, 500, 600, 700, 736])
        XCTAssertEqual(ws.map(\.frames), [512, 512, 512, 512, 512, 512, 512, 512, 512])
        XCTAssertFalse(ws.contains(where: \.partial))
        XCTAssertEqual(ws.map(\.index), Array(0..<9))
        XCTAssertEqual(ws[1].startS, 1.0, accuracy: 1e-12)
        XCTAssertEqual(ws[1].endS, (611.0 * 160 + 400) / 16000, accuracy: 1e-12)
        XCTAssertEqual(ws[8].endS, (1247.0 * 160 + 400) / 16000, accuracy: 1e-12)
        XCTAssertEqual(rec.inputs.count, 9)
        var worst: Float = 0
        for (k, w) in ws.enumerated() {
            let ref = try offlineWindow(fb, start: w.startFrame, T: 512)
            worst = max(worst, maxAbsDiff(rec.inputs[k], ref))
            XCTAssertEqual(w.probabilities.count, 2)
            XCTAssertEqual(w.probabilities.reduce(0, +), 1, accuracy: 1e-6)
        }
        // Streaming subtracts no clip mean (a stream cannot know it); per-frame DC removal cancels it,
        // so only rounding remains. Bound: the fbank fixture tolerance carried through normalisation.
        let bound = 1e-3 / (2 * Self.std)
        print("screener windows vs offline fbank windows, max |diff| (normalised): \(worst)")
        XCTAssertLessThan(worst, bound)
        let fixture = try Fixtures.npy("expected/input_tiny-patch-ciab-ft__long16k.npy")
        let d = maxAbsDiff(rec.inputs[0], fixture.data)
        print("first window vs PyTorch input fixture: \(d)")
        XCTAssertLessThan(d, bound)
    }

    /// A clip shorter than one window gets one zero-padded window: PyTorch's input for that clip.
    func testShortClipIsOnePaddedWindow() throws {
        let samples = try loadMono16k(path: Fixtures.audio("short16k.wav"))
        let (ws, rec) = try run(samples, T: 512, hop: 100, chunk: 100)
        XCTAssertEqual(ws.count, 1)
        XCTAssertEqual(ws.first?.frames, 28)
        XCTAssertEqual(ws.first?.partial, true)
        let fixture = try Fixtures.npy("expected/input_tiny-patch-ciab-ft__short16k.npy")
        XCTAssertLessThan(maxAbsDiff(rec.inputs[0], fixture.data), 1e-3 / (2 * Self.std))
        // Under one frame of audio: nothing to score, no crash.
        let (none, _) = try run(Array(samples.prefix(399)), T: 512, hop: 100, chunk: 50)
        XCTAssertTrue(none.isEmpty)
    }

    /// The same windows whatever the chunking of the input (1 sample at a time included).
    func testChunkingDoesNotChangeResults() throws {
        let samples = Array(try loadMono16k(path: Fixtures.audio("speech16k.wav")).prefix(30000))
        let (a, _) = try run(samples, T: 64, hop: 30, chunk: samples.count)
        XCTAssertEqual(a.count, 1 + (186 - 64 + 29) / 30)
        for chunk in [1, 160, 7919] {
            let (b, _) = try run(samples, T: 64, hop: 30, chunk: chunk)
            XCTAssertEqual(a.map(\.startFrame), b.map(\.startFrame))
            XCTAssertEqual(a.map(\.logits), b.map(\.logits), "chunk \(chunk)")
            XCTAssertEqual(a.map(\.rms), b.map(\.rms), "chunk \(chunk)")
        }
    }

    /// Energy gate: windows of digital silence are reported silent and never reach the model; the
    /// others are scored. RMS is that of the window's samples.
    func testEnergyGate() throws {
        var gen = SystemRandomNumberGenerator()
        let silence = [Float](repeating: 0, count: 16000 * 2)
        let noise = (0..<(16000 * 3)).map { _ in Float.random(in: -0.1...0.1, using: &gen) }
        let samples = silence + noise
        let (ws, rec) = try run(samples, T: 50, hop: 25, chunk: 4000, gateDB: -60)
        let silent = ws.filter(\.silent)
        XCTAssertFalse(silent.isEmpty)
        XCTAssertEqual(rec.inputs.count, ws.count - silent.count, "gated windows must not be scored")
        for w in ws {
            let lo = w.startFrame * 160, hi = min(samples.count, (w.startFrame + w.frames) * 160)
            let ref = (samples[lo..<hi].reduce(0.0) { $0 + Double($1) * Double($1) } / Double(hi - lo)).squareRoot()
            XCTAssertEqual(Double(w.rms), ref, accuracy: 1e-6)
            XCTAssertEqual(w.silent, hi <= silence.count, "window at frame \(w.startFrame)")
            XCTAssertEqual(w.silent, w.logits.isEmpty)
        }
    }

    /// A decoded 48 kHz file through ScreeningSession (downmix + streaming resample + screener) gives the
    /// same windows as the screener on the offline-resampled clip: the stream loses nothing.
    func testSessionOverFileEqualsOfflineResample() throws {
        let path = Fixtures.audio("float48k.wav")
        let a = try decodeAudio(path: path)
        XCTAssertEqual(a.sampleRate, 48000)
        let rec = Recorder()
        let screener = try Screener(classifier: rec.classifier(T: 128), hopFrames: 40)
        let source = try openInput(path: path, raw: nil)
        let session = try ScreeningSession(source: source, screener: screener)
        var live: [WindowResult] = []
        let summary = try session.run(onWindow: { live.append($0) })
        XCTAssertEqual(summary.sourceFrames, a.frames)
        XCTAssertEqual(summary.windows, live.count)
        let (offline, offRec) = try run(try loadMono16k(path: path), T: 128, hop: 40, chunk: 5000)
        XCTAssertEqual(live.map(\.startFrame), offline.map(\.startFrame))
        XCTAssertEqual(rec.inputs, offRec.inputs)
        XCTAssertTrue(live.allSatisfy { $0.latencyS >= 0 && $0.xruns == 0 })
    }

    /// --duration: the session stops after exactly that much source audio.
    func testSessionDurationLimit() throws {
        let src = try BufferSource(samples: [Float](repeating: 0.01, count: 16000 * 10), sampleRate: 16000, channels: 1)
        let rec = Recorder()
        let session = try ScreeningSession(source: src, screener: try Screener(classifier: rec.classifier(T: 100), hopFrames: 100))
        var n = 0
        let s = try session.run(maxAudioSeconds: 2.5, onWindow: { _ in n += 1 })
        XCTAssertEqual(s.sourceFrames, 40000)
        XCTAssertEqual(s.audioSeconds, 2.5, accuracy: 1e-9)
        XCTAssertEqual(n, 3)    // 248 frames: windows at 0, 100, then the last 100 frames (148..247)
    }

    func testScreenerRejectsBadSettings() {
        let rec = Recorder()
        XCTAssertThrowsError(try Screener(classifier: rec.classifier(T: 100), hopFrames: 0))
        let c = ClosureClassifier(targetLength: 10, melBins: 64, labels: ["a"], datasetMean: 0, datasetStd: 1) { _ in [0] }
        XCTAssertThrowsError(try Screener(classifier: c))   // 64 bins vs the fbank's 128
    }
}

/// Raw PCM sources and the WAV recorder.
final class SourceTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    var dir = ""
    override func setUp() { dir = Fixtures.temporaryDirectory("micsrc") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// s16le and f32le through a pipe written in odd-sized pieces (frames split across writes).
    func testRawPipeFormats() throws {
        let frames = 5000
        let values = (0..<(frames * 2)).map { Int16(truncatingIfNeeded: $0 * 37 - 20000) }
        for enc in [SampleEncoding.s16le, .f32le] {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            let bytes: [UInt8] = enc == .s16le
                ? values.withUnsafeBytes { Array($0) }
                : values.map { Float($0) / 32768 }.withUnsafeBytes { Array($0) }
            let wfd = fds[1]
            let writer = Thread {
                var off = 0
                while off < bytes.count {
                    let n = min(333, bytes.count - off)
                    _ = bytes[off..<(off + n)].withUnsafeBytes { write(wfd, $0.baseAddress, n) }
                    off += n
                }
                close(wfd)
            }
            writer.start()
            let src = try RawPCMSource(fileDescriptor: fds[0], name: "pipe", format: RawFormat(rate: 8000, channels: 2, encoding: enc),
                                       closeWhenDone: true)
            XCTAssertEqual(src.channels, 2)
            var got: [Float] = []
            var buf = [Float](repeating: 0, count: 2 * 301)
            while true { let n = try src.read(into: &buf); if n == 0 { break }; got += buf[0..<(2 * n)] }
            XCTAssertEqual(got, values.map { Float($0) / 32768 }, "\(enc)")
        }
    }

    /// stop() from another thread ends a read that waits on a silent pipe.
    func testStopEndsABlockedRead() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        defer { close(fds[1]) }
        let src = try RawPCMSource(fileDescriptor: fds[0], name: "pipe", format: RawFormat(rate: 16000, channels: 1, encoding: .s16le),
                                   closeWhenDone: true)
        Thread { usleep(200_000); src.stop() }.start()
        var buf = [Float](repeating: 0, count: 100)
        XCTAssertEqual(try src.read(into: &buf), 0)
    }

    func testRawInputErrors() throws {
        XCTAssertThrowsError(try openInput(path: dir + "/nope.raw", raw: RawFormat(rate: 16000, channels: 1, encoding: .s16le))) {
            XCTAssertTrue(("\($0)").contains("nope.raw"))
        }
        XCTAssertThrowsError(try openInput(path: "-", raw: nil))
        XCTAssertThrowsError(try openInput(path: dir, raw: RawFormat(rate: 16000, channels: 1, encoding: .s16le)))
        XCTAssertThrowsError(try RawPCMSource(path: "-", format: RawFormat(rate: 0, channels: 1, encoding: .s16le)))
        let notAudio = dir + "/x.wav"
        try Data("not audio".utf8).write(to: URL(fileURLWithPath: notAudio))
        XCTAssertThrowsError(try openInput(path: notAudio, raw: nil)) { XCTAssertTrue(("\($0)").contains("x.wav")) }
    }

    /// The recorder writes float WAV that libsndfile decodes to exactly the samples given.
    func testRecorderRoundTrip() throws {
        let path = dir + "/rec.wav"
        let r = try WAVRecorder(path: path, sampleRate: 44100, channels: 2)
        var all: [Float] = []
        for k in 0..<7 {
            let chunk = (0..<(2 * 1000 + 2 * k)).map { Float(sin(Double($0 + 31 * k) * 0.01)) * 0.7 }
            try r.append(chunk[...])
            all += chunk
        }
        try r.close()
        let a = try decodeAudio(path: path)
        XCTAssertEqual(a.sampleRate, 44100)
        XCTAssertEqual(a.channels, 2)
        XCTAssertEqual(a.samples, all)
    }
}
