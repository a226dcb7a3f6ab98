// A listen session is built from the screening core's sources and screener.
@_exported import Screening

extension WAVRecorder: AudioSink {}
