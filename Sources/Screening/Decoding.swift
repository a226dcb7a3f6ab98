import AudioFile
import Runtime
import Support

/// An audio file (anything libsndfile reads), or WAV on standard input, read a block at a time at its
/// own rate and channel count; the session downmixes and resamples it like live audio, so memory does
/// not depend on the file's length.
public final class FileSource: AudioSource {
    public let reader: AudioFileReader
    private let lock = Lock()
    private var stopped = false

    /// `path` "-" is standard input.
    public init(path: String) throws { reader = try AudioFileReader(path: path) }

    public var sampleRate: Int { reader.sampleRate }
    public var channels: Int { reader.channels }
    public var name: String { reader.name }
    /// Seconds the header declares, if it does.
    public var declaredSeconds: Double? { reader.declaredFrames.map { Double($0) / Double(reader.sampleRate) } }
    public var description: String { "\(reader.name): \(sampleRate) Hz, \(channels) ch" }

    public func read(into buffer: inout [Float]) throws -> Int {
        lock.lock(); let stop = stopped; lock.unlock()
        if stop { return 0 }
        let frames = buffer.count / channels
        return try buffer.withUnsafeMutableBufferPointer { try reader.read(into: $0.baseAddress!, frames: frames) }
    }

    public func stop() { lock.lock(); stopped = true; lock.unlock() }
    public var counters: SourceCounters { SourceCounters(capturedFrames: reader.framesRead) }
    public var queuedFrames: Int { 0 }
}
