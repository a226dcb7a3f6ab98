import AudioFile
import Glibc
import Runtime
import Support

/// How to interpret headerless PCM (`--raw-rate`, `--raw-channels`, `--raw-format`).
public struct RawFormat: Equatable, Sendable {
    public var rate: Int
    public var channels: Int
    public var encoding: SampleEncoding
    public init(rate: Int, channels: Int, encoding: SampleEncoding) {
        self.rate = rate; self.channels = channels; self.encoding = encoding
    }
    public func validate(_ what: String) throws {
        guard AudioLimits.sampleRates.contains(rate) else {
            throw SSASTError("\(what): raw rate must be \(AudioLimits.sampleRates.lowerBound)...\(AudioLimits.sampleRates.upperBound) Hz (got \(rate))")
        }
        guard channels >= 1, channels <= AudioLimits.maxChannels else {
            throw SSASTError("\(what): raw channels must be 1...\(AudioLimits.maxChannels) (got \(channels))")
        }
    }
}

/// Headerless PCM from a file descriptor: a raw file, or standard input (`--input -`).
/// Reads block on the descriptor, polled every 100 ms so `stop()` takes effect.
public final class RawPCMSource: AudioSource {
    public let sampleRate: Int
    public let channels: Int
    public let format: RawFormat
    public let name: String
    private let fd: Int32
    private let ownsFD: Bool
    private var bytes: [UInt8] = []
    private var pending = 0               // bytes of a partial frame kept from the last read
    private let lock = Lock()
    private var stopped = false
    private var ended = false
    private var delivered = 0

    /// `path` "-" means standard input.
    public init(path: String, format: RawFormat) throws {
        try format.validate(path == "-" ? "standard input" : path)
        if path == "-" {
            fd = 0; ownsFD = false; name = "standard input"
        } else {
            let f = open(path, O_RDONLY | O_CLOEXEC)
            guard f >= 0 else { throw SSASTError("\(path): cannot open: \(String(cString: strerror(errno)))") }
            var st = stat()
            if fstat(f, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                close(f); throw SSASTError("\(path): is a directory, not raw PCM")
            }
            fd = f; ownsFD = true; name = path
        }
        self.format = format
        sampleRate = format.rate
        channels = format.channels
    }

    /// Reads from an open descriptor (a pipe, a socket); `closeWhenDone` hands ownership over.
    public init(fileDescriptor: Int32, name: String, format: RawFormat, closeWhenDone: Bool = false) throws {
        try format.validate(name)
        fd = fileDescriptor; ownsFD = closeWhenDone; self.name = name
        self.format = format
        sampleRate = format.rate
        channels = format.channels
    }

    deinit { if ownsFD { close(fd) } }

    public var description: String {
        "raw \(format.encoding.rawValue) from \(name): \(sampleRate) Hz, \(channels) ch"
    }

    public func read(into buffer: inout [Float]) throws -> Int {
        let frameBytes = format.encoding.bytesPerSample * channels
        let maxFrames = buffer.count / channels
        guard maxFrames > 0 else { throw SSASTError("read buffer smaller than one frame (\(channels) channels)") }
        if bytes.count < maxFrames * frameBytes { bytes = [UInt8](repeating: 0, count: maxFrames * frameBytes) }
        while true {
            if pending >= frameBytes {
                let frames = min(maxFrames, pending / frameBytes)
                bytes.withUnsafeBytes { r in
                    buffer.withUnsafeMutableBufferPointer { encodingConvert(r.baseAddress!, frames * channels, $0.baseAddress!) }
                }
                for k in 0..<(frames * channels) where !buffer[k].isFinite {
                    let frame = delivered + k / channels
                    throw SSASTError("\(name): sample \(frame) (\(String(printf: "%.3f", Double(frame) / Double(sampleRate))) s, "
                                     + "channel \(k % channels)) is \(buffer[k]); refusing to score it")
                }
                let used = frames * frameBytes
                if pending > used {
                    bytes.withUnsafeMutableBytes { r in
                        let base = r.baseAddress!
                        memmove(base, base + used, pending - used)
                    }
                }
                pending -= used
                delivered += frames
                return frames
            }
            lock.lock(); let stop = stopped; lock.unlock()
            if stop || ended { return 0 }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let pr = poll(&p, 1, 100)
            if pr == 0 { continue }
            if pr < 0 {
                if errno == EINTR { continue }
                throw SSASTError("\(name): poll failed: \(String(cString: strerror(errno)))")
            }
            let want = maxFrames * frameBytes - pending
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + pending, want) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SSASTError("\(name): read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { ended = true; continue }   // a trailing partial frame is ignored
            pending += n
        }
    }

    private func encodingConvert(_ src: UnsafeRawPointer, _ count: Int, _ dst: UnsafeMutablePointer<Float>) {
        format.encoding.convert(src, count: count, to: dst)
    }

    public func stop() { lock.lock(); stopped = true; lock.unlock() }
    public var counters: SourceCounters { SourceCounters(capturedFrames: delivered) }
    public var queuedFrames: Int { 0 }
}

/// Audio already in memory (a decoded file), served in chunks.
public final class BufferSource: AudioSource {
    public let sampleRate: Int
    public let channels: Int
    public let name: String
    private let samples: [Float]
    private var position = 0          // frames handed out
    private let lock = Lock()
    private var stopped = false

    /// `samples` are interleaved frames.
    public init(samples: [Float], sampleRate: Int, channels: Int, name: String = "memory") throws {
        guard AudioLimits.sampleRates.contains(sampleRate) else { throw SSASTError("\(name): unusable sample rate \(sampleRate) Hz") }
        guard channels >= 1, channels <= AudioLimits.maxChannels else { throw SSASTError("\(name): unusable channel count \(channels)") }
        self.samples = samples; self.sampleRate = sampleRate; self.channels = channels; self.name = name
    }

    public var description: String { "\(name): \(sampleRate) Hz, \(channels) ch" }

    public func read(into buffer: inout [Float]) throws -> Int {
        lock.lock(); let stop = stopped; lock.unlock()
        if stop { return 0 }
        let total = samples.count / channels
        let n = min(buffer.count / channels, total - position)
        if n <= 0 { return 0 }
        buffer.withUnsafeMutableBufferPointer { dst in
            samples.withUnsafeBufferPointer { src in
                dst.baseAddress!.update(from: src.baseAddress! + position * channels, count: n * channels)
            }
        }
        position += n
        return n
    }

    public func stop() { lock.lock(); stopped = true; lock.unlock() }
    public var counters: SourceCounters { SourceCounters(capturedFrames: position) }
    public var queuedFrames: Int { 0 }
}

/// Opens an input: with `raw`, headerless PCM from the path ("-": standard input); otherwise a file
/// libsndfile reads, or WAV on standard input ("-", e.g. from `arecord`), streamed a block at a time.
public func openInput(path: String, raw: RawFormat?) throws -> AudioSource {
    if let raw { return try RawPCMSource(path: path, format: raw) }
    return try FileSource(path: path)
}
