import Glibc
import Runtime

/// What a finished child process left: its exit status (128 + N when killed by signal N) and
/// everything it wrote to standard output and standard error.
public struct ChildOutput {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
}

/// Runs `program` (looked up in PATH) with `arguments`, standard input inherited, and collects its
/// standard output and error. Both pipes are drained together with poll(), so a child that fills one
/// while the other is being read cannot block either side.
public func runChild(_ program: String, _ arguments: [String]) throws(SSASTError) -> ChildOutput {
    guard let outPipe = closeOnExecPipe() else { throw SSASTError("cannot run \(program): pipe: \(FileSystem.lastError)") }
    guard let errPipe = closeOnExecPipe() else {
        close(outPipe.read); close(outPipe.write)
        throw SSASTError("cannot run \(program): pipe: \(FileSystem.lastError)")
    }
    // The child's copies (dup2'd onto 1 and 2) lose O_CLOEXEC; every other end closes at exec.
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, outPipe.write, 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe.write, 2)

    let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
    defer { for a in argv { free(a) } }
    var pid = pid_t()
    let rc = posix_spawnp(&pid, program, &actions, nil, argv, environ)
    close(outPipe.write); close(errPipe.write)
    guard rc == 0 else {
        close(outPipe.read); close(errPipe.read)
        // A program that is missing or not executable reads as the shell reports it (127 / 126), so
        // callers can name the package to install.
        let reason = "\(program): \(String(cString: strerror(rc)))\n"
        if rc == ENOENT || rc == EACCES { return ChildOutput(status: rc == ENOENT ? 127 : 126, stdout: [], stderr: Array(reason.utf8)) }
        throw SSASTError("cannot run " + reason.dropLast())
    }

    var result = ChildOutput(status: 0, stdout: [], stderr: [])
    var fds = [pollfd(fd: outPipe.read, events: Int16(POLLIN), revents: 0),
               pollfd(fd: errPipe.read, events: Int16(POLLIN), revents: 0)]
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while fds.contains(where: { $0.fd >= 0 }) {
        if poll(&fds, nfds_t(fds.count), -1) < 0 {
            if errno == EINTR { continue }
            break
        }
        for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
            let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { close(fds[i].fd); fds[i].fd = -1; continue }   // end of file (or error): stop watching
            if i == 0 { result.stdout += chunk[0..<n] } else { result.stderr += chunk[0..<n] }
        }
    }
    for f in fds where f.fd >= 0 { close(f.fd) }

    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        if errno != EINTR { throw SSASTError("cannot run \(program): waitpid: \(FileSystem.lastError)") }
    }
    // The wait status: low 7 bits the terminating signal (0: exited), bits 8-15 the exit code.
    result.status = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    return result
}

/// Runs a program and returns its standard output as text; a non-zero exit is an error carrying the
/// end of its standard error.
public func runProgram(_ program: String, _ arguments: [String]) throws(SSASTError) -> String {
    let r = try runChild(program, arguments)
    guard r.status == 0 else {
        throw SSASTError("\(program) \(arguments.first ?? "") failed (exit \(r.status)): \(String(decoding: r.stderr, as: UTF8.self).suffix(800))")
    }
    return String(decoding: r.stdout, as: UTF8.self)
}
