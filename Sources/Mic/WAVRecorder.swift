import Runtime
import Support

/// Streams interleaved float audio to a 32-bit float WAV as it arrives (`--record`), so a session of
/// any length is written without holding it in memory. Float keeps every device format exactly.
/// The sizes in the header are rewritten after every append, so the file is a valid WAV of everything
/// received so far however the process ends (a signal, a crash). Stops (and says so) at the 4 GiB
/// RIFF limit.
public final class WAVRecorder {
    public let path: String
    public let sampleRate: Int, channels: Int
    private let file: OutputFile
    private var dataBytes: UInt64 = 0
    private var closed = false
    public private(set) var truncated = false
    private static let limit: UInt64 = 0xFFFF_FFFF - 128

    public init(path: String, sampleRate: Int, channels: Int) throws {
        guard sampleRate > 0, channels > 0, channels <= 64 else {
            throw SSASTError("\(path): cannot record \(channels) channels at \(sampleRate) Hz")
        }
        self.path = path; self.sampleRate = sampleRate; self.channels = channels
        file = try OutputFile(creating: path)   // errors name the file and the reason
        try write(header(dataBytes: 0))
    }

    deinit { try? close() }

    private func header(dataBytes: UInt64) -> [UInt8] {
        var d: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        // Non-PCM WAV: an 18-byte fmt chunk (cbSize 0) and a fact chunk with the frame count.
        d.append(contentsOf: Array("RIFF".utf8)); u32(UInt32(50 + dataBytes))
        d.append(contentsOf: Array("WAVE".utf8))
        d.append(contentsOf: Array("fmt ".utf8)); u32(18)
        u16(3)                                   // WAVE_FORMAT_IEEE_FLOAT
        u16(UInt16(channels)); u32(UInt32(sampleRate))
        u32(UInt32(sampleRate * channels * 4)); u16(UInt16(channels * 4)); u16(32); u16(0)
        d.append(contentsOf: Array("fact".utf8)); u32(4); u32(UInt32(dataBytes / UInt64(4 * channels)))
        d.append(contentsOf: Array("data".utf8)); u32(UInt32(dataBytes))
        return d
    }

    private func write(_ d: UnsafeRawBufferPointer) throws { try file.write(d) }
    private func write(_ d: [UInt8]) throws { try file.write(d) }

    /// Appends interleaved frames.
    public func append(_ samples: ArraySlice<Float>) throws {
        guard !closed, !truncated, !samples.isEmpty else { return }
        var n = samples.count - samples.count % channels
        if dataBytes + UInt64(n * 4) > WAVRecorder.limit {
            n = Int((WAVRecorder.limit - dataBytes) / UInt64(4 * channels)) * channels
            truncated = true
        }
        try samples.prefix(n).withUnsafeBytes { try write($0) }   // little-endian hosts
        dataBytes += UInt64(n * 4)
        try file.write(header(dataBytes: dataBytes), at: 0)
    }

    public func close() throws {
        guard !closed else { return }
        closed = true
        do {
            try file.seek(to: 0)
            try file.write(header(dataBytes: dataBytes))
            try file.close()
        } catch {
            throw SSASTError("finishing the recording failed: \(error.message)")
        }
    }
}
