import Foundation
import Runtime
import Support
import XCTest

/// The Foundation-free helpers against Foundation's own answers (tests may use Foundation).
final class SupportTests: XCTestCase {
    func testPrintfMatchesFoundationFormat() {
        let values: [Double] = [0, -0.0, 1, -1, 0.5, 0.125, 2.5, 3.14159265, -2.71828, 1e-7, 1.5e-5, 123456.789, 9.9995,
                                0.00049999, 1e21, -3.4e38, .infinity, -.infinity, .nan, 0.1 + 0.2]
        let formats = ["%.2f", "%.4f", "%.3f", "%.1f", "%.0f", "%.6f", "%.3g", "%.2e", "%8.2f", "%6.1f", "%10.4f", "%9.1f",
                       "%5.3f", "%7.4f", "%8.4f", "%.0f%%"]
        for f in formats {
            for v in values {
                XCTAssertEqual(String(printf: f, v), String(format: f, v), "\(f) of \(v)")
            }
        }
        let ints = [0, 1, -1, 7, 59, 3600, 12345, Int(Int32.max), Int(Int32.min)]
        for f in ["%d", "%5d", "%02d", "%d:%02d"] {
            for i in ints {
                XCTAssertEqual(String(printf: f, i, i), String(format: f, i, i), "\(f) of \(i)")
            }
        }
        // Floats go in as doubles, as with String(format:).
        XCTAssertEqual(String(printf: "%.3f >= %.2f", Float(0.8125), Float(0.5)), "0.812 >= 0.50")
        XCTAssertEqual(String(printf: "%5d  %10.4f", 3, Float(0.25)), String(format: "%5d  %10.4f", 3, Float(0.25)))
        XCTAssertEqual(String(printf: "\\u%04x", UInt32(7)), "\\u0007")
        // Longer than the first buffer.
        let long = String(printf: "%300.1f|%d", 1.5, 42)
        XCTAssertEqual(long.count, 303)
        XCTAssertTrue(long.hasSuffix("1.5|42"))
        XCTAssertEqual(String(printf: "no arguments"), "no arguments")
    }

    func testTrimAndReplace() {
        XCTAssertEqual("  a b \t".trimmedOfBlanks, "a b")
        XCTAssertEqual("\u{00A0}x\u{2003}".trimmedOfBlanks, "x")            // Unicode spaces, as .whitespaces
        XCTAssertEqual("x\r".trimmedOfBlanks, "x\r")                        // line ends stay, as .whitespaces
        XCTAssertEqual("   ".trimmedOfBlanks, "")
        XCTAssertEqual("a,b".split(separator: ",")[1].trimmedOfBlanks, "b")
        for (s, t, r) in [("a&b<c>\"d\"&", "&", "&amp;"), ("aaa", "aa", "b"), ("héllo wörld", "ö", "oe"), ("x", "", "y"), ("", "a", "b")] {
            XCTAssertEqual(s.replacingAll(t, with: r), t.isEmpty ? s : s.replacingOccurrences(of: t, with: r), "\(s) \(t)")
        }
    }

    func testPathsMatchNSString() {
        for p in ["a/b.wav", "b.wav", "/b", "/", "a/b/", "/x/y/z.json", "", "a//b"] {
            XCTAssertEqual(p.lastPathComponent, (p as NSString).lastPathComponent, p)
            XCTAssertEqual(p.deletingLastPathComponent, (p as NSString).deletingLastPathComponent, p)
        }
        XCTAssertEqual("a".appendingPathComponent("b"), "a/b")
        XCTAssertEqual("a/".appendingPathComponent("b"), "a/b")
        XCTAssertEqual("".appendingPathComponent("b"), "b")
        XCTAssertEqual("/opt/ssast/.build/release/../../models/default.ssast".standardizedPath, "/opt/ssast/models/default.ssast")
        XCTAssertEqual("/a/./b//c/../d".standardizedPath, "/a/b/d")
        XCTAssertEqual("/../a".standardizedPath, "/a")
        XCTAssertEqual("a/../../b".standardizedPath, "../b")
        for p in ["/opt/x/../y/./z", "/a/b/../../c"] {
            XCTAssertEqual(p.standardizedPath, URL(fileURLWithPath: p).standardized.path, p)
        }
    }

    func testFileSystem() throws {
        let dir = NSTemporaryDirectory() + "ssast-support-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/sub/.hidden", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try FileSystem.write(bytes, to: dir + "/b.bin")
        try FileSystem.write(Array("héllo\n".utf8), to: dir + "/sub/a.txt")
        try FileSystem.write([1], to: dir + "/sub/.hidden/c")
        try FileSystem.write([1], to: dir + "/.dot")
        XCTAssertEqual(try FileSystem.readBytes(dir + "/b.bin"), bytes)
        XCTAssertEqual(try FileSystem.readText(dir + "/sub/a.txt"), "héllo\n")
        XCTAssertEqual(try FileSystem.filesBelow(dir), [dir + "/b.bin", dir + "/sub/a.txt"])
        XCTAssertTrue(FileSystem.exists(dir + "/b.bin"))
        XCTAssertTrue(FileSystem.isDirectory(dir + "/sub"))
        XCTAssertFalse(FileSystem.isDirectory(dir + "/b.bin"))
        FileSystem.remove(dir + "/b.bin")
        XCTAssertFalse(FileSystem.exists(dir + "/b.bin"))
        // Files of unknown size (/proc) are read whole.
        let status = try FileSystem.readText("/proc/self/status")
        XCTAssertTrue(status.hasPrefix("Name:") && status.contains("VmRSS:"), status)
        XCTAssertThrowsError(try FileSystem.readBytes(dir + "/missing")) { e in
            XCTAssertTrue("\(e)".contains("missing: cannot open"), "\(e)")
        }
        try FileSystem.write([0xFF, 0xFE], to: dir + "/bad.txt")
        XCTAssertThrowsError(try FileSystem.readText(dir + "/bad.txt"))
        XCTAssertEqual(FileSystem.currentDirectory, FileManager.default.currentDirectoryPath)
        XCTAssertEqual(FileSystem.temporaryDirectory, NSTemporaryDirectory())
        XCTAssertEqual(FileSystem.executablePath, Bundle.main.executablePath.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path })

        let out = try OutputFile(creating: dir + "/o.bin")
        try out.write([1, 2, 3, 4]); try out.seek(to: 1); try out.write([9]); try out.close()
        XCTAssertEqual(try FileSystem.readBytes(dir + "/o.bin"), [1, 9, 3, 4])
        XCTAssertThrowsError(try OutputFile(creating: dir + "/no/such/folder/x"))
    }

    func testChildOutputBothStreamsWithoutDeadlock() throws {
        // 1 MB on stderr before anything on stdout: reading stdout to its end first would block forever
        // (the child waits for room in the stderr pipe).
        let r = try runChild("sh", ["-c", "head -c 1000000 /dev/zero | tr '\\0' e >&2; head -c 700000 /dev/zero | tr '\\0' o; exit 3"])
        XCTAssertEqual(r.status, 3)
        XCTAssertEqual(r.stdout.count, 700_000)
        XCTAssertEqual(r.stderr.count, 1_000_000)
        XCTAssertTrue(r.stdout.allSatisfy { $0 == UInt8(ascii: "o") })
        XCTAssertTrue(r.stderr.allSatisfy { $0 == UInt8(ascii: "e") })
        XCTAssertEqual(try runProgram("echo", ["a b", "c"]), "a b c\n")
        XCTAssertEqual(try runChild("sh", ["-c", "kill -9 $$"]).status, 128 + 9)
        XCTAssertThrowsError(try runProgram("sh", ["-c", "echo why >&2; exit 2"])) { e in
            XCTAssertEqual("\(e)", "sh -c failed (exit 2): why\n")
        }
        let missing = try runChild("ssast-no-such-program", [])   // as the shell: 127, the reason on stderr
        XCTAssertEqual(missing.status, 127)
        XCTAssertEqual(String(decoding: missing.stderr, as: UTF8.self), "ssast-no-such-program: No such file or directory\n")
        XCTAssertThrowsError(try runProgram("ssast-no-such-program", ["x"])) { e in
            XCTAssertEqual("\(e)", "ssast-no-such-program x failed (exit 127): ssast-no-such-program: No such file or directory\n")
        }
        XCTAssertEqual(Set(FileSystem.names(in: "/proc/self/fdinfo") ?? []).isSuperset(of: ["0", "1", "2"]), true)
        XCTAssertNil(FileSystem.names(in: "/nonexistent-ssast"))
    }

    func testJSONRoundTripAndFoundationAgreement() throws {
        let v = JSONValue.object([("b", .int(-3)), ("a", .array([.number(0.1), .number(1e-5), .number(2), .number(.nan), .null])),
                                  ("s", .string("q\"\\\n\t\u{1}é")), ("t", .bool(true))])
        let text = v.encoded
        XCTAssertEqual(text, #"{"b":-3,"a":[0.1,1e-05,2.0,null,null],"s":"q\"\\\n\t\u0001é","t":true}"#)
        // Foundation reads what we write, to the same values.
        let f = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        XCTAssertEqual(f["s"] as? String, "q\"\\\n\t\u{1}é")
        XCTAssertEqual((f["a"] as? [Any])?.first as? Double, 0.1)
        // And we read what Foundation writes.
        let fromFoundation = try JSONSerialization.data(withJSONObject: ["x": [1.5, 3, 1e-7], "y": "z/w", "n": NSNull()] as [String: Any],
                                                        options: [.sortedKeys])
        let back = try MiniJSONParser.parse(Array(fromFoundation), what: "test")
        XCTAssertEqual(back["x"]?.array?.compactMap(\.double), [1.5, 3, 1e-7])
        XCTAssertEqual(back["y"]?.string, "z/w")
        XCTAssertEqual(back["x"]?.array?[1].int, 3)
        XCTAssertNil(back["y"]?.int)
        // Every double survives a round trip through our text.
        for d in [0.1, 1.0 / 3, 1e300, -2.5e-308, Double(Float(0.7))] {
            let t = JSONValue.number(d).encoded
            XCTAssertEqual(try MiniJSONParser.parse(Array(t.utf8), what: "t").double, d, t)
        }
        XCTAssertThrowsError(try MiniJSONParser.parse(Array("{\"a\":}".utf8), what: "x.json")) { e in
            XCTAssertTrue("\(e)".hasPrefix("x.json: bad JSON at byte"), "\(e)")
        }
    }

    func testConditionTimesOutAndWakes() {
        let c = Condition()
        c.lock()
        XCTAssertFalse(c.wait(until: monotonicTime() + 0.02))   // nobody signals
        c.unlock()
        var flag = false
        let t = Thread { c.lock(); flag = true; c.broadcast(); c.unlock() }
        c.lock()
        t.start()
        while !flag { XCTAssertTrue(c.wait(until: monotonicTime() + 60)) }
        c.unlock()
        let l = Lock()
        XCTAssertEqual(l.withLock { 42 }, 42)
    }

    func testLocalTimeString() {
        let s = localTimeString("%Y-%m-%d %H:%M")
        let f = DateFormatter(); f.dateFormat = "yyyy-MM-dd HH:mm"
        let now = f.string(from: Date())
        // The same minute, unless the minute turned between the two calls.
        XCTAssertTrue(s == now || s.prefix(14) == now.prefix(14), "\(s) vs \(now)")
        XCTAssertEqual(s.count, 16)
    }
}
