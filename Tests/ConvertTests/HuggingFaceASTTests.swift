import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// Hugging Face `ASTForAudioClassification` checkpoints in safetensors: the same network under other
/// names, with separate query/key/value. Built here from a fixture model, so the expected values are known.
final class HuggingFaceASTTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

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
        let state = RunState(config: model.config), engine = try Engine(threads: 1)
        // The result views the state's buffer: copy it while the state lives.
        let y = try withExtendedLifetime(state) { try x.withUnsafeBufferPointer { Array(try model.forward($0, state: state, engine: engine)) } }
        XCTAssertEqual(y.count, 3); XCTAssertTrue(y.allSatisfy(\.isFinite))

        // A missing key piece is named.
        try Self.writeSafetensors(dir + "/broken.safetensors", hf.filter { !$0.0.hasSuffix("layer.1.attention.attention.key.weight") })
        XCTAssertThrowsError(try SSASTConverter.read(dir + "/broken.safetensors", options: o)) { e in
            XCTAssertTrue((e as! SSASTError).message.contains("v.blocks.1.attn.k.weight"), "\(e)")
        }
    }
}

/// A Hugging Face AST folder as `save_pretrained` writes it, with a config.json whose head count is not
/// hidden / 64 (4 heads of 48 at hidden size 192) and an unusual layer_norm_eps (0.1): the converter must
/// read both (and the strides, max_length and id2label) from config.json. Weights and input follow an
/// integer formula shared with Resources/hf_ast_reference.py, which computes the reference logits with an
/// independent float64 numpy forward pass written from the transformers modeling code (reading it as
/// 3 heads with eps 1e-12 gives 23.7, 40.2, 7.76 instead).
final class HuggingFaceConfigTests: XCTestCase {
    static let D = 192, depth = 2, mlp = 768, labels = 3, maxLength = 100, tokens = 12 * 9 + 2
    static let reference: [Float] = [19.06032, -30.35041, -24.37028]

    /// The formula of hf_ast_reference.py: exact in float32 on both sides.
    static func values(_ t: Int, _ n: Int, base: Float, step: Float) -> [Float] {
        (0..<n).map { i in
            let u = ((UInt64(i) + 1) &* 2654435761 &+ UInt64((t + 1) * 40503)) & 0xFFFF_FFFF
            return base + Float(Int(u % 2001) - 1000) * step
        }
    }

    /// (name, shape, base, step) in the script's order.
    static var tensors: [(String, [Int], Float, Float)] {
        let p = "audio_spectrogram_transformer.", D = Self.D
        var out: [(String, [Int], Float, Float)] = [
            (p + "embeddings.cls_token", [1, 1, D], 0, 2e-5), (p + "embeddings.distillation_token", [1, 1, D], 0, 2e-5),
            (p + "embeddings.position_embeddings", [1, tokens, D], 0, 2e-5),
            (p + "embeddings.patch_embeddings.projection.weight", [D, 1, 16, 16], 0, 5e-5),
            (p + "embeddings.patch_embeddings.projection.bias", [D], 0, 1e-5)]
        for i in 0..<depth {
            let l = p + "encoder.layer.\(i)."
            for part in ["query", "key", "value"] {
                out += [(l + "attention.attention.\(part).weight", [D, D], 0, part != "value" ? 3e-4 : 5e-5),
                        (l + "attention.attention.\(part).bias", [D], 0, 1e-5)]
            }
            out += [(l + "attention.output.dense.weight", [D, D], 0, 5e-5), (l + "attention.output.dense.bias", [D], 0, 1e-5),
                    (l + "intermediate.dense.weight", [mlp, D], 0, 5e-5), (l + "intermediate.dense.bias", [mlp], 0, 1e-5),
                    (l + "output.dense.weight", [D, mlp], 0, 5e-5), (l + "output.dense.bias", [D], 0, 1e-5),
                    (l + "layernorm_before.weight", [D], 1, 1e-4), (l + "layernorm_before.bias", [D], 0, 1e-4),
                    (l + "layernorm_after.weight", [D], 1, 1e-4), (l + "layernorm_after.bias", [D], 0, 1e-4)]
        }
        out += [(p + "layernorm.weight", [D], 1, 1e-4), (p + "layernorm.bias", [D], 0, 1e-4),
                ("classifier.layernorm.weight", [D], 1, 1e-4), ("classifier.layernorm.bias", [D], 0, 1e-4),
                ("classifier.dense.weight", [labels, D], 0, 5e-3), ("classifier.dense.bias", [labels], 0, 1e-3)]
        return out
    }

    static let config = """
        {"architectures": ["ASTForAudioClassification"], "model_type": "audio-spectrogram-transformer",
         "hidden_size": 192, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 768,
         "layer_norm_eps": 0.1, "patch_size": 16, "frequency_stride": 10, "time_stride": 10, "max_length": 100,
         "num_mel_bins": 128, "id2label": {"0": "dog", "1": "cat", "2": "bird"}, "label2id": {"dog": 0, "cat": 1, "bird": 2}}
        """

    func writeFolder(_ dir: String, config: String?) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let t = Self.tensors.enumerated().map { (i, e) in (e.0, e.1, Self.values(i, e.1.reduce(1, *), base: e.2, step: e.3)) }
        try HuggingFaceASTTests.writeSafetensors(dir + "/model.safetensors", t)
        if let c = config { try c.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8) }
    }

    func logits(_ model: String) throws -> [Float] {
        let m = try SSASTModel(path: model)
        let x = Self.values(99, Self.maxLength * 128, base: 0, step: 1e-3)
        let state = RunState(config: m.config), engine = try Engine(threads: 1)
        // The result views the state's buffer: copy it while the state lives.
        return try withExtendedLifetime(state) { try x.withUnsafeBufferPointer { Array(try m.forward($0, state: state, engine: engine)) } }
    }

    func testFolderWithConfigConvertsWithItsHeadsEpsGeometryAndLabels() throws {
        let dir = Fixtures.temporaryDirectory("hf-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/ast-4heads"
        try writeFolder(folder, config: Self.config)
        // The folder and the file inside it convert alike, with no geometry flags.
        for input in [folder, folder + "/model.safetensors"] {
            // One output per input: this process has read the first one, and outputs never replace inputs.
            let out = dir + (input.hasSuffix(".safetensors") ? "/from-file.ssast" : "/from-folder.ssast")
            let ck = try SSASTConverter.convert(input: input, output: out, options: ConvertOptions())
            let c = ck.config
            XCTAssertEqual(c.heads, 4); XCTAssertEqual(c.dim, 192); XCTAssertEqual(c.blockEps, 0.1); XCTAssertEqual(c.headEps, 0.1)
            XCTAssertEqual([c.fstride, c.tstride, c.targetLength, c.melBins], [10, 10, 100, 128])
            XCTAssertEqual(c.labels, ["dog", "cat", "bird"])
            XCTAssertEqual(c.pooling, .cls)
            XCTAssertTrue(ck.notes.contains { $0.contains("config.json") && $0.contains("4 heads") }, "\(ck.notes)")
            let y = try logits(out)
            let d = maxAbsDiff(y, Self.reference)
            print("HF AST 4 heads from \(input.hasSuffix(".safetensors") ? "file" : "folder"): logits \(y), max |diff| vs numpy float64 \(d)")
            XCTAssertLessThan(d, 1e-3)
        }
    }

    /// --labels with id2label's names in another order reorders the head's rows, so each name keeps its
    /// logit; other names contradict config.json and are refused; placeholder names are replaced.
    func testLabelsInAnotherOrderThanId2Label() throws {
        let dir = Fixtures.temporaryDirectory("hf-label-order")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = dir + "/ast"
        try writeFolder(folder, config: Self.config)
        var o = ConvertOptions()
        o.labels = ["bird", "dog", "cat"]
        let ck = try SSASTConverter.convert(input: folder, output: dir + "/reordered.ssast", options: o)
        XCTAssertEqual(ck.config.labels, ["bird", "dog", "cat"])
        XCTAssertTrue(ck.notes.contains { $0.contains("another order") }, "\(ck.notes)")
        let y = try logits(dir + "/reordered.ssast")
        // id2label: dog, cat, bird -> the reference logits in that order.
        XCTAssertEqual(y[0], Self.reference[2], accuracy: 1e-3); XCTAssertEqual(y[1], Self.reference[0], accuracy: 1e-3)
        XCTAssertEqual(y[2], Self.reference[1], accuracy: 1e-3)
        o.labels = ["dog", "cat", "wolf"]
        XCTAssertThrowsError(try SSASTConverter.read(folder, options: o)) {
            let m = ($0 as? SSASTError)?.message ?? "\($0)"
            XCTAssertTrue(m.contains("--labels dog,cat,wolf") && m.contains("id2label") && m.contains("dog, cat, bird"), m)
        }
        try writeFolder(dir + "/placeholders", config: Self.config.replacingOccurrences(of: "\"dog\"", with: "\"LABEL_0\"")
            .replacingOccurrences(of: "\"cat\"", with: "\"LABEL_1\"").replacingOccurrences(of: "\"bird\"", with: "\"LABEL_2\""))
        o.labels = ["wolf", "fox", "owl"]
        XCTAssertEqual(try SSASTConverter.read(dir + "/placeholders", options: o).config.labels, ["wolf", "fox", "owl"])
    }

    func testWithoutConfigTheDefaultsAreStatedAndContradictionsRefused() throws {
        let dir = Fixtures.temporaryDirectory("hf-noconfig")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // No config.json: Hugging Face's defaults (hidden / 64 heads, eps 1e-12), said in a note, and the
        // logits are those of another model (this is why config.json must be read).
        try writeFolder(dir + "/bare", config: nil)
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 100
        let ck = try SSASTConverter.convert(input: dir + "/bare", output: dir + "/bare.ssast", options: o)
        XCTAssertEqual(ck.config.heads, 3)
        XCTAssertTrue(ck.notes.contains { $0.contains("no config.json") }, "\(ck.notes)")
        XCTAssertGreaterThan(maxAbsDiff(try logits(dir + "/bare.ssast"), Self.reference), 1)
        // With --heads 4 and --labels the same file is right again.
        o.heads = 4
        o.labels = ["dog", "cat", "bird"]
        try SSASTConverter.convert(input: dir + "/bare", output: dir + "/bare4.ssast", options: o)
        let y4 = try logits(dir + "/bare4.ssast")
        XCTAssertGreaterThan(maxAbsDiff(y4, Self.reference), 1e-3, "eps 1e-12 instead of the config's 0.1 still differs")

        // An option that contradicts config.json is refused, naming both.
        try writeFolder(dir + "/cfg", config: Self.config)
        var bad = ConvertOptions()
        bad.heads = 3
        XCTAssertThrowsError(try SSASTConverter.read(dir + "/cfg", options: bad)) {
            let m = ($0 as? SSASTError)?.message ?? "\($0)"
            XCTAssertTrue(m.contains("--heads 3") && m.contains("num_attention_heads 4"), m)
        }
        // id2label must fit the head; an empty folder says what it looked for.
        try writeFolder(dir + "/labels", config: Self.config.replacingOccurrences(of: ", \"2\": \"bird\"", with: ""))
        XCTAssertThrowsError(try SSASTConverter.read(dir + "/labels", options: ConvertOptions())) {
            XCTAssertTrue(($0 as? SSASTError)?.message.contains("id2label") ?? false, "\($0)")
        }
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try SSASTConverter.read(dir + "/empty", options: ConvertOptions())) {
            XCTAssertTrue(($0 as? SSASTError)?.message.contains("model.safetensors") ?? false, "\($0)")
        }
    }
}
