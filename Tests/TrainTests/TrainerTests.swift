import Convert
import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// Data pipeline, whole-model forward at CIAB geometry, the training loop, checkpoints, resume,
/// export, metrics and the learning-rate schedule.
final class TrainerTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// Our eval-mode example (fbank, pad/cut, normalise) equals the fixture input, and the
    /// trainer's forward pass gives the PyTorch logits of the 12-block CIAB model for both heads.
    func testPipelineAndForwardMatchFixtures() throws {
        let dir = Fixtures.temporaryDirectory("train-pipe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/labels.csv", json = dir + "/data.json"
        try "index,mid,display_name\n0,neg,Negative\n1,pos,\"Positive, confirmed\"\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let files = ["speech16k.wav", "burst16k.wav"]
        let entries = files.map { "{\"wav\": \"\(Fixtures.audio($0))\", \"labels\": \"pos\"}" }
        try "{\"data\": [\(entries.joined(separator: ","))]}".write(toFile: json, atomically: true, encoding: .utf8)
        let labels = try LabelSet(csvPath: csv)
        XCTAssertEqual(labels.names, ["Negative", "Positive, confirmed"])
        var r = try Recipe.preset("ciab")
        r.augment = false
        let ds = try Dataset(jsonPath: json, labels: labels, targetLength: 512)
        var rng = SplitMix64(seed: 0)
        (r.mean, r.std) = (-8.2096, 6.1568)
        let start = try ModelInit.load(path: Fixtures.model("tiny-patch-ciab-ft.pth"), labels: labels,
                                                      recipe: r, rng: &rng, allowNewHead: false)
        let config = start.config, tensors = start.tensors
        for pooling in [ModelConfig.Pooling.avgtok, .cls] {
            var c = config
            c.pooling = pooling
            let layout = try ParameterLayout(config: c, deitHeadClasses: 0)
            let model = try TrainModel(layout: layout, engine: try Engine(threads: 2), maxBatch: 1)
            for v in layout.views { try model.setParameter(v.name, tensors[v.name]!) }
            for (i, f) in files.enumerated() {
                let stem = "tiny-patch-ciab-ft__" + f.replacingOccurrences(of: ".wav", with: "")
                let (x, y) = try ds.example(i, recipe: r, train: false, rng: &rng)
                XCTAssertEqual(y, [0, 1])
                let ref = try Fixtures.npy("expected/input_\(stem).npy")
                let dx = maxAbsDiff(x, ref.data)
                XCTAssertLessThan(dx, 1e-3, "input \(f)")
                let logits = try model.forward(ref.data, batch: 1)
                let exp = try Fixtures.npy("expected/logits_\(pooling == .avgtok ? "avgtok" : "cls")_\(stem).npy")
                let dl = maxAbsDiff(logits, exp.data)
                print("\(f) \(pooling): input diff \(dx), logits diff \(dl)")
                XCTAssertLessThan(dl, 1e-3, "logits \(pooling) \(f)")
            }
        }
    }

    func makeRun(_ dir: String, epochs: Int, augment: Bool) throws -> TrainOptions {
        let csv = dir + "/labels.csv", json = dir + "/train.json"
        try "index,mid,display_name\n0,/m/a,speech\n1,/m/b,noise\n2,/m/c,other\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let items = [("speech16k.wav", "/m/a"), ("burst16k.wav", "/m/b"), ("short16k.wav", "/m/c"), ("long16k.wav", "/m/a,/m/c"), ("stereo44k.wav", "/m/b")]
        let entries = items.map { "{\"wav\": \"\(Fixtures.audio($0.0))\", \"labels\": \"\($0.1)\"}" }
        try "{\"data\": [\(entries.joined(separator: ","))]}".write(toFile: json, atomically: true, encoding: .utf8)
        var r = Recipe()
        r.fstride = 10; r.tstride = 10; r.targetLength = 128; r.mean = -8.2096; r.std = 6.1568
        r.batchSize = 2; r.epochs = epochs; r.lr = 1e-4; r.headLR = 10
        r.freqm = 24; r.timem = 30; r.noise = true; r.mixup = 0.5; r.augment = augment
        r.lrSchedulerStart = 1; r.lrSchedulerStep = 1; r.lrSchedulerDecay = 0.5
        r.seed = 7
        var o = TrainOptions(initPath: Fixtures.model("tiny-patch-2block-train.pth"), trainJSON: json, valJSON: json,
                             labelCSV: csv, output: dir + "/out.ssast", recipe: r)
        o.threads = 2
        o.predictionsCSV = dir + "/pred.csv"
        return o
    }

    /// Two epochs straight vs one epoch + resume: bit-identical parameters (RNG, Adam state, lr
    /// schedule and step count all restored). The weight file loads in the runtime and gives the
    /// trainer's logits.
    func testTrainResumeAndExport() throws {
        let a = Fixtures.temporaryDirectory("train-a"), b = Fixtures.temporaryDirectory("train-b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        var notes: [String] = []
        let t1 = try Trainer(options: try makeRun(a, epochs: 2, augment: true), notes: &notes)
        t1.progress = { _ in }
        let before = Array(t1.model.params)
        try t1.run()
        XCTAssertEqual(t1.history.count, 2)
        XCTAssertEqual(t1.globalStep, 6)              // 5 files, batch 2 -> 3 steps per epoch
        XCTAssertEqual(t1.schedule.current[0], 1e-4 * 0.25, accuracy: 1e-10)   // milestones 1 and 2
        XCTAssertEqual(t1.schedule.current[1], 1e-3 * 0.25, accuracy: 1e-9)
        XCTAssertNotEqual(Array(t1.model.params), before)
        XCTAssertTrue(t1.history.allSatisfy { $0.trainLoss.isFinite && $0.val != nil })

        let t2 = try Trainer(options: try makeRun(b, epochs: 1, augment: true), notes: &notes)
        t2.progress = { _ in }
        try t2.run()
        // After one epoch the kept model is that epoch's: the runtime's view of the weight file
        // equals our parameters ...
        XCTAssertEqual(t2.bestEpoch, 1)
        let wf = try WeightFile(path: b + "/out.ssast")
        let cfg = try ModelConfig(weightFile: wf)
        XCTAssertEqual(cfg.labels, ["speech", "noise", "other"])
        XCTAssertEqual(cfg.targetLength, 128)
        XCTAssertNil(cfg.threshold, "three labels: no binary threshold")
        for name in ["v.pos_embed", "v.blocks.1.attn.qkv.weight", "mlp_head.1.weight"] {
            XCTAssertEqual(try wf.dequantised(name), t2.model.parameter(name)!, name)
        }
        // ... and re-initialising the trainer from it reproduces the logits.
        var r = t2.options.recipe
        r.augment = false
        let (s1, scores1) = try evaluate(model: t2.model, dataset: t2.train, recipe: r)
        let c = Fixtures.temporaryDirectory("train-c")
        defer { try? FileManager.default.removeItem(atPath: c) }
        var o2 = try makeRun(c, epochs: 1, augment: false)
        o2.initPath = b + "/out.ssast"
        let t4 = try Trainer(options: o2, notes: &notes)
        let (s2, scores2) = try evaluate(model: t4.model, dataset: t4.train, recipe: r)
        XCTAssertEqual(scores1, scores2)
        XCTAssertEqual(s1.loss, s2.loss)
        let pred = try String(contentsOfFile: b + "/pred.csv", encoding: .utf8)
        XCTAssertEqual(pred.split(separator: "\n").count, 6)
        XCTAssertTrue(pred.hasPrefix("file,target,speech,noise,other\n"))

        var o = try makeRun(b, epochs: 2, augment: true)
        o.resume = true
        let t3 = try Trainer(options: o, notes: &notes)
        t3.progress = { _ in }
        XCTAssertEqual(t3.epoch, 1)
        try t3.run()
        XCTAssertEqual(Array(t3.model.params), Array(t1.model.params), "resume must reproduce the uninterrupted run")
        XCTAssertEqual(t3.bestEpoch, t1.bestEpoch)
        XCTAssertEqual(t3.history.map(\.trainLoss), t1.history.map(\.trainLoss))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: b + "/out.ssast")),
                       try Data(contentsOf: URL(fileURLWithPath: a + "/out.ssast")), "same kept model")
    }

    func testMetrics() {
        // sklearn: roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75; average_precision_score = 0.8333.
        XCTAssertEqual(Metrics.rocAUC(scores: [0.1, 0.4, 0.35, 0.8], positive: [false, false, true, true]), 0.75, accuracy: 1e-12)
        XCTAssertEqual(Metrics.averagePrecision(scores: [0.1, 0.4, 0.35, 0.8], positive: [false, false, true, true]), 0.8333333333, accuracy: 1e-9)
        // Ties count half.
        XCTAssertEqual(Metrics.rocAUC(scores: [0.5, 0.5], positive: [false, true]), 0.5, accuracy: 1e-12)
        XCTAssertTrue(Metrics.rocAUC(scores: [0.1, 0.2], positive: [true, true]).isNaN)
        let scores: [Float] = [0.9, 0.1, 0.3, 0.7, 0.6, 0.4, 0.2, 0.8]
        let targets: [Float] = [1, 0, 0, 1, 0, 1, 0, 1]
        let s = Metrics.evaluate(scores: scores, targets: targets, classes: 2, loss: 0)
        XCTAssertEqual(s.accuracy, 0.75, accuracy: 1e-12)
        let b = s.binary!
        // Positive-class scores 0.1, 0.7, 0.4, 0.8 with truth F, T, T, T.
        XCTAssertEqual(b.sensitivityAt05, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(b.specificityAt05, 1, accuracy: 1e-12)
        XCTAssertEqual(b.youdenThreshold, 0.4, accuracy: 1e-6)
        XCTAssertEqual(b.sensitivityAtYouden, 1, accuracy: 1e-12)
    }

    func testScheduleAndRecipes() throws {
        var r = try Recipe.preset("speechcommands")
        XCTAssertTrue(r.warmup)
        r.lr = 1e-3; r.headLR = 2
        var s = LRSchedule(recipe: r)
        s.beforeStep(0); XCTAssertEqual(s.current, [0, 0])
        s.beforeStep(49); XCTAssertEqual(s.current, [0, 0])
        s.beforeStep(50); XCTAssertEqual(s.current[0], 5e-5, accuracy: 1e-10); XCTAssertEqual(s.current[1], 1e-4, accuracy: 1e-10)
        s.beforeStep(1000); XCTAssertEqual(s.current[0], 1e-3, accuracy: 1e-9)
        s.afterEpoch(4); XCTAssertEqual(s.current[0], 1e-3, accuracy: 1e-9)
        s.afterEpoch(5); XCTAssertEqual(s.current[0], 0.85e-3, accuracy: 1e-9)
        XCTAssertThrowsError(try Recipe.preset("imagenet"))
        var bad = Recipe(); bad.batchSize = 0
        XCTAssertThrowsError(try bad.validate())
        // Beta(10, 10) has mean 0.5 and variance 1/84.
        var rng = SplitMix64(seed: 3)
        let xs = (0..<20000).map { _ in rng.beta(10, 10) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
        XCTAssertEqual(mean, 0.5, accuracy: 0.005)
        XCTAssertEqual(variance, 1.0 / 84, accuracy: 0.001)
    }

    func testBadInputsGiveClearErrors() throws {
        let dir = Fixtures.temporaryDirectory("train-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/labels.csv"
        try "index,mid,display_name\n0,a,A\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let labels = try LabelSet(csvPath: csv)
        try "{\"data\": [{\"wav\": \"x.wav\", \"labels\": \"zzz\"}]}".write(toFile: dir + "/d.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Dataset(jsonPath: dir + "/d.json", labels: labels, targetLength: 128)) {
            XCTAssertTrue(($0 as? SSASTError)?.message.contains("'zzz'") ?? false, "\($0)")
        }
        try "not json".write(toFile: dir + "/e.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Dataset(jsonPath: dir + "/e.json", labels: labels, targetLength: 128))
        try "a,b\n1,2\n".write(toFile: dir + "/bad.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelSet(csvPath: dir + "/bad.csv"))
        // Label count must match a fine-tuned head.
        var r = Recipe(); r.fstride = 10; r.tstride = 10; r.targetLength = 128
        var rng = SplitMix64(seed: 0)
        XCTAssertThrowsError(try ModelInit.load(path: Fixtures.model("tiny-patch-2block-train.pth"), labels: labels, recipe: r, rng: &rng)) {
            XCTAssertTrue(($0 as? SSASTError)?.message.contains("3 outputs") ?? false, "\($0)")
        }
    }
}
