import Foundation
import TestSupport
import XCTest

/// `--int8-activations 8|12`, the width recorded by `convert --int8-activations`, and requests the
/// CPU or the runtime cannot honour: a clear message and exit status, never a signal.
final class Int8ActivationTests: XCTestCase {
    static let audio = Fixtures.audio("speech16k.wav")

    func logits(_ args: [String], environment: [String: String] = [:]) throws -> [Double] {
        let r = try CLITests.run(CLITests.binary, ["classify", "--jsonl", Self.audio] + args, environment: environment)
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return ((obj?["windows"] as? [[String: Any]])?.first?["logits"] as? [Double]) ?? []
    }

    func testWidthFromOptionAndWeightFile() throws {
        let plain = try CLITests.convert("tiny-patch-ciab-ft.pth", extra: ["--dtype", "int8"])
        let eight = try CLITests.convert("tiny-patch-ciab-ft.pth", extra: ["--dtype", "int8", "--int8-activations", "8"])
        let twelve = try CLITests.convert("tiny-patch-ciab-ft.pth", extra: ["--dtype", "int8", "--int8-activations", "12"])
        let l8 = try logits(["-m", plain, "--int8-activations", "8"]), l12 = try logits(["-m", plain, "--int8-activations", "12"])
        XCTAssertEqual(l8.count, 2)
        XCTAssertNotEqual(l8, l12, "8- and 12-bit activations gave the same logits")
        // The file's width is used, and the option overrides it.
        XCTAssertEqual(try logits(["-m", eight]), l8)
        XCTAssertEqual(try logits(["-m", twelve]), l12)
        XCTAssertEqual(try logits(["-m", eight, "--int8-activations", "12"]), l12)
        // Every family runs 8-bit activations (generic widens the bytes): the same integer sums, so
        // only the float parts (attention, LayerNorm, ...) separate it from the default family.
        let g8 = try logits(["-m", eight], environment: ["SSAST_ISA": "generic"])
        XCTAssertEqual(g8.count, 2)
        for (a, b) in zip(g8, l8) { XCTAssertEqual(a, b, accuracy: 0.05) }
        print("Int8ActivationTests: speech16k logits, 8-bit \(l8), 12-bit \(l12), 8-bit on generic \(g8)")
    }

    func testBadRequests() throws {
        let model = try CLITests.convert("tiny-patch-ciab-ft.pth", extra: ["--dtype", "int8"])
        for (command, value) in [("classify", "7"), ("embed", "16"), ("bench", "0")] {
            let r = try CLITests.ssast([command, "-m", model, "--int8-activations", value] + (command == "bench" ? [] : [Self.audio]))
            XCTAssertEqual(r.status, 64, "\(command): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("The value '\(value)' is invalid for '--int8-activations <bits>'. Please provide one of '8' and '12'."), r.stderr)
        }
        let out = CLITests.dir + "/refused.ssast"
        var r = try CLITests.ssast(["convert", Fixtures.model("tiny-patch-ciab-ft.pth"), "-o", out, "--fstride", "10", "--tstride", "10",
                                    "--target-length", "512", "--mean", "-8.2096", "--std", "6.1568", "--dtype", "int8", "--int8-activations", "9"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("The value '9' is invalid for '--int8-activations <bits>'. Please provide one of '8' and '12'."), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        r = try CLITests.ssast(["convert", Fixtures.model("tiny-patch-ciab-ft.pth"), "-o", out, "--fstride", "10", "--tstride", "10",
                                "--target-length", "512", "--mean", "-8.2096", "--std", "6.1568", "--int8-activations", "8"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("applies to --dtype int8 only"), r.stderr)
        // A kernel family this CPU lacks, asked for by name: refused before any kernel runs.
        for family in ["avxvnni", "avx512vnni", "dotprod"] {
            r = try CLITests.run(CLITests.binary, ["classify", "-m", model, Self.audio], environment: ["SSAST_ISA": family])
            if r.status == 0 { print("Int8ActivationTests: this CPU has \(family); its refusal is not tested here"); continue }
            XCTAssertEqual(r.status, 1, "SSAST_ISA=\(family): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("kernel ISA '\(family)' was requested (--isa or SSAST_ISA) but this CPU does not support it"), r.stderr)
        }
    }
}
