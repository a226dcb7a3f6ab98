#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif

/// Kaldi log-mel filterbank exactly as SSAST computes it:
/// `torchaudio.compliance.kaldi.fbank(w - w.mean(), htk_compat=True, sample_frequency=16000,
/// use_energy=False, window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)`.
///
/// Per frame (snip_edges: frame t covers samples [t*shift, t*shift + frameLength)):
/// subtract the frame mean, pre-emphasis x[j] - 0.97 x[j-1] (x[-1] := x[0]), window, zero-pad
/// to `paddedLength`, |rfft|^2, triangular mel filters (built in float32 with torchaudio's exact
/// operation order; the Nyquist bin has weight 0), log(max(e, floor)). All arithmetic is Float
/// as in torchaudio except the FFT, which runs in Double (see RealFFT); the fixtures are matched
/// to <= 5.9e-4 at 16 kHz, torchaudio's own float32 error (see FrontendTests).
///
/// The caller supplies audio at `settings.sampleRate` (resample first; see `Resampler`).
/// An instance holds scratch buffers: use one per thread.
public final class Fbank {
    public let settings: FbankSettings
    let fft: RealFFT
    let window: UnsafeMutablePointer<Float>
    /// Mel filter b covers FFT bins melStart[b] ..< melStart[b] + melStride; its weights are
    /// melWeights[b * melStride ..< (b + 1) * melStride], zero-padded past the triangle. A fixed
    /// length (the widest filter rounded up to 4) keeps the loop branch-free and vectorised.
    let melStart: UnsafeMutablePointer<Int>, melStride: Int
    let melWeights: UnsafeMutablePointer<Float>
    let logFloor: Float
    let preemph: Float
    // Scratch for one frame: the windowed frame zero-padded to paddedLength, its power spectrum,
    // the mel energies.
    let padded: UnsafeMutablePointer<Float>, power: UnsafeMutablePointer<Float>, energies: UnsafeMutablePointer<Float>

    public init(settings: FbankSettings = .ssast) throws(SSASTError) {
        try settings.validate()
        self.settings = settings
        let L = settings.frameLength, n = settings.paddedLength, bins = settings.melBins
        fft = try RealFFT(length: n)
        window = .allocate(capacity: L)
        window.initialize(from: Fbank.windowFunction(settings.window, length: L), count: L)
        let (start, count, offset, weights) = Fbank.melBanks(settings)
        let stride = max(4, (count.max()! + 3) / 4 * 4)
        melStride = stride
        melStart = .allocate(capacity: bins); melStart.initialize(from: start, count: bins)
        melWeights = .allocate(capacity: bins * stride); melWeights.initialize(repeating: 0, count: bins * stride)
        for b in 0..<bins {
            for k in 0..<count[b] { melWeights[b * stride + k] = weights[offset[b] + k] }
        }
        logFloor = Float(settings.logFloor)
        preemph = Float(settings.preemphasis)
        padded = .allocate(capacity: n); padded.initialize(repeating: 0, count: n)
        // Zero tail so the fixed-length mel loop may read past the Nyquist bin.
        power = .allocate(capacity: n / 2 + 1 + stride); power.initialize(repeating: 0, count: n / 2 + 1 + stride)
        energies = .allocate(capacity: bins); energies.initialize(repeating: 0, count: bins)
    }

    deinit {
        window.deallocate(); melStart.deallocate()
        melWeights.deallocate(); padded.deallocate(); power.deallocate(); energies.deallocate()
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
        let melDelta = Float((melHigh - melLow) / Double(s.melBins + 1))
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
        typealias V = SIMD4<Float>
        let L = settings.frameLength, bins = settings.melBins
        let x = UnsafeRawPointer(input), p = padded, win = window
        // Per-frame DC removal: torch.mean in float32; a Double sum rounds to the same value or
        // within 1 ulp. Four Double lanes keep the adds independent.
        var mean: Float = 0
        if settings.removeDCOffset {
            var acc = SIMD4<Double>(), j = 0
            while j + 4 <= L { acc += SIMD4<Double>(x.loadUnaligned(fromByteOffset: 4 * j, as: V.self)); j += 4 }
            var sum = (acc[0] + acc[1]) + (acc[2] + acc[3])
            while j < L { sum += Double(input[j]); j += 1 }
            mean = Float(sum / Double(L))
        }
        // Pre-emphasis against the previous sample (the first against itself), then the window,
        // rounding each step as torch does: ((x - mean) - c * (x_prev - mean)) * w, no FMA.
        let c = preemph
        let f0 = input[0] - mean
        p[0] = (f0 - c * f0) * win[0]
        var j = 1
        while j < min(4, L) { p[j] = ((input[j] - mean) - c * (input[j - 1] - mean)) * win[j]; j += 1 }
        let vm = V(repeating: mean), vc = V(repeating: c)
        let pw = UnsafeMutableRawPointer(p), ww = UnsafeRawPointer(win)
        while j + 4 <= L {
            let cur = x.loadUnaligned(fromByteOffset: 4 * j, as: V.self) - vm
            let prev = x.loadUnaligned(fromByteOffset: 4 * (j - 1), as: V.self) - vm
            let w = ww.loadUnaligned(fromByteOffset: 4 * j, as: V.self)
            pw.storeBytes(of: (cur - vc * prev) * w, toByteOffset: 4 * j, as: V.self)
            j += 4
        }
        while j < L { p[j] = ((input[j] - mean) - c * (input[j - 1] - mean)) * win[j]; j += 1 }
        // p[L..<paddedLength] stays zero (never written).
        fft.powerSpectrum(p, into: power)
        let e = energies, stride = melStride
        for b in 0..<bins {
            let pp = UnsafeRawPointer(power + melStart[b]), wp = UnsafeRawPointer(melWeights + b * stride)
            var acc = V()
            var k = 0
            while k < stride {
                acc += pp.loadUnaligned(fromByteOffset: 4 * k, as: V.self) * wp.loadUnaligned(fromByteOffset: 4 * k, as: V.self)
                k += 4
            }
            e[b] = max((acc[0] + acc[1]) + (acc[2] + acc[3]), logFloor)
        }
        logVector(e, into: out, count: bins)
    }

    /// The whole-clip fbank: (frames, frames x melBins row-major). Subtracts the clip mean first
    /// when `settings.subtractClipMean` (SSAST does). `name` labels error messages (a file path).
    ///
    /// Fewer than `frameLength` samples (400 = 25 ms at 16 kHz) is an error, as in torchaudio:
    /// there is no frame to compute and padding would invent signal. Callers that want a result
    /// for tiny clips must pad the audio themselves. Non-finite samples are an error.
    public func compute(_ samples: [Float], name: String? = nil) throws(SSASTError) -> (frames: Int, data: [Float]) {
        let label = name.map { "\($0): " } ?? ""
        let L = settings.frameLength
        guard samples.count >= L else {
            throw SSASTError("\(label)audio too short for the fbank: \(samples.count) samples, need at least \(L) "
                + "(\(L * 1000 / settings.sampleRate) ms at \(settings.sampleRate) Hz)")
        }
        // Sum in four Double lanes; a NaN or infinity anywhere makes the sum non-finite, and only
        // then is the offending sample looked for.
        var acc = SIMD4<Double>(), sum = 0.0
        samples.withUnsafeBufferPointer { xb in
            let x = UnsafeRawPointer(xb.baseAddress!)
            var k = 0
            while k + 4 <= xb.count { acc += SIMD4<Double>(x.loadUnaligned(fromByteOffset: 4 * k, as: SIMD4<Float>.self)); k += 4 }
            sum = (acc[0] + acc[1]) + (acc[2] + acc[3])
            while k < xb.count { sum += Double(xb[k]); k += 1 }
        }
        if !sum.isFinite, let k = samples.firstIndex(where: { !$0.isFinite }) {
            throw SSASTError("\(label)sample \(k) is \(samples[k]) (NaN or infinite)")
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
public func fbank(_ samples: [Float], settings: FbankSettings = .ssast, name: String? = nil) throws(SSASTError)
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
/// differs only by rounding, because per-frame DC removal cancels any constant (in exact
/// arithmetic the result is identical). Measured on the fixtures (FrontendTests.
/// testStreamWithoutClipMean): at most 7.8e-4 in log energy against the offline result, all of it
/// in near-silent bins (log energy around -15) where float32 rounding of the input dominates; the
/// distance to torchaudio's fixtures stays within their bounds (<= 5.2e-4 for 16 kHz files).
public final class FbankStream {
    public let fbank: Fbank
    public let offset: Float
    /// Samples of the next frame(s) not yet complete, offset already subtracted.
    var buffer: [Float] = []
    /// Samples still to drop before the next frame starts (only when frameShift > frameLength).
    var skip = 0
    public private(set) var framesEmitted = 0

    public init(settings: FbankSettings = .ssast, offset: Float = 0) throws(SSASTError) {
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

/// Milliseconds for the offline fbank of `seconds` of 16 kHz noise (10 s = 998 frames), tables
/// built once outside the timing: best of 5, measured as this thread's CPU time so that other
/// processes on a busy machine distort it less. For `ssast bench`.
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
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0)
        let r = try? fb.compute(x)
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1)
        if r == nil { return .nan }
        let ms = Double(t1.tv_sec - t0.tv_sec) * 1e3 + Double(t1.tv_nsec - t0.tv_nsec) / 1e6
        best = min(best, ms)
    }
    return best
}

/// Natural log of `count` positive finite values, 4 at a time: the Cephes logf polynomial
/// (max error ~1 ulp vs glibc logf; FrontendTests checks it). Lanes that are not positive
/// finite normal numbers fall back to logf.
func logVector(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
    typealias V = SIMD4<Float>
    typealias I = SIMD4<Int32>
    var i = 0
    while i + 4 <= count {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
        let bits = unsafeBitCast(v, to: I.self)
        // Positive normal finite: exponent field in 1...254 and sign clear.
        let ok = (bits .>= I(repeating: 0x0080_0000)) .& (bits .< I(repeating: 0x7F80_0000))
        if all(ok) {
            var e = (bits &>> 23) &- 127
            var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F80_0000, to: V.self)   // [1, 2)
            let big = m .> V(repeating: 1.41421356)
            m.replace(with: m * 0.5, where: big)
            e.replace(with: e &+ 1, where: big)
            let f = m - 1
            let z = f * f
            var y = V(repeating: 7.0376836292e-2)
            y = y * f + -1.1514610310e-1
            y = y * f + 1.1676998740e-1
            y = y * f + -1.2420140846e-1
            y = y * f + 1.4249322787e-1
            y = y * f + -1.6668057665e-1
            y = y * f + 2.0000714765e-1
            y = y * f + -2.4999993993e-1
            y = y * f + 3.3333331174e-1
            y = y * f * z
            let ef = V(e)
            y = y + ef * -2.12194440e-4
            y = y - 0.5 * z
            let r = (f + y) + ef * 0.693359375
            UnsafeMutableRawPointer(out + i).storeBytes(of: r, as: V.self)
        } else {
            for k in i..<(i + 4) { out[k] = logf(x[k]) }
        }
        i += 4
    }
    while i < count { out[i] = logf(x[i]); i += 1 }
}

/// `logVector` on an array (exposed for tests and tools).
public func fastLog(_ x: [Float]) -> [Float] {
    var out = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xb in out.withUnsafeMutableBufferPointer { ob in
        if let xp = xb.baseAddress, let op = ob.baseAddress { logVector(xp, into: op, count: x.count) }
    }}
    return out
}
