import Runtime

/// A stretch of audio in which one label's probability stayed at or above its threshold.
public struct Event: Equatable, Sendable {
    /// Index into the model's labels.
    public var label: Int
    /// Seconds from the start of the audio.
    public var startS: Double
    public var endS: Double
    /// Highest probability of the label over the event's windows.
    public var peak: Float
    public init(label: Int, startS: Double, endS: Double, peak: Float) {
        self.label = label; self.startS = startS; self.endS = endS; self.peak = peak
    }
}

/// `--threshold P` (every label) or `--threshold LABEL=P` (one label).
public struct ThresholdSpec: Equatable, Sendable {
    public var label: String?
    public var value: Float

    public init(label: String?, value: Float) { self.label = label; self.value = value }

    /// Parses "0.7" or "cough=0.7" (the label may itself contain '=': the last one separates).
    public init(parsing text: String) throws {
        var label: String? = nil, number = Substring(text)
        if let eq = text.lastIndex(of: "=") {
            label = String(text[..<eq])
            number = text[text.index(after: eq)...]
            if label!.isEmpty { throw SSASTError("--threshold \(text): the label before '=' is empty") }
        }
        guard let v = Float(number), v >= 0, v <= 1 else {
            throw SSASTError("--threshold \(text): expected a probability in [0, 1], as P or LABEL=P")
        }
        self.label = label; self.value = v
    }
}

/// Which labels raise events and at what probability.
///
/// Thresholds, most specific first: `--threshold LABEL=P`, `--threshold P`, the threshold stored in
/// the model (the trainer's validated operating point, for the second label of a two-label model), 0.5.
/// Event labels: `--event-labels`, else every label, except that a two-label model (negative, positive)
/// raises events only for its second label: the first is the absence of what is screened for.
public struct EventRules: Equatable, Sendable {
    public var labels: [String]
    public var thresholds: [Float]
    public var eventLabels: [Bool]
    /// An open event goes on while the probability stays at or above (1 - hysteresis) x threshold, so a
    /// probability that wavers around the threshold does not split one sound into several events.
    public var hysteresis: Float
    /// Events shorter than this are dropped. 0 (the default) keeps an event of a single window: a window
    /// is the model's unit of evidence, and a cough (0.3 s) is shorter than one hop.
    public var minEventSeconds: Double

    public static let defaultHysteresis: Float = 0.2

    public init(labels: [String], storedThreshold: Float?, thresholds specs: [ThresholdSpec] = [],
                eventLabels names: [String]? = nil, hysteresis: Float = EventRules.defaultHysteresis,
                minEventSeconds: Double = 0) throws {
        guard !labels.isEmpty else { throw SSASTError("the model has no labels (a backbone-only model cannot screen)") }
        guard hysteresis >= 0, hysteresis < 1 else { throw SSASTError("--hysteresis must be in [0, 1) (got \(hysteresis))") }
        guard minEventSeconds >= 0, minEventSeconds.isFinite else {
            throw SSASTError("--min-event must be a non-negative number of seconds (got \(minEventSeconds))")
        }
        self.labels = labels
        self.hysteresis = hysteresis
        self.minEventSeconds = minEventSeconds
        var t = [Float](repeating: 0.5, count: labels.count)
        if let s = storedThreshold, labels.count == 2, s.isFinite, s >= 0, s <= 1 { t[1] = s }
        for spec in specs where spec.label == nil { t = t.map { _ in spec.value } }
        for spec in specs {
            guard let name = spec.label else { continue }
            guard let i = labels.firstIndex(of: name) else {
                throw SSASTError("--threshold \(name)=\(spec.value): the model has no label \(name) (labels: \(labels.joined(separator: ", ")))")
            }
            t[i] = spec.value
        }
        thresholds = t
        if let names {
            var e = [Bool](repeating: false, count: labels.count)
            for n in names {
                guard let i = labels.firstIndex(of: n) else {
                    throw SSASTError("--event-labels: the model has no label \(n) (labels: \(labels.joined(separator: ", ")))")
                }
                e[i] = true
            }
            eventLabels = e
        } else {
            eventLabels = labels.indices.map { labels.count != 2 || $0 == 1 }
        }
    }

    /// The file's verdict: for a two-label model whose second label raises events, that label if it
    /// raised one and the first otherwise (so the verdict and the events always agree); else the label
    /// with the highest aggregate probability.
    public func verdict(aggregate: [Float], events: [Event]) -> Int {
        if labels.count == 2 && eventLabels[1] { return events.contains { $0.label == 1 } ? 1 : 0 }
        return aggregate.indices.max { aggregate[$0] < aggregate[$1] } ?? 0
    }
}

/// Turns the screener's windows, in order, into events.
///
/// Each window speaks for the middle stretch of its span, one hop long ([start + (W - hop)/2,
/// start + (W + hop)/2]); the first window also for the audio before, the last for the audio after, so
/// the stretches tile the signal and an event's times are as sharp as the hop allows. A window opens an
/// event for a label when its probability reaches the label's threshold, and extends it while the
/// probability stays above the hysteresis level.
///
/// The ragged end is handled by the screener: the last window of a recording is aligned to its end, so
/// no window of a recording at least one window long holds padding (zero padding after real audio looks
/// like a sudden sound to a model trained on unpadded clips: the default model scored a noise tail padded
/// by a quarter window as cough 0.49). Only a recording shorter than one window is zero-padded, exactly as
/// SSAST pads a short clip, and it may raise events like any window.
public final class EventTracker {
    public let rules: EventRules
    public let targetLength: Int
    /// Window length and hop in seconds.
    public let windowS: Double, hopS: Double
    private var open: [Event?]
    private var segmentEnd = 0.0
    private var lastWindowEnd = 0.0

    public init(rules: EventRules, targetLength: Int, hopFrames: Int, secondsPerFrame: Double) {
        self.rules = rules
        self.targetLength = targetLength
        windowS = Double(targetLength) * secondsPerFrame
        hopS = Double(hopFrames) * secondsPerFrame
        open = [Event?](repeating: nil, count: rules.labels.count)
    }

    /// Feeds the next window; returns the events it opened and the events that ended before it.
    public func add(_ w: WindowResult) -> (started: [Event], ended: [Event]) {
        let segStart = segmentEnd
        let segEnd = w.partial ? w.endS : max(segStart, min(w.startS + (windowS + hopS) / 2, w.endS))
        segmentEnd = segEnd
        lastWindowEnd = max(lastWindowEnd, w.endS)
        var started: [Event] = [], ended: [Event] = []
        let counts = !w.silent   // a gated window is no evidence for anything
        for l in rules.labels.indices where rules.eventLabels[l] {
            let p = counts && l < w.probabilities.count ? w.probabilities[l] : -.infinity
            let t = rules.thresholds[l]
            if var e = open[l] {
                if p >= (1 - rules.hysteresis) * t {
                    e.endS = segEnd; e.peak = max(e.peak, p); open[l] = e
                } else {
                    open[l] = nil
                    if keep(e) { ended.append(e) }
                }
            } else if p >= t {
                let e = Event(label: l, startS: segStart, endS: segEnd, peak: p)
                open[l] = e
                started.append(e)
            }
        }
        return (started, ended)
    }

    /// Ends the audio: closes open events (the last one reaching the end of the audio heard).
    public func finish(audioEndS: Double? = nil) -> [Event] {
        let end = max(audioEndS ?? lastWindowEnd, segmentEnd)
        var out: [Event] = []
        for l in open.indices {
            guard var e = open[l] else { continue }
            if e.endS == segmentEnd { e.endS = end }
            open[l] = nil
            if keep(e) { out.append(e) }
        }
        return out
    }

    /// Events still open (for a live view).
    public var openEvents: [Event] { open.compactMap { $0 } }

    private func keep(_ e: Event) -> Bool { e.endS - e.startS >= rules.minEventSeconds }
}

/// Window probabilities combined into one per label.
public enum Aggregate: String, CaseIterable, Sendable {
    case mean, max

    /// Over the scored (not gated) windows; empty if there are none.
    public func combine(_ windows: [WindowResult]) -> [Float] {
        combine(rows: windows.filter { !$0.silent }.map(\.probabilities))
    }

    /// Element-wise over equally long rows (probabilities, embeddings); empty if there are none.
    public func combine(rows: [[Float]]) -> [Float] {
        guard var acc = rows.first else { return [] }
        for r in rows.dropFirst() {
            for i in acc.indices { acc[i] = self == .max ? Swift.max(acc[i], r[i]) : acc[i] + r[i] }
        }
        if self == .mean { for i in acc.indices { acc[i] /= Float(rows.count) } }
        return acc
    }
}
