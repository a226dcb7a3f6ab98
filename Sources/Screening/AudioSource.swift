import Runtime

/// One stage that produces audio: a microphone, a file, standard input.
///
/// `read` fills `buffer` with interleaved float frames in [-1, 1] (at most `buffer.count / channels`
/// frames) and returns how many frames it wrote; 0 means the stream has ended. Sources with a capture
/// thread block until audio arrives, the source is stopped, or the thread failed (then `read` throws).
public protocol AudioSource: AnyObject {
    /// Frames per second actually delivered (the negotiated device rate, not the requested one).
    var sampleRate: Int { get }
    /// Interleaved channels per frame actually delivered.
    var channels: Int { get }
    /// A short human description ("ALSA default: 16000 Hz, 1 ch, S16_LE").
    var description: String { get }
    func read(into buffer: inout [Float]) throws -> Int
    /// Ends the stream: the next `read` after the buffered audio returns 0. Safe to call twice.
    func stop()
    /// Losses so far: device overruns and frames dropped because the consumer fell behind.
    var counters: SourceCounters { get }
    /// Frames captured but not yet handed to `read` (0 for files): how far the consumer lags.
    var queuedFrames: Int { get }
}

/// What a source lost. `xruns` counts ALSA overruns (each recovered with snd_pcm_recover);
/// `droppedFrames` counts frames the ring discarded (oldest first) while the consumer stalled.
public struct SourceCounters: Equatable, Sendable {
    public var xruns: Int = 0
    public var droppedFrames: Int = 0
    public var capturedFrames: Int = 0
    public init(xruns: Int = 0, droppedFrames: Int = 0, capturedFrames: Int = 0) {
        self.xruns = xruns; self.droppedFrames = droppedFrames; self.capturedFrames = capturedFrames
    }
}

/// Sample encodings a source can deliver, with the conversion to float used everywhere in the project
/// (int16 / 32768, like torchaudio's loader, so features match the fixtures).
public enum SampleEncoding: String, CaseIterable, Sendable {
    case s16le, s32le, s24le, f32le, u8

    public var bytesPerSample: Int {
        switch self {
        case .s16le: return 2
        case .s32le, .s24le, .f32le: return 4
        case .u8: return 1
        }
    }

    /// Converts `count` samples at `src` into `dst`. Little-endian hosts only (x86-64, aarch64).
    public func convert(_ src: UnsafeRawPointer, count: Int, to dst: UnsafeMutablePointer<Float>) {
        switch self {
        case .s16le:
            for i in 0..<count { dst[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) / 32768 }
        case .s32le:
            for i in 0..<count { dst[i] = Float(Double(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) / 2147483648.0) }
        case .s24le:
            // 24 significant bits in the low three bytes of a 32-bit word; sign-extend by shifting.
            for i in 0..<count {
                let raw = src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)
                dst[i] = Float((raw << 8) >> 8) / 8388608
            }
        case .f32le:
            for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .u8:
            for i in 0..<count { dst[i] = (Float(src.load(fromByteOffset: i, as: UInt8.self)) - 128) / 128 }
        }
    }
}
