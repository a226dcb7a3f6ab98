/// Everything about an SSAST model's shape and how it was trained that inference needs.
/// Stored in the weight-file header; the converter fills it from the checkpoint plus user options.
public struct ModelConfig: Equatable {
    public enum Pooling: String, CaseIterable { case avgtok, cls }      // ft_avgtok / ft_cls
    public enum Activation: String, CaseIterable { case softmax, sigmoid } // CE-trained / BCE-trained heads

    public var dim: Int              // D (Tiny 192)
    public var depth: Int            // blocks
    public var heads: Int            // D / 64 for every released size
    public var mlpDim: Int           // 4 D
    public var fshape: Int, tshape: Int     // patch size (freq, time)
    public var fstride: Int, tstride: Int
    public var targetLength: Int     // input frames T
    public var melBins: Int          // 128
    public var classTokens: Int      // 2 (cls + dist) in every released model
    public var pooling: Pooling
    public var activation: Activation
    public var labels: [String]      // empty for a backbone-only (embedding) model
    public var datasetMean: Float, datasetStd: Float
    public var blockEps: Float       // LayerNorm eps inside the ViT (1e-6)
    public var headEps: Float        // LayerNorm eps of mlp_head.0 (1e-5)
    public var threshold: Float?     // operating threshold chosen on validation (binary tasks), if any

    public init(dim: Int, depth: Int, heads: Int, mlpDim: Int, fshape: Int, tshape: Int, fstride: Int, tstride: Int,
                targetLength: Int, melBins: Int = 128, classTokens: Int = 2, pooling: Pooling = .avgtok,
                activation: Activation = .softmax, labels: [String], datasetMean: Float, datasetStd: Float,
                blockEps: Float = 1e-6, headEps: Float = 1e-5, threshold: Float? = nil) {
        self.dim = dim; self.depth = depth; self.heads = heads; self.mlpDim = mlpDim
        self.fshape = fshape; self.tshape = tshape; self.fstride = fstride; self.tstride = tstride
        self.targetLength = targetLength; self.melBins = melBins; self.classTokens = classTokens
        self.pooling = pooling; self.activation = activation; self.labels = labels
        self.datasetMean = datasetMean; self.datasetStd = datasetStd
        self.blockEps = blockEps; self.headEps = headEps; self.threshold = threshold
    }

    /// Patch grid: f_dim = (mel - fshape) / fstride + 1, t_dim = (T - tshape) / tstride + 1.
    public var fDim: Int { (melBins - fshape) / fstride + 1 }
    public var tDim: Int { (targetLength - tshape) / tstride + 1 }
    public var patches: Int { fDim * tDim }
    public var tokens: Int { patches + classTokens }
    public var headDim: Int { dim / heads }
    public var patchK: Int { fshape * tshape }
    public var hasHead: Bool { !labels.isEmpty }

    /// Names of outputs that were never named: a fine-tuned checkpoint converted without --labels gets
    /// class0, class1, …; a Hugging Face config whose id2label was never set says LABEL_0, LABEL_1, ….
    public static func placeholderLabels(_ count: Int) -> [String] { (0..<count).map { "class\($0)" } }
    public static func arePlaceholderLabels(_ labels: [String]) -> Bool {
        !labels.isEmpty && (labels == placeholderLabels(labels.count) || labels == labels.indices.map { "LABEL_\($0)" })
    }
    public var hasPlaceholderLabels: Bool { Self.arePlaceholderLabels(labels) }

    /// Checks internal consistency; the error says exactly what does not fit.
    public func validate() throws(SSASTError) {
        func need(_ ok: Bool, _ msg: @autoclosure () -> String) throws(SSASTError) { if !ok { throw SSASTError("model config: " + msg()) } }
        try need(dim > 0 && depth > 0 && heads > 0 && mlpDim > 0, "dim, depth, heads and mlp dim must be positive")
        try need(dim % heads == 0, "dim \(dim) is not divisible by heads \(heads)")
        try need(fshape > 0 && tshape > 0 && fstride > 0 && tstride > 0, "patch shape and strides must be positive")
        try need(melBins >= fshape, "patch height \(fshape) exceeds \(melBins) mel bins")
        try need(targetLength >= tshape, "target length \(targetLength) is shorter than the patch width \(tshape)")
        try need(classTokens == 1 || classTokens == 2, "class tokens must be 1 or 2 (got \(classTokens))")
        try need(datasetStd > 0 && datasetStd.isFinite && datasetMean.isFinite, "dataset std must be positive and finite")
        try need(dim <= 8192 && depth <= 256 && targetLength <= 65536 && melBins <= 1024 && mlpDim <= 65536, "implausibly large geometry")
        // The run state holds tokens x max(3 dim, mlp) floats per buffer: bounded before anything is allocated.
        try need(tokens <= ModelConfig.maxTokens, "\(tokens) tokens exceed the limit of \(ModelConfig.maxTokens)")
        try need(tokens * max(3 * dim, mlpDim, patchK) <= ModelConfig.maxActivation,
                 "activations of \(tokens) tokens x \(max(3 * dim, mlpDim, patchK)) exceed the limit of \(ModelConfig.maxActivation) values")
        try need(labels.count <= 100_000, "\(labels.count) labels exceed the limit of 100000")
        for (key, eps) in [("ssast.block_eps", blockEps), ("ssast.head_eps", headEps)] {
            try need(eps.isFinite && eps > 0 && eps <= 1, "\(key) = \(eps): a LayerNorm eps must be in (0, 1]")
        }
        if let t = threshold { try need(t >= 0 && t <= 1, "ssast.threshold = \(t): a probability threshold must be in [0, 1]") }
    }

    /// Limits on the geometry a weight file may declare (docs/FORMAT.md, "Limits").
    public static let maxTokens = 16384, maxActivation = 1 << 28
}

#if canImport(Glibc)
import Glibc
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif

extension ModelConfig.Activation {
    /// Scores from logits, in float32 as PyTorch computes them.
    public func probabilities(_ logits: [Float]) -> [Float] {
        switch self {
        case .sigmoid: return logits.map { 1 / (1 + expf(-$0)) }
        case .softmax:
            let m = logits.max() ?? 0
            let e = logits.map { expf($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }
}
