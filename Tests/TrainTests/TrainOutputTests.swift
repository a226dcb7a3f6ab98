import Convert
import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// What a run leaves behind: the PyTorch export, the kept (best) model with its threshold, the
/// curves, and what happens when training diverges.
final class TrainOutputTests: XCTestCase {
    /// Walks the local headers of a zip written by TorchWriter: every entry's data starts on a
    /// 64-byte boundary, as torch.save aligns it. Returns the entry names in file order.
    func localEntries(_ bytes: [UInt8]) -> [(name: String, dataOffset: Int, size: Int)] {
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        var out: [(String, Int, Int)] = []
        var p = 0
        while p + 30 <= bytes.count && u32(p) == 0x0403_4b50 {
            let size = u32(p + 22), nameLen = u16(p + 26), extraLen = u16(p + 28)
            let name = String(decoding: bytes[(p + 30)..<(p + 30 + nameLen)], as: UTF8.self)
            let data = p + 30 + nameLen + extraLen
            out.append((name, data, size))
            p = data + size
        }
        return out
    }

    /// Export of a fine-tuned SSAST model: same keys, order and shapes as the fixture written by
    /// torch.save from the original ASTModel; our reader gets back every value bit for bit; the zip
    /// is laid out as torch writes it (64-byte aligned stored entries, version 3, little-endian).
    func testTorchExportMatchesOriginalStateDict() throws {
        let dir = Fixtures.temporaryDirectory("train-pth")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = Fixtures.model("tiny-patch-2block-train.pth")
        var r = Recipe()
        r.fstride = 10; r.tstride = 10; r.targetLength = 128; r.mean = -8.2096; r.std = 6.1568
        var rng = SplitMix64(seed: 0)
        let labels = LabelSet(mids: ["a", "b", "c"], names: ["A", "B", "C"])
        let (config, tensors, _) = try ModelInit.load(path: fixture, labels: labels, recipe: r, rng: &rng, allowNewHead: false)
        let layout = try ParameterLayout(config: config, deitHeadClasses: 0)
        let model = try TrainModel(layout: layout, engine: try Engine(threads: 1), maxBatch: 1)
        for v in layout.views { try model.setParameter(v.name, tensors[v.name]!) }
        // Move every parameter off the fixture's values, so the check sees our numbers, not a copy.
        for i in 0..<model.params.count { model.params[i] = model.params[i] * 0.75 + Float(i % 97) * 1e-3 }
        let heads = try TorchExport.deitHeads(initPath: fixture)
        XCTAssertEqual(heads.map(\.name), TorchExport.deitHeadNames)
        let out = dir + "/model.pth"
        try TorchWriter.write(path: out, tensors: TorchExport.stateDict(model: model, deitHeads: heads))

        let mine = try Checkpoint.load(out), ref = try Checkpoint.load(fixture)
        try mine.verifyIntegrity()
        XCTAssertEqual(mine.names, ref.names, "keys and their order")
        XCTAssertEqual(mine.tensors.map(\.shape), ref.tensors.map(\.shape))
        XCTAssertEqual(mine.tensors.map(\.dtype), ref.tensors.map(\.dtype))
        XCTAssertEqual(mine.metadata["version"], "3")
        XCTAssertEqual(mine.metadata["byteorder"], "little")
        XCTAssertEqual(mine.metadata["archive"], "model")
        for t in mine.tensors {
            let name = String(t.name.dropFirst("module.".count))
            let got = try t.floats()
            if let expected = model.parameter(name) {
                XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), name)
            } else {
                // The DeiT heads are not trained: copied bit for bit from the starting checkpoint.
                XCTAssertEqual(got.map(\.bitPattern), try ref[t.name]!.floats().map(\.bitPattern), name)
            }
        }
        // The converter reads it as the fine-tuned model it is.
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 128; o.mean = -8.2096; o.std = 6.1568
        let ck = try SSASTConverter.read(out, options: o)
        XCTAssertEqual(ck.config.depth, 2)
        XCTAssertEqual(ck.config.labels.count, 3)
        XCTAssertEqual(ck.tensors["v.blocks.1.mlp.fc2.weight"]!.values, model.parameter("v.blocks.1.mlp.fc2.weight")!)
        XCTAssertEqual(ck.tensors["v.patch_embed.proj.weight"]!.shape, [192, 1, 16, 16])

        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        let entries = localEntries(bytes)
        XCTAssertEqual(entries.count, 3 + ref.names.count)
        XCTAssertEqual(entries.first?.name, "model/data.pkl")
        XCTAssertEqual(entries.last?.name, "model/version")
        XCTAssertTrue(entries.contains { $0.name == "model/data/38" })
        for e in entries { XCTAssertEqual(e.dataOffset % 64, 0, e.name) }
        // A damaged byte inside tensor data is caught by the CRC the writer recorded.
        var bad = bytes
        bad[entries[5].dataOffset + 3] ^= 0x40
        XCTAssertThrowsError(try Checkpoint.load(bytes: bad, name: "bad.pth").verifyIntegrity())
    }

    func writeData(_ dir: String, labels: String, items: [(String, String)]) throws -> (csv: String, json: String) {
        let csv = dir + "/labels.csv", json = dir + "/data.json"
        try labels.write(toFile: csv, atomically: true, encoding: .utf8)
        let entries = items.map { "{\"wav\": \"\(Fixtures.audio($0.0))\", \"labels\": \"\($0.1)\"}" }
        try "{\"data\": [\(entries.joined(separator: ","))]}".write(toFile: json, atomically: true, encoding: .utf8)
        return (csv, json)
    }

    /// A two-class run from a pretrained backbone: the kept model is the epoch SSAST's rule picks
    /// (first strictly best validation accuracy), its weight file carries the Youden threshold of
    /// that epoch, the .pth holds the same weights, the predictions and curves are written, and a
    /// resumed run reports the same history.
    func testBinaryRunKeepsBestModelWithThreshold() throws {
        let dir = Fixtures.temporaryDirectory("train-best")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (csv, json) = try writeData(dir, labels: "index,mid,display_name\n0,neg,Negative\n1,pos,Positive\n",
                                        items: [("speech16k.wav", "pos"), ("burst16k.wav", "neg"), ("short16k.wav", "neg"),
                                                ("long16k.wav", "pos"), ("stereo44k.wav", "neg"), ("float48k.wav", "pos")])
        var r = Recipe()
        r.fstride = 16; r.tstride = 16; r.targetLength = 128; r.mean = -8.2096; r.std = 6.1568
        r.batchSize = 3; r.epochs = 3; r.lr = 1e-4; r.headLR = 10; r.augment = false; r.seed = 1
        var o = TrainOptions(initPath: Fixtures.model("tiny-patch-pretrain.pth"), trainJSON: json, valJSON: json,
                             labelCSV: csv, output: dir + "/m.ssast", recipe: r)
        o.threads = 2; o.predictionsCSV = dir + "/m.val.csv"; o.exportPth = dir + "/m.pth"
        var notes: [String] = []
        let t = try Trainer(options: o, notes: &notes)
        var logged: [String] = []
        t.interactive = false
        t.log = { logged.append($0) }
        try t.run()
        XCTAssertEqual(t.history.count, 3)
        // SSAST's traintest: best_acc starts at -inf and moves on strictly greater accuracy.
        var expectBest = 0, best = -Double.infinity
        for h in t.history where h.val!.accuracy > best { best = h.val!.accuracy; expectBest = h.epoch }
        XCTAssertEqual(t.bestEpoch, expectBest)
        XCTAssertEqual(t.history.filter(\.best).map(\.epoch).last, expectBest)
        let kept = t.history[expectBest - 1].val!
        let thr = try XCTUnwrap(t.bestThreshold)
        XCTAssertEqual(Double(thr), kept.binary!.youdenThreshold, accuracy: 1e-7)
        let wf = try WeightFile(path: dir + "/m.ssast")
        XCTAssertEqual(try ModelConfig(weightFile: wf).threshold, thr)
        // The .pth and the weight file hold the same (kept) weights.
        var co = ConvertOptions()
        co.fstride = 16; co.tstride = 16; co.targetLength = 128; co.mean = -8.2096; co.std = 6.1568
        let ck = try SSASTConverter.read(dir + "/m.pth", options: co)
        for name in ["v.pos_embed", "v.blocks.11.attn.qkv.weight", "mlp_head.1.bias"] {
            XCTAssertEqual(ck.tensors[name]!.values, try wf.dequantised(name), name)
        }
        if expectBest == 3 { XCTAssertEqual(try wf.dequantised("mlp_head.1.weight"), t.model.parameter("mlp_head.1.weight")!) }
        else { XCTAssertNotEqual(try wf.dequantised("mlp_head.1.weight"), t.model.parameter("mlp_head.1.weight")!) }
        // The pretrained file's DeiT heads travel into the .pth unchanged.
        let pth = try Checkpoint.load(dir + "/m.pth"), pre = try Checkpoint.load(Fixtures.model("tiny-patch-pretrain.pth"))
        XCTAssertEqual(try pth["module.v.head.weight"]!.floats(), try pre["module.v.head.weight"]!.floats())
        XCTAssertNil(pth["module.cpredlayer.0.weight"])

        let pred = try String(contentsOfFile: dir + "/m.val.csv", encoding: .utf8)
        XCTAssertEqual(pred.split(separator: "\n").count, 7)
        let svg = try String(contentsOfFile: dir + "/m.ssast.curves.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg "))
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 4, "train, val, diagonal, ROC")
        XCTAssertTrue(svg.contains(String(format: "AUC %.3f", Metrics.rocAUC(scores: t.bestROC!.scores, positive: t.bestROC!.positive))))
        XCTAssertEqual(t.bestROC!.positive, [true, false, false, true, false, true])
        XCTAssertTrue(logged.contains { $0.hasPrefix("kept the model of epoch \(expectBest)") }, "\(logged)")

        // Resume after the end: the state brings back the history and the kept epoch.
        var o2 = o
        o2.resume = true
        let t2 = try Trainer(options: o2, notes: &notes)
        XCTAssertEqual(t2.history.map(\.trainLoss), t.history.map(\.trainLoss))
        XCTAssertEqual(t2.history.map { $0.val!.accuracy }, t.history.map { $0.val!.accuracy })
        XCTAssertEqual(t2.bestEpoch, t.bestEpoch)
        XCTAssertEqual(t2.bestThreshold, t.bestThreshold)
        XCTAssertEqual(t2.bestROC!.scores, t.bestROC!.scores)
    }

    /// An absurd learning rate: the run stops with a message naming the step, and nothing half-made
    /// is left. A model that goes bad after a good epoch leaves that epoch's files untouched.
    func testDivergenceStopsAndKeepsLastGoodFiles() throws {
        let dir = Fixtures.temporaryDirectory("train-nan")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (csv, json) = try writeData(dir, labels: "index,mid,display_name\n0,/m/a,speech\n1,/m/b,noise\n2,/m/c,other\n",
                                        items: [("speech16k.wav", "/m/a"), ("burst16k.wav", "/m/b"), ("short16k.wav", "/m/c"),
                                                ("long16k.wav", "/m/a")])
        var r = Recipe()
        r.fstride = 10; r.tstride = 10; r.targetLength = 128; r.mean = -8.2096; r.std = 6.1568
        r.batchSize = 2; r.epochs = 1; r.lr = 1e30; r.augment = false; r.shuffle = false
        var o = TrainOptions(initPath: Fixtures.model("tiny-patch-2block-train.pth"), trainJSON: json, valJSON: nil,
                             labelCSV: csv, output: dir + "/m.ssast", recipe: r)
        o.threads = 2
        var notes: [String] = []
        let t = try Trainer(options: o, notes: &notes)
        t.interactive = false; t.log = { _ in }
        XCTAssertThrowsError(try t.run()) { e in
            let m = (e as? SSASTError)?.message ?? "\(e)"
            XCTAssertTrue(m.contains("at epoch 1, batch 2 of 2 (optimiser step 2)"), m)
            XCTAssertTrue(m.contains("nothing was saved"), m)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.ssast"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.ssast.ckpt"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])

        // One good epoch, then a poisoned parameter in the resumed run.
        o.recipe.lr = 1e-4
        let good = try Trainer(options: o, notes: &notes)
        good.interactive = false; good.log = { _ in }
        try good.run()
        let weights = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.ssast"))
        let state = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.ssast.ckpt"))
        var o2 = o
        o2.recipe.epochs = 2; o2.resume = true
        let bad = try Trainer(options: o2, notes: &notes)
        bad.interactive = false; bad.log = { _ in }
        bad.model.params[bad.model.layout["v.blocks.0.attn.qkv.weight"]!.offset] = .nan
        XCTAssertThrowsError(try bad.run()) { e in
            let m = (e as? SSASTError)?.message ?? "\(e)"
            XCTAssertTrue(m.contains("the training loss is nan at epoch 2, batch 1 of 2 (optimiser step 3)"), m)
            XCTAssertTrue(m.contains("last good epoch (1)"), m)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/m.ssast")), weights)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/m.ssast.ckpt")), state)
    }

    func testReportPieces() {
        XCTAssertEqual(TrainReport.duration(3725), "1:02:05")
        XCTAssertEqual(TrainReport.duration(65), "1:05")
        let pts = TrainReport.rocPoints(scores: [0.9, 0.8, 0.8, 0.1], positive: [true, false, true, false])
        XCTAssertEqual(pts.map(\.0), [0, 0, 0.5, 1])
        XCTAssertEqual(pts.map(\.1), [0, 0.5, 1, 1])
    }
}

/// The threaded forms of the layers (engine given, rows/columns split across threads, tiled
/// transposes instead of the sgemm's own) give the serial results: bit for bit where only the
/// split changes, within float rounding where a vectorised kernel replaces libm.
final class ParallelLayerTests: XCTestCase {
    func testParallelPathsMatchSerial() throws {
        let e = try Engine(threads: 2)
        var rng = SplitMix64(seed: 5)
        func rand(_ n: Int) -> [Float] { (0..<n).map { _ in rng.nextFloat() * 2 - 1 } }
        let rows = 37, dim = 48
        let x = rand(rows * dim), w = rand(dim), b = rand(dim), dy = rand(rows * dim)
        var y1 = [Float](repeating: 0, count: rows * dim), y2 = y1
        var mu1 = [Float](repeating: 0, count: rows), mu2 = mu1, rs1 = mu1, rs2 = mu1
        Layers.layerNormForward(y: &y1, mean: &mu1, rstd: &rs1, x: x, w: w, b: b, rows: rows, dim: dim, eps: 1e-6)
        Layers.layerNormForward(e, y: &y2, mean: &mu2, rstd: &rs2, x: x, w: w, b: b, rows: rows, dim: dim, eps: 1e-6)
        XCTAssertEqual(y1, y2); XCTAssertEqual(rs1, rs2)
        var dx1 = [Float](repeating: 0, count: rows * dim), dx2 = dx1
        var dw1 = [Float](repeating: 0, count: dim), dw2 = dw1, db1 = dw1, db2 = dw1
        Layers.layerNormBackward(dy: dy, x: x, mean: mu1, rstd: rs1, w: w, rows: rows, dim: dim, dx: &dx1, dw: &dw1, db: &db1)
        Layers.layerNormBackward(e, dy: dy, x: x, mean: mu2, rstd: rs2, w: w, rows: rows, dim: dim, dx: &dx2, dw: &dw2, db: &db2)
        XCTAssertEqual(dx1, dx2); XCTAssertEqual(dw1, dw2); XCTAssertEqual(db1, db2)

        var g1 = [Float](repeating: 0, count: x.count), g2 = g1, gb1 = g1, gb2 = g1
        Layers.geluForward(y: &g1, x: x, count: x.count)
        Layers.geluForward(e, y: &g2, x: x, count: x.count)
        XCTAssertLessThan(maxAbsDiff(g1, g2), 1e-6)
        Layers.geluBackward(dy: dy, x: x, count: x.count, dx: &gb1)
        Layers.geluBackward(e, dy: dy, x: x, count: x.count, dx: &gb2)
        XCTAssertEqual(gb1, gb2)

        // Linear backward: dyᵀ by the tiled transpose vs the sgemm's transA.
        let m = 45, k = 33, n = 70
        let lx = rand(m * k), lw = rand(n * k), ldy = rand(m * n)
        var dwA = [Float](repeating: 0, count: n * k), dwB = dwA, dbA = [Float](repeating: 0, count: n), dbB = dbA
        var ldx = [Float](repeating: 0, count: m * k)
        var scratch = [Float](repeating: 0, count: m * n)
        Layers.linearBackward(e, dy: ldy, x: lx, w: lw, m: m, k: k, n: n, dx: &ldx, dw: &dwA, db: &dbA)
        Layers.linearBackward(e, dy: ldy, x: lx, w: lw, m: m, k: k, n: n, dx: &ldx, dw: &dwB, db: &dbB, scratch: &scratch)
        XCTAssertLessThan(maxAbsDiff(dwA, dwB), 1e-5)
        XCTAssertEqual(dbA, dbB)

        // Attention backward with and without the transposes in scratch.
        let batch = 2, t = 19, heads = 2, dh = 8, d = heads * dh
        let qkv = rand(batch * t * 3 * d), dout = rand(batch * t * d)
        var dq1 = [Float](repeating: 0, count: qkv.count), dq2 = dq1
        var s1 = [Float](repeating: 0, count: 2 * t * t), s2 = [Float](repeating: 0, count: 3 * t * t)
        Layers.attentionBackward(e, dout: dout, qkv: qkv, batch: batch, tokens: t, heads: heads, headDim: dh, dqkv: &dq1, scratch: &s1)
        Layers.attentionBackward(e, dout: dout, qkv: qkv, batch: batch, tokens: t, heads: heads, headDim: dh, dqkv: &dq2,
                                 scratch: &s2, transposeInScratch: true)
        XCTAssertLessThan(maxAbsDiff(dq1, dq2), 1e-5)
        XCTAssertGreaterThan(dq1.map(abs).max()!, 1e-3)
    }
}
