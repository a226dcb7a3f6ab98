import CSndfile
import Glibc
import Runtime

/// A decoded audio file: interleaved float samples in [-1, 1] for integer PCM.
public struct DecodedAudio: Sendable {
    public var sampleRate: Int
    public var channels: Int
    /// Interleaved, frames x channels.
    public var samples: [Float]
    public var frames: Int { channels > 0 ? samples.count / channels : 0 }

    public init(sampleRate: Int, channels: Int, samples: [Float]) {
        self.sampleRate = sampleRate; self.channels = channels; self.samples = samples
    }
}

/// What the audio readers accept, checked before anything is allocated or resampled.
public enum AudioLimits {
    /// Sample rates outside this range are refused: below it nothing SSAST hears survives, above it is
    /// no real recording, and a bogus header rate (1 Hz) would make the resampler's kernel enormous.
    public static let sampleRates = 4_000...384_000
    /// Channels per frame.
    public static let maxChannels = 64
    /// Samples (frames x channels) a whole-file decode holds in memory: 2^30 floats, 4 GiB; about
    /// 3.1 h of 48 kHz stereo. The streaming reader has no length limit.
    public static let maxDecodedSamples = 1 << 30
}

/// A file libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, ...), read in blocks of frames, or WAV (or any
/// format libsndfile reads from a pipe) on standard input.
///
/// Integer PCM is scaled exactly as torchaudio does: libsndfile's normalised float read
/// (SFC_SET_NORM_FLOAT, on by default, set explicitly here) multiplies int16 by 1/32768, 24-bit
/// by 1/2^23, int32 by 1/2^31, so every value equals int / 2^(bits-1) bit for bit (checked
/// against a hand-parsed WAV in AudioFileTests). Float files are passed through unchanged.
///
/// Errors (SSASTError naming the file): missing or unreadable file, unknown or corrupt format,
/// sample rate or channel count outside `AudioLimits`, a read error mid-file, NaN or infinite samples
/// (with the frame and channel).
public final class AudioFileReader {
    public let path: String
    public let sampleRate: Int
    public let channels: Int
    /// Frames the header declares (nil when unknown, e.g. a stream).
    public let declaredFrames: Int?
    /// Frames handed out so far.
    public private(set) var framesRead = 0
    private var sf: OpaquePointer?

    /// `path` "-" reads standard input.
    public init(path: String) throws {
        self.path = path
        var info = SF_INFO()
        if path == "-" {
            sf = sf_open_fd(0, Int32(SFM_READ), &info, 0)
            guard sf != nil else {
                throw SSASTError("standard input: cannot decode audio: \(String(cString: sf_strerror(nil))) "
                                 + "(for headerless PCM give --raw-rate)")
            }
        } else {
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw SSASTError("\(path): cannot open audio file: \(String(cString: strerror(errno)))")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw SSASTError("\(path): not a regular file") }
            sf = sf_open(path, Int32(SFM_READ), &info)
            guard sf != nil else {
                throw SSASTError("\(path): cannot decode audio: \(String(cString: sf_strerror(nil)))")
            }
        }
        sampleRate = Int(info.samplerate)
        channels = Int(info.channels)
        declaredFrames = info.frames > 0 && info.frames < Int64(Int.max / 2) ? Int(info.frames) : nil
        let name = path == "-" ? "standard input" : path
        guard AudioLimits.sampleRates.contains(sampleRate) else {
            sf_close(sf); sf = nil
            throw SSASTError("\(name): sample rate \(sampleRate) Hz is outside \(AudioLimits.sampleRates.lowerBound)"
                             + "...\(AudioLimits.sampleRates.upperBound) Hz")
        }
        guard channels >= 1, channels <= AudioLimits.maxChannels else {
            sf_close(sf); sf = nil
            throw SSASTError("\(name): channel count \(channels) is outside 1...\(AudioLimits.maxChannels)")
        }
        sf_command(sf, Int32(SFC_SET_NORM_FLOAT), nil, Int32(SF_TRUE))
    }

    deinit { if let sf { sf_close(sf) } }

    /// The name used in messages.
    public var name: String { path == "-" ? "standard input" : path }

    /// Reads up to `frames` interleaved frames into `buffer` (room for frames x channels); returns the
    /// frames read, 0 at the end. Reads to the end rather than trusting the header's frame count
    /// (unknown for streams, wrong in truncated files).
    public func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws -> Int {
        guard let sf, frames > 0 else { return 0 }
        let got = Int(sf_readf_float(sf, buffer, sf_count_t(frames)))
        if got <= 0 {
            if sf_error(sf) != 0 {
                throw SSASTError("\(name): read error after \(framesRead) frames: \(String(cString: sf_strerror(sf)))")
            }
            return 0
        }
        for k in 0..<(got * channels) where !buffer[k].isFinite {
            throw SSASTError("\(name): sample \(framesRead + k / channels) (\(formatSeconds(Double(framesRead + k / channels) / Double(sampleRate))) s, "
                             + "channel \(k % channels)) is \(buffer[k]); the file is corrupt")
        }
        framesRead += got
        return got
    }
}

/// Seconds with millisecond precision, for messages.
func formatSeconds(_ s: Double) -> String {
    let ms = Int((s * 1000).rounded())
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}

/// Decodes a whole file into memory (training, embeddings). Refuses files whose declared or actual
/// length exceeds `AudioLimits.maxDecodedSamples` before allocating for them.
public func decodeAudio(path: String) throws -> DecodedAudio {
    let r = try AudioFileReader(path: path)
    let channels = r.channels
    if let f = r.declaredFrames {
        guard f <= AudioLimits.maxDecodedSamples / channels else {
            throw SSASTError("\(path): the header declares \(f) frames x \(channels) channels, more than the "
                             + "\(AudioLimits.maxDecodedSamples) samples a whole-file decode holds")
        }
    }
    var samples: [Float] = []
    if let f = r.declaredFrames { samples.reserveCapacity(f * channels) }
    let block = 16384
    var chunk = [Float](repeating: 0, count: block * channels)
    while true {
        let got = try chunk.withUnsafeMutableBufferPointer { try r.read(into: $0.baseAddress!, frames: block) }
        if got == 0 { break }
        guard samples.count + got * channels <= AudioLimits.maxDecodedSamples else {
            throw SSASTError("\(path): longer than the \(AudioLimits.maxDecodedSamples) samples a whole-file decode holds")
        }
        samples.append(contentsOf: chunk[0..<(got * channels)])
    }
    guard !samples.isEmpty else { throw SSASTError("\(path): contains no audio samples") }
    return DecodedAudio(sampleRate: r.sampleRate, channels: channels, samples: samples)
}

/// Decode, average the channels, resample to `sampleRate` with torchaudio's default resampler:
/// the waveform the fixtures (and SSAST's recipes) feed to the fbank.
public func loadMono(path: String, sampleRate: Int) throws -> [Float] {
    let a = try decodeAudio(path: path)
    let mono = try downmix(a.samples, channels: a.channels)
    do throws(SSASTError) {
        return try resample(mono, from: a.sampleRate, to: sampleRate)
    } catch {
        throw SSASTError("\(path): \(error.message)")
    }
}

/// `loadMono(path:sampleRate: 16000)`.
public func loadMono16k(path: String) throws -> [Float] {
    try loadMono(path: path, sampleRate: 16000)
}

/// Writes 16-bit PCM WAV. Floats are scaled by 32768 and rounded (clamped to the int16 range),
/// so a decode of the written file returns exactly the values that were already multiples of
/// 1/32768 (e.g. anything that came from 16-bit audio). `samples` are interleaved.
public func writeWAV16(path: String, samples: [Float], sampleRate: Int, channels: Int = 1) throws {
    let ints = samples.map { x -> Int16 in
        guard x.isFinite else { return 0 }
        let v = (x * 32768).rounded()
        return Int16(max(-32768, min(32767, v)))
    }
    try writeWAV16(path: path, samples: ints, sampleRate: sampleRate, channels: channels)
}

/// Writes 16-bit PCM WAV from interleaved Int16 samples.
public func writeWAV16(path: String, samples: [Int16], sampleRate: Int, channels: Int = 1) throws {
    guard sampleRate > 0, sampleRate <= Int(Int32.max), channels > 0, channels <= 1024 else {
        throw SSASTError("\(path): cannot write WAV with sample rate \(sampleRate) and \(channels) channels")
    }
    guard samples.count % channels == 0 else {
        throw SSASTError("\(path): \(samples.count) samples is not a whole number of \(channels)-channel frames")
    }
    var info = SF_INFO()
    info.samplerate = Int32(sampleRate)
    info.channels = Int32(channels)
    info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16)
    guard let sf = sf_open(path, Int32(SFM_WRITE), &info) else {
        throw SSASTError("\(path): cannot create WAV file: \(String(cString: sf_strerror(nil)))")
    }
    let frames = samples.count / channels
    let written = samples.withUnsafeBufferPointer { sf_writef_short(sf, $0.baseAddress, sf_count_t(frames)) }
    let err = written == frames ? "" : String(cString: sf_strerror(sf))
    let closed = sf_close(sf)
    if written != frames { throw SSASTError("\(path): write failed after \(written) of \(frames) frames: \(err)") }
    if closed != 0 { throw SSASTError("\(path): closing the WAV file failed") }
}

/// Whether libsndfile recognises `path` as audio (used to pick the audio files in a folder).
public func isAudioFile(_ path: String) -> Bool {
    var info = SF_INFO()
    guard let sf = sf_open(path, Int32(SFM_READ), &info) else { return false }
    sf_close(sf)
    return true
}
