#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif
import CShim

// Every file the tools write goes through `writeFileAtomically`: the output appears complete or not
// at all, never replaces an input or something that is not a regular file, and a temporary left by
// a killed run is removed by the next write to the same output.

/// Remembers an opened input (device, inode, change time), so that no output of this process replaces it.
func noteInput(_ st: stat) { ssast_input_note(UInt64(st.st_dev), UInt64(st.st_ino), changeTime(st)) }

/// The status-change time in ns: with it, a new file on a deleted input's reused inode is not that input.
private func changeTime(_ st: stat) -> UInt64 {
    UInt64(truncatingIfNeeded: Int64(st.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_ctim.tv_nsec))
}

/// The same for a file read by other means (libsndfile, a stream), so that no output replaces it.
public func noteInputFile(_ path: String) {
    var st = stat()
    if stat(path, &st) == 0 { noteInput(st) }
}

/// Allows an input to be replaced after all: a file the program updates by design (the trainer's
/// state, read on --resume and saved again each epoch).
public func forgetInputFile(_ path: String) {
    var st = stat()
    if stat(path, &st) == 0 { ssast_input_forget(UInt64(st.st_dev), UInt64(st.st_ino), changeTime(st)) }
}

/// Refuses an output path that names a file this process read as input (through any spelling or
/// link), or that exists and is not a regular file (a FIFO, a device such as /dev/null, a folder).
public func checkOutputPath(_ path: String) throws(SSASTError) {
    var st = stat()
    guard stat(path, &st) == 0 else { return }
    if (st.st_mode & S_IFMT) != S_IFREG {
        throw SSASTError("\(path): exists and is not a regular file; refusing to replace it")
    }
    if ssast_input_seen(UInt64(st.st_dev), UInt64(st.st_ino), changeTime(st)) != 0 {
        throw SSASTError("\(path): is the input; write the output to another file")
    }
}

/// Writes a file atomically: to a temporary beside `path` (unpredictable name, created exclusively,
/// never through a symlink), fsync, rename over `path`, then fsync the folder. A failure, or SIGINT/TERM/HUP/PIPE while
/// writing, leaves no half-written output and no temporary behind.
public func writeFileAtomically(_ path: String, _ body: (FileWriter) throws(SSASTError) -> Void) throws(SSASTError) {
    try atomicWrite(path, body)
}

private func atomicWrite(_ path: String, _ body: (FileWriter) throws(SSASTError) -> Void) throws(SSASTError) {
    try checkOutputPath(path)
    _ = ssast_temp_clean_stale(path)
    var name = [CChar](repeating: 0, count: 4096 + 512)
    let fd = ssast_temp_create(path, &name, UInt(name.count))
    if fd < 0 {
        throw SSASTError("\(path): cannot create a temporary file beside it: \(String(cString: strerror(errno)))")
    }
    let tmp = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let w = FileWriter(path: tmp, fd: fd)
    func discard() { w.abandon(); unlink(tmp); ssast_temp_forget(tmp) }
    do throws(SSASTError) {
        try body(w)
        try w.finish()
        // Checked again: the output may have appeared (or become a FIFO) while we wrote.
        try checkOutputPath(path)
    } catch {
        discard()
        throw error
    }
    if rename(tmp, path) != 0 {
        let e = String(cString: strerror(errno)); discard()
        throw SSASTError("\(path): cannot rename temporary file into place: \(e)")
    }
    ssast_temp_forget(tmp)
    // The new name lives in the folder: without this a power cut can bring back the old file, or none.
    // EINVAL: a file system that cannot sync folders (it has nothing to make durable this way).
    if ssast_fsync_folder(path) != 0 && errno != EINVAL {
        throw SSASTError("\(path): written, but its folder could not be synced to disk: \(String(cString: strerror(errno)))")
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

    init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
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
