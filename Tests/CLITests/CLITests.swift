import Foundation
import Runtime
import TestSupport
import XCTest

/// The built `ssast` binary, end to end: what a user runs and sees.
final class CLITests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// `swift test` builds the executable next to the test bundle.
    static let binary: String = {
        // SSAST_BINARY: run these tests against another build (e.g. one from before a fix).
        if let b = ProcessInfo.processInfo.environment["SSAST_BINARY"], !b.isEmpty { return b }
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("ssast").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return dir.appendingPathComponent("ssast").path
    }()
    static let dir = Fixtures.temporaryDirectory("cli")

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    @discardableResult
    static func ssast(_ args: [String]) throws -> Result { try run(binary, args) }

    /// Runs a program and collects its output. A process killed by a signal gets the negated signal
    /// number as its status, so it can never pass for a normal exit code.
    static func run(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        // Read both pipes concurrently so neither can fill up and block the child.
        var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        return Result(status: p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus,
                      stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Converts a fine-tuned fixture with the manifest's settings through the CLI.
    static func convert(_ model: String, extra: [String] = []) throws -> String {
        let m = (Fixtures.manifest["models"] as! [String: [String: Any]])[model]!
        let out = dir + "/\(model)\(extra.joined()).ssast"
        if FileManager.default.fileExists(atPath: out) { return out }
        let r = try ssast(["convert", Fixtures.model(model), "-o", out,
                           "--fstride", "\(m["fstride"]!)", "--tstride", "\(m["tstride"]!)", "--target-length", "\(m["input_tdim"]!)",
                           "--mean", "\(m["dataset_mean"]!)", "--std", "\(m["dataset_std"]!)", "--labels", "Negative,Positive"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    /// A mono or interleaved 32-bit float WAV, written by hand (any values, NaN included).
    static func floatWAV(_ path: String, _ samples: [Float], rate: Int, channels: Int = 1) throws {
        var d = ScreeningCLITests.wavHeader(format: 3, bits: 32, channels: channels, rate: rate, dataBytes: 4 * samples.count)
        samples.withUnsafeBytes { d.append(contentsOf: $0) }
        try d.write(to: URL(fileURLWithPath: path))
    }

    func testClassifyJSONLMatchesFixtureLogits() throws {
        let audioInfo = Fixtures.manifest["audio"] as! [String: [String: Any]]
        for modelName in ["tiny-patch-ciab-ft.pth", "tiny-frame-ciab-ft.pth"] {
            for head in ["avgtok", "cls"] {
                let model = try Self.convert(modelName, extra: ["--head", head])
                let cases = (Fixtures.manifest["cases"] as! [[String: String]]).filter { $0["model"] == modelName }
                let r = try Self.ssast(["classify", "--jsonl", "--first-window", "--model", model] + cases.map { Fixtures.audio($0["audio"]!) })
                XCTAssertEqual(r.status, 0, r.stderr)
                let lines = r.stdout.split(separator: "\n")
                XCTAssertEqual(lines.count, cases.count)
                for (c, line) in zip(cases, lines) {
                    let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                    XCTAssertEqual(obj["file"] as? String, Fixtures.audio(c["audio"]!))
                    let windows = obj["windows"] as! [[String: Any]]
                    XCTAssertEqual(windows.count, 1)
                    let logits = (windows[0]["logits"] as! [Double]).map(Float.init)
                    let probs = (obj["probabilities"] as! [Double]).map(Float.init)
                    let expected = try Fixtures.npy(c["logits_\(head)"]!).data
                    let resampled = (audioInfo[c["audio"]!]!["sample_rate"] as! Int) != 16000
                    let d = maxAbsDiff(logits, expected)
                    XCTAssertLessThan(d, Bounds.logits, "\(modelName) \(head) \(c["audio"]!)\(resampled ? " (resampled)" : "")")
                    // softmax of the logits, and the label is the argmax
                    let e = logits.map { exp($0 - logits.max()!) }
                    XCTAssertLessThan(maxAbsDiff(probs, e.map { $0 / e.reduce(0, +) }), 1e-6)
                    XCTAssertEqual(obj["label"] as? String, expected[0] >= expected[1] ? "Negative" : "Positive")
                }
            }
        }
    }

    func testBadInputsAreReportedAndOthersStillScored() throws {
        let model = try Self.convert("tiny-patch-ciab-ft.pth")
        let folder = Self.dir + "/mixed"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.audio("speech16k.wav"), toPath: folder + "/a.wav")
        try "not audio".write(toFile: folder + "/notes.txt", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: folder + "/empty.wav", contents: Data())
        // A float WAV whose sample 1000 is NaN: libsndfile opens it, the reader refuses it with the position.
        var nan = [Float](repeating: 0.01, count: 8000)
        nan[1000] = .nan
        try Self.floatWAV(folder + "/nan.wav", nan, rate: 16000)
        let r = try Self.ssast(["classify", "--jsonl", "--model", model, folder, Self.dir + "/missing.wav", Fixtures.audio("burst16k.wav")])
        XCTAssertEqual(r.status, 1)
        let objs = try r.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(objs.filter { $0["windows"] != nil }.count, 2, r.stdout)    // a.wav and burst16k.wav
        XCTAssertEqual(objs.filter { $0["error"] != nil }.count, 2, r.stdout)      // missing, nan.wav
        XCTAssertTrue(r.stderr.contains("missing.wav") && r.stderr.contains("no such file"), r.stderr)
        XCTAssertTrue(r.stderr.contains("nan.wav: sample 1000 (0.063 s, channel 0) is nan"), r.stderr)
        // Files libsndfile does not recognise are skipped, not failures.
        XCTAssertTrue(r.stderr.contains("skipped \(folder)/notes.txt") && r.stderr.contains("skipped \(folder)/empty.wav"), r.stderr)
        XCTAssertTrue(r.stderr.contains("2 input(s) failed"), r.stderr)
    }

    func testCorruptModelFilesAreRefused() throws {
        let model = try Self.convert("tiny-patch-ciab-ft.pth")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        let flipped = Self.dir + "/flipped.ssast", truncated = Self.dir + "/truncated.ssast"
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: flipped))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: truncated))
        for (file, message) in [(flipped, "checksum mismatch"), (truncated, "beyond the end of the file"),
                                (Fixtures.model("tiny-patch-ciab-ft.pth"), "convert it first")] {
            let r = try Self.ssast(["classify", "--model", file, Fixtures.audio("speech16k.wav")])
            XCTAssertEqual(r.status, 1)
            XCTAssertTrue(r.stderr.contains(file) && r.stderr.contains(message), r.stderr)
        }
    }

    func testConvertRefusesBadRequestsWithoutLeavingOutput() throws {
        let out = Self.dir + "/never.ssast"
        var r = try Self.ssast(["convert", Fixtures.model("tiny-patch-ciab-ft.pth"), "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("--fstride"), r.stderr)
        r = try Self.ssast(["convert", Fixtures.model("tiny-patch-pretrain.pth"), "-o", "/proc/forbidden/x.ssast"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("/proc/forbidden/x.ssast"), r.stderr)
        r = try Self.ssast(["convert", Fixtures.audio("speech16k.wav"), "-o", out])
        XCTAssertEqual(r.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: Self.dir).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [])
    }

    func testInspectAndEmbed() throws {
        let backbone = Self.dir + "/backbone.ssast"
        var r = try Self.ssast(["convert", Fixtures.model("tiny-patch-pretrain.pth"), "-o", backbone, "--fstride", "10", "--tstride", "10", "--target-length", "512", "--dtype", "int8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("pos_embed adapted from the pretraining grid 8x64 to 12x50"), r.stdout)
        r = try Self.ssast(["inspect", backbone])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("backbone only") && r.stdout.contains("int8") && r.stdout.contains("err "), r.stdout)
        r = try Self.ssast(["inspect", Fixtures.model("tiny-patch-pretrain.pth")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("166 tensors"), r.stdout)
        r = try Self.ssast(["embed", "--jsonl", "--model", backbone, Fixtures.audio("speech16k.wav")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let e = obj["embedding"] as! [Double]
        XCTAssertEqual(e.count, 192)
        XCTAssertTrue(e.allSatisfy { $0.isFinite } && e.contains { $0 != 0 })
        r = try Self.ssast(["classify", "--model", backbone, Fixtures.audio("speech16k.wav")])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("ssast embed"), r.stderr)
    }

    /// `ssast listen --input FILE --jsonl` (the live pipeline fed from a file) gives the same window logits
    /// as offline `ssast classify --window-hop` on the same samples, within 1e-4.
    func testListenFromFileMatchesOfflineWindows() throws {
        let model = try Self.convert("tiny-patch-ciab-ft.pth")
        for audio in ["long16k.wav", "stereo44k.wav"] {
            let live = try Self.ssast(["listen", "--model", model, "--input", Fixtures.audio(audio), "--hop", "1", "--jsonl"])
            XCTAssertEqual(live.status, 0, live.stderr)
            let windows = try live.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            let offline = try Self.ssast(["classify", "--model", model, Fixtures.audio(audio), "--window-hop", "1", "--jsonl"])
            XCTAssertEqual(offline.status, 0, offline.stderr)
            let obj = try JSONSerialization.jsonObject(with: Data(offline.stdout.utf8)) as! [String: Any]
            let offWindows = obj["windows"] as! [[String: Any]]
            XCTAssertEqual(windows.count, offWindows.count, audio)
            for (w, o) in zip(windows, offWindows) {
                XCTAssertEqual(w["start_s"] as! Double, o["start_s"] as! Double, accuracy: 1e-9)
                for key in ["end_s", "rms", "xruns"] { XCTAssertNotNil(w[key], key) }
                let d = maxAbsDiff((w["logits"] as! [Double]).map(Float.init), (o["logits"] as! [Double]).map(Float.init))
                XCTAssertLessThan(d, 1e-4, "\(audio) window at \(w["start_s"]!)")
            }
        }
        let r = try Self.ssast(["listen", "--model", model, "--device", "no-such-device-xyz", "--duration", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("no-such-device-xyz"), r.stderr)
    }

    /// `listen` with no sound card (no /dev/snd) and the default device: exit 1 with what is wrong and
    /// why, and none of ALSA's own complaints about each configured PCM.
    func testListenWithoutASoundCardSaysSo() throws {
        guard !FileManager.default.fileExists(atPath: "/dev/snd") else { throw XCTSkip("this machine has /dev/snd") }
        let r = try Self.ssast(["listen", "--model", Fixtures.projectRoot + "/models/default.ssast", "--duration", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("ssast: error: cannot open ALSA capture device 'default'"), r.stderr)
        XCTAssertTrue(r.stderr.contains("There is no /dev/snd"), r.stderr)
        XCTAssertFalse(r.stderr.contains("ALSA:"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    /// The number printed right after `key` in `line`.
    static func number(after key: String, in line: String) -> Double? {
        guard let range = line.range(of: key) else { return nil }
        return Double(line[range.upperBound...].prefix { "0123456789.".contains($0) })
    }
    /// The "round N: ours median X … (min Y) …" lines of a side-by-side benchmark, with X and Y.
    static func rounds(_ stdout: String) -> (lines: [String], medians: [Double], mins: [Double]) {
        let lines = stdout.split(separator: "\n").filter { $0.hasPrefix("round ") }.map(String.init)
        return (lines, lines.compactMap { number(after: "ours median ", in: $0) }, lines.compactMap { number(after: "(min ", in: $0) })
    }

    /// `ssast bench --onnx`: rounds alternate with the ONNX Runtime script (here a stand-in that reports
    /// fixed times and logs its arguments), ratio is the median of the per-round ratios, ratio_min the
    /// fastest run against the fastest run; --baseline-threads the same for the thread speedup; bad
    /// rounds or baseline threads and a script without a result are clear errors.
    func testBenchRoundsAgainstAStandInRuntime() throws {
        let log = Self.dir + "/ort-args.log"
        try? FileManager.default.removeItem(atPath: log)
        let script = Self.dir + "/ort_stand_in.py"
        try """
            import json, sys
            open(\(String(reflecting: log)), "a").write(" ".join(sys.argv[1:]) + "\\n")
            print("loading...")
            print(json.dumps({"median_ms": 1000.0, "min_ms": 500.0, "logits": [0.0, 0.0, 0.0, 0.0]}))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try Self.ssast(["bench", "--reps", "3", "--rounds", "2", "--threads", "1", "--onnx", "stand-in.onnx", "--ort-script", script])
        XCTAssertEqual(r.status, 0, r.stderr)
        // "round N: ours median X ms (min Y), onnxruntime median 1000.00 ms (min 500.00), ratio Z"
        let (rounds, medians, mins) = Self.rounds(r.stdout)
        XCTAssertEqual(rounds.count, 2, r.stdout)
        XCTAssertEqual(medians.count, 2); XCTAssertEqual(mins.count, 2)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        XCTAssertEqual(json["rounds"] as? Int, 2)
        XCTAssertEqual(json["threads"] as? Int, 1)
        XCTAssertEqual(json["onnxruntime_ms"] as? Double, 1000)
        // Median of two = the upper one (s[count / 2]); printed times are rounded to 0.01 ms.
        XCTAssertEqual(json["ratio"] as! Double, medians.max()! / 1000, accuracy: 1e-5)
        XCTAssertEqual(json["ratio_min"] as! Double, mins.min()! / 500, accuracy: 1e-4)
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(calls.count, 2)
        for c in calls {
            let a = c.split(separator: " ")
            XCTAssertEqual(a.count, 4, String(c))
            XCTAssertEqual(a.first, "stand-in.onnx"); XCTAssertTrue(a[1].hasSuffix(".npy"), String(c))
            XCTAssertEqual(Array(a.suffix(2)), ["1", "3"], "threads and reps passed on")
        }

        // --baseline-threads: the same model on 1 thread in every round; speedup = median of the per-round
        // ratios (upper of two), printed per round.
        let sp = try Self.ssast(["bench", "--reps", "2", "--rounds", "2", "--threads", "2", "--baseline-threads", "1"])
        XCTAssertEqual(sp.status, 0, sp.stderr)
        let spRounds = sp.stdout.split(separator: "\n").filter { $0.hasPrefix("round ") }.map(String.init)
        XCTAssertEqual(spRounds.count, 2, sp.stdout)
        let perRound = spRounds.compactMap { Self.number(after: "speedup ", in: $0) }
        XCTAssertEqual(perRound.count, 2, sp.stdout)
        let spJSON = try JSONSerialization.jsonObject(with: Data(sp.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        XCTAssertEqual(spJSON["baseline_threads"] as? Int, 1)
        XCTAssertEqual(spJSON["threads"] as? Int, 2)
        XCTAssertEqual(spJSON["speedup_vs_baseline"] as! Double, perRound.max()!, accuracy: 0.006)   // printed to 0.01
        XCTAssertGreaterThan(spJSON["speedup_vs_baseline_min"] as! Double, 0)
        let badBase = try Self.ssast(["bench", "--reps", "1", "--baseline-threads", "0"])
        XCTAssertNotEqual(badBase.status, 0)
        XCTAssertTrue(badBase.stderr.contains("--baseline-threads must be between 1 and 256"), badBase.stderr)

        let zero = try Self.ssast(["bench", "--reps", "1", "--rounds", "0"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("--rounds must be between 1 and 100"), zero.stderr)
        let silent = Self.dir + "/ort_silent.py"
        try "print('no json here')\n".write(toFile: silent, atomically: true, encoding: .utf8)
        let bad = try Self.ssast(["bench", "--reps", "1", "--rounds", "1", "--onnx", "x.onnx", "--ort-script", silent])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("ONNX Runtime run printed no result"), bad.stderr)
    }

    /// `ssast train --benchmark --torch`: rounds alternate with the PyTorch script (here a stand-in that
    /// reports fixed times and logs its arguments); ratio is the median of the per-round ratios and
    /// ratio_min the fastest step against the fastest step, as in `bench`; bad rounds and a script
    /// without a result are clear errors.
    func testTrainBenchmarkRoundsAgainstAStandInTorch() throws {
        let log = Self.dir + "/torch-args.log"
        try? FileManager.default.removeItem(atPath: log)
        let script = Self.dir + "/torch_stand_in.py"
        try """
            import json, sys
            open(\(String(reflecting: log)), "a").write(" ".join(sys.argv[1:]) + "\\n")
            print("PyTorch stand-in")
            print(json.dumps({"median_ms_per_sample": 100000.0, "min_ms_per_sample": 50000.0, "peak_rss_mib": 10.0}))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try Self.ssast(["train", "--benchmark", "--batch-size", "1", "--threads", "1", "--rounds", "2", "--steps", "1",
                                "--torch", "python3", "--torch-script", script])
        XCTAssertEqual(r.status, 0, r.stderr)
        // "round N: ours median X ms/sample (min Y), PyTorch median 100000.0 ms/sample (min 50000.0), ratio Z"
        let (rounds, medians, mins) = Self.rounds(r.stdout)
        XCTAssertEqual(rounds.count, 2, r.stdout)
        XCTAssertEqual(medians.count, 2); XCTAssertEqual(mins.count, 2)
        XCTAssertTrue(medians.allSatisfy { $0 > 0 }, r.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n").last!.utf8)) as! [String: Any]
        XCTAssertEqual(json["rounds"] as? Int, 2)
        XCTAssertEqual(json["torch_ms_per_sample"] as? Double, 100000)
        // Median of two = the upper one; our times are printed to 0.1 ms.
        XCTAssertEqual(json["ratio"] as! Double, medians.max()! / 100000, accuracy: 1e-6)
        XCTAssertEqual(json["ratio_min"] as! Double, mins.min()! / 50000, accuracy: 2e-6)
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(calls.map(String.init), Array(repeating: "--threads 1 --batch 1 --steps 1", count: 2), "one call per round")

        let zero = try Self.ssast(["train", "--benchmark", "--rounds", "0"])
        XCTAssertNotEqual(zero.status, 0)
        XCTAssertTrue(zero.stderr.contains("--rounds must be between 1 and 100"), zero.stderr)
        let silent = Self.dir + "/torch_silent.py"
        try "print('no json here')\n".write(toFile: silent, atomically: true, encoding: .utf8)
        let bad = try Self.ssast(["train", "--benchmark", "--batch-size", "1", "--threads", "1", "--rounds", "1", "--steps", "1",
                                  "--torch", "python3", "--torch-script", silent])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("printed no result"), bad.stderr)
    }
}
