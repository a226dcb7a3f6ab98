#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif

/// A read-only memory map of a whole file. Weights are used in place from it; readers of
/// PyTorch zips slice it without copying. Unmapped when the last reference goes.
public final class MappedFile {
    public let path: String
    public let base: UnsafeRawPointer
    public let count: Int

    public init(path: String) throws(SSASTError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SSASTError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SSASTError("\(path): cannot stat: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw SSASTError("\(path): is a directory, not a file") }
        let size = Int(st.st_size)
        if size == 0 {
            // mmap of zero bytes fails; an empty file is represented by a 1-byte dummy allocation.
            let p = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            self.base = UnsafeRawPointer(p); self.count = 0; self.ownsAllocation = true
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SSASTError("\(path): cannot map: \(String(cString: strerror(errno)))")
        }
        self.base = UnsafeRawPointer(p); self.count = size; self.ownsAllocation = false
    }

    private let ownsAllocation: Bool

    deinit {
        if ownsAllocation { UnsafeMutableRawPointer(mutating: base).deallocate() }
        else { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Bounds-checked slice; the error names the file and what was being read.
    public func slice(_ offset: Int, _ length: Int, what: @autoclosure () -> String) throws(SSASTError) -> UnsafeRawBufferPointer {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw SSASTError("\(path): truncated or corrupt: \(what()) needs bytes \(offset)..<\(offset &+ length) but the file has \(count)")
        }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }
}

/// Writes a file atomically: to `path.tmp-PID`, fsync, then rename over `path`. A failure
/// leaves no half-written output behind.
public func writeFileAtomically(_ path: String, _ body: (FileWriter) throws(SSASTError) -> Void) throws(SSASTError) {
    try atomicWrite(path, body)
}

private func atomicWrite(_ path: String, _ body: (FileWriter) throws(SSASTError) -> Void) throws(SSASTError) {
    let tmp = "\(path).tmp-\(getpid())"
    let w = try FileWriter(path: tmp)
    do throws(SSASTError) {
        try body(w)
        try w.finish()
    } catch {
        w.abandon(); unlink(tmp)
        throw error
    }
    if rename(tmp, path) != 0 {
        let e = String(cString: strerror(errno)); unlink(tmp)
        throw SSASTError("\(path): cannot rename temporary file into place: \(e)")
    }
}

#if !hasFeature(Embedded)
/// The same for a body that throws other errors too (re-thrown unchanged). Embedded Swift has no
/// `any Error`, so the runtime itself uses only the typed overload above.
public func writeFileAtomically(_ path: String, _ body: (FileWriter) throws -> Void) throws {
    var other: (any Error)? = nil
    let typed: (FileWriter) throws(SSASTError) -> Void = { w throws(SSASTError) in
        do { try body(w) } catch let e as SSASTError { throw e } catch { other = error; throw SSASTError("\(path): write abandoned") }
    }
    do { try atomicWrite(path, typed) } catch {
        if let o = other { throw o }
        throw error
    }
}
#endif

/// Buffered binary writer used by the atomic writer above.
public final class FileWriter {
    public let path: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var offset: Int = 0

    init(path: String) throws(SSASTError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw SSASTError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(SSASTError) {
        buffer.append(contentsOf: bytes); offset += bytes.count
        if buffer.count >= 1 << 20 { try flush() }
    }
    public func write(_ bytes: [UInt8]) throws(SSASTError) {
        buffer.append(contentsOf: bytes); offset += bytes.count
        if buffer.count >= 1 << 20 { try flush() }
    }
    public func writePadding(toMultipleOf a: Int) throws(SSASTError) {
        let pad = (a - offset % a) % a
        if pad > 0 { try write([UInt8](repeating: 0, count: pad)) }
    }

    func flush() throws(SSASTError) {
        var done = 0
        while done < buffer.count {
            #if canImport(Glibc)
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            #else
            let n = buffer.withUnsafeBytes { CLibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw SSASTError("\(path): write failed: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
    func finish() throws(SSASTError) {
        try flush()
        if fsync(fd) != 0 { throw SSASTError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
        if close(fd) != 0 { fd = -1; throw SSASTError("\(path): close failed: \(String(cString: strerror(errno)))") }
        fd = -1
    }
    func abandon() { if fd >= 0 { close(fd); fd = -1 } }
    deinit { abandon() }
}

/// Little-endian scalar loads from unaligned bytes.
extension UnsafeRawBufferPointer {
    @inlinable public func le<T: FixedWidthInteger>(_ t: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
