import Runtime

/// A tensor the converter can read: one from a checkpoint, or one it assembled (fused q/k/v).
/// Values are read lazily so that dropped tensors are never decoded.
public struct TensorSource {
    public let shape: [Int]
    public let floats: () throws -> [Float]
    public let int64s: () throws -> [Int64]

    init(_ t: CheckpointTensor) {
        shape = t.shape
        floats = { try t.floats() }
        int64s = { try t.int64s() }
    }
    init(shape: [Int], values: @escaping () throws -> [Float]) {
        self.shape = shape; floats = values
        int64s = { throw SSASTError("internal: an assembled tensor has no integer values") }
    }
}

/// Hugging Face `ASTForAudioClassification` checkpoints: the same network under other names, with
/// separate query/key/value projections, a `classifier` head, LayerNorm eps 1e-12 and cls pooling.
public enum HuggingFaceAST {
    static let prefix = "audio_spectrogram_transformer."

    public static func isHuggingFace(_ names: [String]) -> Bool { names.contains { $0.hasPrefix(prefix) } }

    /// Maps one HF name to ours (q/k/v to temporary names fused later); nil for names that stay as they are.
    static func ourName(_ name: String) -> String? {
        let fixed: [String: String] = [
            prefix + "embeddings.cls_token": "v.cls_token",
            prefix + "embeddings.distillation_token": "v.dist_token",
            prefix + "embeddings.position_embeddings": "v.pos_embed",
            prefix + "embeddings.patch_embeddings.projection.weight": "v.patch_embed.proj.weight",
            prefix + "embeddings.patch_embeddings.projection.bias": "v.patch_embed.proj.bias",
            prefix + "layernorm.weight": "v.norm.weight", prefix + "layernorm.bias": "v.norm.bias",
            "classifier.layernorm.weight": "mlp_head.0.weight", "classifier.layernorm.bias": "mlp_head.0.bias",
            "classifier.dense.weight": "mlp_head.1.weight", "classifier.dense.bias": "mlp_head.1.bias",
        ]
        if let f = fixed[name] { return f }
        let layer = prefix + "encoder.layer."
        guard name.hasPrefix(layer) else { return nil }
        let rest = name.dropFirst(layer.count)
        guard let dot = rest.firstIndex(of: "."), let i = Int(rest[..<dot]) else { return nil }
        let tail = String(rest[rest.index(after: dot)...])
        let parts: [String: String] = [
            "attention.attention.query": "attn.q", "attention.attention.key": "attn.k", "attention.attention.value": "attn.v",
            "attention.output.dense": "attn.proj", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
            "layernorm_before": "norm1", "layernorm_after": "norm2",
        ]
        for (hf, ours) in parts {
            for kind in ["weight", "bias"] where tail == hf + "." + kind { return "v.blocks.\(i).\(ours).\(kind)" }
        }
        return nil
    }

    /// Concatenates q, k, v (rows) into SSAST's fused qkv for every block.
    static func fuseQKV(_ raw: inout [String: TensorSource], _ order: inout [String], path: String) throws {
        var i = 0
        while raw["v.blocks.\(i).attn.q.weight"] != nil {
            for kind in ["weight", "bias"] {
                let names = ["q", "k", "v"].map { "v.blocks.\(i).attn.\($0).\(kind)" }
                let parts = try names.map { n -> TensorSource in
                    guard let t = raw[n] else { throw SSASTError("\(path): missing \(n) (Hugging Face query/key/value must all be present)") }
                    return t
                }
                guard parts[0].shape == parts[1].shape, parts[1].shape == parts[2].shape, let rows = parts[0].shape.first else {
                    throw SSASTError("\(path): block \(i) query/key/value \(kind) shapes differ: \(parts.map(\.shape))")
                }
                var shape = parts[0].shape; shape[0] = 3 * rows
                let fused = "v.blocks.\(i).attn.qkv.\(kind)"
                raw[fused] = TensorSource(shape: shape) { try parts.flatMap { try $0.floats() } }
                for n in names { raw[n] = nil }
                order.removeAll { names.contains($0) }
                order.append(fused)
            }
            i += 1
        }
    }
}
