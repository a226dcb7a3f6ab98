import Glibc

/// Ctrl-C handling for long-running commands: `handler` runs on a thread of its own (where it may
/// take locks) for each SIGINT, counting from 1. The signal handler itself only writes one byte to a
/// pipe, the one thing that is safe inside a signal handler.
public enum Interrupts {
    nonisolated(unsafe) private static var pipeWrite: Int32 = -1

    public static func watch(_ handler: @escaping (Int) -> Void) {
        guard let (reader, writer) = closeOnExecPipe() else { return }
        pipeWrite = writer
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in
            var b: UInt8 = 1
            _ = Glibc.write(Interrupts.pipeWrite, &b, 1)
        }
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        sigaction(SIGINT, &action, nil)
        let box = Unmanaged.passRetained(Watcher(fd: reader, handler: handler)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            let w = Unmanaged<Watcher>.fromOpaque(raw!).takeRetainedValue()
            var count = 0, b: UInt8 = 0
            while true {
                let n = read(w.fd, &b, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return nil }
                count += 1
                w.handler(count)
            }
        }, box)
        if rc == 0 { pthread_detach(tid) } else { Unmanaged<Watcher>.fromOpaque(box).release() }
    }

    private final class Watcher {
        let fd: Int32, handler: (Int) -> Void
        init(fd: Int32, handler: @escaping (Int) -> Void) { self.fd = fd; self.handler = handler }
    }
}
