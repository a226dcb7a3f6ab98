import AudioFile
import Runtime

/// Decodes an audio file (anything libsndfile reads) into a `BufferSource` at its own rate and
/// channel count; the listen pipeline downmixes and resamples it like live audio.
func decodeFileSource(_ path: String) throws -> AudioSource {
    let a = try decodeAudio(path: path)
    return try BufferSource(samples: a.samples, sampleRate: a.sampleRate, channels: a.channels, name: path)
}
