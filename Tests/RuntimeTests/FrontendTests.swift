import AudioFile
import Foundation
import Runtime
import TestSupport
import XCTest

/// The front end against torchaudio's numbers (fixtures) and against itself (streaming = offline).
final class FrontendTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    static var audioEntries: [(name: String, rate: Int, fbank: String, frames: Int)] {
        let audio = Fixtures.manifest["audio"] as! [String: [String: Any]]
        return audio.keys.sorted().map { k in
            let e = audio[k]!
            return (k, e["sample_rate"] as! Int, e["fbank"] as! String, e["frames"] as! Int)
        }
    }

    // MARK: FFT

    func testRealFFTAgainstNaiveDFT() throws {
        var rng = FrontendRNG(seed: 7)
        for n in [8, 16, 64, 512, 2048] {
            let fft = try RealFFT(length: n)
            let x = (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) }
            let (re, im) = try fft.spectrum(x)
            XCTAssertEqual(re.count, n / 2 + 1)
            var maxErr = 0.0, maxMag = 0.0
            for k in 0...(n / 2) {
                var sr = 0.0, si = 0.0
                for j in 0..<n {
                    let a = -2 * Double.pi * Double(j * k % n) / Double(n)
                    sr += Double(x[j]) * cos(a); si += Double(x[j]) * sin(a)
                }
                maxErr = max(maxErr, abs(sr - Double(re[k])), abs(si - Double(im[k])))
                maxMag = max(maxMag, (sr * sr + si * si).squareRoot())
            }
            // Double inside, Float out: only the output rounding (half a float ulp) remains.
            XCTAssertLessThan(maxErr / maxMag, 1e-7, "n=\(n)")
            print("RealFFT n=\(n): max |FFT - DFT| = \(maxErr) (largest bin \(maxMag))")
        }
        XCTAssertThrowsError(try RealFFT(length: 400))
        XCTAssertThrowsError(try RealFFT(length: 4))
    }

    func testPowerSpectrumMatchesSpectrum() throws {
        let fft = try RealFFT(length: 512)
        var rng = FrontendRNG(seed: 3)
        let x = (0..<512).map { _ in Float(rng.nextDouble() - 0.5) }
        let (re, im) = try fft.spectrum(x)
        var p = [Float](repeating: 0, count: 257)
        x.withUnsafeBufferPointer { xb in p.withUnsafeMutableBufferPointer { fft.powerSpectrum(xb.baseAddress!, into: $0.baseAddress!) } }
        for k in 0...256 { XCTAssertEqual(p[k], re[k] * re[k] + im[k] * im[k], accuracy: 1e-6 * max(1, p[k])) }
    }

    func testFastLogMatchesLogf() {
        var rng = FrontendRNG(seed: 9)
        var x: [Float] = (0..<20000).map { _ in Float(exp(rng.nextDouble() * 60 - 30)) }
        x += [1.1920929e-07, 1, 2, 0.5, 1.4142135, 1.4142137, .greatestFiniteMagnitude, 0, -1, .infinity, .nan, Float(bitPattern: 0x0002_0000), 7]   // last but one: a subnormal
        let got = fastLog(x)
        var worst: Float = 0
        for (v, g) in zip(x, got) {
            let r = logf(v)
            if r.isNaN { XCTAssertTrue(g.isNaN, "\(v)"); continue }
            if !r.isFinite { XCTAssertEqual(g, r, "\(v)"); continue }
            let d = abs(g - r)
            worst = max(worst, d / max(1, abs(r)))
            XCTAssertLessThanOrEqual(d, 2 * max(1, abs(r)).ulp, "log(\(v))")
        }
        print("fastLog vs logf: worst relative diff \(worst)")
    }

    // MARK: fbank vs torchaudio

    func testFbankMatchesFixtures() throws {
        for e in Self.audioEntries {
            let w = try loadMono16k(path: Fixtures.audio(e.name))
            let (frames, data) = try fbank(w)
            let expected = try Fixtures.npy(e.fbank)
            XCTAssertEqual(frames, e.frames, e.name)
            XCTAssertEqual(expected.shape, [e.frames, 128], e.name)
            let d = maxAbsDiff(data, expected.data)
            let bound = Bounds.fbank(rate: e.rate)
            print(String(format: "fbank %@ (%d Hz, %d frames): max abs diff %.3g (bound %.0e)",
                         e.name, e.rate, frames, d, bound))
            XCTAssertLessThanOrEqual(d, bound, e.name)
        }
    }

    /// The model inputs: fbank, pad/cut to target length, (x - mean) / (2 std).
    func testModelInputsMatchFixtures() throws {
        let models = Fixtures.manifest["models"] as! [String: [String: Any]]
        let cases = Fixtures.manifest["cases"] as! [[String: Any]]
        let rates = Dictionary(uniqueKeysWithValues: Self.audioEntries.map { ($0.name, $0.rate) })
        var checked = 0
        for c in cases {
            guard let input = c["input"] as? String else { continue }
            let audio = c["audio"] as! String, model = models[c["model"] as! String]!
            let target = model["input_tdim"] as! Int
            let mean = Float(model["dataset_mean"] as! Double), std = Float(model["dataset_std"] as! Double)
            let (frames, fb) = try fbank(try loadMono16k(path: Fixtures.audio(audio)))
            let x = try InputPreparation(targetLength: target, bins: 128, mean: mean, std: std).prepare(fb, frames: frames)
            let expected = try Fixtures.npy(input)
            XCTAssertEqual(expected.shape, [target, 128])
            let d = maxAbsDiff(x, expected.data)
            let bound: Float = rates[audio] == 16000 ? 1e-4 : Bounds.fbank(rate: rates[audio]!) / (2 * std)
            print(String(format: "input %@: max abs diff %.3g (bound %.1e)", (input as NSString).lastPathComponent, d, bound))
            XCTAssertLessThanOrEqual(d, bound, input)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 6)
    }

    // MARK: streaming

    static func chunkSizes(total: Int) -> [[Int]] {
        var rng = FrontendRNG(seed: 11)
        var random: [Int] = [], n = 0
        while n < total { let c = 1 + Int(rng.nextDouble() * 3000); random.append(c); n += c }
        return [[1], [7], [160], [401], [4096], random]
    }

    static func feed<T>(_ x: [Float], pattern: [Int], _ push: (ArraySlice<Float>) -> [T]) -> [T] {
        var out: [T] = [], i = 0, k = 0
        while i < x.count {
            let c = min(pattern[k % pattern.count], x.count - i)
            out += push(x[i..<(i + c)])
            i += c; k += 1
        }
        return out
    }

    func testStreamingFbankIsBitIdenticalToOffline() throws {
        for name in ["speech16k.wav", "short16k.wav", "burst16k.wav"] {
            let w = try loadMono16k(path: Fixtures.audio(name))
            let (frames, offline) = try fbank(w)
            let mean = Float(w.reduce(0.0) { $0 + Double($1) } / Double(w.count))
            for pattern in Self.chunkSizes(total: w.count) {
                let stream = try FbankStream(offset: mean)
                let got = Self.feed(w, pattern: pattern) { stream.push($0) }
                XCTAssertEqual(stream.framesEmitted, frames)
                XCTAssertEqual(got.count, offline.count, "\(name) chunks \(pattern.prefix(3))")
                XCTAssertTrue(got == offline, "\(name): streaming differs from offline, chunks \(pattern.prefix(3))")
            }
        }
    }

    /// A stream cannot know the clip mean; with offset 0 per-frame DC removal makes it irrelevant
    /// up to rounding. Measure that rounding on every 16 kHz fixture.
    func testStreamWithoutClipMean() throws {
        var worst: Float = 0
        for e in Self.audioEntries {
            let w = try loadMono16k(path: Fixtures.audio(e.name))
            let (_, offline) = try fbank(w)
            let stream = try FbankStream(offset: 0)
            let got = stream.push(w)
            let d = maxAbsDiff(got, offline)
            let expected = try Fixtures.npy(e.fbank)
            let dFix = maxAbsDiff(got, expected.data)
            print(String(format: "stream without clip mean, %@: vs offline %.3g, vs fixture %.3g", e.name, d, dFix))
            worst = max(worst, d)
            XCTAssertLessThanOrEqual(dFix, Bounds.fbank(rate: e.rate), e.name)
        }
        XCTAssertLessThan(worst, 1e-3)
    }

    func testStreamingResamplerIsBitIdenticalToOffline() throws {
        var rng = FrontendRNG(seed: 5)
        let synthetic = (0..<30011).map { i in Float(sin(Double(i) * 0.05) * 0.3 + (rng.nextDouble() - 0.5) * 0.1) }
        let inputs: [(String, [Float], Int)] = [
            ("stereo44k.wav", try downmixed("stereo44k.wav"), 44100),
            ("float48k.wav", try downmixed("float48k.wav"), 48000),
            ("synthetic 22050", synthetic, 22050),
            ("synthetic 8000 (upsampling)", synthetic, 8000),
        ]
        for (name, x, rate) in inputs {
            let r = try Resampler(from: rate, to: 16000)
            let offline = r.process(x)
            XCTAssertEqual(offline.count, (16000 * x.count + rate - 1) / rate, name)
            for pattern in Self.chunkSizes(total: x.count) {
                var got = Self.feed(x, pattern: pattern) { r.push($0) }
                got += r.finish()
                XCTAssertTrue(got == offline, "\(name): stream differs, chunks \(pattern.prefix(3))")
            }
        }
        // Same rate: identity, as torchaudio returns the waveform itself.
        XCTAssertEqual(try resample(synthetic, from: 16000, to: 16000), synthetic)
    }

    func downmixed(_ name: String) throws -> [Float] {
        let a = try decodeAudio(path: Fixtures.audio(name))
        return try downmix(a.samples, channels: a.channels)
    }

    func testResamplerKernelGeometry() throws {
        // gcd-reduced rates and width as torchaudio computes them.
        let r44 = try Resampler(from: 44100, to: 16000)
        XCTAssertEqual([r44.orig, r44.new, r44.width, r44.taps], [441, 160, 17, 475])
        let r48 = try Resampler(from: 48000, to: 16000)
        XCTAssertEqual([r48.orig, r48.new, r48.width, r48.taps], [3, 1, 19, 41])
        // Kernel centre tap of phase 0 is base / orig = 0.99 / 3 (sinc(0) = 1, window 1).
        XCTAssertEqual(r48.kernel[19], Float(0.99 / 3), accuracy: 1e-7)
        // A DC signal stays DC in the interior (the kernel sums to ~1 per phase).
        let y = r48.process([Float](repeating: 0.5, count: 3000))
        XCTAssertEqual(y[500], 0.5, accuracy: 0.5 * 2e-3)
        XCTAssertThrowsError(try Resampler(from: 0, to: 16000))
        XCTAssertThrowsError(try Resampler(from: 44100, to: 16001))   // gcd 1: kernel too large
    }

    func testDownmixAverages() throws {
        XCTAssertEqual(try downmix([1, 3, -2, 0.5], channels: 2), [2, -0.75])
        XCTAssertEqual(try downmix([1, 2, 3, 4, 5, 6], channels: 3), [2, 5])
        XCTAssertThrowsError(try downmix([1], channels: 0))
    }

    // MARK: edges, settings, helpers

    func testShortInputIsAClearError() throws {
        let x = [Float](repeating: 0.1, count: 399)
        XCTAssertThrowsError(try fbank(x, name: "clip.wav")) { e in
            let m = (e as? SSASTError)?.message ?? ""
            XCTAssertTrue(m.contains("clip.wav") && m.contains("399") && m.contains("400"), m)
        }
        XCTAssertEqual(try fbank(x + [0.2]).frames, 1)
        XCTAssertEqual(try fbank([Float](repeating: 0, count: 400 + 159)).frames, 1)
        XCTAssertEqual(try fbank([Float](repeating: 0, count: 400 + 160)).frames, 2)
        // Digital silence: every bin at log(float eps).
        let silent = try fbank([Float](repeating: 0, count: 1000)).data
        XCTAssertTrue(silent.allSatisfy { $0 == logf(1.1920929e-07) })
        var bad = [Float](repeating: 0, count: 500); bad[3] = .nan
        XCTAssertThrowsError(try fbank(bad))
        // The stream just waits for enough samples.
        let s = try FbankStream()
        XCTAssertEqual(s.push(x).count, 0)
        XCTAssertEqual(s.push([0.3]).count, 128)
    }

    func testSettingsEncodingRoundTrip() throws {
        let s = FbankSettings.ssast
        XCTAssertEqual(s.effectiveHighFreq, 8000)
        let dict = Dictionary(uniqueKeysWithValues: s.fields.map { ("fbank." + $0.0, $0.1) })
        XCTAssertEqual(try FbankSettings(fields: dict), s)
        XCTAssertEqual(try FbankSettings(fields: [:]), s)
        XCTAssertEqual(Set(s.fields.map(\.0)).count, s.fields.count)
        XCTAssertThrowsError(try FbankSettings(fields: ["fbank.mystery": 1]))
        XCTAssertThrowsError(try FbankSettings(fields: ["dither": 1]))
        XCTAssertThrowsError(try FbankSettings(fields: ["use_energy": 1]))
        XCTAssertThrowsError(try FbankSettings(fields: ["snip_edges": 0]))
        XCTAssertThrowsError(try FbankSettings(fields: ["padded_length": 500]))
        XCTAssertThrowsError(try FbankSettings(fields: ["high_freq": 9000]))
        XCTAssertThrowsError(try FbankSettings(fields: ["num_mel_bins": 2.5]))
        XCTAssertThrowsError(try FbankSettings(fields: ["window": 9]))
        // torchaudio's high_freq 0 means Nyquist: same filters as 8000.
        var zero = s; zero.highFreq = 0
        let x = (0..<4000).map { Float(sin(Double($0) * 0.3)) }
        XCTAssertEqual(try fbank(x, settings: zero).data, try fbank(x).data)
    }

    func testInputPreparation() throws {
        let fb: [Float] = [1, 2, 3, 4, 5, 6]   // 3 frames x 2 bins
        // mean 1, std 0.5: (x - 1) / 1; padding is a zero fbank value, normalised to -1.
        func prep(_ t: Int) -> InputPreparation { InputPreparation(targetLength: t, bins: 2, mean: 1, std: 0.5) }
        XCTAssertEqual(try prep(2).prepare(fb, frames: 3), [0, 1, 2, 3])
        XCTAssertEqual(try prep(4).prepare(fb, frames: 3), [0, 1, 2, 3, 4, 5, -1, -1])
        XCTAssertEqual(try prep(2).prepare(fb, frames: 3, start: 2), [4, 5, -1, -1])
        XCTAssertThrowsError(try prep(4).prepare(fb, frames: 4))
        XCTAssertEqual(InputPreparation(targetLength: 1, bins: 2, mean: -1, std: 0.5).zero, 1)
    }

}

/// Deterministic generator for test signals.
struct FrontendRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
