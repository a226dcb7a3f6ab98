import Runtime
import Support

/// `ssast train --init scratch[:key=value,...]`: a model with NO pretrained weights, initialised the
/// way SSAST builds one before pretraining (timm 0.4.5 DeiT `_init_weights` plus SSAST's own layers):
///
/// - `v.cls_token`, `v.dist_token`, `v.pos_embed`: normal(0, 0.02) cut at ±2 (timm `trunc_normal_`,
///   whose bounds are absolute, so at std 0.02 the cut never bites);
/// - every Linear inside the blocks: weight normal(0, 0.02) cut at ±2, bias 0; every LayerNorm 1 / 0;
/// - `v.patch_embed.proj` (SSAST replaces timm's with a fresh Conv2d) and `mlp_head.1` (created after
///   timm's init): PyTorch's default, U(-1/√fan_in, 1/√fan_in) for weight and bias.
///
/// Keys (defaults = SSAST-Tiny): dim 192, depth 12, heads 3, mlp 4·dim, fshape 16, tshape 16.
/// Strides, target length and normalisation come from the training recipe as for any init.
/// All draws come from the run's seeded RNG, so the same seed gives the same starting model.
public enum ScratchInit {
    public struct Spec: Equatable {
        public var dim = 192, depth = 12, heads = 3, mlpDim: Int? = nil, fshape = 16, tshape = 16
        public init() {}
    }

    /// The spec if `initArg` asks for a from-scratch model ("scratch" or "scratch:dim=192,..."), nil otherwise.
    public static func parse(_ initArg: String) throws -> Spec? {
        guard initArg == "scratch" || initArg.hasPrefix("scratch:") else { return nil }
        var s = Spec()
        let rest = initArg.dropFirst("scratch".count).drop(while: { $0 == ":" })
        for field in rest.split(separator: ",") where !field.isEmpty {
            let kv = field.split(separator: "=", maxSplits: 1).map { $0.trimmedOfBlanks }
            guard kv.count == 2, let v = Int(kv[1]), v > 0 else {
                throw SSASTError("--init \(initArg): '\(field)' is not key=positive-integer")
            }
            switch kv[0] {
            case "dim": s.dim = v
            case "depth": s.depth = v
            case "heads": s.heads = v
            case "mlp": s.mlpDim = v
            case "fshape": s.fshape = v
            case "tshape": s.tshape = v
            case "patch": s.fshape = v; s.tshape = v
            default:
                throw SSASTError("--init \(initArg): unknown key '\(kv[0])' (known: dim, depth, heads, mlp, fshape, tshape, patch)")
            }
        }
        return s
    }

    /// A freshly initialised model for `labels` with the recipe's geometry and normalisation.
    public static func make(_ s: Spec, labels: LabelSet, recipe r: Recipe, rng: inout SplitMix64)
        throws -> (config: ModelConfig, tensors: [String: [Float]], notes: [String]) {
        let config = ModelConfig(dim: s.dim, depth: s.depth, heads: s.heads, mlpDim: s.mlpDim ?? 4 * s.dim,
                                 fshape: s.fshape, tshape: s.tshape, fstride: r.fstride, tstride: r.tstride,
                                 targetLength: r.targetLength, pooling: r.pooling,
                                 activation: r.loss == .ce ? .softmax : .sigmoid, labels: labels.names,
                                 datasetMean: r.mean, datasetStd: r.std)
        try config.validate()
        guard config.fDim >= 1, config.tDim >= 1 else { throw SSASTError("--init scratch: the patch grid is empty") }
        let layout = try ParameterLayout(config: config, deitHeadClasses: 0)
        var tensors: [String: [Float]] = [:]
        // Layout order is PyTorch's named_parameters() order, so the draws are in a fixed, documented order.
        for v in layout.views {
            let n = v.count, name = v.name
            if name.hasSuffix("norm1.weight") || name.hasSuffix("norm2.weight") || name == "v.norm.weight"
                || name == "mlp_head.0.weight" {
                tensors[name] = [Float](repeating: 1, count: n)
            } else if name == "v.patch_embed.proj.weight" || name == "v.patch_embed.proj.bias" {
                let bound = 1 / Float(s.fshape * s.tshape).squareRoot()
                tensors[name] = uniform(n, bound, &rng)
            } else if name == "mlp_head.1.weight" || name == "mlp_head.1.bias" {
                let bound = 1 / Float(s.dim).squareRoot()
                tensors[name] = uniform(n, bound, &rng)
            } else if name.hasSuffix(".bias") {
                tensors[name] = [Float](repeating: 0, count: n)
            } else {
                // cls/dist tokens, pos_embed and the blocks' Linear weights.
                tensors[name] = (0..<n).map { _ in truncNormal(0.02, &rng) }
            }
        }
        let note = "initialised from scratch (no pretrained weights): dim \(s.dim), depth \(s.depth), heads \(s.heads), "
            + "patch \(s.fshape)x\(s.tshape), stride \(r.fstride)x\(r.tstride), \(config.patches) patches, seed \(r.seed)"
        return (config, tensors, [note])
    }

    static func uniform(_ n: Int, _ bound: Float, _ rng: inout SplitMix64) -> [Float] {
        (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * bound }
    }

    /// normal(0, std) redrawn outside [-2, 2], as timm's trunc_normal_(std=std) (bounds in absolute units).
    static func truncNormal(_ std: Double, _ rng: inout SplitMix64) -> Float {
        while true {
            let x = rng.normal() * std
            if x >= -2 && x <= 2 { return Float(x) }
        }
    }
}
