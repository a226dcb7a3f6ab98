import Convert
import Runtime
import Support

/// `ssast train --export-pth`: the trained model as the state_dict of SSAST's ASTModel wrapped in
/// DataParallel, so the original PyTorch code loads it with `load_state_dict` as it loads its own
/// `best_audio_model.pth`.
///
/// Keys and order are those of ASTModel.state_dict() for a fine-tuned model: `module.v.cls_token`,
/// `module.v.pos_embed`, `module.v.dist_token`, `module.v.patch_embed.proj.{weight [D,1,fshape,tshape], bias}`,
/// `module.v.blocks.N.*`, `module.v.norm.*`, `module.v.head.*`, `module.v.head_dist.*`, `module.mlp_head.{0,1}.*`.
/// `v.head` / `v.head_dist` (timm's DeiT classifiers, unused by SSAST's forward) are not trained; ASTModel
/// keeps them, so they are copied unchanged from the starting checkpoint (a pretrained or fine-tuned
/// SSAST .pth holds them). When the starting weights have none (an ssast weight file, `--init scratch`,
/// a Hugging Face AST file) they are left out, and PyTorch needs `load_state_dict(sd, strict=False)`.
///
/// No `_metadata` (the per-module version dict torch.save attaches to an OrderedDict state_dict) is
/// written: `Module.load_state_dict` treats it as optional (each module then gets `{}`), and only
/// modules that upgrade old layouts by version (BatchNorm and the like) read it; ASTModel's Conv2d,
/// Linear and LayerNorm do not.
public enum TorchExport {
    public static let deitHeadNames = ParameterLayout.deitHeadNames

    /// The DeiT heads of a starting checkpoint (names without `module.`), or [] if it has none.
    public static func deitHeads(initPath: String) throws -> [TorchWriter.Tensor] {
        if (try? ScratchInit.parse(initPath)) != nil { return [] }
        if ModelInit.isWeightFile(initPath) { return [] }
        guard FileSystem.exists(initPath) else { return [] }
        let ck = try Checkpoint.load(initPath)
        var found: [String: CheckpointTensor] = [:]
        for t in ck.tensors {
            var name = t.name
            while name.hasPrefix("module.") { name = String(name.dropFirst(7)) }
            if deitHeadNames.contains(name) { found[name] = t }
        }
        guard deitHeadNames.allSatisfy({ found[$0] != nil }) else { return [] }
        return try deitHeadNames.map { n in
            let t = found[n]!
            let v = try t.floats()
            return TorchWriter.Tensor(name: n, shape: t.shape, values: v)
        }
    }

    /// All tensors of `model` in state_dict order with the `module.` prefix, the DeiT heads
    /// inserted before `mlp_head` (where ASTModel registers them).
    public static func stateDict(model: TrainModel, deitHeads: [TorchWriter.Tensor]) -> [TorchWriter.Tensor] {
        var out: [TorchWriter.Tensor] = []
        for v in model.layout.views {
            if v.name == "mlp_head.0.weight" {
                out += deitHeads.map { TorchWriter.Tensor(name: "module." + $0.name, shape: $0.shape, values: $0.values) }
            }
            out.append(TorchWriter.Tensor(name: "module." + v.name, shape: v.shape, values: model.parameter(v.name)!))
        }
        return out
    }
}

extension Trainer {
    /// Writes the current parameters as an SSAST PyTorch checkpoint (see `TorchExport`).
    /// Returns false when the DeiT heads could not be included (strict loading will fail).
    @discardableResult
    public func exportPyTorch(to path: String) throws -> Bool {
        let heads = try TorchExport.deitHeads(initPath: options.initPath)
        try TorchWriter.write(path: path, tensors: TorchExport.stateDict(model: model, deitHeads: heads))
        return !heads.isEmpty
    }
}
