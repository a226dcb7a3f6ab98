import AudioFile
import Convert
import Foundation
import Mic
import Runtime
import TestSupport
import XCTest

/// The live path with the real model: every window's logits equal the offline `Classifier` on the
/// same audio (same windows) within 1e-4, and the first window matches PyTorch's logits.
final class ModelWindowTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    static let dir = Fixtures.temporaryDirectory("micmodel")
    static var modelPath: String?

    /// tiny-patch-ciab-ft converted once with the manifest's settings.
    static func model() throws -> SSASTModel {
        if modelPath == nil {
            let m = (Fixtures.manifest["models"] as! [String: [String: Any]])["tiny-patch-ciab-ft.pth"]!
            var o = ConvertOptions()
            o.fstride = m["fstride"] as? Int; o.tstride = m["tstride"] as? Int; o.targetLength = m["input_tdim"] as? Int
            o.mean = (m["dataset_mean"] as? Double).map(Float.init); o.std = (m["dataset_std"] as? Double).map(Float.init)
            o.labels = ["Negative", "Positive"]
            let out = dir + "/tiny-patch-ciab-ft.ssast"
            try SSASTConverter.convert(input: Fixtures.model("tiny-patch-ciab-ft.pth"), output: out, options: o)
            modelPath = out
        }
        return try SSASTModel(path: modelPath!)
    }

    /// Runs `source` through ScreeningSession with the model and compares against offline classification
    /// of `offlineSamples` (16 kHz mono) with the same hop.
    func check(source: AudioSource, seconds: Double?, offlineSamples: [Float], fixtureLogits: String, tag: String) throws {
        let model = try Self.model()
        let engine = try Engine(threads: 2)
        let live = try ModelClassifier(model: model, engine: engine)
        let screener = try Screener(classifier: live, hopFrames: 100, settings: live.fbankSettings)
        var got: [WindowResult] = []
        _ = try ScreeningSession(source: source, screener: screener).run(maxAudioSeconds: seconds, onWindow: { got.append($0) })
        let offline = try Classifier(model: model, engine: engine).classify(samples: offlineSamples, hopFrames: 100)
        XCTAssertEqual(got.map(\.startFrame), offline.map(\.startFrame), tag)
        XCTAssertEqual(got.map(\.frames), offline.map(\.frames), tag)
        var worst: Float = 0
        for (w, o) in zip(got, offline) {
            worst = max(worst, maxAbsDiff(w.logits, o.output))
            XCTAssertLessThan(maxAbsDiff(w.probabilities, o.probabilities), 1e-4)
        }
        print("\(tag): \(got.count) windows, max |live - offline logits| = \(worst)")
        XCTAssertLessThan(worst, 1e-4, tag)
        let ref = try Fixtures.npy(fixtureLogits).data
        let d = maxAbsDiff(got.first?.logits ?? [], ref)
        print("\(tag): first window vs PyTorch logits \(d)")
        XCTAssertLessThan(d, 1e-3, tag)
    }

    /// 12.5 s of 16 kHz speech captured through ALSA (fixture device) and screened live.
    func testALSACaptureWindowsEqualOffline() throws {
        let path = Fixtures.audio("long16k.wav")
        let a = try decodeAudio(path: path)
        let raw = Self.dir + "/long16k.raw"
        try FixtureMic.writeS16(raw, a.samples.map { Int16(($0 * 32768).rounded()) })
        let src = try ALSASource(FixtureMic.options(infile: raw))
        try check(source: src, seconds: Double(a.frames) / 16000, offlineSamples: try loadMono16k(path: path),
                  fixtureLogits: "expected/logits_avgtok_tiny-patch-ciab-ft__long16k.npy", tag: "ALSA long16k")
    }

    /// 44.1 kHz stereo captured at its own rate: downmix + streaming resample live vs the offline load.
    func testALSAStereo44kWindowsEqualOffline() throws {
        let path = Fixtures.audio("stereo44k.wav")
        let a = try decodeAudio(path: path)
        let raw = Self.dir + "/stereo44k.raw"
        try FixtureMic.writeS16(raw, a.samples.map { Int16(($0 * 32768).rounded()) })
        let src = try ALSASource(FixtureMic.options(infile: raw, rate: 44100, channels: 2))
        try check(source: src, seconds: Double(a.frames) / 44100, offlineSamples: try loadMono16k(path: path),
                  fixtureLogits: "expected/logits_avgtok_tiny-patch-ciab-ft__stereo44k.npy", tag: "ALSA stereo44k")
    }

    /// Raw s16 on a pipe (what `--input -` reads).
    func testRawPipeWindowsEqualOffline() throws {
        let path = Fixtures.audio("speech16k.wav")
        let a = try decodeAudio(path: path)
        let bytes: [UInt8] = a.samples.map { Int16(($0 * 32768).rounded()) }.withUnsafeBytes { Array($0) }
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let wfd = fds[1]
        let writer = Thread {
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { write(wfd, $0.baseAddress, min(4093, $0.count)) }
                if n <= 0 { break }
                off += n
            }
            close(wfd)
        }
        writer.start()
        let src = try RawPCMSource(fileDescriptor: fds[0], name: "pipe", format: RawFormat(rate: 16000, channels: 1, encoding: .s16le),
                                   closeWhenDone: true)
        try check(source: src, seconds: nil, offlineSamples: try loadMono16k(path: path),
                  fixtureLogits: "expected/logits_avgtok_tiny-patch-ciab-ft__speech16k.npy", tag: "pipe speech16k")
    }
}
