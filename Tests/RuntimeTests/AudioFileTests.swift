import AudioFile
import Foundation
import Runtime
import TestSupport
import XCTest

final class AudioFileTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// A minimal WAV writer independent of libsndfile, for files libsndfile would not write.
    static func wav(format: UInt16, bits: UInt16, channels: UInt16, rate: UInt32, data: Data) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        d.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(36 + data.count)); d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(format); u16(channels); u32(rate)
        u32(rate * UInt32(channels) * UInt32(bits / 8)); u16(channels * bits / 8); u16(bits)
        d.append(contentsOf: Array("data".utf8)); u32(UInt32(data.count)); d.append(data)
        return d
    }

    /// The int16 samples of a PCM WAV, parsed by hand (chunk walk).
    static func int16Samples(ofWAV path: String) throws -> (rate: Int, channels: Int, samples: [Int16]) {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24 }
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        var o = 12, rate = 0, channels = 0
        while o + 8 <= b.count {
            let id = String(bytes: b[o..<(o + 4)], encoding: .ascii)!, size = u32(o + 4)
            if id == "fmt " { XCTAssertEqual(u16(o + 22), 16); channels = u16(o + 10); rate = u32(o + 12) }
            if id == "data" {
                let s = (0..<(size / 2)).map { Int16(bitPattern: UInt16(u16(o + 8 + 2 * $0))) }
                return (rate, channels, s)
            }
            o += 8 + size + (size & 1)
        }
        throw SSASTError("no data chunk")
    }

    func testInt16ScalingIsExactlyDivideBy32768() throws {
        for name in ["speech16k.wav", "stereo44k.wav", "short16k.wav"] {
            let path = Fixtures.audio(name)
            let raw = try Self.int16Samples(ofWAV: path)
            let a = try decodeAudio(path: path)
            XCTAssertEqual(a.sampleRate, raw.rate); XCTAssertEqual(a.channels, raw.channels)
            XCTAssertEqual(a.samples.count, raw.samples.count)
            XCTAssertTrue(a.samples == raw.samples.map { Float($0) / 32768 }, "\(name): not int16 / 32768 bit for bit")
        }
    }

    func testFixtureFilesDecode() throws {
        let audio = Fixtures.manifest["audio"] as! [String: [String: Any]]
        for (name, e) in audio {
            let a = try decodeAudio(path: Fixtures.audio(name))
            XCTAssertEqual(a.sampleRate, e["sample_rate"] as? Int, name)
            XCTAssertGreaterThan(a.frames, 0)
            XCTAssertTrue(a.samples.allSatisfy { abs($0) <= 1 }, name)
        }
        XCTAssertEqual(try decodeAudio(path: Fixtures.audio("stereo44k.wav")).channels, 2)
        // FLAC is lossless: same samples as the WAV of the same speech.
        XCTAssertEqual(try decodeAudio(path: Fixtures.audio("speech16k.flac")).samples,
                       try decodeAudio(path: Fixtures.audio("speech16k.wav")).samples)
    }

    func testWriteWAV16RoundTrip() throws {
        let dir = Fixtures.temporaryDirectory("wav")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ints: [Int16] = [0, 1, -1, 32767, -32768, 1234, -4321, 7]
        let p1 = dir + "/ints.wav"
        try writeWAV16(path: p1, samples: ints, sampleRate: 16000, channels: 2)
        let a = try decodeAudio(path: p1)
        XCTAssertEqual(a.channels, 2); XCTAssertEqual(a.sampleRate, 16000); XCTAssertEqual(a.frames, 4)
        XCTAssertEqual(a.samples, ints.map { Float($0) / 32768 })
        XCTAssertEqual(try Self.int16Samples(ofWAV: p1).samples, ints)
        // Floats that came from int16 survive exactly; out-of-range values clamp.
        let p2 = dir + "/floats.wav"
        try writeWAV16(path: p2, samples: a.samples + [1.5, -2], sampleRate: 8000)
        XCTAssertEqual(try decodeAudio(path: p2).samples, a.samples + [32767 / 32768, -1])
        XCTAssertThrowsError(try writeWAV16(path: p2, samples: [Int16](repeating: 0, count: 3), sampleRate: 16000, channels: 2))
        XCTAssertThrowsError(try writeWAV16(path: dir + "/no/such/dir.wav", samples: [Int16](), sampleRate: 16000))
    }

    func testLoadMono16kOfResampledFile() throws {
        let x = try loadMono16k(path: Fixtures.audio("stereo44k.wav"))
        let a = try decodeAudio(path: Fixtures.audio("stereo44k.wav"))
        XCTAssertEqual(x.count, (a.frames * 160 + 440) / 441)
    }

    func assertError(_ path: String, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try decodeAudio(path: path), file: file, line: line) { e in
            guard let m = (e as? SSASTError)?.message else { return XCTFail("not an SSASTError: \(e)", file: file, line: line) }
            XCTAssertTrue(m.contains(path), "message does not name the file: \(m)", file: file, line: line)
            for p in parts { XCTAssertTrue(m.lowercased().contains(p), "'\(m)' lacks '\(p)'", file: file, line: line) }
            print("decode error: \(m)")
        }
    }

    func testBadFilesGiveClearErrors() throws {
        let dir = Fixtures.temporaryDirectory("badaudio")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        assertError(dir + "/missing.wav", contains: ["no such file"])
        assertError(dir, contains: ["not a regular file"])

        let text = dir + "/notes.wav"
        try "this is not audio\n".write(toFile: text, atomically: true, encoding: .utf8)
        assertError(text, contains: ["cannot decode"])

        let empty = dir + "/empty.wav"
        try Self.wav(format: 1, bits: 16, channels: 1, rate: 16000, data: Data()).write(to: URL(fileURLWithPath: empty))
        assertError(empty, contains: [])

        var floats: [Float] = [0.1, -0.2, .nan, 0.3]
        let nan = dir + "/nan.wav"
        try Self.wav(format: 3, bits: 32, channels: 1, rate: 16000, data: Data(bytes: &floats, count: 16))
            .write(to: URL(fileURLWithPath: nan))
        assertError(nan, contains: ["nan", "sample 2"])

        floats = [0.1, .infinity]
        let inf = dir + "/inf.wav"
        try Self.wav(format: 3, bits: 32, channels: 1, rate: 16000, data: Data(bytes: &floats, count: 8))
            .write(to: URL(fileURLWithPath: inf))
        assertError(inf, contains: ["inf"])

        let zeroRate = dir + "/zerorate.wav"
        try Self.wav(format: 1, bits: 16, channels: 1, rate: 0, data: Data(count: 64)).write(to: URL(fileURLWithPath: zeroRate))
        assertError(zeroRate, contains: [])

        // Truncated FLAC: the header promises more than is there.
        let flac = try Data(contentsOf: URL(fileURLWithPath: Fixtures.audio("speech16k.flac")))
        let cut = dir + "/cut.flac"
        try flac.prefix(200).write(to: URL(fileURLWithPath: cut))
        XCTAssertThrowsError(try decodeAudio(path: cut))
        // A valid float file still loads.
        floats = [0.1, -0.2, 0.3, 0.4]
        let ok = dir + "/ok.wav"
        try Self.wav(format: 3, bits: 32, channels: 1, rate: 16000, data: Data(bytes: &floats, count: 16))
            .write(to: URL(fileURLWithPath: ok))
        XCTAssertEqual(try decodeAudio(path: ok).samples, floats)
    }
}
