import Runtime

/// The bytes of one checkpoint: a memory map of the file, or (for tests and in-memory use) an
/// owned copy. Tensor views keep this alive and read from it only when asked for values.
final class ByteSource {
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let owned: UnsafeMutableRawBufferPointer?

    init(mapped file: MappedFile) {
        path = file.path; bytes = file.bytes; owner = file; owned = nil
    }

    init(copying data: [UInt8], name: String) {
        let m = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        data.withUnsafeBytes { src in
            if let b = src.baseAddress, src.count > 0 { m.baseAddress!.copyMemory(from: b, byteCount: src.count) }
        }
        path = name; owned = m; owner = nil
        bytes = UnsafeRawBufferPointer(start: m.baseAddress, count: data.count)
    }

    deinit { owned?.deallocate() }

    var count: Int { bytes.count }

    /// Bounds-checked (overflow-safe) range check; the error names the file and what was read.
    func check(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw SSASTError("\(path): truncated or corrupt: \(what()) needs bytes \(offset)..<\(offset &+ length) but the file has \(bytes.count)")
        }
    }

    func slice(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try check(offset, length, what())
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
    }

    func u16(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt16 {
        try check(offset, 2, what()); return bytes.le(UInt16.self, at: offset)
    }
    func u32(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt32 {
        try check(offset, 4, what()); return bytes.le(UInt32.self, at: offset)
    }
    func u64(_ offset: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        try check(offset, 8, what()); return bytes.le(UInt64.self, at: offset)
    }
}

/// Overflow-checked arithmetic for sizes read from files: hostile values give an error, not a trap.
@inline(__always)
func checkedMul(_ a: Int, _ b: Int, _ err: @autoclosure () -> SSASTError) throws -> Int {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    if o { throw err() }
    return r
}

@inline(__always)
func checkedAdd(_ a: Int, _ b: Int, _ err: @autoclosure () -> SSASTError) throws -> Int {
    let (r, o) = a.addingReportingOverflow(b)
    if o { throw err() }
    return r
}

/// UInt64 from a file -> Int, refusing values that do not fit.
@inline(__always)
func intFrom(_ v: UInt64, _ err: @autoclosure () -> SSASTError) throws -> Int {
    guard v <= UInt64(Int.max) else { throw err() }
    return Int(v)
}
