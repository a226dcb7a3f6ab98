import Foundation
import TestSupport
import XCTest

/// The committed default model (models/default.ssast) against what its model card promises:
/// the accuracy on the committed evaluation subset, and the labels of the example recordings.
final class DefaultModelTests: XCTestCase {
    static let models = Fixtures.projectRoot + "/models"
    static let model = models + "/default.ssast"
    static let subset = models + "/eval-subset/eval.json"

    /// The card's machine-checked line: "eval-subset check: 30/32 correct, tolerance ±1".
    func cardClaim() throws -> (correct: Int, total: Int, tolerance: Int)? {
        let card = try String(contentsOfFile: Self.models + "/MODEL_CARD.md", encoding: .utf8)
        let re = try NSRegularExpression(pattern: #"eval-subset check: (\d+)/(\d+) correct, tolerance ±(\d+)"#)
        guard let m = re.firstMatch(in: card, range: NSRange(card.startIndex..., in: card)) else { return nil }
        func int(_ i: Int) -> Int { Int(card[Range(m.range(at: i), in: card)!])! }
        return (int(1), int(2), int(3))
    }

    /// Expected display name per file name in the subset datafile (labels are mids; the CSV maps them).
    func subsetTargets() throws -> [String: String] {
        let csv = try String(contentsOfFile: Self.models + "/labels.csv", encoding: .utf8)
        var name: [String: String] = [:]
        for line in csv.split(whereSeparator: \.isNewline).dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            if f.count >= 3 { name[f[1]] = f[2] }
        }
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.subset))) as! [String: Any]
        var targets: [String: String] = [:]
        for e in obj["data"] as! [[String: String]] {
            let file = (e["wav"]! as NSString).lastPathComponent
            targets[file] = try XCTUnwrap(name[e["labels"]!], "label \(e["labels"]!) not in labels.csv")
        }
        return targets
    }

    func testRuntimeAccuracyOnEvalSubsetMatchesModelCard() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.model), "models/default.ssast is missing")
        let claim = try XCTUnwrap(try cardClaim(), "MODEL_CARD.md has no 'eval-subset check: N/M correct, tolerance ±K' line")
        let targets = try subsetTargets()
        XCTAssertEqual(targets.count, claim.total, "the subset datafile and the card disagree on the clip count")

        // The product path: `ssast classify` (int8 runtime kernels) on the datafile.
        let r = try CLITests.ssast(["classify", "--jsonl", "--model", Self.model, Self.subset])
        XCTAssertEqual(r.status, 0, r.stderr)
        var correct = 0, seen = 0
        for line in r.stdout.split(separator: "\n") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let file = ((obj["file"] as! String) as NSString).lastPathComponent
            let target = try XCTUnwrap(targets[file], "unexpected file \(file)")
            seen += 1
            if obj["label"] as? String == target { correct += 1 }
        }
        XCTAssertEqual(seen, claim.total)
        XCTAssertLessThanOrEqual(abs(correct - claim.correct), claim.tolerance,
                                 "classify: \(correct)/\(seen) correct; the model card says \(claim.correct)/\(claim.total) ± \(claim.tolerance)")

        // The evaluation path (`ssast eval`, the trainer's forward pass on the dequantised weights) agrees too.
        let e = try CLITests.ssast(["eval", "--model", Self.model, "--data", Self.subset, "--labels", Self.models + "/labels.csv"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let acc = try XCTUnwrap(e.stdout.range(of: #"acc ([0-9.]+)"#, options: .regularExpression).map {
            Double(e.stdout[$0].dropFirst(4))! }, e.stdout)
        XCTAssertLessThanOrEqual(abs(acc * Double(claim.total) - Double(claim.correct)), Double(claim.tolerance) + 1e-6,
                                 "eval: accuracy \(acc); the model card says \(claim.correct)/\(claim.total) ± \(claim.tolerance)")
    }

    /// models/examples/<label>-<n>.wav must be classified as <label>.
    func testExamplesAreLabelledAsTheirFileNamesSay() throws {
        let dir = Self.models + "/examples"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".wav") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 4)
        let r = try CLITests.ssast(["classify", "--jsonl", "--model", Self.model, dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        var labelled: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            labelled[((obj["file"] as! String) as NSString).lastPathComponent] = obj["label"] as? String
        }
        XCTAssertEqual(Set(labelled.keys), Set(files))
        var classes = Set<String>()
        for f in files {
            let expected = String(f.prefix(while: { $0 != "-" }))
            classes.insert(expected)
            XCTAssertEqual(labelled[f], expected, f)
        }
        XCTAssertEqual(classes, ["speech", "cough", "breathing", "silence"], "one example or more per class")
    }

    /// `eval --labels` with the model's labels in another order scores the same: each label keeps its
    /// AUC and AP, the predictions are the same numbers, and a note says the model's order is used.
    func testEvalWithLabelsListedInAnotherOrder() throws {
        let dir = Fixtures.temporaryDirectory("eval-order")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reversed = dir + "/reversed.csv"
        try "index,mid,display_name\n0,silence,silence\n1,breathing,breathing\n2,cough,cough\n3,speech,speech\n"
            .write(toFile: reversed, atomically: true, encoding: .utf8)
        var outputs: [(stdout: String, predictions: String)] = []
        for (tag, csv) in [("ordered", Self.models + "/labels.csv"), ("reversed", reversed)] {
            let p = dir + "/\(tag).csv"
            let e = try CLITests.ssast(["eval", "--model", Self.model, "--data", Self.subset, "--labels", csv, "--predictions", p])
            XCTAssertEqual(e.status, 0, e.stderr)
            XCTAssertEqual(e.stderr.contains("lists the model's labels in another order"), tag == "reversed", e.stderr)
            outputs.append((e.stdout.split(separator: "\n").filter { !$0.hasPrefix("wrote") }.joined(separator: "\n"),
                            try String(contentsOfFile: p, encoding: .utf8)))
        }
        XCTAssertEqual(outputs[0].stdout, outputs[1].stdout)
        XCTAssertEqual(outputs[0].predictions, outputs[1].predictions)
        XCTAssertTrue(outputs[0].stdout.contains("  cough: AUC"), outputs[0].stdout)
        // Labels the model does not have: refused, naming both lists.
        let other = dir + "/other.csv"
        try "index,mid,display_name\n0,speech,speech\n1,cough,cough\n2,breathing,breathing\n3,wheeze,wheeze\n"
            .write(toFile: other, atomically: true, encoding: .utf8)
        let bad = try CLITests.ssast(["eval", "--model", Self.model, "--data", Self.subset, "--labels", other])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("speech, cough, breathing, silence") && bad.stderr.contains("wheeze"), bad.stderr)
    }
}
