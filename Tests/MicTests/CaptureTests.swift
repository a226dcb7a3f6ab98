import AudioFile
import Foundation
import Mic
import Runtime
import TestSupport
import XCTest

/// Helpers shared by the Mic tests: a capture device with no sound card. ALSA's `file` plugin reads
/// `infile` (raw PCM in whatever format/rate/channels were negotiated) into every capture read, over a
/// `null` slave that accepts any parameters and does not pace the stream; the infile starts again from
/// the top at its end. The configuration is handed to `snd_pcm_open_lconf`, so HOME is not touched.
enum FixtureMic {
    static func config(infile: String, name: String = "fixturemic") -> String {
        """
        pcm.\(name) {
            type file
            slave.pcm { type null }
            file "/dev/null"
            infile "\(infile)"
            format "raw"
        }
        """
    }

    static func options(infile: String, rate: Int = 16000, channels: Int = 1,
                        policy: FrameRing.OverflowPolicy = .block, ringSeconds: Double = 1) -> ALSASource.Options {
        var o = ALSASource.Options()
        o.device = "fixturemic"
        o.configText = config(infile: infile)
        o.rate = rate
        o.channels = channels
        o.policy = policy
        o.ringSeconds = ringSeconds
        return o
    }

    /// Writes little-endian int16 samples.
    static func writeS16(_ path: String, _ samples: [Int16]) throws {
        let d = samples.withUnsafeBytes { Data($0) }
        try d.write(to: URL(fileURLWithPath: path))
    }

    /// A ramp whose every sample is distinct, so a captured value tells its position in the file.
    static func ramp(_ n: Int) -> [Int16] { (0..<n).map { Int16($0 - n / 2) } }

    /// Reads exactly `frames` frames (interleaved) from a source, in reads of `chunk` frames.
    static func readFrames(_ src: AudioSource, _ frames: Int, chunk: Int = 777) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(frames * src.channels)
        var buf = [Float](repeating: 0, count: chunk * src.channels)
        while out.count < frames * src.channels {
            let want = min(chunk, frames - out.count / src.channels)
            if buf.count != want * src.channels { buf = [Float](repeating: 0, count: want * src.channels) }
            let n = try src.read(into: &buf)
            if n == 0 { break }
            out.append(contentsOf: buf[0..<(n * src.channels)])
        }
        return out
    }

    /// Resident set size now, in bytes (/proc/self/statm, second field, pages).
    static func currentRSS() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let f = s.split(separator: " ")
        guard f.count > 1, let pages = Int(f[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

final class CaptureTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    var dir = ""
    override func setUp() { dir = Fixtures.temporaryDirectory("mic") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// 16 kHz mono s16 through the real libasound path: exactly the file's samples.
    /// (alsa-lib 1.2.8's file plugin does not wrap at the end of the infile: it stops copying and the
    /// reads return whatever the buffer held before, so tests read at most the file's length.)
    func testCaptureExactSamples() throws {
        let n = 48000
        let ramp = (0..<n).map { Int16(truncatingIfNeeded: $0 * 7 - 30000) }
        let raw = dir + "/ramp.raw"
        try FixtureMic.writeS16(raw, ramp)
        let src = try ALSASource(FixtureMic.options(infile: raw))
        defer { src.stop() }
        XCTAssertEqual(src.sampleRate, 16000)
        XCTAssertEqual(src.channels, 1)
        XCTAssertEqual(src.encoding, .s16le)
        let got = try FixtureMic.readFrames(src, n)
        XCTAssertEqual(got.count, n)
        var mismatches = 0
        for i in 0..<min(n, got.count) where got[i] != Float(ramp[i]) / 32768 { mismatches += 1 }
        XCTAssertEqual(mismatches, 0, "captured samples differ from the file")
        XCTAssertEqual(src.counters.droppedFrames, 0)
        XCTAssertEqual(src.counters.xruns, 0)
        XCTAssertGreaterThanOrEqual(src.counters.capturedFrames, n)
    }

    /// A 44.1 kHz stereo device: rate and channels negotiated as asked, interleaving kept exactly.
    func testCapture44kStereoInterleaving() throws {
        let frames = 44100
        var inter = [Int16](repeating: 0, count: frames * 2)
        for f in 0..<frames { inter[2 * f] = Int16(f % 30000 - 15000); inter[2 * f + 1] = Int16(-(f % 20011)) }
        let raw = dir + "/st.raw"
        try FixtureMic.writeS16(raw, inter)
        let src = try ALSASource(FixtureMic.options(infile: raw, rate: 44100, channels: 2))
        defer { src.stop() }
        XCTAssertEqual(src.sampleRate, 44100)
        XCTAssertEqual(src.channels, 2)
        let got = try FixtureMic.readFrames(src, frames)
        XCTAssertEqual(got.count, frames * 2)
        var bad = 0
        for i in 0..<min(got.count, inter.count) where got[i] != Float(inter[i]) / 32768 { bad += 1 }
        XCTAssertEqual(bad, 0)
    }

    /// The fixture's 44.1 kHz stereo WAV captured through ALSA at its own rate, downmixed, resampled
    /// and fbanked in a stream: matches the PyTorch fbank within the resampled-input bound.
    func testStereo44kCapturePipelineMatchesFixtureFbank() throws {
        let audio = try decodeAudio(path: Fixtures.audio("stereo44k.wav"))
        XCTAssertEqual(audio.sampleRate, 44100)
        XCTAssertEqual(audio.channels, 2)
        let raw = dir + "/stereo44k.raw"
        try FixtureMic.writeS16(raw, audio.samples.map { Int16(($0 * 32768).rounded()) })
        let src = try ALSASource(FixtureMic.options(infile: raw, rate: 44100, channels: 2))
        defer { src.stop() }
        let captured = try FixtureMic.readFrames(src, audio.frames, chunk: 1024)
        XCTAssertEqual(captured, audio.samples, "capture differs from the decoded file")
        let cond = try Conditioner(inputRate: 44100, inputChannels: 2)
        let stream = try FbankStream()
        var feats: [Float] = []
        var i = 0
        while i < captured.count {   // odd chunk sizes on purpose: state must carry across them
            let end = min(captured.count, i + 2 * 1531)
            stream.push(try cond.process(captured[i..<end]), into: &feats)
            i = end
        }
        stream.push(cond.finish(), into: &feats)
        let expected = try Fixtures.npy("expected/fbank_stereo44k.npy")
        XCTAssertEqual(feats.count, expected.data.count)
        let d = maxAbsDiff(feats, expected.data)
        print("stereo44k capture->resample->fbank max |diff| vs PyTorch: \(d)")
        XCTAssertLessThan(d, Bounds.fbank(rate: 44100))
    }

    func testMissingDeviceIsAClearError() throws {
        let raw = dir + "/x.raw"
        try FixtureMic.writeS16(raw, FixtureMic.ramp(100))
        var o = FixtureMic.options(infile: raw)
        o.device = "nosuchmic"
        XCTAssertThrowsError(try ALSASource(o)) { e in
            let m = (e as? SSASTError)?.message ?? ""
            XCTAssertTrue(m.contains("nosuchmic") && m.contains("ssast devices"), m)
        }
        // The system configuration too (no HOME games: whatever the machine has, this name is unknown).
        var sys = ALSASource.Options()
        sys.device = "ssast_test_no_such_device"
        XCTAssertThrowsError(try ALSASource(sys)) { e in
            XCTAssertTrue(((e as? SSASTError)?.message ?? "").contains("ssast_test_no_such_device"))
        }
        // A fixture whose infile does not exist fails at open, not later.
        XCTAssertThrowsError(try ALSASource(FixtureMic.options(infile: dir + "/missing.raw")))
    }

    /// A consumer that stalls against an unpaced device (infile /dev/zero: endless): the ring drops the
    /// oldest audio and counts it, capture goes on, reading resumes, and every captured frame is either
    /// delivered or counted as dropped. (Drop-oldest order and continuity: FrameRingTests.)
    func testStalledConsumerDropsAndContinues() throws {
        let src = try ALSASource(FixtureMic.options(infile: "/dev/zero", policy: .dropOldest, ringSeconds: 0.25))
        var delivered = 0
        delivered += try FixtureMic.readFrames(src, 2000).count
        usleep(300_000)                          // stall: the unpaced device overfills the 4000-frame ring
        let before = src.counters.droppedFrames
        XCTAssertGreaterThan(before, 0, "a 300 ms stall against an unpaced device must overflow the ring")
        let after = try FixtureMic.readFrames(src, 20000)
        XCTAssertEqual(after.count, 20000, "reading must resume after the stall")
        XCTAssertTrue(after.allSatisfy { $0 == 0 })
        delivered += after.count
        usleep(100_000)
        src.stop()
        var buf = [Float](repeating: 0, count: 4096)
        while true { let k = try src.read(into: &buf); if k == 0 { break }; delivered += k }
        let c = src.counters
        XCTAssertGreaterThan(c.droppedFrames, before)
        XCTAssertEqual(c.capturedFrames, delivered + c.droppedFrames)
        XCTAssertEqual(c.xruns, 0)
        XCTAssertEqual(try src.read(into: &buf), 0, "a stopped source stays ended")
    }
}
