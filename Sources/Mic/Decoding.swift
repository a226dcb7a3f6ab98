import Runtime

/// Decodes an audio file into a `BufferSource` at its own rate and channel count.
// TODO(integration): call the AudioFile module's libsndfile decoder once it lands.
func decodeFileSource(_ path: String) throws -> AudioSource {
    throw SSASTError("\(path): decoding audio files is not wired yet (AudioFile module pending); "
                     + "for headerless PCM give --raw-rate, --raw-channels and --raw-format")
}
