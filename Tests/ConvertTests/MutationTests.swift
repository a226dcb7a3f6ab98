import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// Damaged checkpoints must load or be refused with an SSASTError: never crash, hang or allocate
/// without bound. A crash here takes the whole test process down, which fails the suite.
final class MutationTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// SplitMix64: a fixed seed makes every run try the same mutations.
    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    }

    enum Outcome { case loaded, refused, damaged }   // damaged: loads, but its CRC-32 check fails

    /// Loads the bytes and, if that works, converts every tensor (reads every byte it refers to).
    func attempt(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) -> Outcome? {
        do {
            let c = try Checkpoint.load(bytes: bytes, name: what)
            for t in c.tensors {
                let v = try t.floats()
                XCTAssertEqual(v.count, t.count, what, file: file, line: line)
                if !t.dtype.isFloatingPoint { _ = try t.int64s() }
            }
            do { try c.verifyIntegrity() } catch is SSASTError { return .damaged }
            return .loaded
        } catch is SSASTError {
            return .refused
        } catch {
            XCTFail("\(what): threw \(error), not an SSASTError", file: file, line: line)
            return nil
        }
    }

    lazy var original: [UInt8] = (try? fileBytes(Fixtures.model("tiny-patch-2block-train.pth"))) ?? []

    /// The data.pkl bytes: from the PROTO opcode to the next local header.
    func pickleRange(_ b: [UInt8]) -> Range<Int> {
        var start = 0
        while start + 1 < min(b.count, 4096), !(b[start] == 0x80 && b[start + 1] == 0x02) { start += 1 }
        var end = start
        while end + 4 <= b.count, !(b[end] == 0x50 && b[end + 1] == 0x4B && b[end + 2] == 3 && b[end + 3] == 4) { end += 1 }
        return start..<end
    }

    func testOriginalLoads() throws {
        XCTAssertGreaterThan(original.count, 5_000_000)
        XCTAssertEqual(attempt(original, "original"), .loaded)
        let c = try Checkpoint.load(bytes: original, name: "original")
        XCTAssertEqual(c.tensors.count, 39)
    }

    func testTruncations() {
        let b = original
        var rng = RNG(state: 1)
        var lengths = [0, 1, 2, 3, 4, 21, 22, 30, 64, 100, b.count - 1, b.count - 21, b.count - 22, b.count - 23,
                       b.count - 100, b.count / 2]
        let pk = pickleRange(b)
        lengths += [pk.lowerBound + 1, pk.lowerBound + 10, pk.upperBound - 1, pk.upperBound]
        while lengths.count < 50 { lengths.append(rng.below(b.count)) }
        var refused = 0
        for n in lengths {
            if attempt(Array(b[0..<n]), "truncated to \(n)") == .refused { refused += 1 }
        }
        // Every truncation loses the zip end record; all must be refused.
        XCTAssertEqual(refused, lengths.count)
    }

    func testByteFlips() {
        let b = original
        var rng = RNG(state: 2)
        let pk = pickleRange(b)
        XCTAssertGreaterThan(pk.count, 1000)
        let tail = max(0, b.count - 8192)   // central directory and end records
        var counts = [Outcome.loaded: 0, .refused: 0, .damaged: 0]
        for i in 0..<200 {
            let pos: Int
            switch i % 3 {
            case 0: pos = pk.lowerBound + rng.below(pk.count)
            case 1: pos = tail + rng.below(b.count - tail)
            default: pos = rng.below(b.count)
            }
            var m = b
            m[pos] ^= UInt8(1 + rng.below(255))
            if let o = attempt(m, "byte \(pos) flipped") { counts[o, default: 0] += 1 }
        }
        XCTAssertEqual(counts[.loaded]! + counts[.refused]! + counts[.damaged]!, 200)
        // Many flips land in structure (pickle opcodes, zip headers): a reader that never refuses is wrong.
        XCTAssertGreaterThan(counts[.refused]!, 40)
        // Flips inside tensor data cannot be seen by structure checks; the CRC-32 check sees them.
        XCTAssertGreaterThan(counts[.damaged]!, 20)
        print("byte flips: \(counts[.loaded]!) loaded intact, \(counts[.damaged]!) loaded but failed CRC, \(counts[.refused]!) refused")
    }

    func testPickleEdits() {
        let b = original
        let pk = pickleRange(b)
        var rng = RNG(state: 3)
        // Opcodes that change the stack shape, lengths that become huge, memo and mark abuse.
        let interesting: [UInt8] = [0x00, 0xFF, 0x80, 0x28, 0x2E, 0x52, 0x62, 0x71, 0x72, 0x68, 0x6A, 0x8A, 0x8B,
                                    0x58, 0x8D, 0x8E, 0x74, 0x85, 0x87, 0x73, 0x75, 0x61, 0x65, 0x51, 0x93, 0x94,
                                    0x30, 0x31, 0x32, 0x29, 0x5D, 0x7D, 0x4A, 0x4B, 0x4D, 0x81, 0x95]
        var refused = 0, total = 0
        for _ in 0..<120 {
            var m = b
            let pos = pk.lowerBound + rng.below(pk.count)
            m[pos] = interesting[rng.below(interesting.count)]
            total += 1
            if attempt(m, "pickle byte \(pos) set to \(m[pos])") == .refused { refused += 1 }
        }
        // Every 4-byte length/integer field of the pickle set to 0xFFFFFFFF / 0x7FFFFFFF in turn.
        var p = pk.lowerBound
        var edits = 0
        while p < pk.upperBound - 5, edits < 60 {
            if b[p] == 0x58 || b[p] == 0x4A || b[p] == 0x72 || b[p] == 0x6A {   // BINUNICODE, BININT, LONG_BINPUT/GET
                for fill: UInt8 in [0xFF, 0x7F] {
                    var m = b
                    for k in 1...4 { m[p + k] = fill }
                    total += 1; edits += 1
                    if attempt(m, "pickle field at \(p) filled with \(fill)") == .refused { refused += 1 }
                }
            }
            p += 1
        }
        XCTAssertGreaterThan(edits, 20)
        // Same-length renames of globals: refused (not allowlisted) or loaded with another dtype.
        let renames: [(String, String)] = [("FloatStorage", "ShortStorage"), ("FloatStorage", "FloatStoragX"),
                                           ("torch._utils", "torch.utilsX"), ("_rebuild_tensor_v2", "_rebuild_tensor_v3"),
                                           ("collections\nOrderedDict", "collections\ndefaultdict"),
                                           ("storage", "storagf")]
        for (from, to) in renames {
            var m = b
            let f = Array(from.utf8), t = Array(to.utf8)
            var q = pk.lowerBound, n = 0
            while q + f.count <= pk.upperBound {
                if Array(m[q..<(q + f.count)]) == f { m.replaceSubrange(q..<(q + f.count), with: t); n += 1 }
                q += 1
            }
            XCTAssertGreaterThan(n, 0, from)
            total += 1
            let o = attempt(m, "\(from) -> \(to)")
            if o == .refused { refused += 1 }
            // int16 storages fit in the float32 bytes: that one loads, and only the CRC of data.pkl fails.
            if from == "FloatStorage" && to == "ShortStorage" { XCTAssertEqual(o, .damaged) } else { XCTAssertEqual(o, .refused, to) }
        }
        XCTAssertGreaterThan(refused, total / 4)
    }

    // MARK: hostile pickles, built in memory

    /// A minimal stored zip in torch's layout (`t/data.pkl`, `t/data/<key>`); CRCs are left 0.
    static func torchZip(pickle: [UInt8], storages: [(String, [UInt8])] = []) -> [UInt8] {
        var out: [UInt8] = [], central: [UInt8] = []
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }
        let files = [("t/data.pkl", pickle)] + storages.map { ("t/data/\($0.0)", $0.1) }
        for (name, data) in files {
            let n = Array(name.utf8), off = out.count
            out += le32(0x0403_4b50) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
            out += le32(data.count) + le32(data.count) + le16(n.count) + le16(0) + n + data
            central += le32(0x0201_4b50) + le16(20) + le16(20) + le16(0) + le16(0) + le16(0) + le16(0) + le32(0)
            central += le32(data.count) + le32(data.count) + le16(n.count) + le16(0) + le16(0) + le16(0) + le16(0)
            central += le32(0) + le32(off) + n
        }
        let cd = out.count
        out += central
        out += le32(0x0605_4b50) + le16(0) + le16(0) + le16(files.count) + le16(files.count)
        out += le32(central.count) + le32(cd) + le16(0)
        return out
    }

    func testHostilePickles() throws {
        // The builder itself is right: a one-tensor state_dict loads.
        let storage = Array("storage".utf8), key = Array("0".utf8), cpu = Array("cpu".utf8)
        func binunicode(_ s: [UInt8]) -> [UInt8] { [0x58, UInt8(s.count), 0, 0, 0] + s }
        var ok: [UInt8] = [0x80, 0x02] + Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52]
        ok += binunicode(Array("w".utf8)) + Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28, 0x28]
        ok += binunicode(storage) + Array("ctorch\nFloatStorage\n".utf8) + binunicode(key) + binunicode(cpu)
        ok += [0x4B, 2, 0x74, 0x51, 0x4B, 0, 0x4B, 2, 0x85, 0x4B, 1, 0x85, 0x89, 0x7D, 0x74, 0x52, 0x73, 0x2E]
        let two: [UInt8] = [0, 0, 0x80, 0x3F, 0, 0, 0, 0x40]   // 1.0, 2.0
        let c = try Checkpoint.load(bytes: Self.torchZip(pickle: ok, storages: [("0", two)]), name: "ok.pth")
        XCTAssertEqual(try c["w"]?.floats(), [1, 2])

        // A million nested tuples: no recursion anywhere (building, reading or freeing).
        let deep = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2E]
        assertSSASTError(["deep.pth", "tuple", "not a dict"]) { try Checkpoint.load(bytes: Self.torchZip(pickle: deep), name: "deep.pth") }
        // A list that contains itself, and a dict that contains itself as a value.
        let cyc: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]
        assertSSASTError(["cyc.pth", "list"]) { try Checkpoint.load(bytes: Self.torchZip(pickle: cyc), name: "cyc.pth") }
        let cycd: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x58, 1, 0, 0, 0, 0x61, 0x68, 0x00, 0x73, 0x2E]
        assertSSASTError(["no tensors"]) { try Checkpoint.load(bytes: Self.torchZip(pickle: cycd), name: "cycd.pth") }
        // Unbalanced stack operations and memo misuse.
        for (bad, msg) in [([0x80, 0x02, 0x2E], "empty stack"), ([0x80, 0x02, 0x28, 0x74], "truncated"),
                           ([0x80, 0x02, 0x74, 0x2E], "without a MARK"), ([0x80, 0x02, 0x6A, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "memo entry"),
                           ([0x80, 0x02, 0x4E, 0x4E, 0x73, 0x2E], "not a dict"), ([0x80, 0x09, 0x2E], "protocol 9"),
                           ([0x80, 0x02, 0x8A, 0x09, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x2E], "wider than 64 bits"),
                           ([0x80, 0x02, 0x8D] + [UInt8](repeating: 0xFF, count: 8), "exceeds"),
                           ([0x80, 0x02] + Array("c".utf8) + [UInt8](repeating: 0x41, count: 5000), "longer than")] as [([UInt8], String)] {
            assertSSASTError([msg]) { try Checkpoint.load(bytes: Self.torchZip(pickle: bad), name: "bad.pth") }
        }
        // A tensor view with a huge size on a 2-element storage, and an expanding stride-0 view.
        var huge = ok
        // the size tuple (BININT1 2, TUPLE1) follows the storage offset (BININT1 0)
        guard let sizeAt = (0..<(huge.count - 5)).first(where: { Array(huge[$0..<($0 + 5)]) == [0x4B, 0, 0x4B, 2, 0x85] }).map({ $0 + 2 }) else {
            return XCTFail("size tuple not found")
        }
        XCTAssertEqual(Array(huge[sizeAt..<(sizeAt + 3)]), [0x4B, 2, 0x85])
        huge.replaceSubrange(sizeAt..<(sizeAt + 2), with: [0x4A, 0xFF, 0xFF, 0xFF, 0x7F])
        assertSSASTError(["reaches element"]) { try Checkpoint.load(bytes: Self.torchZip(pickle: huge, storages: [("0", two)]), name: "h.pth") }
        var expand = huge
        let strideAt = sizeAt + 5 + 1   // after TUPLE1: BININT1 1 TUPLE1 -> BININT1 0
        XCTAssertEqual(Array(expand[strideAt..<(strideAt + 3)]), [0x4B, 1, 0x85])
        expand[strideAt + 1] = 0
        assertSSASTError(["refusing the expansion"]) { try Checkpoint.load(bytes: Self.torchZip(pickle: expand, storages: [("0", two)]), name: "e.pth") }
    }
}
