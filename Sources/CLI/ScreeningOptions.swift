import Arguments
import Glibc
import Runtime
import Screening
import Support


/// Windows, thresholds and events: the options `classify` and `listen` share.
struct ScreeningOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds between window starts (default: half the model's window).", valueName: "seconds"))
    var windowHop: Double?
    @Option(name: .customLong("hop"), help: .hidden) var hopAlias: Double?
    @Option(help: ArgumentHelp("Probability at which a label raises an event: P for every label or LABEL=P for one (repeatable). "
                               + "Default: the model's stored threshold for a two-label model's second label, else 0.5.",
                               valueName: "P|LABEL=P"), completion: CompletionKind.none)
    var threshold: [String] = []
    @Option(help: ArgumentHelp("Comma-separated labels that may raise events (default: every label; a two-label model: its second).",
                               valueName: "labels"), completion: CompletionKind.none)
    var eventLabels: String?
    @Option(help: ArgumentHelp("Drop events shorter than this (0: a single window is an event).", valueName: "seconds"))
    var minEvent: Double = 0
    @Option(help: ArgumentHelp("An open event continues while the probability stays at or above (1 - F) x threshold.", valueName: "F"))
    var hysteresis: Float = EventRules.defaultHysteresis

    func validate() throws {
        if windowHop != nil && hopAlias != nil { throw ValidationError("give --window-hop once (--hop is its old name)") }
        if let h = hop, !(h > 0 && h <= 3600) {
            throw ValidationError("\(windowHop != nil ? "--window-hop" : "--hop") must be in (0, 3600] seconds (got \(h))")
        }
        for t in threshold { do { _ = try ThresholdSpec(parsing: t) } catch let e as SSASTError { throw ValidationError(e.message) } }
        guard minEvent >= 0, minEvent.isFinite else { throw ValidationError("--min-event must be a non-negative number of seconds") }
        guard hysteresis >= 0, hysteresis < 1 else { throw ValidationError("--hysteresis must be in [0, 1)") }
    }

    var hop: Double? { windowHop ?? hopAlias }

    func rules(_ config: ModelConfig) throws -> EventRules {
        try EventRules(labels: config.labels, storedThreshold: config.threshold,
                       thresholds: try threshold.map { try ThresholdSpec(parsing: $0) },
                       eventLabels: eventLabels.map { $0.split(separator: ",").map { $0.trimmedOfBlanks } },
                       hysteresis: hysteresis, minEventSeconds: minEvent)
    }
}

/// Seconds rounded to the millisecond, for JSON (2.28, not 2.2800000000000002).
func jsonSeconds(_ s: Double) -> String { JSONOut.number((s * 1000).rounded() / 1000) }

/// "6.08–7.36 s" with two decimals.
func span(_ a: Double, _ b: Double) -> String { String(printf: "%.2f–%.2f s", a, b) }

func eventJSON(_ e: Event, labels: [String]) -> String {
    JSONOut.object([("label", JSONOut.string(labels[e.label])), ("start_s", jsonSeconds(e.startS)),
                    ("end_s", jsonSeconds(e.endS)), ("peak", JSONOut.number(e.peak))])
}

/// "cough 6.08–7.36 s (0.99)".
func eventText(_ e: Event, labels: [String]) -> String {
    terminalSafe(labels[e.label]) + " " + span(e.startS, e.endS) + String(printf: " (%.2f)", e.peak)
}

/// One line describing the model and the rules, for human output.
func modelLine(path: String, setup: ScreeningSetup) -> String {
    let r = setup.rules
    let w = Double(setup.classifier.targetLength) * setup.secondsPerFrame
    let hop = setup.hopFrames.map { String(printf: "every %.2f s", Double($0) * setup.secondsPerFrame) } ?? "first window only"
    let thresholds = r.labels.indices.filter { r.eventLabels[$0] }
        .map { terminalSafe(r.labels[$0]) + String(printf: " ≥ %g", r.thresholds[$0]) }.joined(separator: ", ")
    return "model \(terminalSafe(path)): \(String(printf: "%.2f", w)) s windows \(hop); events: \(thresholds)"
}
