import Runtime
import XCTest

final class ChecksumTests: XCTestCase {
    func testXXH64KnownVectors() {
        // Published XXH64 test vectors (seed 0).
        XCTAssertEqual(xxh64(UnsafeRawBufferPointer(start: nil, count: 0)), 0xEF46_DB37_51D8_E999)
        let abc = Array("abc".utf8)
        XCTAssertEqual(abc.withUnsafeBytes { xxh64($0) }, 0x44BC_2CF5_AD77_0999)
    }
}
