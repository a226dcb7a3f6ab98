import AudioFile
import Convert
import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// What a run takes from the model it starts from: the fbank settings (carried into the data, the
/// output and any re-encoding), the geometry of one of our weight files, and `--new-head`.
final class TrainStartTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// Settings unlike SSAST's in every field the front end implements.
    static var customFbank: FbankSettings {
        var s = FbankSettings()
        s.window = .hamming; s.preemphasis = 0.9; s.lowFreq = 60; s.highFreq = 7000
        s.frameLength = 480; s.frameShift = 200; s.removeDCOffset = false
        return s
    }

    /// A small fp32 weight file from a scratch model, with `fbank` in its header.
    static func writeModel(_ path: String, labels: [String], fbank: FbankSettings, targetLength: Int = 96) throws {
        var r = Recipe()
        r.fstride = 16; r.tstride = 16; r.targetLength = targetLength; r.mean = -5.5; r.std = 3.25
        var rng = SplitMix64(seed: 3)
        let names = LabelSet(mids: labels, names: labels)
        let start = try ModelInit.load(path: "scratch:dim=48,depth=1,heads=2,patch=16", labels: names, recipe: r, rng: &rng)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for t in ModelSchema.tensors(start.config) { tensors[t.name] = (t.shape(start.config), start.tensors[t.name]!) }
        let ck = SSASTCheckpoint(config: start.config, tensors: tensors, fbank: fbank)
        let (meta, blobs) = try SSASTConverter.weightFileContents(ck, dtype: .f32, source: "test")
        try WeightFileWriter.write(path: path, metadata: meta, tensors: blobs)
    }

    /// Labels named by their mids in capitals.
    static func writeData(_ dir: String, mids: [String], items: [(String, String)]) throws -> (csv: String, json: String) {
        let rows = mids.enumerated().map { "\($0.offset),\($0.element),\($0.element.uppercased())" }
        return try TrainOutputTests.writeData(dir, labels: (["index,mid,display_name"] + rows).joined(separator: "\n"), items: items)
    }

    func testFbankSettingsTravelThroughTrainingAndReencoding() throws {
        let dir = Fixtures.temporaryDirectory("fbank-carry")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let custom = Self.customFbank
        XCTAssertNotEqual(custom, .ssast)
        let start = dir + "/start.ssast"
        try Self.writeModel(start, labels: ["a", "b"], fbank: custom)
        XCTAssertEqual(try FbankSettings(weightFile: WeightFile(path: start)), custom)

        // Re-encoding keeps them.
        for dtype in [WeightType.f16, .i8] {
            let out = dir + "/start-\(dtype).ssast"
            try SSASTConverter.requantise(input: start, output: out, dtype: dtype)
            XCTAssertEqual(try FbankSettings(weightFile: WeightFile(path: out)), custom, "\(dtype)")
        }

        // Training reads its data with them and writes them into the model it keeps.
        let (csv, json) = try Self.writeData(dir, mids: ["a", "b"], items: [("speech16k.wav", "a"), ("burst16k.wav", "b")])
        var r = Recipe()
        r.adopt(try ModelConfig(weightFile: WeightFile(path: start)))
        r.batchSize = 2; r.epochs = 1; r.augment = false
        var notes: [String] = []
        let t = try Trainer(options: TrainOptions(initPath: start, trainJSON: json, valJSON: nil, labelCSV: csv,
                                                  output: dir + "/out.ssast", recipe: r), notes: &notes)
        XCTAssertEqual(t.fbank, custom)
        var rng = SplitMix64(seed: 0)
        let (x, _) = try t.train.example(0, recipe: r, train: false, rng: &rng)
        let samples = try loadMono16k(path: Fixtures.audio("speech16k.wav"))
        let mean = Float(samples.reduce(0.0) { $0 + Double($1) } / Double(samples.count))
        let fb = try fbank(samples.map { $0 - mean }, settings: custom)
        let expected = try InputPreparation(config: t.model.config).prepare(fb.data, frames: fb.frames)
        XCTAssertEqual(x, expected, "the training input is the custom fbank, prepared as every input is")
        let defaultFb = try fbank(samples.map { $0 - mean })
        XCTAssertNotEqual(x, try InputPreparation(config: t.model.config).prepare(defaultFb.data, frames: defaultFb.frames))
        t.interactive = false
        t.log = { _ in }
        try t.run()
        XCTAssertEqual(try FbankSettings(weightFile: WeightFile(path: dir + "/out.ssast")), custom)
    }

    func testNewHeadAndAdoptedGeometry() throws {
        let dir = Fixtures.temporaryDirectory("new-head")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = dir + "/four.ssast"
        try Self.writeModel(start, labels: ["a", "b", "c", "d"], fbank: .ssast, targetLength: 112)
        let (csv, json) = try Self.writeData(dir, mids: ["x", "y"], items: [("speech16k.wav", "x"), ("burst16k.wav", "y")])
        // The recipe takes the file's geometry and normalisation (a default Recipe asks for 1024 frames).
        var r = Recipe()
        XCTAssertEqual(r.targetLength, 1024)
        let c4 = try ModelConfig(weightFile: WeightFile(path: start))
        r.adopt(c4)
        XCTAssertEqual([r.fstride, r.tstride, r.targetLength], [16, 16, 112])
        XCTAssertEqual(r.mean, -5.5); XCTAssertEqual(r.std, 3.25)
        r.batchSize = 2; r.epochs = 1; r.augment = false
        var notes: [String] = []
        let o = TrainOptions(initPath: start, trainJSON: json, valJSON: nil, labelCSV: csv, output: dir + "/two.ssast", recipe: r)
        // Without --new-head the mismatch is refused, and the message names the way out.
        XCTAssertThrowsError(try Trainer(options: o, notes: &notes)) {
            let m = ($0 as? SSASTError)?.message ?? ""
            XCTAssertTrue(m.contains("4 outputs") && m.contains("--new-head"), m)
        }
        var o2 = o
        o2.newHead = true
        let t = try Trainer(options: o2, notes: &notes)
        XCTAssertTrue(notes.contains { $0.contains("--new-head") && $0.contains("4-label head") }, "\(notes)")
        XCTAssertEqual(t.model.config.labels, ["X", "Y"])
        // The backbone is the file's, bit for bit; the head is new.
        let wf = try WeightFile(path: start)
        XCTAssertEqual(t.model.parameter("v.blocks.0.mlp.fc1.weight"), try wf.dequantised("v.blocks.0.mlp.fc1.weight"))
        XCTAssertEqual(t.model.parameter("mlp_head.1.weight")?.count, 2 * 48)
        t.interactive = false
        t.log = { _ in }
        try t.run()
        let out = try ModelConfig(weightFile: WeightFile(path: dir + "/two.ssast"))
        XCTAssertEqual(out.labels, ["X", "Y"])
        XCTAssertEqual(out.targetLength, 112)
    }

    /// A label CSV that lists the model's labels in another order: the head's rows follow the CSV, so
    /// every label keeps its logit; other labels are refused; unnamed outputs take the CSV's names.
    func testLabelOrderFollowsTheCSV() throws {
        let dir = Fixtures.temporaryDirectory("label-order")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = dir + "/three.ssast"
        try Self.writeModel(start, labels: ["cough", "speech", "silence"], fbank: .ssast)
        var r = Recipe()
        r.adopt(try ModelConfig(weightFile: WeightFile(path: start)))
        r.batchSize = 2; r.epochs = 1; r.augment = false
        // Logits per label name for each file, as the trainer's model computes them before any step.
        func run(_ tag: String, _ rows: [(mid: String, name: String)]) throws -> (logits: [[String: Float]], head: [Float], notes: [String]) {
            let sub = dir + "/" + tag
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            let text = (["index,mid,display_name"] + rows.enumerated().map { "\($0.offset),\($0.element.mid),\($0.element.name)" })
                .joined(separator: "\n")
            func mid(_ name: String) -> String { rows.first { $0.name.lowercased() == name }!.mid }
            let (csv, json) = try TrainOutputTests.writeData(sub, labels: text, items: [("speech16k.wav", mid("speech")), ("burst16k.wav", mid("cough"))])
            var notes: [String] = []
            let t = try Trainer(options: TrainOptions(initPath: start, trainJSON: json, valJSON: nil, labelCSV: csv,
                                                      output: sub + "/out.ssast", recipe: r), notes: &notes)
            XCTAssertEqual(t.model.config.labels, rows.map(\.name))
            var rng = SplitMix64(seed: 0)
            var perFile: [[String: Float]] = []
            for i in 0..<t.train.count {
                let (x, _) = try t.train.example(i, recipe: r, train: false, rng: &rng)
                let logits = try t.model.forward(x, batch: 1)
                perFile.append(Dictionary(uniqueKeysWithValues: zip(rows.map(\.name), logits)))
            }
            return (perFile, t.model.parameter("mlp_head.1.weight")!, notes)
        }
        let file = try WeightFile(path: start)
        let fileHead = try file.dequantised("mlp_head.1.weight"), d = 48
        let same = try run("same", [("/m/c", "cough"), ("/m/s", "speech"), ("/m/q", "silence")])
        XCTAssertEqual(same.head, fileHead, "the model's own order: the head is untouched")
        XCTAssertFalse(same.notes.contains { $0.contains("order") }, "\(same.notes)")
        let moved = try run("moved", [("/m/s", "speech"), ("/m/q", "silence"), ("/m/c", "cough")])
        XCTAssertTrue(moved.notes.contains { $0.contains("another order") && $0.contains("reordered") }, "\(moved.notes)")
        // Row i of the new head is the file's row of the CSV's label i: speech (1), silence (2), cough (0).
        XCTAssertEqual(moved.head, [1, 2, 0].flatMap { fileHead[($0 * d)..<(($0 + 1) * d)] })
        for (a, b) in zip(same.logits, moved.logits) {
            for name in ["cough", "speech", "silence"] { XCTAssertEqual(a[name]!, b[name]!, accuracy: 1e-6, name) }
            XCTAssertNotEqual(a["cough"]!, a["speech"]!, "distinct logits, so a renamed row would show")
        }
        // Matched by mid when the display names are not the model's (here: capitalised).
        let byMid = try run("mid", [("silence", "SILENCE"), ("cough", "COUGH"), ("speech", "SPEECH")])
        for (a, b) in zip(same.logits, byMid.logits) {
            XCTAssertEqual(a["cough"]!, b["COUGH"]!, accuracy: 1e-6); XCTAssertEqual(a["silence"]!, b["SILENCE"]!, accuracy: 1e-6)
        }
        // Other labels, same count: refused, naming both lists and the way out.
        XCTAssertThrowsError(try run("other", [("/m/c", "cough"), ("/m/s", "speech"), ("/m/w", "wheeze")])) {
            let m = ($0 as? SSASTError)?.message ?? ""
            XCTAssertTrue(m.contains("cough, speech, silence") && m.contains("wheeze") && m.contains("--new-head"), m)
        }
        // Outputs never named (converted without --labels): taken as the CSV's, in its order, and said so.
        let unnamed = dir + "/unnamed.ssast"
        try Self.writeModel(unnamed, labels: ModelConfig.placeholderLabels(2), fbank: .ssast)
        let (csv, json) = try Self.writeData(dir, mids: ["x", "y"], items: [("speech16k.wav", "x")])
        var notes: [String] = []
        let t = try Trainer(options: TrainOptions(initPath: unnamed, trainJSON: json, valJSON: nil, labelCSV: csv,
                                                  output: dir + "/unnamed-out.ssast", recipe: r), notes: &notes)
        XCTAssertEqual(t.model.config.labels, ["X", "Y"])
        XCTAssertEqual(t.model.parameter("mlp_head.1.weight"), try WeightFile(path: unnamed).dequantised("mlp_head.1.weight"))
        XCTAssertTrue(notes.contains { $0.contains("no names") && $0.contains("class0, class1") }, "\(notes)")
    }
}
