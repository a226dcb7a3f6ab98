import Arguments
import Glibc
import Mic
import Runtime
import Screening
import Support

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Screen live audio (an ALSA microphone, a file, or WAV or raw PCM on stdin) with sliding windows and events.",
        discussion: """
            Every --window-hop seconds (default: half the model's window) the model scores the last window of \
            fbank frames. The fbank is computed incrementally, so each hop only processes new audio. Audio at \
            any rate or channel count is averaged to mono and resampled to 16 kHz as `ssast classify` does, and \
            windows and events follow the same rules (--threshold, --event-labels, --min-event, --hysteresis).

            On a terminal: a panel that fits the window (level, the --top K labels, the event state of each) \
            under scrolling event lines with wall-clock times; colour unless NO_COLOR is set, a bell with --bell. \
            Otherwise one line per window and per event. --jsonl prints one object per window (index, start_s, \
            end_s, frames, label, labels, logits, probabilities, partial, rms, rms_db, silent, xruns, \
            dropped_frames, latency_s, events: the events that ended with it). Ctrl-C finishes the current \
            window and prints a summary (on stderr with --jsonl).

            Examples:
              ssast listen                                            # default ALSA device, default model
              ssast listen --device plughw:CARD=USB,DEV=0 --jsonl
              ssast listen --input recording.wav --window-hop 0.5
              arecord -f S16_LE -r 16000 -c 1 | ssast listen --input -
              arecord -f S16_LE -r 16000 -c 1 -t raw | ssast listen --input - --raw-rate 16000
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var screening: ScreeningOptions
    @Option(help: "ALSA capture device (see `ssast devices`).", completion: CompletionKind.none) var device: String?
    @Option(help: "Read FILE instead of a microphone (any libsndfile format), or - for WAV (or raw PCM with --raw-rate) on stdin.") var input: String?
    @Option(help: "Raw PCM input: sample rate in Hz (makes --input headerless PCM).") var rawRate: Int?
    @Option(help: "Raw PCM input: channels.") var rawChannels: Int = 1
    @Option(help: "Raw PCM input: sample encoding.") var rawFormat: SampleEncoding = .s16le
    @Option(parsing: .unconditional, help: "Windows quieter than this RMS level (dBFS, e.g. -50) are reported silent and not scored.") var gateDb: Float?
    @Option(help: "Labels shown in the terminal panel (the most probable first).") var top: Int = 5
    @Flag(help: "Ring the terminal bell when an event starts (terminal only, not with NO_COLOR).") var bell = false
    @Flag(help: "One JSON object per window on stdout.") var jsonl = false
    @Option(help: "Also write the audio as received (source rate and channels) to this 32-bit float WAV.") var record: String?
    @Option(help: "Stop after this many seconds of audio.") var duration: Double?

    func validate() throws {
        if device != nil && input != nil { throw ValidationError("give either --device or --input, not both") }
        // A bound keeps seconds x sample rate far inside Int (1e15 s used to trap).
        if let d = duration, !(d > 0 && d <= 1e8) { throw ValidationError("--duration must be in (0, 1e8] seconds (got \(d))") }
        if let g = gateDb, !g.isFinite { throw ValidationError("--gate-db must be a number of dBFS") }
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        if rawRate != nil && input == nil { throw ValidationError("--raw-rate describes --input; give --input FILE or --input -") }
    }

    func run() throws {
        try runReportingErrors {
            let (model, engine) = try modelOptions.load()
            let classifier = try ModelClassifier(model: model, engine: engine)
            let settings = classifier.fbankSettings
            let setup = try ScreeningSetup(classifier: classifier, settings: settings, rules: try screening.rules(model.config),
                                           hopSeconds: screening.hop)
            let screener = try setup.makeScreener(gateDB: gateDb)
            let tracker = setup.makeTracker()

            let source: AudioSource
            if let input {
                let raw = rawRate.map { RawFormat(rate: $0, channels: rawChannels, encoding: rawFormat) }
                source = try openInput(path: input, raw: raw)
            } else {
                var o = ALSASource.Options()
                o.device = device ?? "default"
                do { source = try ALSASource(o) } catch let e as SSASTError where listSoundCards().isEmpty {
                    // No sound card at all: say so, rather than leave ALSA's reason for the device alone.
                    throw SSASTError(e.message + "\n" + DevicesCommand.noCardsHint())
                }
            }
            if let input, input != "-" { noteInputFile(input) }   // --record must not truncate it
            let recorder = try record.map { try WAVRecorder(path: $0, sampleRate: source.sampleRate, channels: source.channels) }
            let session = try ScreeningSession(source: source, screener: screener, recorder: recorder)

            // Ctrl-C: stop the source; the session drains it, scores the last window and returns.
            // A second Ctrl-C quits at once.
            Interrupts.watch { count in
                if count > 1 { Glibc.exit(130) }
                source.stop()
            }

            // Colour and the bell only on a terminal, and neither when NO_COLOR is set (no-color.org).
            let terminal = isatty(1) != 0
            let plain = !(FileSystem.environment("NO_COLOR") ?? "").isEmpty
            let view = ListenView(rules: setup.rules, top: top,
                                  mode: jsonl ? .jsonl : (terminal ? .terminal : .lines),
                                  colour: terminal && !plain, bell: bell && terminal && !plain)
            view.header(terminalSafe(source.description))
            view.header(modelLine(path: model.file.file.path, setup: setup))
            let summary = try session.run(maxAudioSeconds: duration, onWindow: { w in
                let (started, ended) = tracker.add(w)
                view.window(w, started: started, ended: ended, open: tracker.openEvents)
            }, onChunk: { view.level($0, seconds: $1, counters: source.counters) })
            view.finish(tracker.finish(audioEndS: summary.audioSeconds))
            view.summary(summary, recorded: record, truncated: recorder?.truncated ?? false)
        }
    }
}

/// The three ways `listen` reports: a panel redrawn to fit the terminal, plain lines (stdout not a
/// terminal), JSONL.
final class ListenView {
    enum Mode { case terminal, lines, jsonl }
    let rules: EventRules
    let top: Int
    let mode: Mode
    let colour: Bool, bell: Bool
    private var labels: [String] { rules.labels }
    private var lastProbs: [Float] = []
    private var lastWindow: WindowResult?
    private var open: [Event] = []
    private var levelDB: Float = -.infinity
    private var counters = SourceCounters()
    private var panelLines = 0
    private var drawnSize: (rows: Int, cols: Int) = (0, 0)
    private var streamTime = 0.0

    init(rules: EventRules, top: Int, mode: Mode, colour: Bool, bell: Bool) {
        self.rules = rules; self.top = top; self.mode = mode; self.colour = colour; self.bell = bell
    }

    private func out(_ s: String) { writeStandardOutput(s) }
    private func err(_ s: String) { writeStandardError((s + "\n")) }

    /// Local wall-clock time, HH:MM:SS.
    private func clock() -> String {
        var t = time(nil), tmv = tm()
        localtime_r(&t, &tmv)
        return String(printf: "%02d:%02d:%02d", tmv.tm_hour, tmv.tm_min, tmv.tm_sec)
    }

    func header(_ s: String) {
        if mode == .jsonl { err("ssast listen: " + s) } else { out("ssast listen: " + s + "\n") }
    }

    func level(_ rms: Float, seconds: Double, counters c: SourceCounters) {
        levelDB = rms > 0 ? 20 * log10f(rms) : -.infinity
        streamTime = seconds
        counters = c
        if mode == .terminal { redraw(scroll: []) }
    }

    private func started(_ e: Event) -> String {
        "\(clock())  \(terminalSafe(labels[e.label])) started at \(String(printf: "%.2f", e.startS)) s (\(String(printf: "%.2f", e.peak)))"
    }
    private func ended(_ e: Event) -> String { "\(clock())  EVENT " + eventText(e, labels: labels) }

    func window(_ w: WindowResult, started s: [Event], ended e: [Event], open o: [Event]) {
        if !w.silent { lastProbs = w.probabilities }
        lastWindow = w
        open = o
        switch mode {
        case .jsonl:
            out(JSONOut.object([
                ("index", "\(w.index)"), ("start_s", jsonSeconds(w.startS)), ("end_s", jsonSeconds(w.endS)),
                ("frames", "\(w.frames)"), ("label", w.top.map { JSONOut.string(labels[$0]) } ?? "null"),
                ("labels", JSONOut.strings(labels)),
                ("logits", JSONOut.array(w.logits)), ("probabilities", JSONOut.array(w.probabilities)),
                ("partial", w.partial ? "true" : "false"),
                ("rms", JSONOut.number(w.rms)), ("rms_db", JSONOut.number(w.rmsDB)), ("silent", w.silent ? "true" : "false"),
                ("xruns", "\(w.xruns)"), ("dropped_frames", "\(w.droppedFrames)"),
                ("latency_s", JSONOut.number(w.latencyS)),
                ("events", "[" + e.map { eventJSON($0, labels: labels) }.joined(separator: ",") + "]"),
            ]) + "\n")
        case .lines:
            var line = "\(clock())  " + String(printf: "%8.2f-%.2f s  %6.1f dBFS  ", w.startS, w.endS, w.rmsDB)
            line += w.silent ? "silent" : ranked().prefix(top).map { terminalSafe(labels[$0]) + String(printf: " %.3f", w.probabilities[$0]) }
                .joined(separator: "  ")
            if w.partial { line += "  (partial)" }
            if w.xruns > 0 || w.droppedFrames > 0 { line += "  (xruns \(w.xruns), dropped \(w.droppedFrames))" }
            out(line + "\n")
            for x in e { out(ended(x) + "\n") }
            for x in s { out(started(x) + "\n") }
        case .terminal:
            if bell && !s.isEmpty { out("\u{07}") }
            redraw(scroll: e.map(ended) + s.map(started))
        }
    }

    /// Events still open when the stream ended.
    func finish(_ events: [Event]) {
        switch mode {
        case .jsonl:
            for e in events { out(JSONOut.object([("event", eventJSON(e, labels: labels))]) + "\n") }
        case .lines: for e in events { out(ended(e) + "\n") }
        case .terminal: open = []; redraw(scroll: events.map(ended))
        }
    }

    /// Label indices, most probable first.
    private func ranked() -> [Int] {
        labels.indices.sorted { (lastProbs.count > $0 ? lastProbs[$0] : 0) > (lastProbs.count > $1 ? lastProbs[$1] : 0) }
    }

    private func terminalSize() -> (rows: Int, cols: Int) {
        var ws = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0, ws.ws_row > 0 { return (Int(ws.ws_row), Int(ws.ws_col)) }
        return (24, 80)
    }

    private func bar(_ fraction: Float, width: Int) -> String {
        let f = max(0, min(1, fraction.isFinite ? fraction : 0))
        let n = Int((f * Float(width)).rounded())
        return String(repeating: "█", count: n) + String(repeating: "░", count: max(0, width - n))
    }

    /// Cuts to `width` columns (one column per character: labels are shown terminal-safe).
    private func fit(_ s: String, _ width: Int) -> String { s.count <= width ? s : String(s.prefix(max(0, width - 1))) + "…" }

    /// Rewrites the panel in place, sized to the terminal as it is now; `scroll` lines go above it.
    private func redraw(scroll: [String]) {
        let size = terminalSize()
        let cols = max(20, size.cols - 1)   // never the last column: some terminals wrap there
        var s = ""
        if size != drawnSize && panelLines > 0 {
            s += "\u{1B}[2J\u{1B}[H"         // resized: old lines have re-wrapped; start clean
        } else if panelLines > 0 {
            s += "\u{1B}[\(panelLines)F\u{1B}[J"
        }
        drawnSize = size
        for line in scroll { s += fit(line, cols) + "\n" }
        let db = levelDB.isFinite ? levelDB : -120
        let head = "\(clock()) " + String(printf: "%7.1f s ", streamTime)
        let tail = String(printf: " %6.1f dB", db) + (counters.xruns + counters.droppedFrames > 0
            ? "  xruns \(counters.xruns) dropped \(counters.droppedFrames)" : "")
        var lines = [head + bar((db + 80) / 80, width: max(4, cols - head.count - tail.count)) + tail]
        // The panel never takes more than the terminal's rows minus room for two event lines.
        let shown = ranked().prefix(max(1, min(top, size.rows - 3)))
        let nameWidth = min(max(6, cols / 4), shown.map { terminalSafe(labels[$0]).count }.max() ?? 0)
        for i in shown {
            let p = i < lastProbs.count ? lastProbs[i] : 0
            let name = fit(terminalSafe(labels[i]), nameWidth).padded(to: nameWidth)
            let state: String
            if lastWindow?.silent == true { state = " silent" }
            else if let e = open.first(where: { $0.label == i }) { state = String(printf: " EVENT %.0fs", max(0, streamTime - e.startS)) }
            else { state = rules.eventLabels[i] ? String(printf: " <%.2g", rules.thresholds[i]) : "" }
            let barWidth = max(4, cols - 2 - nameWidth - 1 - 6 - state.count)
            var row = "  " + name + " " + bar(p, width: barWidth) + String(printf: " %.3f", p) + state
            if colour && open.contains(where: { $0.label == i }) { row = "\u{1B}[1;31m" + row + "\u{1B}[0m" }
            lines.append(row)
        }
        for l in lines { s += l + "\n" }
        panelLines = lines.count
        out(s)
    }

    func summary(_ s: ScreeningSummary, recorded: String?, truncated: Bool) {
        // Short lines: they stay readable in a 60-column terminal.
        var text = String(printf: "summary: %d windows (%d silent), %.1f s of audio in %.1f s,\n"
                          + "         real-time factor %.3f (compute / audio),\n"
                          + "         max latency %.3f s, xruns %d, dropped frames %d",
                          s.windows, s.silentWindows, s.audioSeconds, s.wallSeconds, s.realTimeFactor,
                          s.maxLatencyS, s.xruns, s.droppedFrames)
        if s.realTimeFactor > 1 { text += "\nwarning: inference is slower than real time; try --threads or a larger --window-hop" }
        if let recorded { text += "\nrecorded to \(terminalSafe(recorded))" + (truncated ? " (stopped at the 4 GiB WAV limit)" : "") }
        if mode == .jsonl { err(text) } else { out(text + "\n") }
    }
}
