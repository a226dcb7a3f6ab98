import Convert
import Runtime
import TestSupport
import XCTest

/// The activation width a weight file records ("ssast.int8_activations") and how the engine picks one.
final class Int8ActivationWidthTests: XCTestCase {
    func weightFile(_ bits: Int64?) throws -> String {
        var o = ConvertOptions()
        o.fstride = 10; o.tstride = 10; o.targetLength = 512; o.mean = -8.2096; o.std = 6.1568; o.dtype = .i8
        let m = try SSASTConverter.read(Fixtures.model("tiny-patch-ciab-ft.pth"), options: o)
        var (meta, blobs) = try SSASTConverter.weightFileContents(m, dtype: .i8, source: "test")
        if let b = bits { meta.append(("ssast.int8_activations", .int(b))) }
        let path = Fixtures.temporaryDirectory("int8-width") + "/bits-\(bits.map { "\($0)" } ?? "none").ssast"
        try WeightFileWriter.write(path: path, metadata: meta, tensors: blobs)
        return path
    }

    func testChoiceOrder() throws {
        let none = try SSASTModel(path: try weightFile(nil)), eight = try SSASTModel(path: try weightFile(8))
        XCTAssertNil(none.int8ActivationBits)
        XCTAssertEqual(eight.int8ActivationBits, 8)
        for isa in Engine.availableISAs {
            let e = try Engine(threads: 1, isa: isa)
            try e.chooseInt8Activations(requested: nil, model: none)
            XCTAssertEqual(e.int8ActivationBits, e.multipliesBytes ? 8 : 12, isa)
            try e.chooseInt8Activations(requested: nil, model: eight)
            XCTAssertEqual(e.int8ActivationBits, 8, isa)
            try e.chooseInt8Activations(requested: 12, model: eight)
            XCTAssertEqual(e.int8ActivationBits, 12, isa)
            XCTAssertThrowsError(try e.chooseInt8Activations(requested: 7, model: none)) { err in
                XCTAssertTrue("\(err)".contains("--int8-activations must be 8 or 12 (got 7)"), "\(err)")
            }
        }
        XCTAssertEqual(Engine.availableISAs.filter { try! Engine(threads: 1, isa: $0).multipliesBytes },
                       Engine.availableISAs.filter { ["avx512vnni", "avxvnni", "dotprod"].contains($0) })
    }

    func testUnknownWidthInFileIsRefused() throws {
        let path = try weightFile(9)
        XCTAssertThrowsError(try SSASTModel(path: path)) { err in
            XCTAssertTrue("\(err)".contains("ssast.int8_activations = 9"), "\(err)")
            XCTAssertTrue("\(err)".contains(path), "\(err)")
        }
    }
}
