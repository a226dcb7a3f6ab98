import Runtime

/// The SSAST model (through the offline `Classifier`, so live and offline scoring run
/// the same forward pass on the same normalised input) as a `WindowClassifier`.
public final class ModelClassifier: WindowClassifier {
    public let classifier: Classifier

    public init(model: SSASTModel, engine: Engine) throws {
        guard model.config.hasHead else {
            throw SSASTError("\(model.file.file.path) is a backbone-only model (converted from a pretrained checkpoint) "
                             + "with no labels to screen for: use `ssast embed` for its embeddings, or fine-tune it with `ssast train`")
        }
        classifier = try Classifier(model: model, engine: engine)
    }

    /// The fbank configuration stored in the model file (the features it was trained on).
    public var fbankSettings: FbankSettings { classifier.fbank.settings }
    public var targetLength: Int { classifier.model.config.targetLength }
    public var melBins: Int { classifier.model.config.melBins }
    public var labels: [String] { classifier.model.config.labels }
    public var datasetMean: Float { classifier.model.config.datasetMean }
    public var datasetStd: Float { classifier.model.config.datasetStd }

    public func logits(normalisedInput: UnsafePointer<Float>) throws -> [Float] {
        try classifier.run(normalisedInput: normalisedInput)
    }

    public func probabilities(_ logits: [Float]) -> [Float] { classifier.model.probabilities(logits) }
}
