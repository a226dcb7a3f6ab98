import Foundation
import Runtime
import TestSupport
import XCTest

/// Hostile or careless inputs through the built binary: a clear error and a non-zero exit, never a
/// trap, a hang, an overwritten input or a stray temporary file.
final class HardeningTests: XCTestCase {
    static let dir = Fixtures.temporaryDirectory("harden")

    /// Runs the binary with a watchdog: a run still going after `timeout` seconds is killed and reported
    /// as status -999, so a hang fails the test instead of stalling the suite.
    static func ssast(_ args: [String], timeout: Double = 120, stdin: FileHandle? = nil,
                      whileRunning: ((Process) -> Void)? = nil) throws -> CLITests.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        if let stdin { p.standardInput = stdin }
        try p.run()
        var o = Data(), e = Data()
        let readers = [Thread { o = out.fileHandleForReading.readDataToEndOfFile() },
                       Thread { e = err.fileHandleForReading.readDataToEndOfFile() }]
        readers.forEach { $0.start() }
        whileRunning?(p)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        var hung = false
        if p.isRunning { hung = true; kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        while readers.contains(where: { !$0.isFinished }) { usleep(1000) }
        let status = hung ? -999 : p.terminationReason == .uncaughtSignal ? -p.terminationStatus : p.terminationStatus
        return CLITests.Result(status: status, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func model2Block() throws -> String {
        let out = dir + "/2block.ssast"
        if FileManager.default.fileExists(atPath: out) { return out }
        let r = try ssast(["convert", Fixtures.model("tiny-patch-2block-train.pth"), "-o", out, "--fstride", "10", "--tstride", "10",
                           "--target-length", "128", "--mean", "-8.2096", "--std", "6.1568", "--labels", "a,b,c"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return out
    }

    func temporaries(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains("tmp") }
    }

    // MARK: outputs

    /// `convert X -o X` (also through another spelling of the path, and a re-encode of a weight file onto
    /// itself) is refused and the input is untouched.
    func testOutputThatIsTheInputIsRefused() throws {
        let folder = Self.dir + "/same"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pth = folder + "/m.pth"
        try FileManager.default.copyItem(atPath: Fixtures.model("tiny-patch-2block-train.pth"), toPath: pth)
        let before = try Data(contentsOf: URL(fileURLWithPath: pth))
        let geometry = ["--fstride", "10", "--tstride", "10", "--target-length", "128", "--mean", "-8.2096", "--std", "6.1568", "--labels", "a,b,c"]
        for out in [pth, folder + "/./m.pth", folder + "/../same/m.pth"] {
            let r = try Self.ssast(["convert", pth, "-o", out] + geometry)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("is the input"), r.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pth)), before)
        let model = folder + "/m.ssast"
        XCTAssertEqual(try Self.ssast(["convert", pth, "-o", model] + geometry).status, 0)
        let fp32 = try Data(contentsOf: URL(fileURLWithPath: model))
        let r = try Self.ssast(["convert", model, "-o", model, "--dtype", "int8"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("is the input"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), fp32)
        XCTAssertEqual(temporaries(in: folder), [])
    }

    /// A FIFO or device as the output is refused and stays what it was; a symlink planted where an
    /// old version put its temporary is not followed; a stale temporary of ours (its process gone) is
    /// cleaned; a 250-character output name works.
    func testOutputsAreRegularFilesWrittenSafely() throws {
        let folder = Self.dir + "/outputs"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = try Self.model2Block()
        let fifo = folder + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        // A private copy of /dev/null's device node (root only): a build that replaced a device would
        // replace this one, never the system's.
        let device = folder + "/null"
        var outputs = [fifo]
        if mknod(device, S_IFCHR | 0o666, dev_t(0x103)) == 0 { outputs.append(device) }   // makedev(1, 3)
        for out in outputs {
            let r = try Self.ssast(["convert", model, "-o", out, "--dtype", "int8"], timeout: 60)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("not a regular file"), r.stderr)
        }
        var st = stat()
        XCTAssertEqual(lstat(fifo, &st), 0); XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        if outputs.count == 2 { XCTAssertEqual(lstat(device, &st), 0); XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR) }

        let victim = folder + "/victim"
        try "precious".write(toFile: victim, atomically: false, encoding: .utf8)
        let stale = folder + "/.out.ssast.4194999.0123456789abcdef.tmp"   // no such process: pid_max is at most 4194304
        try "stale".write(toFile: stale, atomically: false, encoding: .utf8)
        let out = folder + "/out.ssast"
        for pid in 0..<200 { symlink(victim, "\(out).tmp-\(pid)") }   // the old predictable names
        var r = try Self.ssast(["convert", model, "-o", out, "--dtype", "int8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious")
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "stale temporary left")
        XCTAssertEqual(stat(out, &st), 0); XCTAssertEqual(st.st_mode & 0o777, 0o644 & ~currentUmask())
        r = try Self.ssast(["inspect", out])
        XCTAssertEqual(r.status, 0, r.stderr)

        let long = folder + "/" + String(repeating: "n", count: 244) + ".ssast"   // 250 characters
        r = try Self.ssast(["convert", model, "-o", long, "--dtype", "fp16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Self.ssast(["inspect", long]).status, 0)
    }

    func currentUmask() -> mode_t { let m = umask(0o022); umask(m); return m }

    /// After renaming the temporary into place the writer fsyncs the output's folder, so the new name
    /// survives a power cut: seen in the system calls (strace), for an output in a folder and one in
    /// the current folder.
    func testOutputFolderIsSyncedAfterTheRename() throws {
        let strace = "/usr/bin/strace"
        guard FileManager.default.isExecutableFile(atPath: strace) else { throw XCTSkip("no strace (CI installs it)") }
        let folder = Self.dir + "/durable"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = try Self.model2Block()
        for (out, expectedFolder) in [(folder + "/out.ssast", folder + "/"), ("relative-out.ssast", ".")] {
            let log = folder + "/strace.log"
            let r = try CLITests.run("/bin/sh", ["-c", "cd '\(folder)' && exec \(strace) -f -qq -o strace.log "
                + "-e trace=openat,rename,renameat,renameat2,fsync,close '\(CLITests.binary)' convert '\(model)' -o '\(out)' --dtype fp16"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
            let base = (out as NSString).lastPathComponent
            let renamed = try XCTUnwrap(lines.firstIndex { $0.contains("rename") && $0.contains(".tmp\"") && $0.contains("\(base)\"") && $0.hasSuffix("= 0") },
                                        lines.joined(separator: "\n"))
            // openat(AT_FDCWD, "<folder>", O_RDONLY|O_DIRECTORY|O_CLOEXEC) = N, then fsync(N) = 0.
            let after = lines[(renamed + 1)...]
            let open = try XCTUnwrap(after.first { $0.contains("openat(AT_FDCWD, \"\(expectedFolder)\"") && $0.contains("O_DIRECTORY") },
                                     after.joined(separator: "\n"))
            let fd = try XCTUnwrap(open.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespaces) })
            XCTAssertTrue(after.contains { $0.contains("fsync(\(fd))") && $0.hasSuffix("= 0") }, after.joined(separator: "\n"))
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.hasPrefix("/") ? out : folder + "/" + out))
        }
    }

    /// INT, TERM, HUP or PIPE while a convert writes its output (sent as soon as the temporary file
    /// appears) ends the process by that signal and leaves no temporary behind.
    func testSignalsDuringAWriteLeaveNoTemporary() throws {
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] {
            let folder = Self.dir + "/signal\(sig)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var seen = false
            let r = try Self.ssast(["convert", Fixtures.model("tiny-patch-ciab-ft.pth"), "-o", folder + "/out.ssast", "--fstride", "10", "--tstride", "10",
                                    "--target-length", "512", "--mean", "-8.2096", "--std", "6.1568", "--labels", "a,b"]) { p in
                let deadline = Date().addingTimeInterval(60)
                while p.isRunning && Date() < deadline {
                    if !self.temporaries(in: folder).isEmpty { seen = true; kill(p.processIdentifier, sig); return }
                    usleep(500)
                }
            }
            XCTAssertTrue(seen, "signal \(sig): no temporary was ever seen")
            XCTAssertEqual(r.status, -sig, "signal \(sig): \(r.stderr)")
            XCTAssertEqual(temporaries(in: folder), [], "signal \(sig)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/out.ssast"))
        }
    }

    /// `listen --record` is a valid WAV however the session ends: SIGTERM, SIGHUP, SIGPIPE or SIGINT.
    func testRecordingIsValidAfterAnySignal() throws {
        let model = try Self.model2Block()
        for sig in [SIGTERM, SIGHUP, SIGPIPE, SIGINT] {
            let wav = Self.dir + "/rec\(sig).wav"
            let stdin = Pipe()
            let fed = NSCondition()
            var feeding = true
            let feeder = Thread {
                // 16 kHz s16 mono noise, in 0.1 s chunks, until the pipe breaks.
                var chunk = [UInt8](repeating: 0, count: 3200)
                var seed: UInt32 = 1
                for _ in 0..<600 {
                    for k in chunk.indices { seed = seed &* 1_664_525 &+ 1_013_904_223; chunk[k] = UInt8(truncatingIfNeeded: seed >> 24) }
                    if (try? stdin.fileHandleForWriting.write(contentsOf: chunk)) == nil { break }
                    usleep(20_000)
                }
                try? stdin.fileHandleForWriting.close()
                fed.lock(); feeding = false; fed.signal(); fed.unlock()
            }
            let r = try Self.ssast(["listen", "--model", model, "--input", "-", "--raw-rate", "16000", "--record", wav, "--jsonl"],
                                   timeout: 60, stdin: stdin.fileHandleForReading) { p in
                // Ignored here only after the child started with the default action: the feeder's
                // writes to a dead reader then fail instead of killing the test.
                signal(SIGPIPE, SIG_IGN)
                try? stdin.fileHandleForReading.close()   // the child holds the only reader
                feeder.start()
                usleep(1_500_000)
                kill(p.processIdentifier, sig)
            }
            fed.lock(); while feeding { fed.wait() }; fed.unlock()
            signal(SIGPIPE, SIG_DFL)
            if sig != SIGINT { XCTAssertEqual(r.status, -sig, "signal \(sig): \(r.stderr)") }
            XCTAssertNotEqual(r.status, -999, "listen hung after signal \(sig)")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: wav)))
            XCTAssertGreaterThan(bytes.count, 58 + 16000, "signal \(sig)")
            func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
            // The header describes every chunk but (at most) one being appended when the signal came.
            let data = u32(54)
            XCTAssertTrue((0..<65536).contains(bytes.count - 58 - data), "data size \(data) of \(bytes.count) bytes after signal \(sig)")
            XCTAssertGreaterThan(data, 16000, "signal \(sig)")
            XCTAssertEqual(u32(4), data + 50, "RIFF size after signal \(sig)")
            XCTAssertEqual(u32(46), data / 4, "fact frames after signal \(sig)")
        }
    }

    /// `listen --record` onto its own `--input` is refused; the input is untouched.
    func testRecordingOverTheInputIsRefused() throws {
        let wav = Self.dir + "/input.wav"
        try? FileManager.default.removeItem(atPath: wav)
        try FileManager.default.copyItem(atPath: Fixtures.audio("speech16k.wav"), toPath: wav)
        let before = try Data(contentsOf: URL(fileURLWithPath: wav))
        let r = try Self.ssast(["listen", "--model", try Self.model2Block(), "--input", wav, "--record", Self.dir + "/./input.wav"], timeout: 60)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("is the input"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: wav)), before)
    }

    /// `inspect` shows labels and header strings with control characters, terminal escapes and
    /// bidirectional overrides made visible instead of acting on the terminal.
    func testInspectEscapesHeaderText() throws {
        var s = try WeightFileSurgery(path: try Self.model2Block())
        s.set("ssast.labels", .strings(["a\u{1B}[2Jcleared", "b\nFAKE LINE", "c\u{202E}txt.exe"]))
        s.set("convert.source", .string("x\u{7}\u{9B}y"))
        let file = Self.dir + "/escapes.ssast"
        try s.write(to: file)
        let r = try Self.ssast(["inspect", file])
        XCTAssertEqual(r.status, 0, r.stderr)
        for raw in ["\u{1B}", "\u{202E}", "\u{7}", "\u{9B}", "\nFAKE"] { XCTAssertFalse(r.stdout.contains(raw), "raw \(raw.debugDescription) printed") }
        XCTAssertTrue(r.stdout.contains("a\\u{1b}[2Jcleared, b\\u{a}FAKE LINE, c\\u{202e}txt.exe"), r.stdout)
    }

    // MARK: models

    /// More threads than attention tasks (a 2-block model has 75) must not trap.
    func testManyThreadsOnASmallModel() throws {
        let model = try Self.model2Block()
        let one = try Self.ssast(["classify", "--jsonl", "--model", model, Fixtures.audio("speech16k.wav")])
        XCTAssertEqual(one.status, 0, one.stderr)
        for threads in ["64", "256"] {
            for command in ["classify", "embed"] {
                let r = try Self.ssast([command, "--jsonl", "--threads", threads, "--model", model, Fixtures.audio("speech16k.wav")])
                XCTAssertEqual(r.status, 0, "\(command) --threads \(threads): \(r.stderr)")
                if command == "classify" { XCTAssertEqual(r.stdout, one.stdout) }
            }
        }
    }

    /// A FIFO or a directory as the model is refused at once (it used to block forever on the FIFO).
    func testNonRegularModelIsRefused() throws {
        let fifo = Self.dir + "/model.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        for command in [["inspect", fifo], ["classify", "--model", fifo, Fixtures.audio("speech16k.wav")],
                        ["convert", fifo, "-o", Self.dir + "/never.ssast"]] {
            let r = try Self.ssast(command, timeout: 20)
            XCTAssertEqual(r.status, 1, "\(command): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(fifo) && r.stderr.contains("not a regular file"), r.stderr)
        }
    }

    /// `inspect` on a .pth checks the zip CRCs as convert does.
    func testInspectReportsCorruptCheckpoint() throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.model("tiny-patch-2block-train.pth")))
        bytes[bytes.count / 2] ^= 0x01
        let bad = Self.dir + "/flipped.pth"
        try bytes.write(to: URL(fileURLWithPath: bad))
        let r = try Self.ssast(["inspect", bad])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stderr.contains(bad) && r.stderr.contains("CRC"), r.stderr)
    }

    /// Crafted weight files with valid checksums: overflowing dims, NaN or negative config values.
    func testCraftedWeightFilesAreRefused() throws {
        let model = try Self.model2Block()
        let cases: [(String, (inout WeightFileSurgery) -> Void, String)] = [
            ("dims", { $0.edit("v.blocks.0.attn.qkv.weight") { $0.shape = [1 << 32, 1 << 32] } }, "dimensions"),
            ("overlap", { s in let o = s.tensor("v.blocks.0.norm1.weight").offset; s.edit("v.blocks.0.norm1.bias") { $0.offset = o } }, "overlap"),
            ("past-end", { $0.edit("v.norm.bias") { $0.offset = 1 << 40 } }, "beyond the end"),
            ("eps", { $0.set("ssast.block_eps", .float(.nan)) }, "ssast.block_eps"),
            ("negeps", { $0.set("ssast.head_eps", .float(-1)) }, "ssast.head_eps"),
            ("threshold", { $0.set("ssast.threshold", .float(.nan)) }, "ssast.threshold"),
            ("floor", { $0.set("fbank.log_floor", .float(1e-300)) }, "fbank.log_floor"),
        ]
        for (tag, edit, message) in cases {
            var s = try WeightFileSurgery(path: model)
            edit(&s)
            let file = Self.dir + "/crafted-\(tag).ssast"
            try s.write(to: file)
            for command in [["inspect", file], ["classify", "--model", file, Fixtures.audio("speech16k.wav")]] {
                let r = try Self.ssast(command, timeout: 60)
                XCTAssertEqual(r.status, 1, "\(tag) \(command[0]): \(r.stdout) \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(message), "\(tag): \(r.stderr)")
            }
        }
    }

    // MARK: options

    /// Out-of-range numbers are usage errors (exit 64), never a trap.
    func testNumericOptionsOutOfRange() throws {
        let model = try Self.model2Block()
        let pth = Fixtures.model("tiny-patch-2block-train.pth")
        let convert = ["convert", pth, "-o", Self.dir + "/never.ssast", "--fstride", "10", "--tstride", "10", "--target-length", "128"]
        let runs: [([String], String)] = [
            (convert + ["--fstride", "0"], "--fstride"), (convert + ["--tstride", "0"], "--tstride"),
            (convert + ["--heads", "0"], "--heads"), (convert + ["--target-length", "0"], "--target-length"),
            (["listen", "--model", model, "--input", Fixtures.audio("speech16k.wav"), "--duration", "inf"], "--duration"),
            (["listen", "--model", model, "--input", Fixtures.audio("speech16k.wav"), "--duration", "1e300"], "--duration"),
            (["listen", "--model", model, "--input", Fixtures.audio("speech16k.wav"), "--duration", "1e15"], "--duration"),
            (["listen", "--model", model, "--input", Fixtures.audio("speech16k.wav"), "--window-hop", "nan"], "--window-hop"),
            (["classify", "--model", model, "--threads", "-1", Fixtures.audio("speech16k.wav")], "--threads"),
            (["classify", "--model", model, "--threads=-1", Fixtures.audio("speech16k.wav")], "--threads"),
        ]
        for (args, option) in runs {
            let r = try Self.ssast(args, timeout: 60)
            XCTAssertTrue(r.status == 64 || r.status == 1, "\(args.suffix(2)): status \(r.status) \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(option) && !r.stderr.contains("Missing value"), "\(args.suffix(2)): \(r.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: Self.dir + "/never.ssast"))
    }

    /// A child that writes more than a pipe buffer to stderr must not deadlock `bench --onnx`.
    func testChattyChildDoesNotDeadlock() throws {
        let script = Self.dir + "/chatty.py"
        try """
            import json, sys
            sys.stderr.write("x" * (2 << 20))
            sys.stderr.flush()
            print(json.dumps({"median_ms": 1.0, "min_ms": 1.0}))
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try Self.ssast(["bench", "--model", try Self.model2Block(), "--reps", "1", "--rounds", "1",
                                "--onnx", "stand-in.onnx", "--ort-script", script], timeout: 120)
        XCTAssertEqual(r.status, 0, String(r.stderr.prefix(500)))
        XCTAssertTrue(r.stdout.contains("onnxruntime median 1.00 ms"), r.stdout)
    }
}
