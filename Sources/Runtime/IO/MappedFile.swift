#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif
import CShim

/// A read-only memory map of a whole file. Weights are used in place from it; readers of
/// PyTorch zips slice it without copying. Unmapped when the last reference goes.
public final class MappedFile {
    public let path: String
    public let base: UnsafeRawPointer
    public let count: Int

    public init(path: String) throws(SSASTError) {
        self.path = path
        // Non-blocking, so that a FIFO given by mistake is refused below instead of waiting for a writer.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if fd < 0 { throw SSASTError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw SSASTError("\(path): cannot stat: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw SSASTError("\(path): is a directory, not a file") }
        if (st.st_mode & S_IFMT) != S_IFREG { throw SSASTError("\(path): is not a regular file (a FIFO, socket or device)") }
        noteInput(st)
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

    /// A copy of `bytes` standing in for a file called `name` (tests, in-memory checks).
    public init(bytes: [UInt8], name: String) {
        path = name
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: $0.count) } }
        base = UnsafeRawPointer(p); count = bytes.count; ownsAllocation = true
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

/// Little-endian scalar loads from unaligned bytes.
extension UnsafeRawBufferPointer {
    @inlinable public func le<T: FixedWidthInteger>(_ t: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
