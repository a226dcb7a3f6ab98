import Foundation
import Runtime
import TestSupport
import XCTest

/// `ssast train` when the disk fills up, simulated without root by a file-size limit (RLIMIT_FSIZE,
/// `ulimit -f`): a write past it fails with EFBIG, as one on a full disk fails with ENOSPC. The run
/// must stop with a message naming the file and the OS error, leave no temporary file, and keep
/// the previous complete weight file and training state (which must still load and resume).
final class TrainDiskFullTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// Runs the built binary under `ulimit -f kib` (nil: no limit). SIGXFSZ keeps its default
    /// disposition here (kill), so this also checks that ssast ignores it and sees the errno.
    static func train(_ args: [String], limitKiB: Int?) throws -> CLITests.Result {
        let limit = limitKiB.map { "ulimit -f \($0) && " } ?? ""
        return try CLITests.run("/bin/bash", ["-c", limit + "exec \"$0\" \"$@\"", CLITests.binary, "train"] + args)
    }

    func leftovers(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }.sorted()
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// The weight file is complete: the runtime opens it and `ssast classify` scores a clip with it.
    func assertLoads(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let wf = try WeightFile(path: path)
        XCTAssertEqual(try ModelConfig(weightFile: wf).labels, ["speech", "noise", "other"], file: file, line: line)
        let r = try CLITests.ssast(["classify", "--jsonl", "--model", path, Fixtures.audio("speech16k.wav")])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stdout.contains("\"label\""), r.stdout, file: file, line: line)
    }

    func testFullDiskLeavesPreviousCompleteFiles() throws {
        let dir = Fixtures.temporaryDirectory("train-fsize")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/labels.csv", json = dir + "/train.json", out = dir + "/m.ssast", ckpt = out + ".ckpt"
        try "index,mid,display_name\n0,/m/a,speech\n1,/m/b,noise\n2,/m/c,other\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let items = [("speech16k.wav", "/m/a"), ("burst16k.wav", "/m/b"), ("short16k.wav", "/m/c"), ("long16k.wav", "/m/a")]
        let entries = items.map { "{\"wav\": \"\(Fixtures.audio($0.0))\", \"labels\": \"\($0.1)\"}" }
        try "{\"data\": [\(entries.joined(separator: ","))]}".write(toFile: json, atomically: true, encoding: .utf8)
        func args(epochs: Int, resume: Bool = false) -> [String] {
            ["--init", Fixtures.model("tiny-patch-2block-train.pth"), "--train", json, "--labels", csv, "-o", out,
             "--fstride", "10", "--tstride", "10", "--target-length", "128", "--mean", "-8.2096", "--std", "6.1568",
             "--batch-size", "2", "--epochs", "\(epochs)", "--lr", "1e-4", "--no-shuffle", "--no-augment", "--threads", "2"]
                + (resume ? ["--resume"] : [])
        }

        // 1. The very first write (the epoch-1 weight file, ~3.7 MB) fails: nothing is left at all.
        var r = try Self.train(args(epochs: 1), limitKiB: 256)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertGreaterThan(r.status, 0, "killed by a signal instead of reporting the error: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("training stopped at epoch 1: cannot write \(out):"), r.stderr)
        XCTAssertTrue(r.stderr.contains("File too large"), r.stderr)
        XCTAssertTrue(r.stderr.contains("no training state was saved yet"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: ckpt))
        XCTAssertEqual(try leftovers(dir), [])

        // 2. One good epoch without a limit.
        r = try Self.train(args(epochs: 1), limitKiB: nil)
        XCTAssertEqual(r.status, 0, r.stderr)
        let weights1 = try bytes(out), state1 = try bytes(ckpt)
        let weightKiB = weights1.count / 1024, stateKiB = state1.count / 1024
        XCTAssertGreaterThan(stateKiB, weightKiB + 1024, "the test needs the state file to be the larger one")

        // 3. Epoch 2 cannot write its weight file: the epoch-1 files stay, byte for byte, and load.
        r = try Self.train(args(epochs: 2, resume: true), limitKiB: weightKiB / 2)
        XCTAssertGreaterThan(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("training stopped at epoch 2: cannot write \(out):"), r.stderr)
        XCTAssertTrue(r.stderr.contains("write failed: File too large"), r.stderr)
        XCTAssertTrue(r.stderr.contains("\(ckpt) still holds epoch 1 for --resume"), r.stderr)
        XCTAssertEqual(try bytes(out), weights1)
        XCTAssertEqual(try bytes(ckpt), state1)
        XCTAssertEqual(try leftovers(dir), [])
        try assertLoads(out)

        // 4. The weight file fits but the training state does not: the new weight file is complete,
        //    the state is still epoch 1's, and --resume from it finishes the run.
        r = try Self.train(args(epochs: 2, resume: true), limitKiB: (weightKiB + stateKiB) / 2)
        XCTAssertGreaterThan(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("training stopped at epoch 2: cannot write \(ckpt):"), r.stderr)
        XCTAssertTrue(r.stderr.contains("File too large"), r.stderr)
        XCTAssertEqual(try bytes(ckpt), state1)
        XCTAssertNotEqual(try bytes(out), weights1, "epoch 2's weights were written")
        XCTAssertEqual(try leftovers(dir), [])
        try assertLoads(out)
        r = try Self.train(args(epochs: 2, resume: true), limitKiB: nil)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 epochs, 2 steps done"), r.stderr)
        XCTAssertNotEqual(try bytes(ckpt), state1)
        try assertLoads(out)
    }
    /// Ctrl-C during training ends the run at a batch boundary with exit 130, says which epoch --resume
    /// continues with, and leaves the last finished epoch's state and no temporary behind.
    func testCtrlCStopsWithAResumableStateAndSaysSo() throws {
        let dir = Fixtures.temporaryDirectory("train-sigint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let csv = dir + "/labels.csv", json = dir + "/train.json", out = dir + "/m.ssast", ckpt = out + ".ckpt"
        try "index,mid,display_name\n0,/m/a,speech\n1,/m/b,noise\n2,/m/c,other\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let items = [("speech16k.wav", "/m/a"), ("burst16k.wav", "/m/b"), ("short16k.wav", "/m/c")]
        let entries = items.map { "{\"wav\": \"\(Fixtures.audio($0.0))\", \"labels\": \"\($0.1)\"}" }
        try "{\"data\": [\(entries.joined(separator: ","))]}".write(toFile: json, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["train", "--init", Fixtures.model("tiny-patch-2block-train.pth"), "--train", json, "--labels", csv,
                       "-o", out, "--fstride", "10", "--tstride", "10", "--target-length", "128", "--mean", "-8.2096",
                       "--std", "6.1568", "--batch-size", "1", "--epochs", "1000", "--lr", "1e-4", "--no-shuffle",
                       "--no-augment", "--threads", "1", "--no-curves"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Wait for the first epoch's state, then interrupt.
        let deadline = Date().addingTimeInterval(240)
        while !FileManager.default.fileExists(atPath: ckpt) && p.isRunning && Date() < deadline { usleep(100_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt), "no training state within 240 s")
        kill(p.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, stderr)
        XCTAssertEqual(p.terminationStatus, 130, stderr)
        XCTAssertTrue(stderr.contains("training interrupted at epoch "), stderr)
        XCTAssertTrue(stderr.contains("\(ckpt) holds epoch "), stderr)
        XCTAssertTrue(stderr.contains("the same command with --resume continues with epoch "), stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt))
        XCTAssertEqual(try leftovers(dir), [])
        try assertLoadsModel(out)
    }

    /// The kept model of an interrupted run is a complete weight file.
    func assertLoadsModel(_ path: String) throws {
        let wf = try WeightFile(path: path)
        XCTAssertEqual(try ModelConfig(weightFile: wf).labels, ["speech", "noise", "other"])
    }
}
