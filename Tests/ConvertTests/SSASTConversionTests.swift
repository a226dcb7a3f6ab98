import Convert
import Foundation
import Runtime
import TestSupport
import XCTest

/// SSAST semantics of the converter against the original code's outputs.
final class SSASTConversionTests: XCTestCase {
    override func setUpWithError() throws { try Fixtures.require() }

    /// Every manifest.posembed case: the adapted pos_embed and the patch weight within 1e-5.
    func testPosEmbedAdaptationMatchesOriginal() throws {
        let cases = Fixtures.manifest["posembed"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 7)
        for c in cases {
            var o = ConvertOptions()
            o.fstride = c["fstride"] as? Int; o.tstride = c["tstride"] as? Int; o.targetLength = c["input_tdim"] as? Int
            let m = try SSASTConverter.read(Fixtures.model(c["model"] as! String), options: o)
            let expected = try Fixtures.npy(c["pos_embed"] as! String)
            let got = try XCTUnwrap(m.tensors["v.pos_embed"])
            XCTAssertEqual(got.shape, [1] + expected.shape)
            XCTAssertEqual(m.config.tokens, expected.shape[0])
            let d = maxAbsDiff(got.values, expected.data)
            XCTAssertLessThan(d, 1e-5, "pos_embed \(c["pos_embed"]!)")
            let pw = try Fixtures.npy(c["patch_weight"] as! String)
            let gotW = try XCTUnwrap(m.tensors["v.patch_embed.proj.weight"])
            XCTAssertEqual(gotW.shape, pw.shape)
            XCTAssertLessThan(maxAbsDiff(gotW.values, pw.data), 1e-5)
            XCTAssertFalse(m.config.hasHead, "a pretrained file converts to a backbone-only model")
            print("convert: \(c["pos_embed"]!) max abs diff \(d)")
        }
    }

    /// Every .pth under fixtures/models converts (fine-tuned ones with the manifest's geometry).
    func testEveryFixtureCheckpointConverts() throws {
        let dir = Fixtures.temporaryDirectory("convert-all")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let models = Fixtures.manifest["models"] as! [String: [String: Any]]
        for (name, m) in models.sorted(by: { $0.key < $1.key }) {
            var o = ConvertOptions()
            o.fstride = m["fstride"] as? Int; o.tstride = m["tstride"] as? Int; o.targetLength = m["input_tdim"] as? Int
            o.mean = (m["dataset_mean"] as? Double).map(Float.init); o.std = (m["dataset_std"] as? Double).map(Float.init)
            let out = dir + "/\(name).ssast"
            let ck = try SSASTConverter.convert(input: Fixtures.model(name), output: out, options: o)
            if let depth = m["depth"] as? Int { XCTAssertEqual(ck.config.depth, depth) }
            if let labels = m["labels"] as? Int { XCTAssertEqual(ck.config.labels.count, labels) }
            XCTAssertEqual(ck.config.dim, 192); XCTAssertEqual(ck.config.heads, 3)
            let model = try SSASTModel(path: out)
            XCTAssertEqual(model.config, ck.config)
            if m["kind"] as? String == "ssl-pretrained" {
                XCTAssertTrue(ck.dropped.contains("mask_embed"))
                XCTAssertTrue(ck.dropped.contains { $0.hasPrefix("cpredlayer.") })
            }
        }
    }

    /// fp32 write-then-read is exact; fp16/int8 errors are recorded and bounded per tensor.
    func testRoundTripAndQuantisationBounds() throws {
        let dir = Fixtures.temporaryDirectory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 128; o.mean = -8.2096; o.std = 6.1568
        let src = Fixtures.model("tiny-patch-2block-train.pth")
        let ck = try SSASTConverter.read(src, options: o)
        for dtype in [WeightType.f32, .f16, .i8] {
            let out = dir + "/m-\(dtype).ssast"
            let (meta, blobs) = try SSASTConverter.weightFileContents(ck, dtype: dtype, source: "test")
            try WeightFileWriter.write(path: out, metadata: meta, tensors: blobs)
            let w = try WeightFile(path: out)
            for name in ModelSchema.names(ck.config) {
                let original = ck.tensors[name]!.values
                let back = try w.dequantised(name)
                let info = try XCTUnwrap(w.info(name))
                if dtype == .f32 || info.layout == .rowMajor {
                    XCTAssertEqual(back, original, "\(name) must round-trip exactly")
                } else {
                    let d = maxAbsDiff(back, original)
                    if dtype == .f16 {
                        XCTAssertLessThanOrEqual(d, original.map(abs).max()! * 4.9e-4, "\(name) \(dtype)")   // relative rounding 2^-11
                    } else {
                        let rows = info.shape[0], k = original.count / rows
                        let scales = try w.floats(name + ".scale", shape: [Packing.paddedN(rows)])
                        for j in 0..<rows {
                            let slice = (j * k)..<((j + 1) * k)
                            if let problem = int8ChannelProblem(original: original[slice], back: back[slice], scale: scales[j]) {
                                return XCTFail("int8 \(name) channel \(j): \(problem)")
                            }
                        }
                    }
                    guard case .strings(let e)? = w.metadata["quant." + name] else { return XCTFail("no quant error for \(name)") }
                    XCTAssertEqual(Float(e[0])!, d, accuracy: 1e-9, "recorded max error of \(name)")
                }
            }
        }
    }

    func testFineTunedGeometryErrorsAreSpecific() throws {
        let src = Fixtures.model("tiny-patch-ciab-ft.pth")
        var o = ConvertOptions()
        XCTAssertThrowsError(try SSASTConverter.read(src, options: o)) { e in
            let m = (e as! SSASTError).message
            XCTAssertTrue(m.contains("--fstride") && m.contains("600 patches"), m)
        }
        o.fstride = 10; o.tstride = 10; o.targetLength = 1024; o.mean = -8; o.std = 6
        XCTAssertThrowsError(try SSASTConverter.read(src, options: o)) { e in
            let m = (e as! SSASTError).message
            XCTAssertTrue(m.contains("12 x 101") && m.contains("602 tokens") && m.contains("--target-length 506...515"), m)
        }
        o.targetLength = 512; o.mean = nil
        XCTAssertThrowsError(try SSASTConverter.read(src, options: o)) { e in
            XCTAssertTrue((e as! SSASTError).message.contains("--mean"))
        }
        o.mean = -8; o.labels = ["a", "b", "c"]
        XCTAssertThrowsError(try SSASTConverter.read(src, options: o)) { e in
            XCTAssertTrue((e as! SSASTError).message.contains("2 outputs but 3 label names"))
        }
    }

    /// Mutations through the whole converter (reader + SSAST semantics + writer): each converts or
    /// fails with an SSASTError naming the file; hostile pickles are refused by name.
    func testMutatedCheckpointsConvertOrFailCleanly() throws {
        let dir = Fixtures.temporaryDirectory("mutate")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.model("tiny-patch-2block-train.pth"))))
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 128; o.mean = -8.2096; o.std = 6.1568
        var state: UInt64 = 7
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(truncatingIfNeeded: state >> 33) }
        var outcomes = ["converted": 0, "refused": 0]
        for i in 0..<60 {
            var b = original
            if i < 20 { b = Array(b.prefix(next() % b.count)) }                       // truncation
            else { for _ in 0..<(1 + next() % 4) { b[next() % b.count] ^= UInt8(1 << (next() % 8)) } } // flips
            let path = dir + "/m\(i).pth"
            try Data(b).write(to: URL(fileURLWithPath: path))
            do {
                try SSASTConverter.convert(input: path, output: path + ".ssast", options: o)
                _ = try SSASTModel(path: path + ".ssast")
                outcomes["converted"]! += 1
            } catch let e as SSASTError {
                XCTAssertTrue(e.message.contains(path), e.message)
                XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".ssast"), "no output after a failure")
                outcomes["refused"]! += 1
            }
        }
        print("convert mutations: \(outcomes)")
        XCTAssertEqual(outcomes["refused"]! + outcomes["converted"]!, 60)
        XCTAssertGreaterThanOrEqual(outcomes["refused"]!, 20, "every truncation must be refused")
        let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources").path
        for (file, needle) in [("evil_global.pth", "system"), ("evil_stack_global.pth", "eval"), ("unknown_opcode.pth", "opcode"),
                               ("legacy.pth", "_use_new_zipfile_serialization=True")] {
            XCTAssertThrowsError(try SSASTConverter.read(resources + "/" + file, options: o)) { e in
                let m = (e as? SSASTError)?.message ?? "\(e)"
                XCTAssertTrue(m.contains(needle), "\(file): \(m)")
            }
        }
    }
}
