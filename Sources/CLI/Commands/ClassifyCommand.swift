import ArgumentParser
import AudioFile
import Foundation
import Runtime

/// Options for long audio: the original scores the first target_length frames; windows are optional.
struct WindowOptions: ParsableArguments {
    @Option(help: "Score sliding windows every SECONDS instead of only the first target_length frames.")
    var windowHop: Double?
    @Option(help: "How window scores combine into the file's result: mean or max.")
    var aggregate: String = "mean"

    func validate() throws {
        if let h = windowHop, !(h > 0 && h < 3600) { throw ValidationError("--window-hop must be between 0 and 3600 seconds") }
        guard ["mean", "max"].contains(aggregate) else { throw ValidationError("--aggregate must be mean or max") }
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
        var (items, errors) = AudioInputs.expand(args)
        if let shard {
            items = items.filter { shard.contains($0.path) }
            errors = errors.filter { shard.contains($0.0) }
        }
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

    func aggregate(_ windows: [Classifier.Window], _ how: String, probabilities: Bool) -> [Float] {
        let rows = windows.map { probabilities ? $0.probabilities : $0.output }
        guard var acc = rows.first else { return [] }
        for r in rows.dropFirst() { for i in acc.indices { acc[i] = how == "max" ? max(acc[i], r[i]) : acc[i] + r[i] } }
        if how == "mean" { for i in acc.indices { acc[i] /= Float(rows.count) } }
        return acc
    }
}

struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Score audio files with an SSAST model: top label and probabilities per file.",
        discussion: """
            AUDIO may be files (anything libsndfile reads: WAV, FLAC, OGG, ...), folders (every file below) or an \
            SSAST datafile JSON. Audio is averaged to mono, resampled to 16 kHz, turned into the Kaldi fbank, cut or \
            padded to the model's target length and normalised with the model's statistics — as SSAST's dataloader does. \
            A file that fails is reported and the others are still scored; the exit status is non-zero if any failed.
            """)

    @Argument(help: "Audio files, folders or SSAST datafile JSON lists.") var audio: [String]
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var windows: WindowOptions
    @Flag(help: "One JSON object per input: file, label, logits, probabilities (and windows with --window-hop).") var jsonl = false
    @OptionGroup var sharding: ShardOptions

    func run() throws {
        var failed = 0
        try runReportingErrors {
            let (model, engine) = try modelOptions.load()
            guard model.config.hasHead else {
                throw SSASTError("\(model.file.file.path) is a backbone-only model (converted from a pretrained checkpoint): use `ssast embed`")
            }
            let classifier = try Classifier(model: model, engine: engine)
            let run = ScoringRun(classifier: classifier, hopFrames: windows.hopFrames(classifier), shard: sharding.shard)
            let labels = model.config.labels
            let threshold = model.config.threshold
            let secondsPerFrame = Double(classifier.fbank.settings.frameShift) / Double(classifier.sampleRate)
            failed = run.forEachInput(audio, jsonl: jsonl) { item, ws in
                let probs = run.aggregate(ws, windows.aggregate, probabilities: true)
                let logits = run.aggregate(ws, windows.aggregate, probabilities: false)
                let top = probs.indices.max { probs[$0] < probs[$1] } ?? 0
                // A binary model with a validated operating threshold decides on P(last label) >= threshold.
                var decision: String? = nil
                if let t = threshold, labels.count == 2 { decision = probs[1] >= t ? labels[1] : labels[0] }
                if jsonl {
                    var pairs: [(String, String)] = [("file", JSONOut.string(item.path)), ("label", JSONOut.string(labels[top])),
                                                     ("logits", JSONOut.array(logits)), ("probabilities", JSONOut.array(probs)),
                                                     ("labels", JSONOut.strings(labels))]
                    if let d = decision, let t = threshold { pairs += [("decision", JSONOut.string(d)), ("threshold", JSONOut.number(t))] }
                    if run.hopFrames != nil {
                        pairs.append(("windows", "[" + ws.map { w in
                            JSONOut.object([("start_s", JSONOut.number(Double(w.startFrame) * secondsPerFrame)),
                                            ("end_s", JSONOut.number(Double(w.startFrame + w.frames) * secondsPerFrame)),
                                            ("logits", JSONOut.array(w.output)), ("probabilities", JSONOut.array(w.probabilities))])
                        }.joined(separator: ",") + "]"))
                    }
                    print(JSONOut.object(pairs))
                } else {
                    let detail = zip(labels, probs).map { "\($0) \(String(format: "%.3f", $1))" }.joined(separator: ", ")
                    var line = "\(item.path): \(labels[top]) (\(String(format: "%.3f", probs[top])))  [\(detail)]"
                    if let d = decision, let t = threshold { line += "  decision at \(t): \(d)" }
                    if ws.count > 1 { line += "  (\(windows.aggregate) of \(ws.count) windows)" }
                    print(line)
                }
            }
        }
        if failed > 0 { printError("\(failed) input(s) failed"); throw ExitCode.failure }
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
                let e = run.aggregate(ws, windows.aggregate, probabilities: false)
                if jsonl {
                    print(JSONOut.object([("file", JSONOut.string(item.path)), ("dim", "\(e.count)"), ("embedding", JSONOut.array(e))]))
                } else {
                    print("\(item.path): \(e.count)-d embedding [" + e.prefix(6).map { String(format: "%.4f", $0) }.joined(separator: ", ") + ", …]")
                }
            }
        }
        if failed > 0 { printError("\(failed) input(s) failed"); throw ExitCode.failure }
    }
}
