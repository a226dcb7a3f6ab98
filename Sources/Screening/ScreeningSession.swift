import Runtime

/// Totals of one `ScreeningSession.run`.
public struct ScreeningSummary: Sendable {
    public var windows = 0
    public var silentWindows = 0
    /// Source frames consumed and their duration at the source rate.
    public var sourceFrames = 0
    public var audioSeconds = 0.0
    public var wallSeconds = 0.0
    /// Time spent in conditioning, fbank and model (not waiting for audio).
    public var computeSeconds = 0.0
    public var modelSeconds = 0.0
    public var xruns = 0
    public var droppedFrames = 0
    /// computeSeconds / audioSeconds: below 1 keeps up with real time.
    public var realTimeFactor: Double { audioSeconds > 0 ? computeSeconds / audioSeconds : 0 }
    public var maxLatencyS = 0.0
}

/// Where a session copies the audio it reads, as read (e.g. `listen --record`).
public protocol AudioSink: AnyObject {
    func append(_ samples: ArraySlice<Float>) throws
    func close() throws
}

/// The screening loop: source -> (record) -> downmix + resample -> screener -> results. Files, standard
/// input and microphones all go through it, a block at a time, so memory does not grow with the length.
///
/// Runs until the source ends (a file, or `source.stop()` from elsewhere, e.g. a SIGINT handler)
/// or `maxAudioSeconds` of source audio were consumed; then flushes the resampler and scores the
/// final partial window, so an interrupted session still reports the audio it heard.
public final class ScreeningSession {
    public let source: AudioSource
    public let screener: Screener
    public let recorder: AudioSink?
    private let conditioner: Conditioner
    /// Frames per read: 100 ms at the source rate (latency granularity).
    public let chunkFrames: Int

    public init(source: AudioSource, screener: Screener, recorder: AudioSink? = nil) throws {
        self.source = source
        self.screener = screener
        self.recorder = recorder
        conditioner = try Conditioner(inputRate: source.sampleRate, inputChannels: source.channels,
                                      outputRate: screener.settings.sampleRate)
        chunkFrames = max(256, source.sampleRate / 10)
    }

    /// `onWindow` sees every window; `onChunk` gets the RMS of each chunk read (a level meter) and the
    /// seconds of source audio consumed so far.
    public func run(maxAudioSeconds: Double? = nil,
                    onWindow: (WindowResult) throws -> Void,
                    onChunk: ((_ rms: Float, _ seconds: Double) -> Void)? = nil) throws -> ScreeningSummary {
        var summary = ScreeningSummary()
        let channels = source.channels
        var buffer = [Float](repeating: 0, count: chunkFrames * channels)
        let limitFrames = maxAudioSeconds.map { Int(($0 * Double(source.sampleRate)).rounded()) }
        let wall0 = monotonicTime()
        var readTime = wall0, backlog = 0.0

        func deliver(_ w: WindowResult) throws {
            var w = w
            let c = source.counters
            w.xruns = c.xruns
            w.droppedFrames = c.droppedFrames
            // The window's last sample arrived with the latest read, behind `backlog` seconds still queued.
            w.latencyS = monotonicTime() - readTime + backlog
            summary.windows += 1
            if w.silent { summary.silentWindows += 1 }
            summary.modelSeconds += w.modelS
            summary.maxLatencyS = max(summary.maxLatencyS, w.latencyS)
            try onWindow(w)
        }

        while true {
            var want = chunkFrames
            if let limitFrames {
                want = min(want, limitFrames - summary.sourceFrames)
                if want <= 0 { break }
            }
            if buffer.count != want * channels { buffer = [Float](repeating: 0, count: want * channels) }
            let n = try source.read(into: &buffer)
            if n == 0 { break }
            readTime = monotonicTime()
            backlog = Double(source.queuedFrames) / Double(source.sampleRate)
            summary.sourceFrames += n
            let slice = buffer[0..<(n * channels)]
            try recorder?.append(slice)
            if let onChunk {
                var s: Float = 0
                for x in slice { s += x * x }
                onChunk((s / Float(slice.count)).squareRoot(), Double(summary.sourceFrames) / Double(source.sampleRate))
            }
            let mono = try conditioner.process(slice)
            try screener.push(mono, emit: deliver)
            summary.computeSeconds += monotonicTime() - readTime
        }
        source.stop()
        let t = monotonicTime()
        readTime = t; backlog = 0
        try screener.push(conditioner.finish(), emit: deliver)
        try screener.finish(emit: deliver)
        summary.computeSeconds += monotonicTime() - t
        try recorder?.close()
        let c = source.counters
        summary.xruns = c.xruns
        summary.droppedFrames = c.droppedFrames
        summary.audioSeconds = Double(summary.sourceFrames) / Double(source.sampleRate)
        summary.wallSeconds = monotonicTime() - wall0
        return summary
    }
}
