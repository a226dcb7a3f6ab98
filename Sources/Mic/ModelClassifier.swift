import Runtime

/// The project's SSAST model as a `WindowClassifier`: one forward pass per window, buffers reused.
public final class ModelClassifier: WindowClassifier {
    public let model: SSASTModel
    private let state: RunState
    private let engine: Engine

    public init(model: SSASTModel, engine: Engine) throws {
        guard model.config.hasHead else {
            throw SSASTError("the model has no classification head (a pretrained backbone); listen needs a fine-tuned model")
        }
        self.model = model
        self.engine = engine
        state = RunState(config: model.config)
    }

    public var targetLength: Int { model.config.targetLength }
    public var melBins: Int { model.config.melBins }
    public var labels: [String] { model.config.labels }
    public var datasetMean: Float { model.config.datasetMean }
    public var datasetStd: Float { model.config.datasetStd }

    public func logits(normalisedInput: UnsafePointer<Float>) throws -> [Float] {
        Array(model.forward(normalisedInput, state: state, engine: engine))
    }

    public func probabilities(_ logits: [Float]) -> [Float] { model.probabilities(logits) }
}
