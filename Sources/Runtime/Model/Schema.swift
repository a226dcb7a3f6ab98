/// The model's tensors, defined once: names (PyTorch's, without `module.`), shapes derived from the
/// config, and what each does. The loader, the converter, the trainer's parameter layout and the
/// `.pth` export all walk this list, so a tensor cannot be known to one of them and missing in another.

/// What a tensor does in the network. Matmul weights are stored as packed panels in the file's dtype
/// (fp32, fp16 or int8); everything else stays fp32.
public enum TensorRole: Equatable, Sendable {
    case matmul       // a Linear weight [out, in], or the patch conv kernel [D, 1, fshape, tshape]
    case bias
    case norm         // LayerNorm weight or bias
    case embedding    // class tokens and position embedding
}

/// One of a transformer block's twelve tensors, in PyTorch's registration order.
public enum BlockTensor: Int, CaseIterable, Sendable {
    case norm1W, norm1B, qkvW, qkvB, projW, projB, norm2W, norm2B, fc1W, fc1B, fc2W, fc2B

    var suffix: String {
        switch self {
        case .norm1W: "norm1.weight"
        case .norm1B: "norm1.bias"
        case .qkvW: "attn.qkv.weight"
        case .qkvB: "attn.qkv.bias"
        case .projW: "attn.proj.weight"
        case .projB: "attn.proj.bias"
        case .norm2W: "norm2.weight"
        case .norm2B: "norm2.bias"
        case .fc1W: "mlp.fc1.weight"
        case .fc1B: "mlp.fc1.bias"
        case .fc2W: "mlp.fc2.weight"
        case .fc2B: "mlp.fc2.bias"
        }
    }
}

/// A tensor of the model.
public enum ModelTensor: Hashable, Sendable {
    case clsToken, posEmbed, distToken, patchW, patchB
    case block(Int, BlockTensor)
    case normW, normB
    case headNormW, headNormB, headW, headB   // mlp_head.0 (LayerNorm) and mlp_head.1 (Linear)

    public var name: String {
        switch self {
        case .clsToken: "v.cls_token"
        case .posEmbed: "v.pos_embed"
        case .distToken: "v.dist_token"
        case .patchW: "v.patch_embed.proj.weight"
        case .patchB: "v.patch_embed.proj.bias"
        case .block(let i, let t): "v.blocks.\(i)." + t.suffix
        case .normW: "v.norm.weight"
        case .normB: "v.norm.bias"
        case .headNormW: "mlp_head.0.weight"
        case .headNormB: "mlp_head.0.bias"
        case .headW: "mlp_head.1.weight"
        case .headB: "mlp_head.1.bias"
        }
    }

    public var role: TensorRole {
        switch self {
        case .clsToken, .posEmbed, .distToken: .embedding
        case .patchW, .headW: .matmul
        case .patchB, .headB: .bias
        case .normW, .normB, .headNormW, .headNormB: .norm
        case .block(_, let t):
            switch t {
            case .qkvW, .projW, .fc1W, .fc2W: .matmul
            case .qkvB, .projB, .fc1B, .fc2B: .bias
            case .norm1W, .norm1B, .norm2W, .norm2B: .norm
            }
        }
    }

    /// Part of the classification head (`mlp_head.*`): replaced for new labels, trained at lr * head_lr.
    public var isHead: Bool {
        switch self { case .headNormW, .headNormB, .headW, .headB: true; default: false }
    }

    /// PyTorch's shape for the model `c`.
    public func shape(_ c: ModelConfig) -> [Int] {
        let d = c.dim, m = c.mlpDim
        switch self {
        case .clsToken, .distToken: return [1, 1, d]
        case .posEmbed: return [1, c.tokens, d]
        case .patchW: return [d, 1, c.fshape, c.tshape]
        case .patchB, .normW, .normB, .headNormW, .headNormB: return [d]
        case .headW: return [c.labels.count, d]
        case .headB: return [c.labels.count]
        case .block(_, let t):
            switch t {
            case .norm1W, .norm1B, .norm2W, .norm2B, .projB, .fc2B: return [d]
            case .qkvW: return [3 * d, d]
            case .qkvB: return [3 * d]
            case .projW: return [d, d]
            case .fc1W: return [m, d]
            case .fc1B: return [m]
            case .fc2W: return [d, m]
            }
        }
    }

    /// A matmul weight as the matrix [n outputs, k inputs] the kernels take (the conv kernel flattened).
    public func matrix(_ c: ModelConfig) -> (n: Int, k: Int) {
        let s = shape(c)
        var k = 1
        for x in s.dropFirst() { k *= x }
        return (s[0], k)
    }

    /// The bias that goes with a matmul weight.
    public var bias: ModelTensor? {
        switch self {
        case .patchW: .patchB
        case .headW: .headB
        case .block(let i, .qkvW): .block(i, .qkvB)
        case .block(let i, .projW): .block(i, .projB)
        case .block(let i, .fc1W): .block(i, .fc1B)
        case .block(let i, .fc2W): .block(i, .fc2B)
        default: nil
        }
    }
}

public enum ModelSchema {
    /// Every tensor of the model `c` in PyTorch's `named_parameters()` order (also the order of
    /// SSAST's checkpoints): no dist token for one class token, no head for a backbone-only model.
    public static func tensors(_ c: ModelConfig) -> [ModelTensor] {
        var out: [ModelTensor] = [.clsToken, .posEmbed]
        if c.classTokens == 2 { out.append(.distToken) }
        out += [.patchW, .patchB]
        for i in 0..<c.depth { for t in BlockTensor.allCases { out.append(.block(i, t)) } }
        out += [.normW, .normB]
        if c.hasHead { out += [.headNormW, .headNormB, .headW, .headB] }
        return out
    }

    /// Every tensor name of the model `c`, in order.
    public static func names(_ c: ModelConfig) -> [String] { tensors(c).map { $0.name } }
}
