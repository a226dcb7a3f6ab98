import Runtime
import Support

/// Everything screening found in one recording.
public struct ScreeningResult: Sendable {
    /// Every window, in order (with `--first-window`, only the first).
    public var windows: [WindowResult]
    public var events: [Event]
    /// Seconds of audio in the recording (with the first-window cut, which stops reading early, the
    /// length its header declares when it has one).
    public var durationS: Double
    /// Window probabilities combined by `method`.
    public var aggregate: [Float]
    public var method: Aggregate
    /// The verdict (index into the labels): see `EventRules.verdict`.
    public var label: Int
}

/// The screening core shared by `classify`, `listen --input` and `eval`: a model, its fbank settings,
/// the window hop and the event rules.
public struct ScreeningSetup {
    public let classifier: WindowClassifier
    public let settings: FbankSettings
    public let rules: EventRules
    /// Frames between window starts; nil: only the first window (SSAST's cut to target_length).
    public let hopFrames: Int?

    /// `hopSeconds` nil: half the model's window.
    public init(classifier: WindowClassifier, settings: FbankSettings, rules: EventRules,
                hopSeconds: Double?, firstWindowOnly: Bool = false) throws {
        self.classifier = classifier; self.settings = settings; self.rules = rules
        if firstWindowOnly {
            hopFrames = nil
        } else if let h = hopSeconds {
            guard h > 0, h <= 3600 else { throw SSASTError("--window-hop must be in (0, 3600] seconds (got \(h))") }
            hopFrames = max(1, Int((h / Screening.secondsPerFrame(settings)).rounded()))
        } else {
            hopFrames = max(1, classifier.targetLength / 2)
        }
    }

    public var secondsPerFrame: Double { Screening.secondsPerFrame(settings) }

    /// A fresh screener (one per recording or stream).
    public func makeScreener(gateDB: Float? = nil) throws -> Screener {
        // First window only: a hop past any recording, so the stream yields window 0 and no other.
        try Screener(classifier: classifier, hopFrames: hopFrames ?? Int.max / 4, gateDB: gateDB, settings: settings)
    }

    public func makeTracker() -> EventTracker {
        EventTracker(rules: rules, targetLength: classifier.targetLength, hopFrames: hopFrames ?? classifier.targetLength,
                     secondsPerFrame: secondsPerFrame)
    }

    /// Screens a whole source, a block at a time. `progress` gets the seconds read so far.
    public func screen(_ source: AudioSource, aggregate: Aggregate = .mean,
                       progress: ((Double) -> Void)? = nil) throws -> ScreeningResult {
        let screener = try makeScreener()
        let tracker = makeTracker()
        let session = try ScreeningSession(source: source, screener: screener)
        var windows: [WindowResult] = [], events: [Event] = []
        let summary = try session.run(onWindow: { w in
            if hopFrames == nil {
                guard windows.isEmpty else { return }
                source.stop()
            }
            windows.append(w)
            events += tracker.add(w).ended
        }, onChunk: progress.map { p in { _, seconds in p(seconds) } })
        guard !windows.isEmpty else {
            throw SSASTError("too short: \(String(printf: "%.3f", summary.audioSeconds)) s of audio, less than one fbank frame")
        }
        let end = hopFrames == nil ? windows[0].endS : summary.audioSeconds
        events += tracker.finish(audioEndS: end)
        events.sort { ($0.startS, $0.label) < ($1.startS, $1.label) }
        let agg = aggregate.combine(windows)
        // The first-window cut stops reading early: the file's length then comes from its header.
        let duration = hopFrames == nil ? (source as? FileSource)?.declaredSeconds ?? summary.audioSeconds : summary.audioSeconds
        return ScreeningResult(windows: windows, events: events, durationS: duration, aggregate: agg,
                               method: aggregate, label: rules.verdict(aggregate: agg, events: events))
    }
}

/// Seconds per fbank frame (the frame shift).
public func secondsPerFrame(_ s: FbankSettings) -> Double { Double(s.frameShift) / Double(s.sampleRate) }
