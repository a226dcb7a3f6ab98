import Convert
import Foundation
import Runtime
import TestSupport
import Train
import XCTest

/// Our weight format, PyTorch checkpoints and the trainer's checkpoints under hostile bytes: every
/// case loads (and then runs) or is refused with an SSASTError. A trap takes the test process down and
/// fails the suite; a hang stalls it. Fixed seeds, so every run tries the same cases.
final class ReaderFuzzTests: XCTestCase {
    static let dir = Fixtures.temporaryDirectory("fuzz")

    /// The 2-block fixture converted to an int8 weight file (1.3 MB: cheap to copy per case).
    static let weightFile: [UInt8] = {
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 128; o.mean = -8.2096; o.std = 6.1568
        o.labels = ["a", "b", "c"]; o.dtype = .i8; o.threshold = 0.5
        let path = dir + "/2block-int8.ssast"
        _ = try! SSASTConverter.convert(input: Fixtures.model("tiny-patch-2block-train.pth"), output: path, options: o)
        return Array(try! Data(contentsOf: URL(fileURLWithPath: path)))
    }()

    /// 1.5 s of noise at 16 kHz, to classify with every model that loads.
    static let clip: [Float] = {
        var rng = SplitMix64(seed: 7)
        return (0..<24000).map { _ in rng.nextFloat() - 0.5 }
    }()

    struct Tally: CustomStringConvertible {
        var tried = 0, refused = 0, accepted = 0
        var longest = 0.0
        var reasons: [String: Int] = [:]
        mutating func count(_ outcome: String?, seconds: Double) {
            tried += 1; longest = max(longest, seconds)
            if let why = outcome { refused += 1; reasons[why, default: 0] += 1 } else { accepted += 1 }
        }
        var description: String {
            "tried \(tried), refused \(refused), accepted \(accepted), traps 0, hangs 0, longest case \(String(format: "%.3f", longest)) s"
        }
    }

    /// The inspect and classify code paths on bytes: parse and validate, load the model, dequantise
    /// every tensor, classify a clip. nil if everything worked, else the error's gist.
    static func weightFileOutcome(_ bytes: [UInt8], engine: Engine) -> String? {
        do throws(SSASTError) {
            let w = try WeightFile(file: MappedFile(bytes: bytes, name: "fuzz.ssast"))
            let model = try SSASTModel(file: w)
            for t in w.tensors where !t.name.hasSuffix(".scale") { _ = try w.dequantised(t.name) }
            let windows = try Classifier(model: model, engine: engine).classify(samples: clip)
            if windows.isEmpty { return "no window" }
            return nil
        } catch {
            return gist(error.message)
        }
    }

    /// The message without the file name and numbers, to group refusals by kind.
    static func gist(_ message: String) -> String {
        let m = message.replacingOccurrences(of: "fuzz.ssast: ", with: "")
        return String(m.prefix { !"0123456789(".contains($0) }.prefix(40))
    }

    /// The loader's message for bytes it refuses (nil if they load).
    static func loadError(_ bytes: [UInt8], name: String) -> String? {
        let result = Result { () throws(SSASTError) in try SSASTModel(file: WeightFile(file: MappedFile(bytes: bytes, name: name))) }
        if case .failure(let e) = result { return e.message }
        return nil
    }

    /// Re-seals the header checksum after a raw edit (when the header length still makes sense).
    static func resealHeader(_ b: inout [UInt8]) {
        guard b.count >= 24 else { return }
        let hl = Int(b.withUnsafeBytes { $0.le(UInt32.self, at: 12) })
        guard hl >= 24, hl <= b.count else { return }
        let sum = b.withUnsafeBytes { xxh64(UnsafeRawBufferPointer(rebasing: $0[0..<(hl - 8)])) }
        withUnsafeBytes(of: sum.littleEndian) { for k in 0..<8 { b[hl - 8 + k] = $0[k] } }
    }

    static let interesting: [UInt64] = [0, 1, 2, 3, 63, 64, 65, 255, 1 << 16, 1 << 31, (1 << 31) - 1, 1 << 32, (1 << 32) + 1,
                                        1 << 40, 1 << 62, 1 << 63, UInt64.max, UInt64.max - 63,
                                        Double.nan.bitPattern, (-Double.infinity).bitPattern, (-1.0).bitPattern, 1e-300.bitPattern]

    // MARK: crafted headers, each refused for its own reason

    func testCraftedWeightFilesAreRefusedWithReasons() throws {
        let path = Self.dir + "/base.ssast"
        try Data(Self.weightFile).write(to: URL(fileURLWithPath: path))
        let engine = try Engine(threads: 2)
        XCTAssertNil(Self.weightFileOutcome(Self.weightFile, engine: engine), "the unmodified file loads")
        let base = try WeightFileSurgery(path: path)
        let qkv = "v.blocks.0.attn.qkv.weight"
        var cases: [(String, (inout WeightFileSurgery) -> Void, String)] = [
            ("overflowing dims", { $0.edit(qkv) { $0.shape = [1 << 32, 1 << 32] } }, "describe more data than the file holds"),
            ("huge dim", { $0.edit(qkv) { $0.shape = [1 << 33, 1] } }, "implausible dimension"),
            ("dims past the file", { $0.edit("v.pos_embed") { $0.shape = [1 << 20, 1 << 20, 1] } }, "describe more data than the file holds"),
            ("offset past the end", { $0.edit("v.norm.bias") { $0.offset = 1 << 40 } }, "beyond the end of the file"),
            ("offset wraps", { $0.edit("v.norm.bias") { $0.offset = Int(bitPattern: UInt(UInt64.max - 63)) } }, "beyond the end of the file"),
            ("size past the end", { $0.edit("v.norm.bias") { $0.byteCount = 1 << 62 } }, "beyond the end of the file"),
            ("overlapping tensors", { s in let o = s.tensor("v.norm.weight").offset; s.edit("v.norm.bias") { $0.offset = o } }, "overlap"),
            ("misaligned", { $0.edit("v.norm.bias") { $0.offset += 4 } }, "aligned"),
        ]
        for (key, values) in [("ssast.block_eps", [Double.nan, -1e-6, -.infinity, .infinity, 0]),
                              ("ssast.head_eps", [Double.nan, -1]), ("ssast.threshold", [Double.nan, -1, 1.5]),
                              ("fbank.log_floor", [1e-300, 0, -1, .nan, .infinity])] {
            for v in values { cases.append(("\(key) = \(v)", { $0.set(key, .float(v)) }, key)) }
        }
        for (key, v) in [("ssast.heads", Int64(0)), ("ssast.heads", -3), ("ssast.dim", 1 << 40), ("ssast.fstride", 0),
                         ("ssast.target_length", 1 << 20), ("ssast.depth", 0)] {
            cases.append(("\(key) = \(v)", { $0.set(key, .int(v)) }, key == "ssast.dim" ? "out of range" : "model config"))
        }
        for (name, edit, message) in cases {
            var s = base
            edit(&s)
            let file = Self.dir + "/crafted.ssast"
            try s.write(to: file)
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
            guard let full = Self.loadError(bytes, name: "crafted.ssast") else { XCTFail("\(name): accepted"); continue }
            XCTAssertTrue(full.contains(message), "\(name): \(full)")
            XCTAssertTrue(full.hasPrefix("crafted.ssast: "), "\(name): the message names the file: \(full)")
        }

        // A NaN weight with valid checksums (the tensor's and the header's).
        var s = base
        let t = s.tensor("v.blocks.1.norm2.weight")
        var bytes = s.original.bytes
        withUnsafeBytes(of: Float.nan.bitPattern.littleEndian) { for k in 0..<4 { bytes[t.offset + 8 + k] = $0[k] } }
        let sum = bytes.withUnsafeBytes { xxh64(UnsafeRawBufferPointer(rebasing: $0[t.offset..<(t.offset + t.byteCount)])) }
        s.edit(t.name) { $0.checksum = sum }
        let head = WeightFileFormat.header(metadata: s.metadata, tensors: s.tensors)
        bytes.replaceSubrange(0..<head.count, with: head)
        let nan = Self.loadError(bytes, name: "nan.ssast") ?? "accepted"
        XCTAssertTrue(nan.contains("v.blocks.1.norm2.weight holds a non-finite value"), nan)
    }

    // MARK: bounded fuzz runs

    func testWeightFileFuzz() throws {
        var rng = SplitMix64(seed: 2026_11_28)
        let engine = try Engine(threads: 2)
        let original = Self.weightFile
        let headerLength = Int(original.withUnsafeBytes { $0.le(UInt32.self, at: 12) })
        let base = try WeightFileSurgery(path: { let p = Self.dir + "/fuzz-base.ssast"; try! Data(original).write(to: URL(fileURLWithPath: p)); return p }())
        var tally = Tally()
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        for _ in 0..<2000 {
            var b = original
            switch below(7) {
            case 0:   // truncation
                b = Array(b.prefix(below(b.count)))
            case 1:   // bit flips anywhere, checksums left as they are
                for _ in 0...below(4) { b[below(b.count)] ^= UInt8(1 << below(8)) }
            case 2:   // bit flips in the header, header checksum re-sealed
                for _ in 0...below(3) { b[16 + below(headerLength - 24)] ^= UInt8(1 << below(8)) }
                Self.resealHeader(&b)
            case 3:   // an interesting 32- or 64-bit value anywhere in the header, re-sealed
                let v = Self.interesting[below(Self.interesting.count)]
                let at = 12 + below(headerLength - 20), width = below(2) == 0 ? 4 : 8
                withUnsafeBytes(of: v.littleEndian) { for k in 0..<width where at + k < headerLength - 8 { b[at + k] = $0[k] } }
                Self.resealHeader(&b)
            case 4:   // a table field set to an interesting value, re-sealed
                var s = base
                let i = below(s.tensors.count), v = Int(truncatingIfNeeded: Self.interesting[below(Self.interesting.count)])
                switch below(3) {
                case 0: if !s.tensors[i].shape.isEmpty { s.tensors[i].shape[below(s.tensors[i].shape.count)] = v }
                case 1: s.tensors[i].offset = v
                default: s.tensors[i].byteCount = v
                }
                b = s.resealed
            case 5:   // a numeric header value replaced by one of the same type, re-sealed
                var s = base
                let i = below(s.metadata.count), v = Self.interesting[below(Self.interesting.count)]
                switch s.metadata[i].1 {
                case .int: s.metadata[i].1 = .int(Int64(bitPattern: v))
                case .float: s.metadata[i].1 = .float(Double(bitPattern: v))
                default: continue
                }
                b = s.resealed
            default:  // tensor bytes changed with its checksum re-computed: loads, or NaN/inf refused
                var s = base
                let i = below(s.tensors.count), t = s.tensors[i]
                guard t.byteCount > 0 else { continue }
                for _ in 0...below(8) { b[t.offset + below(t.byteCount)] = UInt8(truncatingIfNeeded: rng.next()) }
                s.tensors[i].checksum = b.withUnsafeBytes { xxh64(UnsafeRawBufferPointer(rebasing: $0[t.offset..<(t.offset + t.byteCount)])) }
                let head = WeightFileFormat.header(metadata: s.metadata, tensors: s.tensors)
                b.replaceSubrange(0..<head.count, with: head)
            }
            let t0 = monotonicTime()
            let outcome = Self.weightFileOutcome(b, engine: engine)
            tally.count(outcome, seconds: monotonicTime() - t0)
        }
        print("weight-file fuzz (seed 20261128): \(tally)")
        print("  refusals by kind: \(tally.reasons.sorted { $0.value > $1.value }.prefix(12).map { "\($0.key.trimmingCharacters(in: .whitespaces)) \($0.value)" }.joined(separator: "; "))")
        XCTAssertGreaterThan(tally.tried, 1800)
        XCTAssertGreaterThan(tally.refused, tally.tried / 2)
        XCTAssertGreaterThan(tally.accepted, 0, "no case got through to the classifier")
    }

    func testTorchCheckpointFuzz() throws {
        var rng = SplitMix64(seed: 1_600_000)
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.model("tiny-patch-2block-train.pth"))))
        var tally = Tally()
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        // The zip's directory and the pickle are where parsing happens; the rest is tensor data.
        let directory = original.count - 4096
        for _ in 0..<1000 {
            var b = original
            switch below(4) {
            case 0: b = Array(b.prefix(below(b.count)))
            case 1: for _ in 0...below(4) { b[directory + below(4096)] ^= UInt8(1 << below(8)) }
            case 2: for _ in 0...below(4) { b[below(4096)] ^= UInt8(1 << below(8)) }
            default:
                let v = Self.interesting[below(Self.interesting.count)], at = below(4096) + (below(2) == 0 ? 0 : directory)
                withUnsafeBytes(of: v.littleEndian) { for k in 0..<4 where at + k < b.count { b[at + k] = $0[k] } }
            }
            let t0 = monotonicTime()
            var outcome: String? = nil
            do {
                let c = try Checkpoint.load(bytes: b, name: "fuzz.pth")
                for t in c.tensors { _ = try t.floats() }
                try c.verifyIntegrity()
            } catch let e as SSASTError {
                outcome = Self.gist(e.message)
            }
            tally.count(outcome, seconds: monotonicTime() - t0)
        }
        print("PyTorch checkpoint fuzz (seed 1600000): \(tally)")
        XCTAssertEqual(tally.tried, 1000)
        XCTAssertGreaterThan(tally.refused, 0)
    }

    func testTrainerCheckpointFuzz() throws {
        let folder = Self.dir + "/trainer"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let csv = folder + "/labels.csv", json = folder + "/train.json"
        try "index,mid,display_name\n0,a,A\n1,b,B\n".write(toFile: csv, atomically: true, encoding: .utf8)
        try "{\"data\": [{\"wav\": \"\(Fixtures.audio("speech16k.wav"))\", \"labels\": \"a\"}]}".write(toFile: json, atomically: true, encoding: .utf8)
        var r = Recipe()
        r.fstride = 16; r.tstride = 16; r.targetLength = 128; r.mean = -4.5; r.std = 4.25; r.seed = 5
        var notes: [String] = []
        let t = try Trainer(options: TrainOptions(initPath: "scratch:dim=96,depth=1,heads=3,patch=16", trainJSON: json, valJSON: nil,
                                                  labelCSV: csv, output: folder + "/m.ssast", recipe: r), notes: &notes)
        t.log = { _ in }
        try t.saveState()
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: t.statePath)))
        try t.loadState()   // the unmodified file loads
        var huge = original   // a header length of 2^63 used to trap in Int conversion
        withUnsafeBytes(of: (UInt64(1) << 63).littleEndian) { for k in 0..<8 { huge[12 + k] = $0[k] } }
        try Data(huge).write(to: URL(fileURLWithPath: t.statePath))
        XCTAssertThrowsError(try t.loadState()) { e in
            XCTAssertTrue("\(e)".contains("header length 9223372036854775808"), "\(e)")
        }
        let headerEnd = 20 + Int(original.withUnsafeBytes { $0.le(UInt64.self, at: 12) })
        var rng = SplitMix64(seed: 63)
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        var tally = Tally()
        for i in 0..<300 {
            var b = original
            switch i == 0 ? 3 : below(4) {
            case 0: b = Array(b.prefix(below(b.count)))
            case 1: for _ in 0...below(4) { b[below(headerEnd)] ^= UInt8(1 << below(8)) }
            case 2: b[20 + below(headerEnd - 20)] = UInt8(truncatingIfNeeded: rng.next())
            default:   // the header length field: 2^63 first, then other interesting values
                let v = i == 0 ? UInt64(1) << 63 : Self.interesting[below(Self.interesting.count)]
                withUnsafeBytes(of: v.littleEndian) { for k in 0..<8 { b[12 + k] = $0[k] } }
            }
            try Data(b).write(to: URL(fileURLWithPath: t.statePath))
            let t0 = monotonicTime()
            var outcome: String? = nil
            do { try t.loadState() } catch let e as SSASTError { outcome = String(e.message.dropFirst(t.statePath.count + 2).prefix(30)) }
            tally.count(outcome, seconds: monotonicTime() - t0)
        }
        print("trainer checkpoint fuzz (seed 63): \(tally)")
        XCTAssertEqual(tally.tried, 300)
        XCTAssertGreaterThan(tally.refused, 100)
    }
}
