import Glibc
import Runtime

/// Files and folders on the C library: what the modules above Runtime need, no more.
public enum FileSystem {
    private static func status(_ path: String) -> stat? {
        var st = stat()
        return stat(path, &st) == 0 ? st : nil
    }

    /// The path names something (symbolic links followed).
    public static func exists(_ path: String) -> Bool { status(path) != nil }

    public static func isDirectory(_ path: String) -> Bool {
        guard let st = status(path) else { return false }
        return st.st_mode & S_IFMT == S_IFDIR
    }

    /// The whole file; works for files whose size is not known in advance (/proc, pipes).
    public static func readBytes(_ path: String) throws(SSASTError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SSASTError("\(path): cannot open: \(lastError)") }
        defer { close(fd) }
        var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SSASTError("\(path): cannot read: \(lastError)")
            }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// The file as UTF-8 text; an error when it cannot be read or is not UTF-8.
    public static func readText(_ path: String) throws(SSASTError) -> String {
        let bytes = try readBytes(path)
        guard let s = String(validating: bytes, as: UTF8.self) else { throw SSASTError("\(path): not UTF-8 text") }
        return s
    }

    /// Writes the whole file atomically (see `writeFileAtomically`).
    public static func write(_ bytes: [UInt8], to path: String) throws(SSASTError) {
        try writeFileAtomically(path) { (w: FileWriter) throws(SSASTError) in try w.write(bytes) }
    }

    /// Removes a file; a missing file is not an error.
    public static func remove(_ path: String) { unlink(path) }

    /// Every file below `folder` (symbolic links followed to files, not into folders), as paths that
    /// start with `folder`, sorted; names starting with "." and what is below them are skipped.
    public static func filesBelow(_ folder: String) throws(SSASTError) -> [String] {
        var found: [String] = []
        try collect(folder, into: &found, isTop: true)
        return found.sorted()
    }

    private static func collect(_ dir: String, into found: inout [String], isTop: Bool) throws(SSASTError) {
        guard let names = names(in: dir) else {
            if isTop { throw SSASTError("\(dir): cannot list folder: \(lastError)") }
            return
        }
        for name in names where !name.hasPrefix(".") {
            let full = dir.appendingPathComponent(name)
            var lst = stat()
            guard lstat(full, &lst) == 0 else { continue }
            if lst.st_mode & S_IFMT == S_IFDIR {
                try collect(full, into: &found, isTop: false)
            } else if let st = status(full), st.st_mode & S_IFMT != S_IFDIR {
                found.append(full)
            }
        }
    }

    /// The names in a folder (hidden ones included, "." and ".." not), unsorted; nil when it cannot be listed.
    public static func names(in folder: String) -> [String]? {
        guard let d = opendir(folder) else { return nil }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// $TMPDIR, else /tmp; always ends in "/".
    public static var temporaryDirectory: String {
        var t = getenv("TMPDIR").map { String(cString: $0) } ?? ""
        if t.isEmpty { t = "/tmp" }
        return t.hasSuffix("/") ? t : t + "/"
    }

    public static var currentDirectory: String {
        guard let p = getcwd(nil, 0) else { return "." }
        defer { free(p) }
        return String(cString: p)
    }

    /// The running executable, symbolic links resolved.
    public static var executablePath: String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

    /// strerror(errno).
    public static var lastError: String { String(cString: strerror(errno)) }
}

/// A file written front to back, with the option of going back to patch a header.
public final class OutputFile {
    public let path: String
    private var fd: Int32

    /// Creates (or truncates) `path`: never one of the program's inputs or something that is not a
    /// regular file (`checkOutputPath`), never through a symbolic link.
    public init(creating path: String) throws(SSASTError) {
        self.path = path
        try checkOutputPath(path)
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if fd < 0 { throw SSASTError("\(path): cannot create: \(FileSystem.lastError)") }
    }
    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(SSASTError) {
        guard fd >= 0 else { throw SSASTError("\(path): written after close") }
        try writeAll(fd, bytes, what: path)
    }
    public func write(_ bytes: [UInt8]) throws(SSASTError) {
        var failure: SSASTError? = nil
        bytes.withUnsafeBytes { b in do throws(SSASTError) { try write(b) } catch { failure = error } }
        if let failure { throw failure }
    }

    /// Writes `bytes` at `offset` without moving the write position (a header patch).
    public func write(_ bytes: [UInt8], at offset: Int) throws(SSASTError) {
        guard fd >= 0 else { throw SSASTError("\(path): written after close") }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        if n != bytes.count { throw SSASTError("\(path): write failed: \(FileSystem.lastError)") }
    }

    public func seek(to offset: Int) throws(SSASTError) {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 { throw SSASTError("\(path): cannot seek: \(FileSystem.lastError)") }
    }

    public func close() throws(SSASTError) {
        guard fd >= 0 else { return }
        let rc = Glibc.close(fd); fd = -1
        if rc != 0 { throw SSASTError("\(path): close failed: \(FileSystem.lastError)") }
    }
}

/// A pipe whose two ends close when a child program is started.
func closeOnExecPipe() -> (read: Int32, write: Int32)? {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { return nil }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC); _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return (fds[0], fds[1])
}

/// Writes every byte to `fd`, retrying short writes and EINTR.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, what: String) throws(SSASTError) {
    var done = 0
    while done < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            throw SSASTError("\(what): write failed: \(FileSystem.lastError)")
        }
        done += n
    }
}

/// Unbuffered writes to the standard streams (as FileHandle's were: they interleave with other
/// writers in call order).
public func writeStandardError(_ s: String) { var s = s; s.withUTF8 { try? writeAll(2, UnsafeRawBufferPointer($0), what: "standard error") } }
public func writeStandardOutput(_ s: String) { var s = s; s.withUTF8 { try? writeAll(1, UnsafeRawBufferPointer($0), what: "standard output") } }

/// Lexical path operations, as NSString's (no file system access).
extension String {
    /// The last component: "a/b.wav" -> "b.wav", "a/b/" -> "b".
    public var lastPathComponent: String {
        let parts = split(separator: "/")
        return parts.last.map(String.init) ?? (hasPrefix("/") ? "/" : "")
    }

    /// The folder part: "a/b.wav" -> "a", "b.wav" -> "", "/b" -> "/".
    public var deletingLastPathComponent: String {
        var parts = split(separator: "/").map(String.init)
        guard !parts.isEmpty else { return hasPrefix("/") ? "/" : "" }
        parts.removeLast()
        let joined = parts.joined(separator: "/")
        return hasPrefix("/") ? "/" + joined : joined
    }

    /// "a" + "b" -> "a/b" (one separator between them).
    public func appendingPathComponent(_ c: String) -> String {
        if isEmpty { return c }
        return hasSuffix("/") ? self + c : self + "/" + c
    }

    /// "." and ".." components resolved lexically, repeated separators removed.
    public var standardizedPath: String {
        var out: [Substring] = []
        let absolute = hasPrefix("/")
        for c in split(separator: "/") {
            if c == "." { continue }
            if c == "..", let last = out.last, last != ".." { out.removeLast(); continue }
            if c == "..", absolute { continue }
            out.append(c)
        }
        let joined = out.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
