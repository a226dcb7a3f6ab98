import Convert
import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// `ssast train` checks everything it can before the first epoch, refuses a --resume with other
/// settings, and explains itself: settings at the start, one epoch table, metrics files, the report.
final class TrainChecksTests: XCTestCase {
    var dir = ""
    /// Removed when the class is done, not after each test: the process remembers the inodes it read as
    /// inputs, and a deleted file's inode given to the next test's output would be refused as "the input".
    nonisolated(unsafe) static var dirs: [String] = []
    override func setUpWithError() throws {
        try Fixtures.require()
        dir = Fixtures.temporaryDirectory("train-checks")
        Self.dirs.append(dir)
    }
    override class func tearDown() { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }

    /// A two-label run on a small scratch-built weight file (fast: one block of width 48).
    func options(items: [(String, String)] = [("speech16k.wav", "a"), ("burst16k.wav", "b"), ("long16k.wav", "a"), ("short16k.wav", "b")],
                 val: Bool = true) throws -> TrainOptions {
        let start = dir + "/start.ssast"
        if !FileManager.default.fileExists(atPath: start) {
            try TrainStartTests.writeModel(start, labels: ["a", "b"], fbank: .ssast)
        }
        let (csv, json) = try TrainStartTests.writeData(dir, mids: ["a", "b"], items: items)
        var r = Recipe()
        r.adopt(try ModelConfig(weightFile: WeightFile(path: start)))
        r.batchSize = 2; r.epochs = 2; r.augment = false; r.lr = 1e-3
        return TrainOptions(initPath: start, trainJSON: json, valJSON: val ? json : nil, labelCSV: csv, output: dir + "/m.ssast", recipe: r)
    }

    func refuses(_ o: TrainOptions, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        var notes: [String] = []
        XCTAssertThrowsError(try Trainer(options: o, notes: &notes), file: file, line: line) { e in
            let m = (e as? SSASTError)?.message ?? "\(e)"
            for part in expected { XCTAssertTrue(m.contains(part), "'\(part)' not in: \(m)", file: file, line: line) }
        }
    }

    func testEverythingIsCheckedBeforeTheFirstEpoch() throws {
        // A missing output folder, or one that cannot be written.
        var o = try options()
        o.output = dir + "/no/such/folder/m.ssast"
        refuses(o, ["-o", "does not exist"])
        o = try options()
        o.exportPth = dir + "/missing/m.pth"
        refuses(o, ["--export-pth", "does not exist"])
        if getuid() != 0 {   // root writes anywhere
            let ro = dir + "/ro"
            try FileManager.default.createDirectory(atPath: ro, withIntermediateDirectories: true)
            chmod(ro, 0o500)
            o = try options(); o.output = ro + "/m.ssast"
            refuses(o, ["not writable"])
        }
        // A missing validation datafile.
        o = try options(); o.valJSON = dir + "/nope.json"
        refuses(o, ["nope.json"])
        // A datafile entry that cannot be decoded is named by index and path, in the training or validation file.
        let bad = dir + "/broken.wav"
        try Data("RIFF not really".utf8).write(to: URL(fileURLWithPath: bad))
        o = try options(items: [("speech16k.wav", "a"), ("burst16k.wav", "b"), ("../../" + bad, "a")])
        let (csv, json) = try TrainStartTests.writeData(dir, mids: ["a", "b"], items: [("speech16k.wav", "a"), ("burst16k.wav", "b")])
        try "{\"data\": [{\"wav\": \"\(Fixtures.audio("speech16k.wav"))\", \"labels\": \"a\"}, {\"wav\": \"\(bad)\", \"labels\": \"b\"}]}"
            .write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        o = try options(); o.trainJSON = dir + "/bad.json"
        refuses(o, ["bad.json", "entry 1", "broken.wav"])
        o = try options(); o.valJSON = dir + "/bad.json"
        refuses(o, ["bad.json", "entry 1", "broken.wav"])
        _ = (csv, json)
        // A label CSV row without display_name, and a header without the column.
        try "index,mid,display_name\n0,a,A\n1,b,\n".write(toFile: dir + "/nodisplay.csv", atomically: true, encoding: .utf8)
        o = try options(); o.labelCSV = dir + "/nodisplay.csv"
        refuses(o, ["nodisplay.csv", "line 3", "display_name"])
        try "index,mid\n0,a\n1,b\n".write(toFile: dir + "/twocol.csv", atomically: true, encoding: .utf8)
        o = try options(); o.labelCSV = dir + "/twocol.csv"
        refuses(o, ["twocol.csv", "display_name"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.ssast"), "nothing was trained")
    }

    func testResumeRefusesOtherSettings() throws {
        let o = try options()
        var notes: [String] = []
        let t = try Trainer(options: o, notes: &notes)
        t.interactive = false; t.log = { _ in }
        try t.run()
        func resumed(_ change: (inout TrainOptions) -> Void) -> TrainOptions { var x = o; x.resume = true; change(&x); return x }
        refuses(resumed { $0.recipe.batchSize = 3 }, ["--resume", "--batch-size was 2, now 3"])
        refuses(resumed { $0.recipe.lr = 2e-3 }, ["--lr was 0.001, now 0.002"])
        refuses(resumed { $0.recipe.seed = 7 }, ["--seed was 0, now 7"])
        refuses(resumed { $0.newHead = true }, ["--new-head was false, now true"])
        // Another --init (a copy of the same file: the path is what the run recorded).
        try FileManager.default.copyItem(atPath: o.initPath, toPath: dir + "/other.ssast")
        refuses(resumed { $0.initPath = self.dir + "/other.ssast" }, ["--init was", "other.ssast"])
        // Other labels: same mids, other display names.
        try "index,mid,display_name\n0,a,Alpha\n1,b,Beta\n".write(toFile: dir + "/renamed.csv", atomically: true, encoding: .utf8)
        refuses(resumed { $0.labelCSV = self.dir + "/renamed.csv" }, ["--labels was a=A;b=B, now a=Alpha;b=Beta"])
        // More epochs is what --resume is for.
        var more = resumed { $0.recipe.epochs = 3 }
        more.resume = true
        let t2 = try Trainer(options: more, notes: &notes)
        t2.interactive = false; t2.log = { _ in }
        try t2.run()
        XCTAssertEqual(t2.history.map(\.epoch), [1, 2, 3])
    }

    func testRunExplainsItself() throws {
        let o = try options()
        var notes: [String] = []
        let t = try Trainer(options: o, notes: &notes)
        var logged: [String] = []
        t.interactive = false; t.log = { logged.append($0) }
        try t.run()
        // Settings first, grouped; then the table header and one row per epoch, once.
        let settings = logged.filter { $0.hasPrefix("settings: ") }
        XCTAssertEqual(settings.map { String($0.dropFirst(10).prefix { $0 != ":" }) },
                       ["recipe", "geometry", "normalisation", "schedule", "augmentation"])
        XCTAssertTrue(settings[1].contains("stride 16x16, target length 96"), settings[1])
        XCTAssertTrue(settings[2].contains("-5.5") && settings[2].contains("3.25"), settings[2])
        XCTAssertTrue(settings[3].contains("2 epochs, batch 2, lr 0.001"), settings[3])
        XCTAssertEqual(logged.filter { $0.hasPrefix("epoch  train loss") }.count, 1, "\(logged)")
        XCTAssertEqual(logged.filter { $0.hasPrefix("    1  ") }.count, 1, "\(logged)")
        XCTAssertEqual(logged.filter { $0.hasPrefix("    2  ") }.count, 1, "\(logged)")
        XCTAssertTrue(logged.last?.hasPrefix("kept the model of epoch \(t.bestEpoch!)") ?? false, "\(logged)")

        // The settings are in the weight file's header.
        let wf = try WeightFile(path: o.output)
        let stored = try wf.strings("train.settings")
        XCTAssertTrue(stored.contains("batch-size=2") && stored.contains("lr=0.001") && stored.contains("seed=0"), "\(stored)")

        // metrics.csv and metrics.json: one row per epoch, the same numbers as the history.
        let csv = try String(contentsOfFile: o.output + ".metrics.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(csv.count, 3)
        let cols = csv[0]
        XCTAssertEqual(Array(cols.prefix(7)), ["epoch", "kept", "train_loss", "val_loss", "accuracy", "mAUC", "mAP"])
        for (i, h) in t.history.enumerated() {
            let row = Dictionary(uniqueKeysWithValues: zip(cols, csv[i + 1]))
            XCTAssertEqual(Int(row["epoch"]!), h.epoch)
            XCTAssertEqual(Int(row["kept"]!), h.epoch == t.bestEpoch ? 1 : 0)
            XCTAssertEqual(Float(row["train_loss"]!), h.trainLoss)
            XCTAssertEqual(Double(row["val_loss"]!), Double(h.val!.loss))
            XCTAssertEqual(Double(row["mAUC"]!), h.val!.mAUC)
            XCTAssertEqual(Double(row["auc_of_probability"]!), h.val!.binary!.aucOfProbability)
        }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: o.output + ".metrics.json"))) as! [String: Any]
        XCTAssertEqual(json["kept_epoch"] as? Int, t.bestEpoch)
        XCTAssertEqual((json["epochs"] as! [[String: Any]]).count, 2)
        XCTAssertEqual((json["settings"] as! [String: String])["batch-size"], "2")

        // The report: loss, validation metrics (4 series for two labels) and ROC panels; the kept epoch
        // shaded and labelled; the ROC's AUC is the table's AUC(p) of the kept epoch.
        let svg = try String(contentsOfFile: o.output + ".curves.svg", encoding: .utf8)
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2 + 4 + 2, "losses, metrics, diagonal + ROC")
        XCTAssertEqual(svg.components(separatedBy: "kept: epoch \(t.bestEpoch!)").count - 1, 2, "both per-epoch panels")
        XCTAssertEqual(svg.components(separatedBy: "fill-opacity=\"0.18\"").count - 1, 2)
        let kept = t.history[t.bestEpoch! - 1].val!.binary!
        XCTAssertTrue(svg.contains(String(format: "ROC, kept epoch %d (AUC(p) %.4f)", t.bestEpoch!, kept.aucOfProbability)), svg)
        XCTAssertEqual(kept.aucOfProbability, Metrics.rocAUC(scores: t.bestROC!.scores, positive: t.bestROC!.positive))
    }

    /// Equal accuracy: the lower validation loss wins, then the higher mAUC; otherwise the first stays.
    func testTiesGoToLowerValidationLossThenHigherMAUC() {
        func stats(_ loss: Float, _ auc: Double) -> EvalStats { EvalStats(loss: loss, accuracy: 0.5, auc: [auc, auc], ap: [0.5, 0.5]) }
        let kept = stats(2.13, 0.6)
        XCTAssertTrue(Trainer.beats(stats(0.72, 0.6), metric: 0.5, kept: kept, keptMetric: 0.5))
        XCTAssertFalse(Trainer.beats(stats(2.5, 0.9), metric: 0.5, kept: kept, keptMetric: 0.5))
        XCTAssertTrue(Trainer.beats(stats(2.13, 0.7), metric: 0.5, kept: kept, keptMetric: 0.5))
        XCTAssertFalse(Trainer.beats(stats(2.13, 0.6), metric: 0.5, kept: kept, keptMetric: 0.5), "a full tie keeps the earlier epoch")
        XCTAssertTrue(Trainer.beats(stats(9, 0.1), metric: 0.75, kept: kept, keptMetric: 0.5), "the metric comes first")
        XCTAssertTrue(Trainer.beats(stats(9, 0.1), metric: .nan, kept: nil, keptMetric: -.infinity), "the first epoch is always kept")
    }
}
