import Arguments
import AudioFile
import Glibc
import Runtime
import Screening
import Support

/// Options for long audio: the original scores the first target_length frames; windows are optional.
struct WindowOptions: ParsableArguments {
    @Option(help: "Score sliding windows every SECONDS instead of only the first target_length frames.")
    var windowHop: Double?
    @Option(help: "How window scores combine into the file's result.")
    var aggregate: Aggregate = .mean

    func validate() throws {
        if let h = windowHop, !(h > 0 && h < 3600) { throw ValidationError("--window-hop must be between 0 and 3600 seconds") }
    }
    func hopFrames(_ c: Classifier) -> Int? {
        windowHop.map { max(1, Int(($0 * Double(c.sampleRate) / Double(c.fbank.settings.frameShift)).rounded())) }
    }
}

/// Shared by classify and embed: expand inputs, decode each, run windows, report errors per file.
struct ScoringRun {
    let classifier: Classifier
    let hopFrames: Int?
    var shard: Shard? = nil

    /// Calls `emit` per decoded input; returns the number of inputs that failed.
    func forEachInput(_ args: [String], jsonl: Bool,
                      emit: (AudioInputs.Item, [Classifier.Window]) -> Void) -> Int {
        let (items, errors, skipped) = AudioInputs.expand(args, shard: shard)
        for s in skipped { printWarning("skipped \(terminalSafe(s)): not audio libsndfile can read") }
        var failed = 0
        func fail(_ file: String, _ message: String) {
            failed += 1
            printError(message.hasPrefix(file) ? message : "\(file): \(message)")
            if jsonl { print(JSONOut.object([("file", JSONOut.string(file)), ("error", JSONOut.string(message))])) }
        }
        for (f, m) in errors { fail(f, m) }
        for item in items {
            do {
                let samples = try loadMono(path: item.path, sampleRate: classifier.sampleRate)
                emit(item, try classifier.classify(samples: samples, hopFrames: hopFrames, name: item.path))
            } catch let e as SSASTError { fail(item.path, e.message) } catch { fail(item.path, "\(error)") }
        }
        return failed
    }
}

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Screen audio files with an SSAST model: windows over the whole recording, events, a verdict per file.",
        discussion: """
            AUDIO may be files (anything libsndfile reads: WAV, FLAC, OGG, ...), folders (every audio file below; \
            others are listed as skipped), SSAST datafile JSON, or - for WAV (or, with --raw-rate, raw PCM) on \
            standard input. Audio is read a block at a time, averaged to mono, resampled to 16 kHz and turned into \
            the Kaldi fbank; windows of the model's length start every --window-hop seconds over the whole \
            recording (the last one aligned to its end; a recording shorter than one window is zero-padded, as \
            SSAST pads short clips) and are normalised with the model's \
            statistics, as SSAST's dataloader does. --first-window scores only the first window (SSAST's own cut).

            Events are stretches where a label's probability reaches its threshold (see --threshold). The verdict \
            of a two-label model is its second label if that raised an event, else its first; with more labels it \
            is the label with the highest --aggregate probability. A file that fails is reported and the others \
            are still screened; the exit status is 1 if any failed.
            """)

    @Argument(help: "Audio files, folders, SSAST datafile JSON lists, or - (standard input).") var audio: [String]
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var screening: ScreeningOptions
    @Flag(help: "Score only the first window (SSAST's cut to target_length), as the original does.") var firstWindow = false
    @Option(help: "How window probabilities combine into the file's probabilities.") var aggregate: Aggregate = .mean
    @Option(help: "Standard input is raw PCM at this rate in Hz (with --raw-channels, --raw-format).") var rawRate: Int?
    @Option(help: "Raw PCM on standard input: channels.") var rawChannels: Int = 1
    @Option(help: "Raw PCM on standard input: sample encoding.") var rawFormat: SampleEncoding = .s16le
    @Flag(help: "One JSON object per file: file, duration_s, label, labels, probabilities, aggregate, windows, events.") var jsonl = false
    @OptionGroup var sharding: ShardOptions

    func run() throws {
        var failed = 0
        try runReportingErrors {
            let (model, engine) = try modelOptions.load()
            let classifier = try ModelClassifier(model: model, engine: engine)
            let setup = try ScreeningSetup(classifier: classifier, settings: classifier.fbankSettings,
                                           rules: try screening.rules(model.config), hopSeconds: screening.hop,
                                           firstWindowOnly: firstWindow)
            let labels = model.config.labels
            if !jsonl { print(modelLine(path: model.file.file.path, setup: setup)) }
            let (items, errors, skipped) = AudioInputs.expand(audio, shard: sharding.shard)
            for s in skipped { printWarning("skipped \(terminalSafe(s)): not audio libsndfile can read") }
            func fail(_ file: String, _ message: String) {
                failed += 1
                printError(terminalSafe(message.hasPrefix(file) ? message : "\(file): \(message)"))
                if jsonl { print(JSONOut.object([("file", JSONOut.string(file)), ("error", JSONOut.string(message))])) }
                fflush(stdout)
            }
            for (f, m) in errors { fail(f, m) }
            for item in items {
                do {
                    let raw = rawRate.map { RawFormat(rate: $0, channels: rawChannels, encoding: rawFormat) }
                    let source = try openInput(path: item.path, raw: item.path == "-" ? raw : nil)
                    let progress = Progress(name: item.path, total: (source as? FileSource)?.declaredSeconds)
                    let r = try setup.screen(source, aggregate: aggregate, progress: progress.map { p in { p.update($0) } })
                    progress?.done()
                    print(jsonl ? json(item.path, r, labels: labels, setup: setup) : text(item.path, r, labels: labels))
                } catch let e as SSASTError { fail(item.path, e.message) } catch { fail(item.path, "\(error)") }
                fflush(stdout)   // each result is out before the next file is read, whatever happens to it
            }
        }
        if failed > 0 { printError("\(failed) input(s) failed"); throw ExitCode.failure }
    }

    func json(_ file: String, _ r: ScreeningResult, labels: [String], setup: ScreeningSetup) -> String {
        let spf = setup.secondsPerFrame
        let windows = r.windows.map { w in
            JSONOut.object([("start_s", jsonSeconds(Double(w.startFrame) * spf)), ("end_s", jsonSeconds(w.endS)),
                            ("label", w.top.map { JSONOut.string(labels[$0]) } ?? "null"),
                            ("probabilities", JSONOut.array(w.probabilities)), ("logits", JSONOut.array(w.logits)),
                            ("partial", w.partial ? "true" : "false")])
        }
        return JSONOut.object([
            ("file", JSONOut.string(file)), ("duration_s", jsonSeconds(r.durationS)),
            ("label", JSONOut.string(labels[r.label])), ("labels", JSONOut.strings(labels)),
            ("probabilities", JSONOut.array(r.aggregate)), ("aggregate", JSONOut.string(r.method.rawValue)),
            ("windows", "[" + windows.joined(separator: ",") + "]"),
            ("events", "[" + r.events.map { eventJSON($0, labels: labels) }.joined(separator: ",") + "]"),
        ])
    }

    func text(_ file: String, _ r: ScreeningResult, labels: [String]) -> String {
        let l = r.label
        let p = l < r.aggregate.count ? r.aggregate[l] : .nan
        var line = terminalSafe(file) + String(printf: " (%.2f s): ", r.durationS) + terminalSafe(labels[l])
        line += " (\(r.method.rawValue)" + String(printf: " %.3f over %d window", p, r.windows.count) + (r.windows.count == 1 ? ")" : "s)")
        line += r.events.isEmpty ? "; no events" : "; " + r.events.map { eventText($0, labels: labels) }.joined(separator: ", ")
        return line
    }
}


/// "file: 12:30 of 60:00" on a terminal's stderr while a recording longer than a minute is screened.
final class Progress {
    let name: String, total: Double
    private var lastShown = -1

    init?(name: String, total: Double?) {
        guard let total, total > 60, isatty(2) != 0 else { return nil }
        self.name = terminalSafe(name); self.total = total
    }

    func update(_ seconds: Double) {
        // Every 10 s of audio.
        guard Int(seconds) / 10 != lastShown else { return }
        lastShown = Int(seconds) / 10
        writeStandardError("\r\u{1B}[2K\(name): \(clock(seconds)) of \(clock(total))")
    }

    func done() { writeStandardError("\r\u{1B}[2K") }

    private func clock(_ s: Double) -> String {
        let t = Int(s)
        return t >= 3600 ? String(printf: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(printf: "%d:%02d", t / 60, t % 60)
    }
}

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Pooled SSAST embeddings of audio files (the vector the classification head would see).",
        discussion: "With a backbone-only model (converted from a pretrained checkpoint) this is the model's output; with a fine-tuned model it is the pooled, final-normed representation before mlp_head.")

    @Argument(help: "Audio files, folders or SSAST datafile JSON lists.") var audio: [String]
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var windows: WindowOptions
    @Flag(help: "One JSON object per input: file, embedding.") var jsonl = false
    @OptionGroup var sharding: ShardOptions

    func run() throws {
        var failed = 0
        try runReportingErrors {
            let (model, engine) = try modelOptions.load()
            let classifier = try Classifier(model: model, engine: engine)
            classifier.outputEmbedding = true
            let run = ScoringRun(classifier: classifier, hopFrames: windows.hopFrames(classifier), shard: sharding.shard)
            failed = run.forEachInput(audio, jsonl: jsonl) { item, ws in
                let e = windows.aggregate.combine(rows: ws.map(\.output))
                if jsonl {
                    print(JSONOut.object([("file", JSONOut.string(item.path)), ("dim", "\(e.count)"), ("embedding", JSONOut.array(e))]))
                } else {
                    print("\(item.path): \(e.count)-d embedding [" + e.prefix(6).map { String(printf: "%.4f", $0) }.joined(separator: ", ") + ", …]")
                }
            }
        }
        if failed > 0 { printError("\(failed) input(s) failed"); throw ExitCode.failure }
    }
}
