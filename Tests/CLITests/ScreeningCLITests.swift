import Foundation
import Glibc
import TestSupport
import XCTest

/// Screening as a user runs it: the default model from another folder, long files in bounded memory,
/// standard input, output that a terminal and a program can take.
final class ScreeningCLITests: XCTestCase {
    static let dir = Fixtures.temporaryDirectory("screening-cli")
    static let examples = Fixtures.projectRoot + "/models/examples"

    struct Run { var status: Int32; var stdout: String; var stderr: String; var maxRSSMB: Double }

    /// Runs the built binary with posix_spawn (stdin from a file, a working folder, an environment) and
    /// reaps it; its peak resident set size comes from GNU time (`/usr/bin/time`, package `time`).
    static func ssast(_ args: [String], stdin: String? = nil, cwd: String? = nil, env: [String: String]? = nil,
                      executable: String = CLITests.binary) throws -> Run {
        let out = dir + "/stdout-\(UUID().uuidString)", err = dir + "/stderr-\(UUID().uuidString)"
        defer { unlink(out); unlink(err) }
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Another working folder through sh's cd, then exec: the same process.
        let target = cwd.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0, executable] } ?? [executable]
        // Peak RSS through GNU time, which forks: a child made by posix_spawn shares our memory until it
        // execs, and Linux counts that (this test process's) high-water mark in the child's ru_maxrss.
        let rssFile = dir + "/rss-\(UUID().uuidString)"
        defer { unlink(rssFile) }
        let timer = "/usr/bin/time"
        let measured = access(timer, X_OK) == 0
        let command = measured ? [timer, "-q", "-f", "%M", "-o", rssFile] + target : target
        let argv = (command + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let environment = (env ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { environment.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command[0], &fa, nil, argv, environment)
        guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc)) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return Run(status: exited ? (status >> 8) & 0xff : -(status & 0x7f),
                   stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "",
                   // No GNU time (Debian package `time`): NaN, so a memory bound fails and says why.
                   maxRSSMB: measured ? (Double((try? String(contentsOfFile: rssFile, encoding: .utf8))?
                       .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .nan) / 1024 : .nan)
    }

    static func json(_ line: Substring) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    }

    /// A canonical 44-byte WAV header: format 1 (PCM) or 3 (float), `bits` per sample.
    static func wavHeader(format: Int, bits: Int, channels: Int, rate: Int, dataBytes: Int) -> Data {
        var d = Data()
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { d.append(contentsOf: $0) } }
        let block = channels * bits / 8
        d.append(contentsOf: Array("RIFF".utf8)); u32(36 + dataBytes); d.append(contentsOf: Array("WAVEfmt ".utf8))
        u32(16); u16(format); u16(channels); u32(rate); u32(rate * block); u16(block); u16(bits)
        d.append(contentsOf: Array("data".utf8)); u32(dataBytes)
        return d
    }

    /// 16-bit PCM mono WAV, written by hand.
    static func wav16(_ path: String, _ samples: [Int16], rate: Int = 16000) throws {
        var d = wavHeader(format: 1, bits: 16, channels: 1, rate: rate, dataBytes: 2 * samples.count)
        samples.withUnsafeBytes { d.append(contentsOf: $0) }
        try d.write(to: URL(fileURLWithPath: path))
    }

    /// 10 s: 6 s of faint noise, models/examples/cough-2.wav (1.3 s, so the cough clip is at 6.0–7.3 s),
    /// then faint noise to the end.
    static func lateCough() throws -> String {
        let path = dir + "/late.wav"
        if FileManager.default.fileExists(atPath: path) { return path }
        let cough = try Data(contentsOf: URL(fileURLWithPath: examples + "/cough-2.wav"))
        let pcm = cough.subdata(in: 44..<cough.count).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        var state: UInt64 = 1
        func noise() -> Int16 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int16(truncatingIfNeeded: Int64(bitPattern: state) >> 57)   // |x| <= 64: about -60 dBFS
        }
        let head = (0..<96000).map { _ in noise() }
        let tail = (0..<(160000 - 96000 - pcm.count)).map { _ in noise() }
        try wav16(path, head + pcm + tail)
        return path
    }

    /// A cough late in a recording, screened as a user would run it: default model, another folder, no --model.
    func testLateCoughWithTheDefaultModelFromAnotherFolder() throws {
        let late = try Self.lateCough()
        var env = ProcessInfo.processInfo.environment
        env["SSAST_MODEL"] = nil
        let r = try Self.ssast(["classify", "--jsonl", late], cwd: "/", env: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try Self.json(r.stdout.split(separator: "\n")[0])
        XCTAssertEqual(obj["duration_s"] as? Double, 10)
        let labels = obj["labels"] as! [String]
        let events = obj["events"] as! [[String: Any]]
        let coughs = events.filter { $0["label"] as? String == "cough" }
        XCTAssertEqual(coughs.count, 1, "\(events)")
        let start = coughs[0]["start_s"] as! Double, end = coughs[0]["end_s"] as! Double
        // Times are accurate to about a hop (0.64 s): the cough clip is 6.0–7.3 s, its bursts 6.2–6.9 s.
        XCTAssertTrue((5.3...6.3).contains(start) && (6.9...7.7).contains(end), "cough \(start)–\(end)")
        XCTAssertGreaterThan(coughs[0]["peak"] as! Double, 0.9)
        // Nothing but silence before or after it, and none at the end.
        XCTAssertTrue(events.allSatisfy { $0["label"] as? String == "cough" || $0["label"] as? String == "silence" }, "\(events)")
        let windows = obj["windows"] as! [[String: Any]]
        XCTAssertEqual(windows.last?["end_s"] as? Double, 9.995)
        XCTAssertEqual(windows.last?["partial"] as? Bool, false)
        XCTAssertEqual(windows.last?["label"] as? String, "silence")
        for w in windows { XCTAssertEqual((w["probabilities"] as! [Double]).count, labels.count) }
        // Times are rounded to the millisecond.
        for w in windows { for k in ["start_s", "end_s"] {
            let t = w[k] as! Double
            XCTAssertEqual(t, (t * 1000).rounded() / 1000)
        } }
        // The human line names the model, the verdict and the cough.
        let h = try Self.ssast(["classify", late], cwd: "/", env: env)
        XCTAssertEqual(h.status, 0, h.stderr)
        XCTAssertTrue(h.stdout.contains("model \(Fixtures.projectRoot)/models/default.ssast"), h.stdout)
        XCTAssertTrue(h.stdout.contains(String(format: "cough %.2f–%.2f s", start, end)), h.stdout)
    }

    /// `listen --input` on the same file: one object per window carrying label names, and the cough
    /// event (the same object as classify's) on the window that ended it.
    func testListenReportsTheSameEvent() throws {
        let late = try Self.lateCough()
        let r = try Self.ssast(["listen", "--input", late, "--jsonl"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try r.stdout.split(separator: "\n").map(Self.json)
        XCTAssertEqual(lines.filter { $0["index"] != nil }.count, 15)
        XCTAssertTrue(lines.allSatisfy { $0["event"] != nil || ($0["label"] is String && $0["labels"] is [String]) })
        let events = lines.flatMap { ($0["events"] as? [[String: Any]] ?? []) + ($0["event"].map { [$0 as! [String: Any]] } ?? []) }
        let c = try Self.json(Self.ssast(["classify", "--jsonl", late]).stdout.split(separator: "\n")[0])
        let offline = c["events"] as! [[String: Any]]
        XCTAssertEqual(events.map { $0["label"] as! String }.sorted(), offline.map { $0["label"] as! String }.sorted())
        for e in events where e["label"] as? String == "cough" {
            let o = offline.first { $0["label"] as? String == "cough" }!
            XCTAssertEqual(e["start_s"] as? Double, o["start_s"] as? Double)
            XCTAssertEqual(e["end_s"] as? Double, o["end_s"] as? Double)
        }
        // --hop is the old spelling of --window-hop.
        let old = try Self.ssast(["listen", "--input", late, "--jsonl", "--hop", "2"])
        XCTAssertEqual(old.status, 0, old.stderr)
        XCTAssertEqual(old.stdout.split(separator: "\n").filter { $0.contains("\"index\"") }.count, 6)   // 0, 2, 4, 6, 8, then the last 1.28 s
    }

    /// WAV on standard input (what `arecord` writes by default) and raw PCM, in classify and listen.
    func testStandardInput() throws {
        let late = try Self.lateCough()
        let file = try Self.json(Self.ssast(["classify", "--jsonl", late]).stdout.split(separator: "\n")[0])
        let piped = try Self.ssast(["classify", "--jsonl", "-"], stdin: late)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        let obj = try Self.json(piped.stdout.split(separator: "\n")[0])
        XCTAssertEqual(obj["file"] as? String, "-")
        XCTAssertEqual(obj["events"] as? NSArray, file["events"] as? NSArray)
        let raw = Self.dir + "/late.raw"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: late))
        try bytes.subdata(in: 44..<bytes.count).write(to: URL(fileURLWithPath: raw))
        let rawRun = try Self.ssast(["classify", "--jsonl", "--raw-rate", "16000", "-"], stdin: raw)
        XCTAssertEqual(rawRun.status, 0, rawRun.stderr)
        XCTAssertEqual(try Self.json(rawRun.stdout.split(separator: "\n")[0])["events"] as? NSArray, file["events"] as? NSArray)
        let listen = try Self.ssast(["listen", "--input", "-", "--jsonl"], stdin: late)
        XCTAssertEqual(listen.status, 0, listen.stderr)
        XCTAssertEqual(listen.stdout.split(separator: "\n").filter { $0.contains("\"index\"") }.count, 15)
        // Not audio on stdin: a clear error naming standard input and the raw alternative.
        let junk = Self.dir + "/junk.txt"
        try "hello".write(toFile: junk, atomically: true, encoding: .utf8)
        let bad = try Self.ssast(["listen", "--input", "-"], stdin: junk)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("standard input: cannot decode audio") && bad.stderr.contains("--raw-rate"), bad.stderr)
        // NaN on a raw float stream: refused with its position, in listen as in classify.
        var f = [Float](repeating: 0.01, count: 32000)
        f[20000] = .infinity
        let nanRaw = Self.dir + "/nan.f32"
        try f.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: nanRaw))
        for cmd in [["listen", "--input", "-"], ["classify", "-"]] {
            let n = try Self.ssast(cmd + ["--raw-rate", "16000", "--raw-format", "f32le"], stdin: nanRaw)
            XCTAssertEqual(n.status, 1, cmd.joined(separator: " "))
            XCTAssertTrue(n.stderr.contains("sample 20000 (1.250 s, channel 0) is inf"), n.stderr)
        }
    }

    /// File names, labels and metadata reach a terminal escaped: no raw control characters, escape
    /// sequences or bidi overrides in human output (JSONL escapes them as JSON).
    func testHumanOutputEscapesControlCharacters() throws {
        let name = Self.dir + "/a\u{1B}[2Jb\u{202E}c\nd.wav"
        try FileManager.default.copyItem(atPath: Self.examples + "/cough-1.wav", toPath: name)
        let r = try Self.ssast(["classify", name])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{202E}" }, r.stdout)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 2)            // the model line and one result line
        XCTAssertTrue(r.stdout.contains("a\\u{1b}[2Jb\\u{202e}c\\u{a}d.wav"), r.stdout)
        let j = try Self.ssast(["classify", "--jsonl", name])
        XCTAssertEqual(try Self.json(j.stdout.split(separator: "\n")[0])["file"] as? String, name)
    }

    /// The live view in a pseudo-terminal (util-linux `script`): the redrawn panel fits 80x24, 60 columns
    /// and a 7-row terminal, follows a resize while running, colours open events and rings the bell
    /// with --bell, and does neither with NO_COLOR.
    func testLiveViewFitsTheTerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("no /usr/bin/script") }
        let late = try Self.lateCough()
        func live(_ setup: String, env: String = "-u NO_COLOR", feed: String? = nil) throws -> (panels: [[String]], raw: String) {
            let listen = "env \(env) '\(CLITests.binary)' listen --bell --input " + (feed == nil ? "'\(late)'" : "-")
            let r = try Self.ssast(["-qec", "\(setup); " + (feed.map { "(\($0)) | " } ?? "") + listen, "/dev/null"],
                                   executable: "/usr/bin/script")
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            // Each redraw starts by moving up over the previous panel (ESC [ n F) or clearing the screen.
            var panels: [[String]] = []
            for chunk in r.stdout.components(separatedBy: "\u{1B}[").dropFirst() {
                guard chunk.hasPrefix("J") || chunk.hasPrefix("H") else { continue }
                let text = chunk.dropFirst().replacingOccurrences(of: "\r", with: "")
                let plain = text.replacingOccurrences(of: #"\x{1B}\[[0-9;]*[A-Za-z]"#, with: "", options: .regularExpression)
                // The panel: not the event lines that scroll above it, nor the summary after it.
                let scrolling = #"^\d\d:\d\d:\d\d  (EVENT |.* started at )"#
                panels.append(plain.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter {
                    !$0.isEmpty && !$0.hasPrefix("summary:") && !$0.hasPrefix("         ")
                        && $0.range(of: scrolling, options: .regularExpression) == nil })
            }
            return (panels, r.stdout)
        }
        for (cols, rows) in [(80, 24), (60, 24), (60, 7)] {
            let (panels, raw) = try live("stty cols \(cols) rows \(rows)")
            XCTAssertGreaterThan(panels.count, 50, "\(cols)x\(rows)")
            for p in panels {
                XCTAssertLessThanOrEqual(p.count, rows - 1, "\(cols)x\(rows): \(p)")
                for line in p { XCTAssertLessThan(line.count, cols, "\(cols)x\(rows): \(line)") }
            }
            XCTAssertTrue(raw.contains("\u{1B}[1;31m") && raw.contains("\u{07}"), "colour and bell on a terminal")
            XCTAssertTrue(raw.contains("EVENT cough"), raw)
        }
        let (_, plain) = try live("stty cols 80 rows 24", env: "NO_COLOR=1")
        XCTAssertFalse(plain.contains("\u{1B}[1;31m") || plain.contains("\u{07}"), "NO_COLOR: no colour, no bell")
        // Resized from 80 to 50 columns while running: the screen is cleared and later panels fit 50.
        let (resized, raw) = try live("stty cols 80 rows 24",
                                      feed: "head -c 100044 '\(late)'; sleep 1; stty cols 50 rows 12 </dev/tty; sleep 1; tail -c +100045 '\(late)'")
        XCTAssertTrue(raw.contains("\u{1B}[2J"), "a resize redraws from a clean screen")
        XCTAssertTrue(resized.contains { p in p.contains { $0.count > 50 } }, "wider panels before the resize")
        XCTAssertTrue(resized.last!.allSatisfy { $0.count < 50 }, "\(resized.last!)")
    }

    /// FLAC headers that lie (75 KB files): one claims 2^35 frames, one 8 channels and 2^31 frames. In a
    /// batch written to a file, the first is screened for the audio it really holds, the second is
    /// reported, and every other result is there; a whole-file decode (embed) refuses the first from its
    /// header before allocating.
    func testLyingHeadersInABatch() throws {
        func patched(_ name: String, channels: UInt64?, frames: UInt64) throws -> String {
            var flac = try Data(contentsOf: URL(fileURLWithPath: Fixtures.audio("speech16k.flac")))
            XCTAssertEqual(Array(flac.prefix(4)), Array("fLaC".utf8))
            // STREAMINFO bytes 18..<26: rate (20 bits), channels - 1 (3), bits - 1 (5), total frames (36).
            var v = flac[18..<26].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            v = (v & ~((1 << 36) - 1)) | frames
            if let c = channels { v = (v & ~(7 << 41)) | ((c - 1) << 41) }
            for k in 0..<8 { flac[18 + k] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(k))) }
            let path = Self.dir + "/" + name
            try flac.write(to: URL(fileURLWithPath: path))
            return path
        }
        let long = try patched("long.flac", channels: nil, frames: 1 << 35)
        let wide = try patched("wide.flac", channels: 8, frames: 1 << 31)
        let good = Self.examples + "/cough-1.wav"
        let r = try Self.ssast(["classify", "--jsonl", good, long, wide, good])
        XCTAssertEqual(r.status, 1, r.stderr)
        let objs = try r.stdout.split(separator: "\n").map(Self.json)
        XCTAssertEqual(objs.count, 4)
        XCTAssertEqual(objs[0]["label"] as? String, "cough")
        XCTAssertEqual(objs[1]["duration_s"] as? Double, 4.0)                 // what the file really holds
        XCTAssertTrue((objs[2]["error"] as? String)?.hasPrefix("\(wide): read error after 0 frames") == true, "\(objs[2])")
        XCTAssertEqual(objs[3]["label"] as? String, "cough")
        XCTAssertLessThan(r.maxRSSMB, 100)
        let e = try Self.ssast(["embed", long])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("the header declares 34359738368 frames x 1 channels, more than the 1073741824 samples"), e.stderr)
        XCTAssertLessThan(e.maxRSSMB, 100)
    }

    /// Progress on a terminal's stderr for a recording longer than a minute; none when stderr is a file.
    func testProgressOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("no /usr/bin/script") }
        let path = Self.dir + "/two-minutes.wav"
        try Self.wav16(path, [Int16](repeating: 3, count: 16000 * 120))
        let r = try Self.ssast(["-qec", "env -u NO_COLOR '\(CLITests.binary)' classify '\(path)' >/dev/null", "/dev/null"],
                               executable: "/usr/bin/script")
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.contains("two-minutes.wav: 0:00 of 2:00") && r.stdout.contains("two-minutes.wav: 1:50 of 2:00"), r.stdout)
        let quiet = try Self.ssast(["classify", path])
        XCTAssertFalse(quiet.stderr.contains(" of 2:00"), quiet.stderr)
    }

    /// eval with nothing but the datafile (the default model and its labels), from another folder: the
    /// confusion matrix's columns are exactly the labels classify gives the same clips.
    func testEvalDecidesAsClassify() throws {
        let subset = Fixtures.projectRoot + "/models/eval-subset/eval.json"
        let e = try Self.ssast(["eval", "--data", subset], cwd: "/")
        XCTAssertEqual(e.status, 0, e.stderr)
        let c = try Self.ssast(["classify", "--jsonl", subset], cwd: "/")
        XCTAssertEqual(c.status, 0, c.stderr)
        let labels = ["speech", "cough", "breathing", "silence"]
        var decided = [Int](repeating: 0, count: 4)
        for line in c.stdout.split(separator: "\n") { decided[labels.firstIndex(of: try Self.json(line)["label"] as! String)!] += 1 }
        let lines = e.stdout.split(separator: "\n").map(String.init)
        let top = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("decisions as classify makes them") }, e.stdout)
        var columns = [Int](repeating: 0, count: 4), rows: [Int] = []
        for row in lines[(top + 2)..<(top + 6)] {
            let n = row.split(separator: " ").dropFirst().map { Int($0)! }
            rows.append(n.reduce(0, +))
            for k in 0..<4 { columns[k] += n[k] }
        }
        XCTAssertEqual(rows, [10, 10, 10, 10])
        XCTAssertEqual(columns, decided)
        XCTAssertTrue(e.stdout.contains("Youden, re-fitted here: optimistic"), e.stdout)
        XCTAssertTrue(e.stdout.contains("the label's (as classify uses it)"), e.stdout)
    }

    /// One hour of 48 kHz stereo (a sparse file: written in an instant) in classify and listen --input
    /// stays under 100 MB peak RSS; a whole-file decode would need 1.4 GB for the samples alone.
    func testAnHourOf48kStereoInBoundedMemory() throws {
        let path = Self.dir + "/hour.wav"
        let rate = 48000, channels = 2, seconds = 3600
        let bytes = rate * channels * 2 * seconds
        let header = Self.wavHeader(format: 1, bits: 16, channels: channels, rate: rate, dataBytes: bytes)
        try header.write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_WRONLY)
        XCTAssertEqual(ftruncate(fd, off_t(44 + bytes)), 0)
        // A little sound every ten minutes, so it is not all digital silence.
        let tone = (0..<(rate * channels)).map { Int16(8000 * sin(Double($0 / channels) * 0.05)) }
        for minute in stride(from: 5, to: 60, by: 10) {
            _ = tone.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(44 + minute * 60 * rate * channels * 2)) }
        }
        close(fd)
        defer { unlink(path) }
        for cmd in [["classify", "--jsonl", path], ["listen", "--input", path, "--jsonl"]] {
            // A 60 s hop keeps the model calls few: the memory under test is decoding and resampling.
            let r = try Self.ssast(cmd + ["--window-hop", "60"])
            XCTAssertEqual(r.status, 0, r.stderr)
            print("\(cmd[0]) on 1 h of 48 kHz stereo: peak RSS \(String(format: "%.1f", r.maxRSSMB)) MB")
            XCTAssertLessThan(r.maxRSSMB, 100, cmd[0])
            XCTAssertGreaterThan(r.maxRSSMB, 5, "the measurement must see the child")
            if cmd[0] == "classify" {
                XCTAssertEqual(try Self.json(r.stdout.split(separator: "\n")[0])["duration_s"] as? Double, 3600)
            } else {
                XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.contains("\"index\"") }.count, 61)
            }
        }
    }
}
