import Runtime

/// One named tensor inside the flat parameter buffer.
public struct ParamView: Equatable {
    public let name: String       // checkpoint name without `module.`
    public let offset: Int        // in floats, into the flat buffer
    public let shape: [Int]
    public var count: Int { shape.reduce(1, *) }
    /// `mlp_head.*`: the optimiser group that runs at lr * head_lr.
    public let isHead: Bool
    /// false for the DeiT heads `v.head` / `v.head_dist`: they are not in the forward graph, so
    /// PyTorch leaves their `.grad` as None and Adam skips them (weight decay does NOT move them).
    public let inGraph: Bool
}

/// Offsets of one transformer block's parameters.
public struct BlockOffsets {
    public let norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B: Int
}

/// The layout of the ONE flat Float buffer that holds every parameter. Gradients and Adam's m / v
/// use the same layout, so the optimiser is a single loop. The tensors, their order (PyTorch's
/// `named_parameters()`, also the checkpoint order) and shapes are the model's schema (`ModelSchema`);
/// the only addition is timm's DeiT classifiers `v.head` / `v.head_dist` [H = deitHeadClasses; absent
/// if 0], which ASTModel registers just before `mlp_head` but never uses.
public struct ParameterLayout {
    public let config: ModelConfig
    public let deitHeadClasses: Int
    public private(set) var views: [ParamView] = []
    public private(set) var total = 0
    public let cls, pos, dist, patchW, patchB: Int
    public let blocks: [BlockOffsets]
    public let normW, normB: Int
    public let headNormW, headNormB, headW, headB: Int
    private var index: [String: Int] = [:]
    /// timm's DeiT classifiers, in registration order; shapes [H, D], [H], [H, D], [H].
    public static let deitHeadNames = ["v.head.weight", "v.head.bias", "v.head_dist.weight", "v.head_dist.bias"]

    public init(config c: ModelConfig, deitHeadClasses: Int = 1000) throws {
        try c.validate()
        guard c.classTokens == 2 else { throw SSASTError("trainer: only models with 2 class tokens (cls + dist) are supported (got \(c.classTokens))") }
        guard c.hasHead else { throw SSASTError("trainer: the model needs at least one label") }
        guard deitHeadClasses >= 0 else { throw SSASTError("trainer: negative DeiT head size") }
        self.config = c
        self.deitHeadClasses = deitHeadClasses
        var views: [ParamView] = []
        var offsets: [ModelTensor: Int] = [:]
        var total = 0
        func add(_ name: String, _ shape: [Int], head: Bool = false, inGraph: Bool = true) {
            views.append(ParamView(name: name, offset: total, shape: shape, isHead: head, inGraph: inGraph))
            total += shape.reduce(1, *)
        }
        for t in ModelSchema.tensors(c) {
            if t == .headNormW && deitHeadClasses > 0 {
                let d = c.dim, h = deitHeadClasses
                for (name, shape) in zip(Self.deitHeadNames, [[h, d], [h], [h, d], [h]]) { add(name, shape, inGraph: false) }
            }
            offsets[t] = total
            add(t.name, t.shape(c), head: t.isHead)
        }
        func o(_ t: ModelTensor) -> Int { offsets[t]! }
        cls = o(.clsToken); pos = o(.posEmbed); dist = o(.distToken); patchW = o(.patchW); patchB = o(.patchB)
        blocks = (0..<c.depth).map { i in
            BlockOffsets(norm1W: o(.block(i, .norm1W)), norm1B: o(.block(i, .norm1B)), qkvW: o(.block(i, .qkvW)),
                         qkvB: o(.block(i, .qkvB)), projW: o(.block(i, .projW)), projB: o(.block(i, .projB)),
                         norm2W: o(.block(i, .norm2W)), norm2B: o(.block(i, .norm2B)), fc1W: o(.block(i, .fc1W)),
                         fc1B: o(.block(i, .fc1B)), fc2W: o(.block(i, .fc2W)), fc2B: o(.block(i, .fc2B)))
        }
        normW = o(.normW); normB = o(.normB)
        headNormW = o(.headNormW); headNormB = o(.headNormB); headW = o(.headW); headB = o(.headB)
        self.views = views
        self.total = total
        for (i, v) in views.enumerated() { index[v.name] = i }
    }

    public subscript(name: String) -> ParamView? { index[name].map { views[$0] } }
}
