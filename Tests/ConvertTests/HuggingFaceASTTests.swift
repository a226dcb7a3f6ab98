import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// Hugging Face `ASTForAudioClassification` checkpoints in safetensors: the same network under other
/// names, with separate query/key/value. Built here from a fixture model, so the expected values are known.
final class HuggingFaceASTTests: XCTestCase {
    /// Writes a safetensors file (F32 tensors) in the given order.
    static func writeSafetensors(_ path: String, _ tensors: [(String, [Int], [Float])]) throws {
        var offset = 0, entries: [String] = []
        for (name, shape, values) in tensors {
            entries.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + 4 * values.count)]}")
            offset += 4 * values.count
        }
        var header = Array(("{\"__metadata__\":{\"format\":\"pt\"}," + entries.joined(separator: ",") + "}").utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var data = Data(withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init))
        data.append(contentsOf: header)
        for (_, _, v) in tensors { v.withUnsafeBytes { data.append(contentsOf: $0) } }
        try data.write(to: URL(fileURLWithPath: path))
    }

    func testHuggingFaceSafetensorsConvertsToTheSameWeights() throws {
        let dir = Fixtures.temporaryDirectory("hf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 128; o.mean = -4.2677393; o.std = 4.5689974
        let ours = try SSASTConverter.read(Fixtures.model("tiny-patch-2block-train.pth"), options: o)
        let D = ours.config.dim
        func t(_ n: String) -> ([Int], [Float]) { (ours.tensors[n]!.shape, ours.tensors[n]!.values) }
        let p = "audio_spectrogram_transformer."
        var hf: [(String, [Int], [Float])] = []
        func add(_ hfName: String, _ ourName: String) { let (s, v) = t(ourName); hf.append((hfName, s, v)) }
        add(p + "embeddings.cls_token", "v.cls_token"); add(p + "embeddings.distillation_token", "v.dist_token")
        add(p + "embeddings.position_embeddings", "v.pos_embed")
        add(p + "embeddings.patch_embeddings.projection.weight", "v.patch_embed.proj.weight")
        add(p + "embeddings.patch_embeddings.projection.bias", "v.patch_embed.proj.bias")
        for i in 0..<ours.config.depth {
            let l = p + "encoder.layer.\(i).", b = "v.blocks.\(i)."
            let (_, w) = t(b + "attn.qkv.weight"), (_, bias) = t(b + "attn.qkv.bias")
            for (j, part) in ["query", "key", "value"].enumerated() {
                hf.append((l + "attention.attention.\(part).weight", [D, D], Array(w[(j * D * D)..<((j + 1) * D * D)])))
                hf.append((l + "attention.attention.\(part).bias", [D], Array(bias[(j * D)..<((j + 1) * D)])))
            }
            for (h, s) in [("attention.output.dense", "attn.proj"), ("intermediate.dense", "mlp.fc1"), ("output.dense", "mlp.fc2"),
                           ("layernorm_before", "norm1"), ("layernorm_after", "norm2")] {
                add(l + h + ".weight", b + s + ".weight"); add(l + h + ".bias", b + s + ".bias")
            }
        }
        add(p + "layernorm.weight", "v.norm.weight"); add(p + "layernorm.bias", "v.norm.bias")
        add("classifier.layernorm.weight", "mlp_head.0.weight"); add("classifier.layernorm.bias", "mlp_head.0.bias")
        add("classifier.dense.weight", "mlp_head.1.weight"); add("classifier.dense.bias", "mlp_head.1.bias")
        let path = dir + "/ast.safetensors"
        try Self.writeSafetensors(path, hf.reversed())   // order must not matter

        let m = try SSASTConverter.read(path, options: o)
        XCTAssertEqual(m.config.blockEps, 1e-12); XCTAssertEqual(m.config.headEps, 1e-12)
        XCTAssertEqual(m.config.pooling, .cls, "Hugging Face AST pools the two class tokens")
        XCTAssertEqual(m.config.depth, ours.config.depth); XCTAssertEqual(m.config.labels.count, 3)
        XCTAssertEqual(Set(m.tensors.keys), Set(ours.tensors.keys))
        for (name, v) in ours.tensors { XCTAssertEqual(m.tensors[name]!.values, v.values, name); XCTAssertEqual(m.tensors[name]!.shape, v.shape, name) }
        // And it runs: the weight file loads and gives finite logits.
        try SSASTConverter.convert(input: path, output: dir + "/ast.ssast", options: o)
        let model = try SSASTModel(path: dir + "/ast.ssast")
        let x = Array(try Fixtures.npy("expected/train_inputs.npy").data.prefix(model.config.targetLength * model.config.melBins))   // the first of the batch
        let y = Array(try x.withUnsafeBufferPointer { try model.forward($0, state: RunState(config: model.config), engine: try Engine(threads: 1)) })
        XCTAssertEqual(y.count, 3); XCTAssertTrue(y.allSatisfy(\.isFinite))

        // A missing key piece is named.
        try Self.writeSafetensors(dir + "/broken.safetensors", hf.filter { !$0.0.hasSuffix("layer.1.attention.attention.key.weight") })
        XCTAssertThrowsError(try SSASTConverter.read(dir + "/broken.safetensors", options: o)) { e in
            XCTAssertTrue((e as! SSASTError).message.contains("v.blocks.1.attn.k.weight"), "\(e)")
        }
    }
}
