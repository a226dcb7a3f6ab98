import Arguments
import AudioFile
import Glibc
import Runtime
import Support

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the model per stage, against the machine's measured FMA peak and, with --onnx, ONNX Runtime in the same run.",
        discussion: """
            Benchmarks are ratios measured side by side: these machines are shared and noisy, so absolute times \
            mean little. The last line is one JSON object with ours_ms, onnxruntime_ms, ratio (ours / theirs: the median of \
            the per-round ratios of --rounds alternating rounds), ratio_min (fastest run against fastest run), \
            threads, dtype and max_abs_logit_diff_vs_fp32 (against --compare, an fp32 conversion of the same model).
            Example: ssast bench --model ciab-int8.ssast --compare ciab.ssast --input ../shared/fixtures/expected/input_tiny-patch-ciab-ft__speech16k.npy \
            --onnx ../shared/anchors/tiny-patch-ciab-ft-int8.onnx --threads 2
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Model input: a normalised (target_length x 128) .npy, or an audio file (then fbank + normalisation are done first).")
    var input: String?
    @Option(help: "Timed repetitions per round (median reported).") var reps: Int = 30
    @Option(help: "Rounds: our timing and ONNX Runtime's alternate this many times, so both see the same moments of a shared machine; ratio is the median of the per-round ratios.")
    var rounds: Int = 3
    @Option(help: "Also time this many threads in every round (e.g. 1 beside --threads 2) and report the speedup of --threads over it, measured side by side like the ONNX Runtime ratio.")
    var baselineThreads: Int?
    @Option(help: "ONNX model to time with ONNX Runtime on the same input and threads (runs ort_time.py with --python).") var onnx: String?
    @Option(help: "ort_time.py location.") var ortScript: String = "../shared/anchors/ort_time.py"
    @Option(help: "Python interpreter for ONNX Runtime.") var python: String = "python3"
    @Option(help: "An fp32 weight file of the same model, for max_abs_logit_diff_vs_fp32.") var compare: String?
    @Flag(help: "Time our model with the thread's CPU clock, not wall time (1 thread only): for development on a loaded machine. ONNX Runtime is still timed in wall time, so no ratio is printed.")
    var cpuClock = false

    func validate() throws {
        guard (1...10000).contains(reps) else { throw ValidationError("--reps must be between 1 and 10000") }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 100") }
        if let b = baselineThreads {
            guard (1...256).contains(b) else { throw ValidationError("--baseline-threads must be between 1 and 256") }
            if cpuClock { throw ValidationError("--baseline-threads compares wall times; drop --cpu-clock") }
        }
        if cpuClock && modelOptions.threads != 1 { throw ValidationError("--cpu-clock measures one thread; use --threads 1") }
        if cpuClock && onnx != nil { throw ValidationError("--cpu-clock cannot be compared with ONNX Runtime's wall time; drop --onnx") }
    }

    func run() throws {
        try runReportingErrors {
            let path = try modelOptions.resolvedModelPath()
            let t0 = monotonicTime()
            let model = try SSASTModel(path: path)
            let loadMs = (monotonicTime() - t0) * 1000
            let engine = try modelOptions.engine(for: model)
            let classifier = try Classifier(model: model, engine: engine)
            let c = model.config

            // The input: a fixture-style .npy, an audio file, or zeros.
            var x = [Float](repeating: 0, count: c.targetLength * c.melBins)
            var inputNote = "zeros"
            if let inp = input {
                if inp.hasSuffix(".npy") {
                    let a = try readNPY(inp)
                    guard a.count == x.count else { throw SSASTError("\(inp): \(a.shape) does not match the model input [\(c.targetLength), \(c.melBins)]") }
                    x = a.data
                } else {
                    let s = try loadMono(path: inp, sampleRate: classifier.sampleRate)
                    let (frames, fb) = try classifier.fbank.compute(s, name: inp)
                    x = try InputPreparation(config: c).prepare(fb, frames: frames)
                }
                inputNote = inp
            }

            let fbankMs = benchmarkFbank(seconds: 10)
            var logits: [Float] = []
            for _ in 0..<3 { logits = try x.withUnsafeBufferPointer { try classifier.run(normalisedInput: $0.baseAddress!) } }
            var totals: [Double] = []
            var stages = StageTimes()
            // One round of our timing: `reps` inferences; returns their seconds. Stage times are kept
            // for the main classifier only.
            func timeOurs(_ cl: Classifier, keepStages: Bool = true) throws -> [Double] {
                var round: [Double] = []
                for _ in 0..<reps {
                    var st = StageTimes()
                    st.threadCPUClock = cpuClock
                    let s = cpuClock ? threadCPUTime() : monotonicTime()
                    _ = try x.withUnsafeBufferPointer { try cl.run(normalisedInput: $0.baseAddress!, times: &st) }
                    round.append((cpuClock ? threadCPUTime() : monotonicTime()) - s)
                    if keepStages { stages = stages + st }
                }
                return round
            }
            // The same model on --baseline-threads, for the thread speedup.
            let baseline = try baselineThreads.map { n throws -> Classifier in  // untyped: Swift 6.0 rethrows any Error from withUnsafeBufferPointer
                let cl = try Classifier(model: model, engine: try modelOptions.engine(for: model, threads: n))
                for _ in 0..<3 { _ = try x.withUnsafeBufferPointer { (p) throws(SSASTError) in try cl.run(normalisedInput: p.baseAddress!) } }
                return cl
            }
            // Speedup rounds: the baseline first, so their ratio is baseline time over ours.
            var threadRounds = AlternatingRounds()
            // ONNX Runtime's input, written once for every round.
            let ortInput = FileSystem.temporaryDirectory + "ssast-bench-\(getpid()).npy"
            defer { if onnx != nil { FileSystem.remove(ortInput) } }
            if onnx != nil { try writeNPY(ortInput, x, shape: [c.targetLength, c.melBins]) }
            var roundLines: [String] = []
            var ortRounds = AlternatingRounds()
            var ortLogits: [Double]? = nil
            for r in 0..<rounds {
                let mine = try timeOurs(classifier)
                totals += mine
                var line = String(printf: "round %d: ours median %.2f ms (min %.2f)", r + 1, median(mine) * 1000, (mine.min() ?? 0) * 1000)
                if let b = baseline {
                    let theirs = try timeOurs(b, keepStages: false)
                    let speedup = threadRounds.add(first: (median(theirs), theirs.min() ?? 0), second: (median(mine), mine.min() ?? 0))
                    line += String(printf: ", %d thread(s) median %.2f ms (min %.2f), speedup %.2f", baselineThreads!,
                                   median(theirs) * 1000, (theirs.min() ?? 0) * 1000, speedup)
                }
                if let onnx {
                    let out = try runONNXRuntime([onnx, ortInput, "\(modelOptions.threads)", "\(reps)"])
                    guard let jl = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                          let obj = try? MiniJSONParser.parse(Array(jl.utf8), what: "ONNX Runtime's result"),
                          let med = obj["median_ms"]?.double, let mn = obj["min_ms"]?.double else {
                        throw SSASTError("ONNX Runtime run printed no result: \(out.suffix(500))")
                    }
                    ortLogits = obj["logits"]?.array.map { $0.compactMap(\.double) }
                    let ratio = ortRounds.add(first: (median(mine) * 1000, (mine.min() ?? 0) * 1000), second: (med, mn))
                    line += String(printf: ", onnxruntime median %.2f ms (min %.2f), ratio %.3f", med, mn, ratio)
                }
                roundLines.append(line)
            }
            let ours = median(totals) * 1000
            let gflop = model.flopsPerInference / 1e9
            let peak = engine.measurePeakFMA(threads: modelOptions.threads)
            let achieved = gflop / (ours / 1000)

            var diffVsFP32: Double? = nil
            var fp32Logits: [Float]? = nil
            if let cmp = compare {
                let ref = try SSASTModel(path: cmp)
                guard ref.config.tokens == c.tokens, ref.config.labels.count == c.labels.count else { throw SSASTError("\(cmp): not the same model geometry as \(path)") }
                let rc = try Classifier(model: ref, engine: engine)
                let y = try x.withUnsafeBufferPointer { try rc.run(normalisedInput: $0.baseAddress!) }
                fp32Logits = y
                diffVsFP32 = Double(zip(y, logits).map { abs($0 - $1) }.max() ?? 0)
            } else if model.weightType == .f32 {
                diffVsFP32 = 0
            }

            print("machine: \(cpuName()), kernels \(engine.isaName), \(modelOptions.threads) thread(s), \(dateString())")
            if model.weightType == .i8 { print("int8 activations: \(engine.int8ActivationBits) bits") }
            print("model: \(path) (\(model.weightType)), \(String(printf: "%.2f", gflop)) GFLOP/inference, load \(String(printf: "%.2f", loadMs)) ms, input \(inputNote)")
            print("fbank: 10 s of audio in \(String(printf: "%.2f", fbankMs)) ms")
            let n = Double(reps * rounds)
            // Per stage: mean ms and, for the matmul stages, GFLOP/s (2·m·n·k per linear, 4·T²·D for attention).
            let stageFlops = model.stageFlops
            print("stages (mean ms" + (modelOptions.threads == 1 ? ", GFLOP/s" : ", GFLOP/s over all threads") + "): " + stages.named.map { name, sec in
                let ms = sec / n * 1000
                if let f = stageFlops[name], ms > 0 { return name + String(printf: " %.2f (%.0f)", ms, f / (ms / 1000) / 1e9) }
                return name + String(printf: " %.2f", ms)
            }.joined(separator: ", "))
            print(String(printf: "inference: median %.2f ms, min %.2f ms over %d runs; %.1f GFLOP/s", ours, (totals.min() ?? 0) * 1000, totals.count, achieved))
            print(String(printf: "measured peak FMA: %.1f GFLOP/s on %d thread(s) -> %.0f%% of peak", peak, modelOptions.threads, 100 * achieved / peak))
            print("logits: \(logits)")
            if let d = diffVsFP32 { print("max |logit - fp32 logit|: \(d)") }

            for l in roundLines { print(l) }
            var ortMs: Double? = nil, ortDiff: Double? = nil, ratio: Double? = nil, ratioMin: Double? = nil
            if let onnx {
                ortMs = ortRounds.secondMedian
                ratio = ortRounds.ratio
                ratioMin = ortRounds.ratioMin
                if let l = ortLogits, let ref = fp32Logits ?? (model.weightType == .f32 ? logits : nil) {
                    ortDiff = zip(l, ref).map { abs($0 - Double($1)) }.max()
                }
                print("onnxruntime (\(onnx.lastPathComponent)): " + String(printf: "ours / theirs = %.3f (median of %d rounds' ratios), %.3f on the fastest run of each",
                                                                    ratio!, rounds, ratioMin!)
                      + (diffVsFP32.map { d in ortDiff.map { String(printf: "; max |logit - fp32 logit| ours %.3f, theirs %.3f", d, $0) } ?? "" } ?? ""))
            }
            var speedup: Double? = nil, speedupMin: Double? = nil
            if let b = baselineThreads {
                speedup = threadRounds.ratio
                speedupMin = threadRounds.ratioMin
                print(String(printf: "%d thread(s) against %d: %.2fx faster (median of %d rounds' ratios), %.2fx on the fastest run of each",
                             modelOptions.threads, b, speedup!, rounds, speedupMin!))
            }
            print(String(printf: "peak RSS: %.1f MB", Double(peakResidentBytes()) / 1e6))

            var pairs: [(String, String)] = [
                ("ours_ms", JSONOut.number(ours)), ("onnxruntime_ms", ortMs.map { JSONOut.number($0) } ?? "null"),
                ("ratio", ratio.map { JSONOut.number($0) } ?? "null"), ("ratio_min", ratioMin.map { JSONOut.number($0) } ?? "null"),
                ("rounds", "\(rounds)"), ("threads", "\(modelOptions.threads)"),
                ("dtype", JSONOut.string(model.weightType.description)),
                ("max_abs_logit_diff_vs_fp32", diffVsFP32.map { JSONOut.number($0) } ?? "null"),
                ("onnxruntime_max_abs_logit_diff_vs_fp32", ortDiff.map { JSONOut.number($0) } ?? "null"),
                ("gflops", JSONOut.number(achieved)), ("peak_gflops", JSONOut.number(peak)),
                ("fraction_of_peak", JSONOut.number(achieved / peak)),
 ("fbank_10s_ms", JSONOut.number(fbankMs)),
                ("load_ms", JSONOut.number(loadMs)), ("peak_rss_mb", JSONOut.number(Double(peakResidentBytes()) / 1e6)),
                ("isa", JSONOut.string(engine.isaName)),
                ("int8_activation_bits", model.weightType == .i8 ? "\(engine.int8ActivationBits)" : "null"),
            ]
            if let b = baselineThreads {
                pairs += [("baseline_threads", "\(b)"), ("speedup_vs_baseline", JSONOut.number(speedup!)),
                          ("speedup_vs_baseline_min", JSONOut.number(speedupMin!))]
            }
            pairs.append(("logits", JSONOut.array(logits)))
            print(JSONOut.object(pairs))
        }
    }

    /// Runs ort_time.py once; a missing script, Python or Python package is named with the command
    /// that installs it, instead of a Python traceback.
    func runONNXRuntime(_ args: [String]) throws -> String {
        guard FileSystem.exists(ortScript) else {
            throw SSASTError("--onnx: \(ortScript) not found (give its location with --ort-script; it is ../shared/anchors/ort_time.py in the development tree)")
        }
        // The failure's text, outside the catch clause: Swift 6.0.3 crashed compiling a `catch let e as`
        // clause that throws from inside a loop (the aarch64 build's compiler).
        let message: String
        do { return try runProgram(python, [ortScript] + args) } catch { message = (error as? SSASTError)?.message ?? "\(error)" }
        // Not found: runChild reports it as the shell does (exit 127).
        if message.includes("(exit 127)") {
            throw SSASTError("--onnx runs ONNX Runtime from Python, but \(python) was not found: apt-get install python3 (or give --python PATH)")
        }
        for module in ["onnxruntime", "numpy"] where message.includes("No module named '\(module)'") {
            throw SSASTError("--onnx needs the \(module) Python package for \(python): \(python) -m pip install \(module)")
        }
        throw SSASTError(message)
    }
    func cpuName() -> String {
        guard let s = try? FileSystem.readText("/proc/cpuinfo"),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("model name") }) else { return "unknown CPU" }
        return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmedOfBlanks } ?? "unknown CPU"
    }
    func dateString() -> String { localTimeString("%Y-%m-%d %H:%M") }
}

/// Writes a float32 C-order .npy (v1).
func writeNPY(_ path: String, _ x: [Float], shape: [Int]) throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))\(shape.count == 1 ? "," : "")), }"
    while (10 + header.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var d: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    d.append(contentsOf: withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian, Array.init))
    d.append(contentsOf: Array(header.utf8))
    x.withUnsafeBytes { d.append(contentsOf: $0) }
    // Through the safe writer: the path is in the shared temporary folder, where others can plant links.
    try writeFileAtomically(path) { (w: FileWriter) throws(SSASTError) in try w.write(d) }
}
