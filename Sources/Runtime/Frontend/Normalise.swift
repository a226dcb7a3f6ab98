/// SSAST's input preparation, the one definition used by every path into the model (files, live
/// windows, bench, training and evaluation): frames [0, targetLength) of a fbank, zero-padded at the
/// end (zeros *before* normalisation, as SSAST's dataloader pads), each value normalised to
/// (x - mean) / (2 std) in float32 like torch (subtract, then divide by the float32 value of 2 std).
public struct InputPreparation {
    public let targetLength: Int, bins: Int
    public let mean: Float, twoStd: Float

    public init(targetLength: Int, bins: Int, mean: Float, std: Float) {
        self.targetLength = targetLength; self.bins = bins; self.mean = mean; twoStd = std * 2
    }

    public init(config c: ModelConfig) {
        self.init(targetLength: c.targetLength, bins: c.melBins, mean: c.datasetMean, std: c.datasetStd)
    }

    /// The normalised value of a zero fbank entry: padding, and SpecAugment's masks.
    public var zero: Float { (0 - mean) / twoStd }

    /// Fills `out` (targetLength x bins) from `frames` frames; `frame(t)` points at frame t's bins.
    /// Frames past targetLength are cut.
    public func fill(_ out: UnsafeMutablePointer<Float>, frames: Int, frame: (Int) -> UnsafePointer<Float>) {
        let keep = max(0, min(frames, targetLength)), pad = zero
        for t in 0..<keep {
            let src = frame(t), dst = out + t * bins
            for b in 0..<bins { dst[b] = (src[b] - mean) / twoStd }
        }
        for i in (keep * bins)..<(targetLength * bins) { out[i] = pad }
    }

    /// The model input from a frames x bins fbank, starting at frame `start`.
    public func prepare(_ fbank: [Float], frames: Int, start: Int = 0) throws(SSASTError) -> [Float] {
        guard frames >= 0, start >= 0, fbank.count == frames * bins else {
            throw SSASTError("model input: \(fbank.count) values is not \(frames) frames x \(bins) bins")
        }
        var out = [Float](repeating: 0, count: targetLength * bins)
        fbank.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { o in
                fill(o.baseAddress!, frames: frames - start) { src.baseAddress! + (start + $0) * bins }
            }
        }
        return out
    }
}
