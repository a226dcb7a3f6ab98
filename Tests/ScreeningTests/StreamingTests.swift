import AudioFile
import Foundation
import Runtime
import Screening
import TestSupport
import XCTest

/// Block-wise decoding and resampling give exactly what whole-file decoding and resampling give.
final class StreamingTests: XCTestCase {
    /// The streaming resampler fed in uneven blocks equals the whole-signal call bit for bit, on the
    /// fixture files that need resampling (44.1 kHz stereo, 48 kHz float) and on 8 kHz.
    func testStreamingResamplerEqualsWholeSignal() throws {
        for name in ["stereo44k.wav", "float48k.wav"] {
            let a = try decodeAudio(path: Fixtures.audio(name))
            let mono = try downmix(a.samples, channels: a.channels)
            let whole = try resample(mono, from: a.sampleRate, to: 16000)
            for block in [1, 997, 4410, 65536] {
                let r = try Resampler(from: a.sampleRate, to: 16000)
                var out: [Float] = []
                var i = 0
                while i < mono.count {
                    let e = min(mono.count, i + block)
                    out += r.push(mono[i..<e])
                    i = e
                }
                out += r.finish()
                XCTAssertEqual(out.count, whole.count, "\(name) block \(block)")
                XCTAssertTrue(out == whole, "\(name) block \(block): streaming output differs")
            }
        }
        let x = (0..<12345).map { Float(sinf(Float($0) * 0.01)) }
        let r = try Resampler(from: 8000, to: 16000)
        XCTAssertEqual(r.push(x[0..<5000]) + r.push(x[5000...]) + r.finish(), try resample(x, from: 8000, to: 16000))
    }

    /// The block reader returns the same samples as the whole-file decode, for every fixture format.
    func testBlockReaderEqualsWholeDecode() throws {
        for name in ["speech16k.wav", "speech16k.flac", "stereo44k.wav", "float48k.wav"] {
            let whole = try decodeAudio(path: Fixtures.audio(name))
            let r = try AudioFileReader(path: Fixtures.audio(name))
            XCTAssertEqual(r.sampleRate, whole.sampleRate)
            var got: [Float] = []
            var buf = [Float](repeating: 0, count: 1000 * r.channels)
            while true {
                let n = try buf.withUnsafeMutableBufferPointer { try r.read(into: $0.baseAddress!, frames: 1000) }
                if n == 0 { break }
                got += buf[0..<(n * r.channels)]
            }
            XCTAssertEqual(got, whole.samples, name)
        }
    }

    /// Sample rates outside 4–384 kHz are refused when the file is opened, before any resampling.
    func testSampleRateLimits() throws {
        let dir = Fixtures.temporaryDirectory("rates")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (rate, ok) in [(1, false), (3999, false), (4000, true), (384_000, true), (384_001, false)] {
            let path = dir + "/r\(rate).wav"
            // Written at 8 kHz, then the header's two rate fields patched (libsndfile refuses to write 1 Hz).
            try writeWAV16(path: path, samples: [Float](repeating: 0.1, count: 4000), sampleRate: 8000)
            var d = try Data(contentsOf: URL(fileURLWithPath: path))
            withUnsafeBytes(of: UInt32(rate).littleEndian) { d.replaceSubrange(24..<28, with: $0) }
            withUnsafeBytes(of: UInt32(rate * 2).littleEndian) { d.replaceSubrange(28..<32, with: $0) }
            try d.write(to: URL(fileURLWithPath: path))
            if ok {
                XCTAssertEqual(try AudioFileReader(path: path).sampleRate, rate)
            } else {
                XCTAssertThrowsError(try AudioFileReader(path: path)) { e in
                    XCTAssertTrue((e as? SSASTError)?.message.contains("sample rate \(rate) Hz is outside 4000...384000 Hz") == true, "\(e)")
                }
            }
        }
    }
}
