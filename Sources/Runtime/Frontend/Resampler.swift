#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif

/// `torchaudio.functional.resample` with its defaults (sinc_interp_hann, lowpass_filter_width 6,
/// rolloff 0.99), for float32 waveforms.
///
/// torchaudio builds the kernel in the waveform's dtype, so for float32 audio every step of
/// `_get_sinc_resample_kernel` is float32 arithmetic: rates reduced by their gcd,
/// idx = arange(-width, width + orig) / orig, t = arange(0, -new, -1) / new + idx, t *= base,
/// clamp to +-width, window = cos(t pi / w / 2)^2, t *= pi, kernel = sin(t) / t (1 at 0) times
/// window * base / orig. Reproducing that in Float (not Double) matters: a float64 kernel moves
/// the fbank of a resampled file by up to 0.015, the float32 one stays near 1e-3.
/// `_apply_sinc_resample_kernel`: zero-pad width left and width + orig right, conv1d with stride
/// orig (one output block of `new` samples per stride), keep ceil(new * len / orig) samples.
/// Dot products accumulate in Double (torch's float32 GEMM order cannot be reproduced anyway).
///
/// One instance is a stream: `push` chunks, then `finish` (which pads the end exactly as the
/// offline call does and resets the stream for reuse). Output is bit-identical for any chunking.
public final class Resampler {
    public let fromRate: Int, toRate: Int
    /// gcd-reduced rates.
    public let orig: Int, new: Int
    /// Zero-padding on the left of the input (torchaudio's `width`).
    public let width: Int
    /// Kernel length per output phase: 2 * width + orig.
    public let taps: Int
    /// new x taps, row p = output phase p.
    public let kernel: [Float]

    /// Padded-coordinate samples from the start of the next output block.
    var buffer: [Float] = []
    var samplesIn = 0
    var samplesOut = 0

    public init(from: Int, to: Int, lowpassFilterWidth: Int = 6, rolloff: Double = 0.99) throws(SSASTError) {
        guard from > 0, to > 0 else {
            throw SSASTError("resample: sample rates must be positive (got \(from) Hz -> \(to) Hz)")
        }
        guard lowpassFilterWidth > 0, rolloff > 0, rolloff <= 1 else {
            throw SSASTError("resample: lowpass filter width must be > 0 and rolloff in (0, 1]")
        }
        fromRate = from; toRate = to
        var a = from, b = to
        while b != 0 { (a, b) = (b, a % b) }
        orig = from / a; new = to / a
        if from == to {
            width = 0; taps = 0; kernel = []
            return
        }
        let base = Double(min(orig, new)) * rolloff
        width = Int((Double(lowpassFilterWidth) * Double(orig) / base).rounded(.up))
        taps = 2 * width + orig
        guard new * taps <= 1 << 24 else {
            throw SSASTError("resample \(from) Hz -> \(to) Hz: the rates share too small a factor "
                + "(kernel \(new) x \(taps)); convert the file to a common rate first")
        }
        let lw = Float(lowpassFilterWidth), baseF = Float(base), pi = Float(Double.pi)
        let scale = Float(base / Double(orig))
        var k = [Float](repeating: 0, count: new * taps)
        for p in 0..<new {
            let phase = Float(-p) / Float(new)
            for j in 0..<taps {
                let idx = Float(j - width) / Float(orig)
                var t = (phase + idx) * baseF
                t = min(max(t, -lw), lw)
                var w = cosf(t * pi / lw / Float(2))
                w = w * w
                t = t * pi
                let s: Float = t == 0 ? 1 : sinf(t) / t
                k[p * taps + j] = s * (w * scale)
            }
        }
        kernel = k
        buffer = [Float](repeating: 0, count: width)
    }

    /// Output length for `n` input samples: ceil(new * n / orig) (n itself at equal rates).
    public func outputLength(inputLength n: Int) -> Int {
        fromRate == toRate ? n : (new * n + orig - 1) / orig
    }

    /// Resamples a whole clip (the offline torchaudio call). Leaves the stream state untouched.
    public func process(_ x: [Float]) -> [Float] {
        if fromRate == toRate { return x }
        let saved = (buffer, samplesIn, samplesOut)
        reset()
        var out = push(x)
        out += finish()
        (buffer, samplesIn, samplesOut) = saved
        return out
    }

    /// Feeds a chunk; returns every output sample that no longer depends on future input.
    public func push<C: Collection>(_ chunk: C) -> [Float] where C.Element == Float {
        if fromRate == toRate { return Array(chunk) }
        buffer.append(contentsOf: chunk)
        samplesIn += chunk.count
        return drain(limit: Int.max)
    }

    /// Ends the input: pads with zeros as the offline call does, returns the remaining output
    /// (total = ceil(new * inputLength / orig)), and resets the stream for a new clip.
    public func finish() -> [Float] {
        if fromRate == toRate { return [] }
        buffer.append(contentsOf: repeatElement(0, count: width + orig))
        let out = drain(limit: outputLength(inputLength: samplesIn) - samplesOut)
        reset()
        return out
    }

    /// Back to the initial state (nothing fed).
    public func reset() {
        buffer = [Float](repeating: 0, count: width)
        samplesIn = 0; samplesOut = 0
    }

    /// Computes every complete output block in `buffer`, at most `limit` samples, and drops the
    /// consumed input.
    func drain(limit: Int) -> [Float] {
        guard buffer.count >= taps, limit > 0 else { return [] }
        let blocks = (buffer.count - taps) / orig + 1
        let count = min(blocks * new, limit)
        var out = [Float](repeating: 0, count: count)
        buffer.withUnsafeBufferPointer { bb in
            kernel.withUnsafeBufferPointer { kb in
                out.withUnsafeMutableBufferPointer { ob in
                    let x = bb.baseAddress!, k = kb.baseAddress!
                    for o in 0..<count {
                        let blk = o / new, p = o % new
                        let xs = x + blk * orig, ks = k + p * taps
                        // Four Double partial sums: precise and lets the loop pipeline.
                        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                        var j = 0
                        while j + 4 <= taps {
                            s0 += Double(xs[j]) * Double(ks[j])
                            s1 += Double(xs[j + 1]) * Double(ks[j + 1])
                            s2 += Double(xs[j + 2]) * Double(ks[j + 2])
                            s3 += Double(xs[j + 3]) * Double(ks[j + 3])
                            j += 4
                        }
                        while j < taps { s0 += Double(xs[j]) * Double(ks[j]); j += 1 }
                        ob[o] = Float((s0 + s1) + (s2 + s3))
                    }
                }
            }
        }
        samplesOut += count
        buffer.removeFirst(min(blocks * orig, buffer.count))
        return out
    }
}

/// Offline `torchaudio.functional.resample(x, from, to)` with its defaults.
public func resample(_ x: [Float], from: Int, to: Int) throws(SSASTError) -> [Float] {
    try Resampler(from: from, to: to).process(x)
}

/// Interleaved multi-channel audio to mono by averaging the channels (float32 sum, then divide,
/// as `w.mean(dim=0)`). A trailing partial frame is dropped.
public func downmix(_ interleaved: [Float], channels: Int) throws(SSASTError) -> [Float] {
    guard channels > 0 else { throw SSASTError("downmix: channel count \(channels) must be positive") }
    if channels == 1 { return interleaved }
    let frames = interleaved.count / channels
    var out = [Float](repeating: 0, count: frames)
    let c = Float(channels)
    interleaved.withUnsafeBufferPointer { xb in
        for f in 0..<frames {
            var s: Float = 0
            for ch in 0..<channels { s += xb[f * channels + ch] }
            out[f] = s / c
        }
    }
    return out
}
