#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Kaldi log-mel filterbank exactly as SSAST computes it:
/// `torchaudio.compliance.kaldi.fbank(w - w.mean(), htk_compat=True, sample_frequency=16000,
/// use_energy=False, window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)`.
///
/// Per frame (snip_edges: frame t covers samples [t*shift, t*shift + frameLength)):
/// subtract the frame mean, pre-emphasis x[j] - 0.97 x[j-1] (x[-1] := x[0]), window, zero-pad
/// to `paddedLength`, |rfft|^2, triangular mel filters (built in float32 with torchaudio's exact
/// operation order; the Nyquist bin has weight 0), log(max(e, floor)). All arithmetic is Float
/// as in torchaudio; the fixtures are matched to ~6e-4 (see FrontendTests).
///
/// The caller supplies audio at `settings.sampleRate` (resample first; see `Resampler`).
/// An instance holds scratch buffers: use one per thread.
public final class Fbank {
    public let settings: FbankSettings
    let fft: RealFFT
    let window: [Float]
    /// Mel filter b covers FFT bins melStart[b] ..< melStart[b] + melCount[b]; weights packed.
    let melStart: [Int], melCount: [Int], melOffset: [Int]
    let melWeights: [Float]
    let logFloor: Float
    let preemph: Float
    // Scratch for one frame.
    var shifted: [Float], padded: [Float], re: [Float], im: [Float], power: [Float]

    public init(settings: FbankSettings = .ssast) throws {
        try settings.validate()
        self.settings = settings
        let L = settings.frameLength, n = settings.paddedLength
        fft = try RealFFT(length: n)
        window = Fbank.windowFunction(settings.window, length: L)
        (melStart, melCount, melOffset, melWeights) = Fbank.melBanks(settings)
        logFloor = Float(settings.logFloor)
        preemph = Float(settings.preemphasis)
        shifted = [Float](repeating: 0, count: L)
        padded = [Float](repeating: 0, count: n)
        re = [Float](repeating: 0, count: n / 2)
        im = [Float](repeating: 0, count: n / 2)
        power = [Float](repeating: 0, count: n / 2 + 1)
    }

    /// Number of frames for `samples` input samples (snip_edges): 0 below one frame length.
    public func frameCount(samples: Int) -> Int {
        let L = settings.frameLength
        return samples < L ? 0 : 1 + (samples - L) / settings.frameShift
    }

    /// The window as torch builds it (float32; computed in Double and rounded, within 1 ulp).
    static func windowFunction(_ w: FbankSettings.Window, length L: Int) -> [Float] {
        (0..<L).map { j -> Float in
            let c = cos(2 * Double.pi * Double(j) / Double(L - 1))
            switch w {
            case .hanning: return Float(0.5 - 0.5 * c)
            case .povey: return Float(pow(0.5 - 0.5 * c, 0.85))
            case .hamming: return Float(0.54 - 0.46 * c)
            case .rectangular: return 1
            }
        }
    }

    /// torchaudio's get_mel_banks, reproduced operation by operation in float32 (it builds them
    /// with float32 tensors from Python-float scalars), then stored sparsely.
    static func melBanks(_ s: FbankSettings) -> ([Int], [Int], [Int], [Float]) {
        func melScalar(_ f: Double) -> Double { 1127.0 * log(1.0 + f / 700.0) }
        let melLow = melScalar(s.lowFreq), melHigh = melScalar(s.effectiveHighFreq)
        let delta = melHigh - melLow
        let melDelta = Float(delta / Double(s.melBins + 1))
        let lowF = Float(melLow)
        let binWidth = Float(Double(s.sampleRate) / Double(s.paddedLength))
        let fftBins = s.paddedLength / 2   // the Nyquist bin gets weight 0 (torchaudio pads a zero column)
        let mel: [Float] = (0..<fftBins).map { k in
            Float(1127.0) * logf(Float(1.0) + (binWidth * Float(k)) / Float(700.0))
        }
        var start = [Int](), count = [Int](), offset = [Int](), weights = [Float]()
        for b in 0..<s.melBins {
            let fb = Float(b)
            let left = lowF + fb * melDelta
            let center = lowF + (fb + 1) * melDelta
            let right = lowF + (fb + 2) * melDelta
            var first = -1, last = -1
            var w = [Float](repeating: 0, count: fftBins)
            for k in 0..<fftBins {
                let up = (mel[k] - left) / (center - left)
                let down = (right - mel[k]) / (right - center)
                let v = max(Float(0), min(up, down))
                w[k] = v
                if v > 0 { if first < 0 { first = k }; last = k }
            }
            if first < 0 { first = 0; last = -1 }   // an empty filter: log(floor)
            start.append(first); count.append(last - first + 1); offset.append(weights.count)
            if last >= first { weights.append(contentsOf: w[first...last]) }
        }
        return (start, count, offset, weights)
    }

    /// One frame: reads `settings.frameLength` samples at `input`, writes `melBins` log energies.
    public func computeFrame(_ input: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let L = settings.frameLength, half = settings.paddedLength / 2
        shifted.withUnsafeMutableBufferPointer { sb in
        padded.withUnsafeMutableBufferPointer { pb in
        re.withUnsafeMutableBufferPointer { rb in
        im.withUnsafeMutableBufferPointer { ib in
        power.withUnsafeMutableBufferPointer { powb in
        window.withUnsafeBufferPointer { wb in
            let f = sb.baseAddress!, p = pb.baseAddress!, r = rb.baseAddress!, i = ib.baseAddress!
            let pw = powb.baseAddress!, win = wb.baseAddress!
            // Per-frame DC removal (torch.mean in float32; a Double sum rounds the same or within 1 ulp).
            if settings.removeDCOffset {
                var sum = 0.0
                for j in 0..<L { sum += Double(input[j]) }
                let mean = Float(sum / Double(L))
                for j in 0..<L { f[j] = input[j] - mean }
            } else {
                for j in 0..<L { f[j] = input[j] }
            }
            // Pre-emphasis against the previous sample (the first against itself), then window;
            // c * f rounded before the subtraction, as torch does (no fused multiply-add).
            let c = preemph
            p[0] = (f[0] - c * f[0]) * win[0]
            for j in 1..<L { p[j] = (f[j] - c * f[j - 1]) * win[j] }
            // p[L..<n] stays zero (never written). Pack even/odd samples as one complex signal.
            for j in 0..<half { r[j] = p[2 * j]; i[j] = p[2 * j + 1] }
            fft.powerSpectrum(packedEven: r, odd: i, into: pw)
        }}}}}}
        power.withUnsafeBufferPointer { powb in
        melWeights.withUnsafeBufferPointer { mwb in
            let pw = powb.baseAddress!, mw = mwb.baseAddress!
            for b in 0..<settings.melBins {
                let s = melStart[b], w = mw + melOffset[b]
                var e: Float = 0
                for k in 0..<melCount[b] { e += pw[s + k] * w[k] }
                out[b] = logf(max(e, logFloor))
            }
        }}
    }

    /// The whole-clip fbank: (frames, frames x melBins row-major). Subtracts the clip mean first
    /// when `settings.subtractClipMean` (SSAST does). `name` labels error messages (a file path).
    ///
    /// Fewer than `frameLength` samples (400 = 25 ms at 16 kHz) is an error, as in torchaudio:
    /// there is no frame to compute and padding would invent signal. Callers that want a result
    /// for tiny clips must pad the audio themselves. Non-finite samples are an error.
    public func compute(_ samples: [Float], name: String? = nil) throws -> (frames: Int, data: [Float]) {
        let label = name.map { "\($0): " } ?? ""
        let L = settings.frameLength
        guard samples.count >= L else {
            throw SSASTError("\(label)audio too short for the fbank: \(samples.count) samples, need at least \(L) "
                + "(\(L * 1000 / settings.sampleRate) ms at \(settings.sampleRate) Hz)")
        }
        var sum = 0.0
        for (k, x) in samples.enumerated() {
            guard x.isFinite else { throw SSASTError("\(label)sample \(k) is \(x) (NaN or infinite)") }
            sum += Double(x)
        }
        var w = samples
        if settings.subtractClipMean {
            // torch: w.mean() in float32, then w - mean in float32.
            let mean = Float(sum / Double(samples.count))
            for k in w.indices { w[k] -= mean }
        }
        let frames = frameCount(samples: w.count)
        let bins = settings.melBins
        var out = [Float](repeating: 0, count: frames * bins)
        w.withUnsafeBufferPointer { wb in
            out.withUnsafeMutableBufferPointer { ob in
                for t in 0..<frames {
                    computeFrame(wb.baseAddress! + t * settings.frameShift, into: ob.baseAddress! + t * bins)
                }
            }
        }
        return (frames, out)
    }
}

/// Offline fbank of a whole clip at `settings.sampleRate` (see `Fbank.compute`): returns the frame
/// count and frames x melBins values, row-major. Throws for < frameLength samples (400 at 16 kHz).
public func fbank(_ samples: [Float], settings: FbankSettings = .ssast, name: String? = nil) throws
    -> (frames: Int, data: [Float]) {
    try Fbank(settings: settings).compute(samples, name: name)
}

/// Streaming fbank: push samples in chunks of any size and get back every frame that became
/// complete, frames x melBins row-major. The frames are bit-identical to the offline `Fbank`
/// of the concatenated input whatever the chunking, because each frame is computed by the same
/// code from the same samples.
///
/// The whole-clip mean: the offline path subtracts the mean of the whole clip, which a stream
/// cannot know. The stream instead subtracts a fixed `offset` from every sample (default 0).
/// With `offset` = the clip mean the stream equals offline `fbank()` bit for bit. With 0 it
/// differs only by rounding, because per-frame DC removal cancels any constant: measured on the
/// fixtures the largest difference is ~1e-4 in log energy, in near-silent bins (see
/// FrontendTests.testStreamWithoutClipMean), far below the 1e-3 fixture tolerance.
public final class FbankStream {
    public let fbank: Fbank
    public let offset: Float
    /// Samples of the next frame(s) not yet complete, offset already subtracted.
    var buffer: [Float] = []
    /// Samples still to drop before the next frame starts (only when frameShift > frameLength).
    var skip = 0
    public private(set) var framesEmitted = 0

    public init(settings: FbankSettings = .ssast, offset: Float = 0) throws {
        fbank = try Fbank(settings: settings)
        self.offset = offset
        buffer.reserveCapacity(settings.frameLength * 4)
    }

    /// Appends samples; returns the frames completed by them (count = result.count / melBins).
    /// Non-finite samples are not checked here (a live source is trusted; files are checked on load).
    public func push<C: Collection>(_ samples: C) -> [Float] where C.Element == Float {
        var out: [Float] = []
        push(samples, into: &out)
        return out
    }

    /// As `push`, appending to `out`; returns the number of frames appended.
    @discardableResult
    public func push<C: Collection>(_ samples: C, into out: inout [Float]) -> Int where C.Element == Float {
        let s = fbank.settings
        var it = samples.makeIterator()
        var remaining = samples.count
        if skip > 0 {
            let d = min(skip, remaining)
            for _ in 0..<d { _ = it.next() }
            skip -= d; remaining -= d
        }
        buffer.reserveCapacity(buffer.count + remaining)
        while let x = it.next() { buffer.append(x - offset) }
        let frames = fbank.frameCount(samples: buffer.count)
        guard frames > 0 else { return 0 }
        let bins = s.melBins, base = out.count
        out.append(contentsOf: repeatElement(0, count: frames * bins))
        buffer.withUnsafeBufferPointer { bb in
            out.withUnsafeMutableBufferPointer { ob in
                for t in 0..<frames {
                    fbank.computeFrame(bb.baseAddress! + t * s.frameShift, into: ob.baseAddress! + base + t * bins)
                }
            }
        }
        let consumed = frames * s.frameShift
        if consumed <= buffer.count { buffer.removeFirst(consumed) } else {
            skip = consumed - buffer.count; buffer.removeAll(keepingCapacity: true)
        }
        framesEmitted += frames
        return frames
    }
}

/// Milliseconds (best of 5, single thread) for the offline fbank of `seconds` of 16 kHz noise
/// (10 s = 998 frames), tables built once outside the timing. For `ssast bench`.
public func benchmarkFbank(seconds: Double = 10) -> Double {
    guard let fb = try? Fbank(settings: .ssast) else { return .nan }
    let n = max(400, Int(seconds * 16000))
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    let x: [Float] = (0..<n).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int32(truncatingIfNeeded: state >> 32)) / 2147483648 * 0.1
    }
    var best = Double.infinity
    for _ in 0..<5 {
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        let r = try? fb.compute(x)
        clock_gettime(CLOCK_MONOTONIC, &t1)
        if r == nil { return .nan }
        let ms = Double(t1.tv_sec - t0.tv_sec) * 1e3 + Double(t1.tv_nsec - t0.tv_nsec) / 1e6
        best = min(best, ms)
    }
    return best
}
