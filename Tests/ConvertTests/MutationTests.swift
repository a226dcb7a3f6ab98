import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// Damaged checkpoints must load or be refused with an SSASTError: never crash, hang or allocate
/// without bound. A crash here takes the whole test process down, which fails the suite.
final class MutationTests: XCTestCase {
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

    enum Outcome { case loaded, refused }

    /// Loads the bytes and, if that works, converts every tensor (reads every byte it refers to).
    func attempt(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) -> Outcome? {
        do {
            let c = try Checkpoint.load(bytes: bytes, name: what)
            for t in c.tensors {
                let v = try t.floats()
                XCTAssertEqual(v.count, t.count, what, file: file, line: line)
                if !t.dtype.isFloatingPoint { _ = try t.int64s() }
            }
            return .loaded
        } catch is SSASTError {
            return .refused
        } catch {
            XCTFail("\(what): threw \(error), not an SSASTError", file: file, line: line)
            return nil
        }
    }

    lazy var original: [UInt8] = Array((try? MappedFile(path: Fixtures.model("tiny-patch-2block-train.pth")).bytes) ?? UnsafeRawBufferPointer(start: nil, count: 0))

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
        var counts = [Outcome.loaded: 0, .refused: 0]
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
        XCTAssertEqual(counts[.loaded]! + counts[.refused]!, 200)
        // Many flips land in structure (pickle opcodes, zip headers): a reader that never refuses is wrong.
        XCTAssertGreaterThan(counts[.refused]!, 40)
        XCTAssertGreaterThan(counts[.loaded]!, 0)
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
            if from == "FloatStorage" && to == "ShortStorage" { XCTAssertEqual(o, .loaded) } else { XCTAssertEqual(o, .refused, to) }
        }
        XCTAssertGreaterThan(refused, total / 4)
    }
}
