/// The offline pipeline stage after decoding: 16 kHz mono samples -> fbank -> windows of the model's
/// target length (normalised) -> model -> scores. One instance owns its RunState, so it allocates
/// nothing per inference beyond the result arrays.
public final class Classifier {
    public let model: SSASTModel
    public let engine: Engine
    public let state: RunState
    public let fbank: Fbank
    private var input: [Float]
    /// Return the pooled embedding instead of logits (for `embed` on a fine-tuned model).
    public var outputEmbedding = false

    public init(model: SSASTModel, engine: Engine) throws(SSASTError) {
        self.model = model
        self.engine = engine
        state = RunState(config: model.config)
        let settings = try FbankSettings(fields: model.fbankSettings)
        guard settings.melBins == model.config.melBins else {
            throw SSASTError("\(model.file.file.path): fbank has \(settings.melBins) mel bins but the model expects \(model.config.melBins)")
        }
        fbank = try Fbank(settings: settings)
        input = [Float](repeating: 0, count: model.config.targetLength * model.config.melBins)
    }

    public var sampleRate: Int { fbank.settings.sampleRate }

    /// One window's result: the frames it covered and the model output.
    public struct Window {
        public var startFrame: Int, frames: Int
        /// Logits (classification model) or the pooled embedding (backbone-only model).
        public var output: [Float]
        public var probabilities: [Float]
    }

    /// Fills `input` with frames [start, start + targetLength) of `fbankData` (zero-padded past the
    /// end, as SSAST pads), normalised with the model's dataset statistics.
    public func prepareInput(fbank data: UnsafeBufferPointer<Float>, frames: Int, start: Int) {
        let bins = model.config.melBins
        input.withUnsafeMutableBufferPointer { out in
            InputPreparation(config: model.config).fill(out.baseAddress!, frames: frames - start) { data.baseAddress! + (start + $0) * bins }
        }
    }

    /// Runs the model on an already normalised input of [targetLength, melBins] (that many values at
    /// `normalisedInput`).
    public func run(normalisedInput: UnsafePointer<Float>, times: UnsafeMutablePointer<StageTimes>? = nil) throws(SSASTError) -> [Float] {
        let x = UnsafeBufferPointer(start: normalisedInput, count: model.config.targetLength * model.config.melBins)
        return Array(try model.forward(x, state: state, engine: engine, embeddingOnly: outputEmbedding, times: times))
    }

    /// Scores a clip. With `hopFrames` nil, only the first target_length frames are used (as the
    /// original does); otherwise windows start every `hopFrames` frames, and the last one ends with the
    /// clip (no padding unless the clip is shorter than one window), as the streaming screener does.
    public func classify(samples: [Float], hopFrames: Int? = nil, name: String? = nil) throws(SSASTError) -> [Window] {
        let (frames, data) = try fbank.compute(samples, name: name)
        return try classify(fbank: data, frames: frames, hopFrames: hopFrames)
    }

    public func classify(fbank data: [Float], frames: Int, hopFrames: Int? = nil) throws(SSASTError) -> [Window] {
        let T = model.config.targetLength
        var starts = [0]
        if let hop = hopFrames {
            guard hop > 0 else { throw SSASTError("window hop must be positive (got \(hop) frames)") }
            while starts.last! + T < frames { starts.append(min(starts.last! + hop, frames - T)) }
        }
        var out: [Window] = []
        for s in starts {
            data.withUnsafeBufferPointer { prepareInput(fbank: $0, frames: frames, start: s) }
            // Through a Result: Swift 6.0's withUnsafeBufferPointer rethrows `any Error` (the aarch64 build's toolchain).
            let result: Result<[Float], SSASTError> = input.withUnsafeBufferPointer { b in
                do throws(SSASTError) { return .success(try run(normalisedInput: b.baseAddress!)) } catch { return .failure(error) }
            }
            let y = try result.get()
            let p = model.config.hasHead && !outputEmbedding ? model.probabilities(y) : []
            out.append(Window(startFrame: s, frames: min(T, frames - s), output: y, probabilities: p))
        }
        return out
    }
}
