import Runtime

/// Turns a source's interleaved audio into the 16 kHz mono stream the fbank needs: channel average
/// (the front end's `downmix`, as the fixtures do), then the front end's streaming `Resampler`
/// (torchaudio's sinc resampler, state kept across chunks, bit-identical for any chunking).
public final class Conditioner {
    public let inputRate: Int
    public let inputChannels: Int
    public let outputRate: Int
    private let resampler: Resampler?

    public init(inputRate: Int, inputChannels: Int, outputRate: Int = 16000) throws {
        guard inputChannels >= 1 else { throw SSASTError("audio with \(inputChannels) channels cannot be downmixed") }
        self.inputRate = inputRate
        self.inputChannels = inputChannels
        self.outputRate = outputRate
        resampler = inputRate == outputRate ? nil : try Resampler(from: inputRate, to: outputRate)
    }

    /// Feeds `frames` interleaved frames; returns the mono output samples that are final.
    public func process(_ interleaved: ArraySlice<Float>) throws -> [Float] {
        let mono = inputChannels == 1 ? Array(interleaved) : try downmix(Array(interleaved), channels: inputChannels)
        guard let resampler else { return mono }
        return resampler.push(mono)
    }

    /// Ends the stream: the resampler's tail, padded as the offline call pads.
    public func finish() -> [Float] {
        resampler?.finish() ?? []
    }
}
