import Convert
import Foundation
import Runtime
import TestSupport
import XCTest
import Train

/// docs/FORMAT.md documents every metadata key the writers emit: a key written by `ssast convert`
/// (fp32 and int8 with everything optional recorded) or `ssast train` that the page does not name fails.
final class FormatDocTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// A key is documented when the page names it in backquotes, or names its family: `prefix*`
    /// (then the rest of the key must appear on the page too) or `prefix<placeholder>` (any rest).
    static func documented(_ key: String, in doc: String) -> Bool {
        if doc.contains("`\(key)`") { return true }
        let quoted = doc.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        for q in quoted {
            if q.hasSuffix("*"), key.hasPrefix(q.dropLast()), doc.contains(String(key.dropFirst(q.count - 1))) { return true }
            if let lt = q.firstIndex(of: "<"), q.hasSuffix(">"), key.hasPrefix(q[..<lt]), key.count > q[..<lt].count { return true }
        }
        return false
    }

    func testEveryWrittenMetadataKeyIsInFormatDoc() throws {
        let doc = try String(contentsOfFile: Fixtures.projectRoot + "/docs/FORMAT.md", encoding: .utf8)
        let dir = Fixtures.temporaryDirectory("format-doc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var keys: [String: String] = [:]   // key -> the file that has it

        // convert: a fine-tuned checkpoint with labels and a threshold, fp32 and int8 with its activation width.
        for dtype in [WeightType.f32, .i8] {
            var o = ConvertOptions()
            o.dtype = dtype; o.fstride = 10; o.tstride = 10; o.targetLength = 512; o.mean = -8.2096; o.std = 6.1568
            o.labels = ["negative", "positive"]; o.threshold = 0.3
            if dtype == .i8 { o.int8Activations = 8 }
            let out = dir + "/convert-\(dtype).ssast"
            _ = try SSASTConverter.convert(input: Fixtures.model("tiny-patch-ciab-ft.pth"), output: out, options: o)
            for k in try WeightFile(path: out).metadataOrder { keys[k] = out }
        }
        // train: one epoch from a small weight file.
        let start = dir + "/start.ssast"
        try TrainStartTests.writeModel(start, labels: ["a", "b"], fbank: .ssast)
        let (csv, json) = try TrainStartTests.writeData(dir, mids: ["a", "b"], items: [("speech16k.wav", "a"), ("burst16k.wav", "b")])
        var r = Recipe()
        r.adopt(try ModelConfig(weightFile: WeightFile(path: start)))
        r.batchSize = 2; r.epochs = 1; r.augment = false
        var notes: [String] = []
        let trained = dir + "/trained.ssast"
        let t = try Trainer(options: TrainOptions(initPath: start, trainJSON: json, valJSON: nil, labelCSV: csv, output: trained, recipe: r),
                            notes: &notes)
        t.interactive = false
        t.log = { _ in }
        try t.run()
        let wf = try WeightFile(path: trained)
        for k in wf.metadataOrder { keys[k] = trained }

        for must in ["ssast.threshold", "ssast.int8_activations", "train.settings", "convert.source", "fbank.sample_rate"] {
            XCTAssertNotNil(keys[must], "the writers were expected to emit \(must); the test no longer covers it")
        }
        XCTAssertTrue(keys.keys.contains { $0.hasPrefix("quant.") })
        for (k, file) in keys.sorted(by: { $0.key < $1.key }) {
            XCTAssertTrue(Self.documented(k, in: doc), "\(file) has metadata key \(k), which docs/FORMAT.md does not mention")
        }
        // train.settings: each option=value names an option the page lists.
        for entry in try wf.strings("train.settings") {
            let option = String(entry.prefix { $0 != "=" })
            XCTAssertTrue(doc.contains("`\(option)`"), "train.settings has \(option), which docs/FORMAT.md does not list")
        }
        XCTAssertFalse(Self.documented("train.unknown", in: doc), "the check must be able to fail")
        XCTAssertFalse(Self.documented("fbank.no_such_field", in: doc))
        print("FormatDocTests: \(keys.count) metadata keys, all documented")
    }
}
