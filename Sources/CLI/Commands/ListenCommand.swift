import ArgumentParser
import Dispatch
import Foundation
import Mic
import Runtime

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Screen live audio (an ALSA microphone, a file or raw PCM on stdin) with sliding windows.",
        discussion: """
            Every --hop seconds the model scores the last target_length fbank frames (5.12 s for a 512-frame \
            model). The fbank is computed incrementally, so each hop only processes new audio. Audio at any \
            rate or channel count is averaged to mono and resampled to 16 kHz as `ssast classify` does.

            On a terminal: a level meter, one bar per label and an event line when a label's probability \
            rises to --threshold (for a two-label model only the second label, e.g. Positive). \
            --jsonl prints one object per window instead (start_s, end_s, logits, probabilities, rms, \
            rms_db, silent, xruns, dropped_frames, latency_s). Ctrl-C finishes the current window and prints \
            a summary (on stderr with --jsonl).

            Examples:
              ssast listen --model tiny.ssast                         # default ALSA device
              ssast listen --device plughw:CARD=USB,DEV=0 --jsonl
              ssast listen --input recording.wav --hop 0.5
              arecord -f S16_LE -r 16000 -c 1 -t raw | ssast listen --input - --raw-rate 16000
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "ALSA capture device (see `ssast devices`).") var device: String?
    @Option(help: "Read FILE instead of a microphone (any libsndfile format), or - for raw PCM on stdin.") var input: String?
    @Option(help: "Raw PCM input: sample rate in Hz (makes --input headerless PCM).") var rawRate: Int?
    @Option(help: "Raw PCM input: channels.") var rawChannels: Int = 1
    @Option(help: "Raw PCM input: s16le or f32le.") var rawFormat: String = "s16le"
    @Option(help: "Seconds between window starts.") var hop: Double = 1
    @Option(help: "Probability at which a label raises an event (default: the model's threshold, else 0.5).") var threshold: Float?
    @Option(parsing: .unconditional, help: "Windows quieter than this RMS level (dBFS, e.g. -50) are reported silent and not scored.") var gateDb: Float?
    @Flag(help: "One JSON object per window on stdout.") var jsonl = false
    @Option(help: "Also write the audio as received (source rate and channels) to this 32-bit float WAV.") var record: String?
    @Option(help: "Stop after this many seconds of audio.") var duration: Double?

    func validate() throws {
        if device != nil && input != nil { throw ValidationError("give either --device or --input, not both") }
        guard hop > 0, hop <= 3600 else { throw ValidationError("--hop must be in (0, 3600] seconds") }
        if let t = threshold, !(t >= 0 && t <= 1) { throw ValidationError("--threshold must be a probability in [0, 1]") }
        // A bound keeps seconds x sample rate far inside Int (1e15 s used to trap).
        if let d = duration, !(d > 0 && d <= 1e8) { throw ValidationError("--duration must be in (0, 1e8] seconds (got \(d))") }
        if let g = gateDb, !g.isFinite { throw ValidationError("--gate-db must be a number of dBFS") }
        guard ["s16le", "f32le"].contains(rawFormat) else { throw ValidationError("--raw-format must be s16le or f32le") }
        if rawRate != nil && input == nil { throw ValidationError("--raw-rate describes --input; give --input FILE or --input -") }
        if input == "-" && rawRate == nil { throw ValidationError("--input - reads raw PCM: give --raw-rate (and --raw-channels, --raw-format)") }
    }

    func run() throws {
        try runReportingErrors {
            let (model, engine) = try modelOptions.load()
            let classifier = try ModelClassifier(model: model, engine: engine)
            let settings = classifier.fbankSettings
            let hopFrames = max(1, Int((hop * Double(settings.sampleRate) / Double(settings.frameShift)).rounded()))
            let screener = try Screener(classifier: classifier, hopFrames: hopFrames, gateDB: gateDb, settings: settings)

            let source: AudioSource
            if let input {
                let raw = try rawRate.map { RawFormat(rate: $0, channels: rawChannels, encoding: try encoding()) }
                source = try openInput(path: input, raw: raw)
            } else {
                var o = ALSASource.Options()
                o.device = device ?? "default"
                source = try ALSASource(o)
            }
            if let input, input != "-" { noteInputFile(input) }   // --record must not truncate it
            let recorder = try record.map { try WAVRecorder(path: $0, sampleRate: source.sampleRate, channels: source.channels) }
            let session = try ListenSession(source: source, screener: screener, recorder: recorder)

            // Ctrl-C: stop the source; the session drains it, scores the last window and returns.
            // A second Ctrl-C quits at once.
            signal(SIGINT, SIG_IGN)
            let sigQueue = DispatchQueue(label: "ssast.sigint")
            let sig = DispatchSource.makeSignalSource(signal: SIGINT, queue: sigQueue)
            var interrupts = 0
            sig.setEventHandler {
                interrupts += 1
                if interrupts > 1 { Foundation.exit(130) }
                source.stop()
            }
            sig.resume()
            defer { sig.cancel() }

            let view = ListenView(labels: classifier.labels,
                                  threshold: threshold ?? model.config.threshold ?? 0.5,
                                  mode: jsonl ? .jsonl : (isatty(1) != 0 ? .terminal : .lines))
            view.header("\(source.description); \(URL(fileURLWithPath: model.file.file.path).lastPathComponent): "
                        + "\(classifier.labels.count) labels, \(String(format: "%.2f", Double(classifier.targetLength) * 0.01)) s windows, "
                        + "hop \(String(format: "%.2f", Double(hopFrames) * Double(settings.frameShift) / Double(settings.sampleRate))) s")
            let summary = try session.run(maxAudioSeconds: duration, onWindow: { view.window($0) },
                                          onChunk: { view.level($0, seconds: $1, counters: source.counters) })
            view.summary(summary, recorded: record, truncated: recorder?.truncated ?? false)
        }
    }

    private func encoding() throws -> SampleEncoding {
        guard let e = SampleEncoding(rawValue: rawFormat) else { throw SSASTError("unknown --raw-format \(rawFormat)") }
        return e
    }
}

/// The three ways `listen` reports: a redrawn terminal panel, plain lines (stdout not a terminal), JSONL.
final class ListenView {
    enum Mode { case terminal, lines, jsonl }
    let labels: [String]
    let threshold: Float
    let mode: Mode
    private var above: [Bool]
    private var lastProbs: [Float] = []
    private var lastWindow: WindowResult?
    private var levelDB: Float = -.infinity
    private var counters = SourceCounters()
    private var panelLines = 0
    private var streamTime = 0.0

    init(labels: [String], threshold: Float, mode: Mode) {
        self.labels = labels; self.threshold = threshold; self.mode = mode
        above = [Bool](repeating: false, count: labels.count)
    }

    /// Labels that raise events: the positive class of a binary model, else every label.
    private var eventLabels: [Int] { labels.count == 2 ? [1] : Array(labels.indices) }

    private func out(_ s: String) {
        FileHandle.standardOutput.write(s.data(using: .utf8)!)
    }
    private func err(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }

    func header(_ s: String) {
        if mode == .jsonl { err("ssast listen: " + s) } else { out("ssast listen: " + s + "\n") }
    }

    func level(_ rms: Float, seconds: Double, counters c: SourceCounters) {
        levelDB = rms > 0 ? 20 * log10f(rms) : -.infinity
        streamTime = seconds
        counters = c
        if mode == .terminal { redraw(events: []) }
    }

    func window(_ w: WindowResult) {
        var events: [String] = []
        if !w.silent {
            for i in eventLabels where i < w.probabilities.count {
                let now = w.probabilities[i] >= threshold
                if now && !above[i] {
                    events.append(String(format: "%8.2f s  EVENT %@ %.3f >= %.2f  (window %.2f-%.2f s)",
                                         w.endS, labels[i], w.probabilities[i], threshold, w.startS, w.endS))
                }
                above[i] = now
            }
            lastProbs = w.probabilities
        }
        lastWindow = w
        switch mode {
        case .jsonl:
            out(JSONOut.object([
                ("index", "\(w.index)"), ("start_s", JSONOut.number(w.startS)), ("end_s", JSONOut.number(w.endS)),
                ("frames", "\(w.frames)"),
                ("logits", JSONOut.array(w.logits)), ("probabilities", JSONOut.array(w.probabilities)),
                ("rms", JSONOut.number(w.rms)), ("rms_db", JSONOut.number(w.rmsDB)), ("silent", w.silent ? "true" : "false"),
                ("xruns", "\(w.xruns)"), ("dropped_frames", "\(w.droppedFrames)"),
                ("latency_s", JSONOut.number(w.latencyS)),
            ]) + "\n")
        case .lines:
            var line = String(format: "%8.2f-%.2f s  %6.1f dBFS  ", w.startS, w.endS, w.rmsDB)
            line += w.silent ? "silent" : zip(labels, w.probabilities).map { String(format: "%@ %.3f", $0, $1) }.joined(separator: "  ")
            if w.xruns > 0 || w.droppedFrames > 0 { line += "  (xruns \(w.xruns), dropped \(w.droppedFrames))" }
            out(line + "\n")
            for e in events { out(e + "\n") }
        case .terminal:
            redraw(events: events)
        }
    }

    private func bar(_ fraction: Float, width: Int = 30) -> String {
        let f = max(0, min(1, fraction.isFinite ? fraction : 0))
        let n = Int((f * Float(width)).rounded())
        return String(repeating: "█", count: n) + String(repeating: "░", count: width - n)
    }

    /// Rewrites the panel in place; event lines go above it and scroll.
    private func redraw(events: [String]) {
        var s = panelLines > 0 ? "\u{1B}[\(panelLines)F" : ""
        for e in events { s += "\u{1B}[2K" + e + "\n" }
        let db = levelDB.isFinite ? levelDB : -120
        var lines = [String(format: "%8.2f s  level %@ %6.1f dBFS   xruns %d  dropped %d",
                            streamTime, bar((db + 80) / 80), db, counters.xruns, counters.droppedFrames)]
        let nameWidth = labels.map(\.count).max() ?? 0
        for (i, name) in labels.enumerated() {
            let p = i < lastProbs.count ? lastProbs[i] : 0
            let mark = lastWindow?.silent == true ? "  (silent)" : (eventLabels.contains(i) && p >= threshold ? "  ◀" : "")
            lines.append("  " + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  " + bar(p) + String(format: " %.3f", p) + mark)
        }
        for l in lines { s += "\u{1B}[2K" + l + "\n" }
        panelLines = lines.count
        out(s)
    }

    func summary(_ s: ListenSummary, recorded: String?, truncated: Bool) {
        var text = String(format: "summary: %d windows (%d silent), %.1f s of audio in %.1f s, real-time factor %.3f "
                          + "(compute / audio),\n         max latency %.3f s, xruns %d, dropped frames %d",
                          s.windows, s.silentWindows, s.audioSeconds, s.wallSeconds, s.realTimeFactor,
                          s.maxLatencyS, s.xruns, s.droppedFrames)
        if s.realTimeFactor > 1 { text += "\nwarning: inference is slower than real time; try --threads or a larger --hop" }
        if let recorded { text += "\nrecorded to \(recorded)" + (truncated ? " (stopped at the 4 GiB WAV limit)" : "") }
        if mode == .jsonl { err(text) } else { out(text + "\n") }
    }
}
