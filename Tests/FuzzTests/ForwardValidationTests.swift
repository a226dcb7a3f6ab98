import Foundation
import Runtime
import TestSupport
import XCTest

/// `SSASTModel.forward` is public: a run state built for another configuration, or an input of the
/// wrong length, is an error in every build, never a write past a buffer.
final class ForwardValidationTests: XCTestCase {
    func testMismatchedStateOrInputThrows() throws {
        let path = ReaderFuzzTests.dir + "/forward.ssast"
        try Data(ReaderFuzzTests.weightFile).write(to: URL(fileURLWithPath: path))
        let model = try SSASTModel(path: path)
        let engine = try Engine(threads: 1)
        let c = model.config
        let good = [Float](repeating: 0.1, count: c.targetLength * c.melBins)
        let y = try good.withUnsafeBufferPointer { try model.forward($0, state: RunState(config: c), engine: engine) }
        XCTAssertEqual(y.count, 3)

        var smaller = c
        smaller.targetLength = 64
        XCTAssertThrowsError(try good.withUnsafeBufferPointer { try model.forward($0, state: RunState(config: smaller), engine: engine) }) {
            XCTAssertTrue("\($0)".contains("RunState was built for another model configuration"), "\($0)")
        }
        let short = [Float](repeating: 0.1, count: c.targetLength * c.melBins - 1)
        XCTAssertThrowsError(try short.withUnsafeBufferPointer { try model.forward($0, state: RunState(config: c), engine: engine) }) {
            XCTAssertTrue("\($0)".contains("input has \(short.count) values"), "\($0)")
        }
    }
}
