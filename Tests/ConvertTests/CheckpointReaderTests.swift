import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// The small files written by scripts/make_checkpoint_test_files.py.
enum CheckpointResources {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources").path
    static func path(_ name: String) -> String { dir + "/" + name }
}

/// A file's bytes; the map is kept alive until the copy is made.
func fileBytes(_ path: String) throws -> [UInt8] {
    let m = try MappedFile(path: path)
    return withExtendedLifetime(m) { Array(m.bytes) }
}

/// Asserts that `body` throws an SSASTError whose message contains every one of `parts`.
func assertSSASTError<T>(_ parts: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected an SSASTError containing \(parts)", file: file, line: line)
    } catch let e as SSASTError {
        for p in parts where !e.message.contains(p) {
            XCTFail("error '\(e.message)' does not mention '\(p)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected SSASTError, got \(error)", file: file, line: line)
    }
}

final class CheckpointReaderTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    func tensor(_ c: Checkpoint, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> CheckpointTensor {
        guard let t = c[name] else { XCTFail("no tensor '\(name)' in \(c.path)", file: file, line: line); throw SSASTError("missing") }
        return t
    }

    // MARK: the fixture checkpoints (written by torch.save from the original SSAST code)

    func testAllFixtureCheckpointsLoad() throws {
        let expected: [String: (keys: Int, depth: Int)] = [
            "tiny-patch-pretrain.pth": (166, 12), "tiny-frame-pretrain.pth": (166, 12),
            "tiny-patch-ciab-ft.pth": (159, 12), "tiny-frame-ciab-ft.pth": (159, 12),
            "tiny-patch-2block-train.pth": (39, 2),
        ]
        let models = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root + "/models").filter { $0.hasSuffix(".pth") }
        XCTAssertEqual(Set(models), Set(expected.keys))
        for m in models {
            let c = try Checkpoint.load(Fixtures.model(m))
            XCTAssertEqual(c.format, .pytorchZip)
            XCTAssertEqual(c.tensors.count, expected[m]?.keys, m)
            XCTAssertEqual(c.metadata["archive"], String(m.dropLast(4)), m)
            XCTAssertEqual(c.metadata["byteorder"], "little")
            XCTAssertTrue(c.names.allSatisfy { $0.hasPrefix("module.") }, m)
            XCTAssertEqual(Set(c.names).count, c.tensors.count, "duplicate names in \(m)")
            let blocks = Set(c.names.compactMap { n -> String? in
                let parts = n.split(separator: ".")
                return parts.count > 3 && parts[2] == "blocks" ? String(parts[3]) : nil
            })
            XCTAssertEqual(blocks.count, expected[m]?.depth, m)
            // Every tensor's bytes lie inside the file and convert; the file is mostly these bytes.
            var bytes = 0
            for t in c.tensors {
                XCTAssertEqual(try t.floats().count, t.count)
                bytes += t.count * t.dtype.itemSize
            }
            let size = try MappedFile(path: Fixtures.model(m)).count
            XCTAssertLessThanOrEqual(bytes, size)
            XCTAssertGreaterThan(bytes, size * 9 / 10, m)
        }
    }

    func testPretrainedShapesScalarsAndValues() throws {
        let c = try Checkpoint.load(Fixtures.model("tiny-patch-pretrain.pth"))
        XCTAssertEqual(c.tensors.count, 166)
        XCTAssertEqual(c.names.first, "module.p_input_fdim")  // the pickle order of the file
        let pos = try tensor(c, "module.v.pos_embed")
        XCTAssertEqual(pos.shape, [1, 514, 192])
        XCTAssertEqual(pos.dtype, .float32)
        XCTAssertTrue(pos.isContiguous)
        let fdim = try tensor(c, "module.p_input_fdim"), tdim = try tensor(c, "module.p_input_tdim")
        XCTAssertEqual(fdim.dtype, .int64)
        XCTAssertEqual(fdim.shape, [])
        XCTAssertEqual(try fdim.int64s(), [128])
        let manifest = Fixtures.manifest["models"] as? [String: [String: Any]]
        let tdimExpected = manifest?["tiny-patch-pretrain.pth"]?["input_tdim"] as? Int
        XCTAssertEqual(try tdim.intScalar(), Int64(tdimExpected ?? -1))
        XCTAssertEqual(try tensor(c, "module.v.patch_embed.proj.weight").shape, [192, 1, 16, 16])
        XCTAssertEqual(try tensor(c, "module.v.blocks.0.attn.qkv.weight").shape, [576, 192])

        // With stride 16 and the pretraining length, the original ASTModel keeps pos_embed and the
        // patch weight unchanged: the fixtures hold them exactly as torch read them.
        let pe = try Fixtures.npy("expected/posembed_p_s16_t1024.npy")
        XCTAssertEqual(pe.shape, [514, 192])
        XCTAssertEqual(try pos.floats(), pe.data)
        let pw = try Fixtures.npy("expected/patchw_p_s16_t1024.npy")
        XCTAssertEqual(try tensor(c, "module.v.patch_embed.proj.weight").floats(), pw.data)
    }

    func testFineTunedPosEmbedMatchesTrace() throws {
        // tokens_in = [cls, dist, patches] + pos_embed, so pos_embed = tokens_in - (those): an
        // independent check of the values the reader returns (up to one float rounding).
        let c = try Checkpoint.load(Fixtures.model("tiny-patch-ciab-ft.pth"))
        XCTAssertEqual(c.tensors.count, 159)
        let pos = try tensor(c, "module.v.pos_embed")
        XCTAssertEqual(pos.shape, [1, 602, 192])
        let p = try pos.floats()
        let cls = try tensor(c, "module.v.cls_token").floats(), dist = try tensor(c, "module.v.dist_token").floats()
        let tin = try Fixtures.npy("expected/trace_tokens_in_tiny-patch-ciab-ft__speech16k.npy")
        let tpe = try Fixtures.npy("expected/trace_patch_embed_tiny-patch-ciab-ft__speech16k.npy")
        XCTAssertEqual(tin.shape, [602, 192])
        var recon = [Float](repeating: 0, count: 602 * 192)
        for j in 0..<192 {
            recon[j] = tin.data[j] - cls[j]
            recon[192 + j] = tin.data[192 + j] - dist[j]
        }
        for i in 2 * 192..<602 * 192 { recon[i] = tin.data[i] - tpe.data[i - 2 * 192] }
        XCTAssertLessThan(maxAbsDiff(p, recon), 1e-5)
        XCTAssertEqual(try tensor(c, "module.mlp_head.1.weight").shape, [2, 192])
    }

    // MARK: the generated files

    func testAllDTypes() throws {
        let c = try Checkpoint.load(CheckpointResources.path("dtypes.pth"))
        XCTAssertEqual(c.names, ["f32", "f16", "bf16", "f64", "i64", "i32", "i16", "i8", "u8", "bool"])
        XCTAssertEqual(c.metadata["archive"], "dtypes")
        XCTAssertEqual(try tensor(c, "f32").floats(), (0..<6).map { Float($0) * 0.5 - 1 })
        XCTAssertEqual(try tensor(c, "f32").shape, [2, 3])
        let h = try tensor(c, "f16")
        XCTAssertEqual(h.dtype, .float16)
        let hv = try h.floats()
        XCTAssertEqual(Array(hv[0..<5]), [0.5, -1.25, 65504, Float(1) / Float(1 << 24), .infinity])
        XCTAssertTrue(hv[5].isNaN)
        let b = try tensor(c, "bf16")
        XCTAssertEqual(b.dtype, .bfloat16)
        XCTAssertEqual(try b.floats(), [1, -2.5, Float(sign: .plus, exponent: 100, significand: 1), -0.0078125])
        XCTAssertEqual(try tensor(c, "f64").floats(), [Float(0.1), -.infinity, 3])
        XCTAssertEqual(try tensor(c, "i64").shape, [])
        XCTAssertEqual(try tensor(c, "i64").int64s(), [1024])
        XCTAssertEqual(try tensor(c, "i32").int64s(), [-7, 0, 2147483647])
        XCTAssertEqual(try tensor(c, "i16").int64s(), [-32768, 5])
        XCTAssertEqual(try tensor(c, "i8").int64s(), [-128, 127])
        XCTAssertEqual(try tensor(c, "u8").int64s(), [0, 255, 17])
        XCTAssertEqual(try tensor(c, "u8").floats(), [0, 255, 17])
        XCTAssertEqual(try tensor(c, "bool").int64s(), [1, 0, 1])
        XCTAssertEqual(try tensor(c, "bool").dtype, .bool)
        assertSSASTError(["f32", "not an integer"]) { try tensor(c, "f32").int64s() }
    }

    func testSharedStoragesOffsetsAndStrides() throws {
        let c = try Checkpoint.load(CheckpointResources.path("views.pth"))
        XCTAssertEqual(c.metadata["archive"], "some_other-top.name")
        XCTAssertEqual(try tensor(c, "a").floats(), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try tensor(c, "b").floats(), [10, 11, 12, 13])
        let t = try tensor(c, "t")
        XCTAssertEqual(t.shape, [3, 4])
        XCTAssertEqual(t.strides, [1, 3])
        XCTAssertFalse(t.isContiguous)
        var expectT: [Float] = []
        for i in 0..<3 { for j in 0..<4 { expectT.append(Float(12 + i + 3 * j)) } }
        XCTAssertEqual(try t.floats(), expectT)
        XCTAssertEqual(try tensor(c, "e").floats(), [2, 3, 4, 2, 3, 4])
        XCTAssertEqual(try tensor(c, "s").floats(), [101])
        XCTAssertEqual(try tensor(c, "z").shape, [0, 5])
        XCTAssertEqual(try tensor(c, "z").floats(), [])
    }

    func testNestedStateDictIsFlattened() throws {
        let c = try Checkpoint.load(CheckpointResources.path("nested.pth"))
        XCTAssertEqual(c.names, ["layer.weight", "layer.bias"])
        XCTAssertEqual(try tensor(c, "layer.weight").floats(), [1, 2, 3, 4])
        XCTAssertEqual(try tensor(c, "layer.bias").floats(), [3, 4])
        XCTAssertEqual(c.metadata["state_dict_key"], "model")
        XCTAssertEqual(c.metadata["epoch"], "7")
        XCTAssertEqual(c.metadata["lr"], "0.25")
        XCTAssertEqual(c.metadata["arch"], "tiny")
        XCTAssertEqual(c.metadata["best"], "True")
    }

    func testProtocol4RebuildV3ParameterAndZip64() throws {
        let c = try Checkpoint.load(CheckpointResources.path("proto4_zip64.pth"))
        XCTAssertEqual(c.names, ["h", "p"])
        let h = try tensor(c, "h")
        XCTAssertEqual(h.dtype, .float16)
        XCTAssertEqual(try h.floats(), [-2, 0.25, 8])
        XCTAssertEqual(try tensor(c, "p").floats(), [9, 8])
    }

    func testSafetensors() throws {
        let path = CheckpointResources.path("tiny.safetensors")
        let c = try Checkpoint.load(path)
        XCTAssertEqual(c.format, .safetensors)
        XCTAssertEqual(c.names, ["w", "h", "b", "n", "m"])
        XCTAssertEqual(c.metadata["format"], "pt")
        XCTAssertEqual(c.metadata["note"], "test")
        XCTAssertEqual(try tensor(c, "w").shape, [2, 2])
        XCTAssertEqual(try tensor(c, "w").floats(), [1, -2, 3.5, 4])
        XCTAssertEqual(try tensor(c, "h").floats(), [0.5, -0.25, 1024])
        XCTAssertEqual(try tensor(c, "b").floats(), [1, -3])
        XCTAssertEqual(try tensor(c, "n").intScalar(), -42)
        XCTAssertEqual(try tensor(c, "m").int64s(), [0, 1])

        // Hostile headers, built in memory from the good file.
        let good = try fileBytes(path)
        let dataStart = 8 + good.withUnsafeBytes { Int($0.le(UInt64.self, at: 0)) }
        func withHeader(_ json: String, length: UInt64? = nil) -> [UInt8] {
            let h = Array(json.utf8)
            var n = length ?? UInt64(h.count)
            return withUnsafeBytes(of: &n) { Array($0) } + h + Array(good[dataStart...])
        }
        assertSSASTError(["header length", "limit"]) { try Checkpoint.load(bytes: withHeader("{}", length: 1 << 40), name: "x") }
        assertSSASTError(["truncated", "header"]) { try Checkpoint.load(bytes: withHeader("{}", length: 1 << 20), name: "x") }
        assertSSASTError(["'w'", "data_offsets"]) {
            try Checkpoint.load(bytes: withHeader(#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,100000]}}"#), name: "x")
        }
        assertSSASTError(["'w'", "needs 16"]) {
            try Checkpoint.load(bytes: withHeader(#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}"#), name: "x")
        }
        assertSSASTError(["'w'", "overflows"]) {
            try Checkpoint.load(bytes: withHeader(#"{"w":{"dtype":"F32","shape":[9223372036854775807,4],"data_offsets":[0,8]}}"#), name: "x")
        }
        assertSSASTError(["F8_E4M3", "not supported"]) {
            try Checkpoint.load(bytes: withHeader(#"{"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#), name: "x")
        }
        assertSSASTError(["nested deeper"]) {
            try Checkpoint.load(bytes: withHeader("{\"a\":" + String(repeating: "[", count: 100_000)), name: "x")
        }
        assertSSASTError(["bad JSON"]) { try Checkpoint.load(bytes: withHeader(#"{"w":{"dtype":"F32""#), name: "x") }
    }

    // MARK: refused files

    func testRefusals() throws {
        assertSSASTError(["legacy", "_use_new_zipfile_serialization=True"]) {
            try Checkpoint.load(CheckpointResources.path("legacy.pth"))
        }
        assertSSASTError(["evil_global.pth", "posix.system"]) { try Checkpoint.load(CheckpointResources.path("evil_global.pth")) }
        assertSSASTError(["builtins.eval"]) { try Checkpoint.load(CheckpointResources.path("evil_stack_global.pth")) }
        assertSSASTError(["opcode 0xff", "offset"]) { try Checkpoint.load(CheckpointResources.path("unknown_opcode.pth")) }
        assertSSASTError(["compressed", "data.pkl"]) { try Checkpoint.load(CheckpointResources.path("compressed.pth")) }
        assertSSASTError(["storage '0'", "needs 32 bytes"]) { try Checkpoint.load(CheckpointResources.path("short_storage.pth")) }
        assertSSASTError(["storage '0'", "holds 4"]) { try Checkpoint.load(CheckpointResources.path("view_out_of_range.pth")) }
        assertSSASTError(["does-not-exist.pth", "cannot open"]) { try Checkpoint.load("/nonexistent/does-not-exist.pth") }
        assertSSASTError(["not a PyTorch"]) { try Checkpoint.load(bytes: Array("hello world, not a model".utf8), name: "t.txt") }
        assertSSASTError(["bare pickle"]) { try Checkpoint.load(bytes: [0x80, 0x02, 0x4E, 0x2E], name: "p.pkl") }
        assertSSASTError(["e.pth"]) { try Checkpoint.load(bytes: [], name: "e.pth") }
    }

    func testInMemoryLoadMatchesFile() throws {
        let path = CheckpointResources.path("views.pth")
        let a = try Checkpoint.load(path)
        let b = try Checkpoint.load(bytes: try fileBytes(path), name: path)
        XCTAssertEqual(a.names, b.names)
        for t in a.tensors { XCTAssertEqual(try t.floats(), try b[t.name]?.floats()) }
    }
}

final class CheckpointIntegrityTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    func testChecksumsOfFixturesAndGeneratedFiles() throws {
        for m in ["tiny-patch-2block-train.pth", "tiny-patch-ciab-ft.pth"] {
            XCTAssertNoThrow(try Checkpoint.load(Fixtures.model(m)).verifyIntegrity(), m)
        }
        for r in ["dtypes.pth", "views.pth", "proto4_zip64.pth", "tiny.safetensors"] {
            XCTAssertNoThrow(try Checkpoint.load(CheckpointResources.path(r)).verifyIntegrity(), r)
        }
    }

    func testDamagedTensorDataLoadsButFailsVerification() throws {
        var b = try fileBytes(CheckpointResources.path("views.pth"))
        // The shared storage holds 0..23 as float32; damage the value 5.0 (bytes 00 00 a0 40).
        let five: [UInt8] = [0x00, 0x00, 0xA0, 0x40]
        guard let at = (0..<(b.count - 4)).first(where: { Array(b[$0..<($0 + 4)]) == five }) else {
            return XCTFail("float 5.0 not found")
        }
        b[at + 3] = 0x41   // 5.0 -> 20.0
        let c = try Checkpoint.load(bytes: b, name: "damaged.pth")
        XCTAssertEqual(try c["a"]?.floats(), [0, 1, 2, 3, 4, 20])
        assertSSASTError(["damaged.pth", "data/shared", "CRC-32"]) { try c.verifyIntegrity() }
    }
}
