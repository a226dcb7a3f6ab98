/// SSAST's dataloader after the fbank: zero-pad at the end or keep the first `targetLength`
/// frames. `fbank` is frames x bins row-major; the result is targetLength x bins.
public func padOrCut(_ fbank: [Float], frames: Int, bins: Int = 128, targetLength: Int) throws(SSASTError) -> [Float] {
    guard frames >= 0, bins > 0, targetLength > 0 else {
        throw SSASTError("padOrCut: bad sizes (frames \(frames), bins \(bins), target \(targetLength))")
    }
    guard fbank.count == frames * bins else {
        throw SSASTError("padOrCut: \(fbank.count) values is not \(frames) frames x \(bins) bins")
    }
    let keep = min(frames, targetLength) * bins
    var out = [Float](repeating: 0, count: targetLength * bins)
    out.replaceSubrange(0..<keep, with: fbank[0..<keep])
    return out
}

/// (x - mean) / (2 * std), as SSAST normalises inputs; float32 like torch (subtract, then
/// divide by the float32 value of 2 * std).
public func normalise(_ x: [Float], mean: Float, std: Float) -> [Float] {
    let d = std * 2
    return x.map { ($0 - mean) / d }
}
