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

/// Decodes any file libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, ...) to float.
///
/// Integer PCM is scaled exactly as torchaudio does: libsndfile's normalised float read
/// (SFC_SET_NORM_FLOAT, on by default, set explicitly here) multiplies int16 by 1/32768, 24-bit
/// by 1/2^23, int32 by 1/2^31, so every value equals int / 2^(bits-1) bit for bit (checked
/// against a hand-parsed WAV in AudioFileTests). Float files are passed through unchanged.
///
/// Errors (SSASTError naming the file): missing or unreadable file, unknown or corrupt format,
/// sample rate or channel count 0, no samples, a read error mid-file, NaN or infinite samples.
public func decodeAudio(path: String) throws -> DecodedAudio {
    var st = stat()
    guard stat(path, &st) == 0 else {
        throw SSASTError("\(path): cannot open audio file: \(String(cString: strerror(errno)))")
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw SSASTError("\(path): not a regular file") }
    var info = SF_INFO()
    guard let sf = sf_open(path, Int32(SFM_READ), &info) else {
        throw SSASTError("\(path): cannot decode audio: \(String(cString: sf_strerror(nil)))")
    }
    defer { sf_close(sf) }
    guard info.samplerate > 0 else { throw SSASTError("\(path): sample rate \(info.samplerate) Hz is invalid") }
    guard info.channels > 0 else { throw SSASTError("\(path): channel count \(info.channels) is invalid") }
    sf_command(sf, Int32(SFC_SET_NORM_FLOAT), nil, Int32(SF_TRUE))
    let channels = Int(info.channels)
    // Read to the end rather than trusting info.frames (unknown for some streams, wrong in
    // truncated files).
    var samples: [Float] = []
    if info.frames > 0 && info.frames < Int64(Int32.max) { samples.reserveCapacity(Int(info.frames) * channels) }
    let block = 16384
    var chunk = [Float](repeating: 0, count: block * channels)
    while true {
        let got = chunk.withUnsafeMutableBufferPointer { sf_readf_float(sf, $0.baseAddress!, sf_count_t(block)) }
        if got <= 0 { break }
        samples.append(contentsOf: chunk[0..<(Int(got) * channels)])
        if got < block { break }
    }
    let err = sf_error(sf)
    if err != 0 {
        throw SSASTError("\(path): read error after \(samples.count / channels) frames: \(String(cString: sf_strerror(sf)))")
    }
    guard !samples.isEmpty else { throw SSASTError("\(path): contains no audio samples") }
    for (k, x) in samples.enumerated() where !x.isFinite {
        throw SSASTError("\(path): sample \(k / channels) (channel \(k % channels)) is \(x); the file is corrupt")
    }
    return DecodedAudio(sampleRate: Int(info.samplerate), channels: channels, samples: samples)
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
