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
/// use the same layout, so the optimiser is a single loop. Order = PyTorch `named_parameters()`
/// (which is also the checkpoint order):
///
///     v.cls_token (1,1,D)  v.pos_embed (1,N,D)  v.dist_token (1,1,D)
///     v.patch_embed.proj.weight (D,1,fshape,tshape)  v.patch_embed.proj.bias (D)
///     per block i: v.blocks.i.{norm1.weight, norm1.bias (D), attn.qkv.weight (3D,D), attn.qkv.bias (3D),
///                  attn.proj.weight (D,D), attn.proj.bias (D), norm2.weight, norm2.bias (D),
///                  mlp.fc1.weight (M,D), mlp.fc1.bias (M), mlp.fc2.weight (D,M), mlp.fc2.bias (D)}
///     v.norm.weight, v.norm.bias (D)
///     v.head.weight (H,D) v.head.bias (H) v.head_dist.weight (H,D) v.head_dist.bias (H)   [H = deitHeadClasses; absent if 0]
///     mlp_head.0.weight, mlp_head.0.bias (D)  mlp_head.1.weight (C,D)  mlp_head.1.bias (C)
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

    public init(config c: ModelConfig, deitHeadClasses: Int = 1000) throws {
        try c.validate()
        guard c.classTokens == 2 else { throw SSASTError("trainer: only models with 2 class tokens (cls + dist) are supported (got \(c.classTokens))") }
        guard c.hasHead else { throw SSASTError("trainer: the model needs at least one label") }
        guard deitHeadClasses >= 0 else { throw SSASTError("trainer: negative DeiT head size") }
        self.config = c
        self.deitHeadClasses = deitHeadClasses
        let d = c.dim, m = c.mlpDim, nl = c.labels.count
        var views: [ParamView] = []
        var total = 0
        func add(_ name: String, _ shape: [Int], head: Bool = false, inGraph: Bool = true) -> Int {
            let off = total
            views.append(ParamView(name: name, offset: off, shape: shape, isHead: head, inGraph: inGraph))
            total += shape.reduce(1, *)
            return off
        }
        cls = add("v.cls_token", [1, 1, d])
        pos = add("v.pos_embed", [1, c.tokens, d])
        dist = add("v.dist_token", [1, 1, d])
        patchW = add("v.patch_embed.proj.weight", [d, 1, c.fshape, c.tshape])
        patchB = add("v.patch_embed.proj.bias", [d])
        var bl: [BlockOffsets] = []
        for i in 0..<c.depth {
            let p = "v.blocks.\(i)."
            bl.append(BlockOffsets(
                norm1W: add(p + "norm1.weight", [d]), norm1B: add(p + "norm1.bias", [d]),
                qkvW: add(p + "attn.qkv.weight", [3 * d, d]), qkvB: add(p + "attn.qkv.bias", [3 * d]),
                projW: add(p + "attn.proj.weight", [d, d]), projB: add(p + "attn.proj.bias", [d]),
                norm2W: add(p + "norm2.weight", [d]), norm2B: add(p + "norm2.bias", [d]),
                fc1W: add(p + "mlp.fc1.weight", [m, d]), fc1B: add(p + "mlp.fc1.bias", [m]),
                fc2W: add(p + "mlp.fc2.weight", [d, m]), fc2B: add(p + "mlp.fc2.bias", [d])))
        }
        blocks = bl
        normW = add("v.norm.weight", [d])
        normB = add("v.norm.bias", [d])
        if deitHeadClasses > 0 {
            _ = add("v.head.weight", [deitHeadClasses, d], inGraph: false)
            _ = add("v.head.bias", [deitHeadClasses], inGraph: false)
            _ = add("v.head_dist.weight", [deitHeadClasses, d], inGraph: false)
            _ = add("v.head_dist.bias", [deitHeadClasses], inGraph: false)
        }
        headNormW = add("mlp_head.0.weight", [d], head: true)
        headNormB = add("mlp_head.0.bias", [d], head: true)
        headW = add("mlp_head.1.weight", [nl, d], head: true)
        headB = add("mlp_head.1.bias", [nl], head: true)
        self.views = views
        self.total = total
        for (i, v) in views.enumerated() { index[v.name] = i }
    }

    public subscript(name: String) -> ParamView? { index[name].map { views[$0] } }
}
