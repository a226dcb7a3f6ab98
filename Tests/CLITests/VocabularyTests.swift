import Foundation
import TestSupport
import XCTest

/// One vocabulary across commands: enumerated values listed and refused by name, --version, --shard,
/// helpful empty and missing-prerequisite results.
final class VocabularyTests: XCTestCase {
    static let models = Fixtures.projectRoot + "/models"

    func testVersionNamesReleaseWeightFormatAndCommit() throws {
        let r = try CLITests.ssast(["--version"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let re = try NSRegularExpression(pattern: #"^ssast \d+\.\d+\.\d+ \(weight format \d+, commit ([0-9a-f]{7,40}(-dirty)?|unknown)\)$"#)
        XCTAssertNotNil(re.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), line)
        // The weight format is the one the files carry: bytes 8..<12 of the default model.
        let header = try XCTUnwrap(FileManager.default.contents(atPath: Self.models + "/default.ssast")).prefix(12)
        let version = header.suffix(4).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertTrue(line.contains("weight format \(version),"), line)
    }

    /// An unknown value of an enumerated option is refused, naming the valid ones; completions offer them.
    func testEnumeratedOptionsListTheirValues() throws {
        let cases: [([String], [String])] = [
            (["convert", "x.pth", "-o", "y.ssast", "--dtype", "int4"], ["'fp32'", "'fp16'", "'int8'"]),
            (["convert", "x.pth", "-o", "y.ssast", "--head", "mean"], ["'avgtok'", "'cls'"]),
            (["convert", "x.pth", "-o", "y.ssast", "--activation", "relu"], ["'softmax'", "'sigmoid'"]),
            (["train", "--recipe", "imagenet"], ["ciab", "esc50", "speechcommands", "audioset"]),
            (["train", "--loss", "mse"], ["'ce'", "'bce'"]),
            (["train", "--metric", "f1"], ["'acc'", "'mAP'"]),
        ]
        for (args, values) in cases {
            let r = try CLITests.ssast(args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            for v in values { XCTAssertTrue(r.stderr.contains(v), "\(args.joined(separator: " ")): \(r.stderr)") }
        }
        // Old spellings still parse: --dtype f16 is fp16 (the conversion then fails on the missing file, not the value).
        let old = try CLITests.ssast(["convert", "no-such.pth", "-o", Fixtures.temporaryDirectory("vocab") + "/y.ssast", "--dtype", "f16"])
        XCTAssertFalse(old.stderr.contains("--dtype"), old.stderr)
        XCTAssertTrue(old.stderr.contains("no-such.pth"), old.stderr)

        let bash = try CLITests.ssast(["--generate-completion-script", "bash"])
        XCTAssertEqual(bash.status, 0, bash.stderr)
        // The line after each option's case label offers its values.
        let lines = bash.stdout.split(separator: "\n").map(String.init)
        for (option, values) in [("--dtype", ["fp32", "fp16", "int8"]), ("--recipe", ["ciab", "esc50", "speechcommands", "audioset"]),
                                 ("--activation", ["softmax", "sigmoid"])] {
            let i = try XCTUnwrap(lines.firstIndex { $0.contains("'\(option)')") }, "no completion case for \(option)")
            for v in values { XCTAssertTrue(lines[i + 1].contains("'\(v)'"), "\(option): \(lines[i + 1])") }
        }
    }

    /// Every option that takes one of a fixed set of values lists them, each with its meaning, in the man
    /// page (`ssast --generate-manual`, which scripts/install installs) and in --help, and a wrong value is
    /// refused with the valid ones named.
    func testEnumeratedOptionsListTheirValuesForTheManPage() throws {
        let man = try CLITests.ssast(["--generate-manual"])
        XCTAssertEqual(man.status, 0, man.stderr)
        // "command --option" -> its values and their descriptions, read back from the roff: a `.SS ssast
        // COMMAND` per command, `.TP` + `\fB\-\-OPTION\fR ...` per option, then `.RS` (`.TP`, `.B VALUE`,
        // description)... `.RE` for the values.
        var values: [String: [String]] = [:], described: [String: [String: String]] = [:]
        var command = "", option: String? = nil
        let lines = man.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (i, line) in lines.enumerated() {
            if line.hasPrefix(".SS ssast ") { command = String(line.dropFirst(".SS ssast ".count)); option = nil }
            if line == ".TP", i + 1 < lines.count, let r = lines[i + 1].range(of: #"\\fB\\-\\-([a-z0-9\\-]+)\\fR"#, options: .regularExpression) {
                option = "\(command) --" + lines[i + 1][r].dropFirst(7).dropLast(3).replacingOccurrences(of: "\\-", with: "-")
            }
            if line.hasPrefix(".B "), let o = option, i + 1 < lines.count {
                let v = String(line.dropFirst(3)).replacingOccurrences(of: "\\-", with: "-")
                values[o, default: []].append(v)
                described[o, default: [:]][v] = lines[i + 1]
            }
        }
        let expected: [(String, [String])] = [
            ("classify --aggregate", ["mean", "max"]), ("embed --aggregate", ["mean", "max"]),
            ("classify --int8-activations", ["8", "12"]), ("embed --int8-activations", ["8", "12"]),
            ("listen --int8-activations", ["8", "12"]), ("bench --int8-activations", ["8", "12"]),
            ("convert --int8-activations", ["8", "12"]), ("convert --dtype", ["fp32", "fp16", "int8"]),
            ("convert --head", ["avgtok", "cls"]), ("convert --activation", ["softmax", "sigmoid"]),
            ("classify --raw-format", ["s16le", "s32le", "s24le", "f32le", "u8"]), ("listen --raw-format", ["s16le", "s32le", "s24le", "f32le", "u8"]),
            ("train --recipe", ["ciab", "esc50", "speechcommands", "audioset"]), ("train --loss", ["ce", "bce"]),
            ("train --metric", ["acc", "mAP"]), ("train --head", ["avgtok", "cls"]),
            ("train --warmup", ["true", "false"]), ("train --noise", ["true", "false"]),
            ("eval --loss", ["ce", "bce"]), ("eval --head", ["avgtok", "cls"]),
        ]
        for (option, list) in expected { XCTAssertEqual(values[option], list, option) }
        let help = try CLITests.ssast(["embed", "--help"])
        XCTAssertTrue(help.stdout.contains("mean") && help.stdout.contains("the highest of any window"), help.stdout)
        // Each value has its meaning beside it.
        for (option, list) in expected {
            XCTAssertEqual(described[option].map { Set($0.keys) }, Set(list), option)
            XCTAssertFalse(described[option]?.values.contains { $0.isEmpty || $0.hasPrefix(".") } ?? true, option)
        }
        XCTAssertEqual(described["classify --aggregate"]?["max"], "the highest of any window")
        let audio = Self.models + "/examples/cough-1.wav"
        for (args, message) in [(["embed", audio, "--aggregate", "median"], "Please provide one of 'mean' and 'max'"),
                                (["classify", audio, "--int8-activations", "16"], "Please provide one of '8' and '12'"),
                                (["train", "--warmup", "yes"], "Please provide one of 'true' and 'false'")] {
            let r = try CLITests.ssast(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        // Old spellings still parse: True/FALSE for the switches.
        let v = try CLITests.ssast(["train", "--warmup", "FALSE", "--noise", "True"])
        XCTAssertFalse(v.stderr.contains("is invalid for"), v.stderr)
    }

    /// --threads means the same and defaults the same in every command that computes.
    func testThreadsOptionIsOneOptionEverywhere() throws {
        let audio = Self.models + "/examples/cough-1.wav"
        for (cmd, args) in [("classify", [audio]), ("embed", [audio]), ("bench", []), ("listen", []), ("train", []), ("eval", [])] {
            let h = try CLITests.ssast([cmd, "--help"])
            let help = h.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
            XCTAssertTrue(help.contains("--threads <n>"), "\(cmd): \(h.stdout)")
            XCTAssertTrue(help.contains("default: the CPUs online, at most 8"), "\(cmd): \(help)")
            let bad = try CLITests.ssast([cmd] + args + ["--threads", "0"])
            XCTAssertNotEqual(bad.status, 0)
            XCTAssertTrue(bad.stderr.contains("--threads must be between 1 and 256 (got 0)"), "\(cmd): \(bad.stderr)")
        }
    }

    /// --shard I/N: shards are disjoint, cover every input, follow FNV-1a 64 of the path, and stay the same
    /// from run to run (no per-process hash seed).
    func testShardSplitsInputsStablyByPathHash() throws {
        let subset = Self.models + "/eval-subset"
        let all = try CLITests.ssast(["classify", "--jsonl", "--model", Self.models + "/default.ssast", subset])
        XCTAssertEqual(all.status, 0, all.stderr)
        func files(_ out: String) throws -> [String] {
            try out.split(separator: "\n").map { try XCTUnwrap((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["file"] as? String) }
        }
        let everything = try files(all.stdout)
        XCTAssertEqual(everything.count, 40)
        func fnv1a64(_ s: String) -> UInt64 {
            s.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        }
        var union: [String] = []
        for i in 0..<3 {
            let r = try CLITests.ssast(["classify", "--jsonl", "--shard", "\(i)/3", "--model", Self.models + "/default.ssast", subset])
            XCTAssertEqual(r.status, 0, r.stderr)
            let mine = try files(r.stdout)
            XCTAssertFalse(mine.isEmpty, "shard \(i)/3 of 40 files is empty")
            XCTAssertEqual(mine, everything.filter { fnv1a64($0) % 3 == UInt64(i) }, "shard \(i)/3")
            union += mine
            let again = try CLITests.ssast(["classify", "--jsonl", "--shard", "\(i)/3", "--model", Self.models + "/default.ssast", subset])
            XCTAssertEqual(try files(again.stdout), mine, "shard \(i)/3 differs between runs")
        }
        XCTAssertEqual(union.sorted(), everything.sorted())
        for bad in ["3/3", "-1/2", "1", "a/b", "0/0"] {
            let r = try CLITests.ssast(["classify", "--shard=\(bad)", subset])
            XCTAssertNotEqual(r.status, 0, bad)
            XCTAssertTrue(r.stderr.contains("--shard must be I/N with 0 <= I < N"), "\(bad): \(r.stderr)")
        }
    }

    /// `bench --onnx` without ONNX Runtime names the install command instead of showing a traceback.
    func testBenchNamesMissingONNXRuntime() throws {
        let dir = Fixtures.temporaryDirectory("vocab")
        let script = dir + "/ort_time.py"
        try "import onnxruntime\n".write(toFile: script, atomically: true, encoding: .utf8)
        // A Python without onnxruntime: a stand-in interpreter that fails the way CPython does.
        let python = dir + "/python-without-ort"
        try "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'onnxruntime'\" >&2\nexit 1\n"
            .write(toFile: python, atomically: true, encoding: .utf8)
        chmod(python, 0o755)
        let r = try CLITests.ssast(["bench", "--reps", "1", "--rounds", "1", "--threads", "1", "--onnx", "x.onnx", "--ort-script", script, "--python", python])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("pip install onnxruntime"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Traceback"), r.stderr)
        let none = try CLITests.ssast(["bench", "--reps", "1", "--rounds", "1", "--threads", "1", "--onnx", "x.onnx", "--ort-script", script, "--python", "no-such-python-xyz"])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains("no-such-python-xyz was not found: apt-get install python3"), none.stderr)
    }

    /// `ssast devices` with nothing to list says what to check.
    func testDevicesExplainsAnEmptyList() throws {
        let r = try CLITests.ssast(["devices"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("ALSA lib "), "ALSA's own lines go through ours: \(r.stderr)")
        guard r.stdout.contains("(none)") else { return }  // a machine with sound cards lists them
        XCTAssertTrue(r.stdout.contains("arecord -l") || r.stdout.contains("audio group") || r.stdout.contains("no /dev/snd")
                      || r.stdout.contains("There is no /dev/snd"), r.stdout)
        XCTAssertTrue(r.stdout.contains("plughw:"), r.stdout)
    }
}
