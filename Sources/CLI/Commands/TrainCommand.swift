import Arguments
import Glibc
import Runtime
import Support
import Train

/// The recipe defaults, shown in `--help`.
private let d = Recipe()

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune an SSAST model (all parameters) on an SSAST datafile, no Python needed.",
        discussion: """
            Starts from a PyTorch checkpoint (pretrained: pos_embed is adapted and a new head is made; \
            fine-tuned: its head is kept) or one of our weight files. Data: SSAST datafile JSON \
            {"data": [{"wav": path, "labels": "mid1,mid2"}]} and a label CSV index,mid,display_name. \
            --recipe sets SSAST's published settings; every other flag overrides one field.

            Outputs (all written atomically after each epoch): -o OUT keeps the best model so far by the \
            validation metric (accuracy, or mAP for --recipe audioset; the last epoch without --val), and for \
            two-class tasks the decision threshold chosen on validation (Youden's J), which `ssast classify` \
            applies; OUT.val.csv the validation predictions of that epoch; OUT.metrics.csv and OUT.metrics.json \
            every epoch's metrics and the run's settings; OUT.curves.svg the loss and validation-metric curves \
            per epoch, kept epoch shaded (and the kept model's ROC for two-class tasks); OUT.ckpt the training \
            state for --resume; --export-pth \
            the kept model as a PyTorch state_dict. A non-finite loss or gradient stops the run and leaves \
            the files of the last good epoch.

            Example: ssast train --recipe ciab --init SSAST-Tiny-Patch-400.pth --train train.json --val val.json \
            --labels labels.csv -o ciab.ssast

            `ssast train --benchmark [--threads N] [--batch-size N]` times full fine-tuning steps of SSAST-Tiny at \
            CIAB geometry (16x16 patches, stride 10, 512 frames, 12 blocks) on random data instead.
            """)

    @Option(name: .customLong("init"), help: "Starting weights: .pth / .safetensors checkpoint, an ssast weight file, or scratch[:dim=192,depth=12,heads=3,patch=16] for no pretrained weights (timm/SSAST init).") var initPath: String?
    @Option(help: "Training datafile (SSAST JSON).") var train: String?
    @Option(help: "Validation datafile, evaluated after every epoch.") var val: String?
    @Option(help: "Label CSV (index,mid,display_name). A starting model with a head must have these labels (by display name or mid); listed in another order, the head's rows are reordered to the CSV's.") var labels: String?
    @Option(name: .shortAndLong, help: "Output weight file.") var output: String?
    @Flag(help: "Time training steps of SSAST-Tiny at CIAB geometry on random data (needs no other input).") var benchmark = false
    @Option(help: ArgumentHelp("With --benchmark: a Python with PyTorch; runs scripts/bench_torch_train.py (the same model, batch and threads in PyTorch eager) in the same run and prints the ratio.", valueName: "python"))
    var torch: String?
    @Option(help: "With --torch: location of bench_torch_train.py.") var torchScript: String = "scripts/bench_torch_train.py"
    @Option(help: "With --benchmark: rounds; ours and PyTorch's (with --torch) alternate, and the ratio is the median of the per-round ratios.")
    var rounds: Int = 3
    @Option(help: "With --benchmark: timed steps per round (after one warm-up step).") var steps: Int = 2
    @Option(help: "Preset: SSAST's published settings for that task (default: none, i.e. the defaults shown below). A flag overrides one value.") var recipe: RecipeName?
    @Option(help: "Patch stride along frequency (default \(d.fstride); an ssast weight file as --init: its own).") var fstride: Int?
    @Option(help: "Patch stride along time (default \(d.tstride); an ssast weight file: its own).") var tstride: Int?
    @Option(help: "Input length in frames (default \(d.targetLength); ciab/esc50 512, speechcommands 128; an ssast weight file: its own).") var targetLength: Int?
    @Option(parsing: .unconditional, help: "Dataset fbank mean (default \(d.mean), AudioSet; ciab -8.2096; an ssast weight file: its own).") var mean: Float?
    @Option(help: "Dataset fbank std (default \(d.std), AudioSet; ciab 6.1568; an ssast weight file: its own).") var std: Float?
    @Option(help: "Loss: cross-entropy (single label) or binary cross-entropy (multi-label) (default \(d.loss.rawValue); speechcommands and audioset bce).") var loss: LossKind?
    @Option(help: "Validation metric that picks the kept model (default \(d.metric.rawValue); audioset mAP). Ties go to the lower validation loss, then the higher mAUC.") var metric: Recipe.Metric?
    @Option(help: "Batch size (default \(d.batchSize); ciab 18, esc50 48, speechcommands 128).") var batchSize: Int?
    @Option(help: "Epochs (default \(d.epochs); ciab 15, esc50 50, speechcommands 30, audioset 25).") var epochs: Int?
    @Option(help: "Learning rate (default \(d.lr); speechcommands 2.5e-4, audioset 5e-5).") var lr: Float?
    @Option(help: "mlp_head learning-rate multiplier (default \(d.headLR); esc50 10).") var headLr: Float?
    @Option(help: "MultiStepLR first milestone epoch (default \(d.lrSchedulerStart); ciab 6, audioset 10).") var lrSchedulerStart: Int?
    @Option(help: "MultiStepLR milestone spacing in epochs (default \(d.lrSchedulerStep); audioset 5).") var lrSchedulerStep: Int?
    @Option(help: "MultiStepLR decay factor (default \(d.lrSchedulerDecay); audioset 0.5).") var lrSchedulerDecay: Float?
    @Option(help: "Warm-up over the first 1000 steps: true or false (default \(d.warmup); speechcommands true).") var warmup: Switch?
    @Option(help: "SpecAugment frequency mask width (default \(d.freqm); ciab/esc50 24, speechcommands/audioset 48).") var freqm: Int?
    @Option(help: "SpecAugment time mask width (default \(d.timem); ciab/esc50 96, speechcommands 48, audioset 192).") var timem: Int?
    @Option(help: "Waveform mixup rate, lambda ~ Beta(10, 10) (default \(d.mixup); speechcommands 0.6, audioset 0.5).") var mixup: Float?
    @Option(help: "Noise + time roll augmentation: true or false (default \(d.noise); ciab/esc50/speechcommands true).") var noise: Switch?
    @Option(help: "Pooling head: mean of the patch tokens (avgtok) or of the class tokens (cls) (default \(d.pooling.rawValue); an ssast weight file: its own).") var head: ModelConfig.Pooling?
    @Option(help: "Adam weight decay, L2 into the gradient; decoupled with --adamw (default \(d.weightDecay)).") var weightDecay: Float?
    @Flag(help: "AdamW (decoupled weight decay) instead of Adam.") var adamw = false
    @Flag(help: "Keep the datafile order.") var noShuffle = false
    @Flag(help: "No SpecAugment, noise, roll or mixup.") var noAugment = false
    @Flag(help: "Continue from the training state next to -o (OUT.ckpt); the other options must be those of the run (only --epochs may change).") var resume = false
    @Flag(help: "Replace the starting model's classification head by a new one for the label CSV (fine-tune a fine-tuned model onto other labels).") var newHead = false
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @OptionGroup var threadOptions: ThreadOptions
    var threads: Int { threadOptions.threads }
    @Option(help: "Validation predictions (CSV) of the kept epoch (default: OUT.val.csv).") var predictions: String?
    @Option(help: "Also write the kept model as a PyTorch state_dict (SSAST's keys, module. prefix).") var exportPth: String?
    @Flag(help: "Do not write the curves picture OUT.curves.svg.") var noCurves = false

    func makeRecipe() throws -> Recipe {
        var r = try recipe.map { try Recipe.preset($0.name) } ?? Recipe()
        // One of our weight files records its geometry and normalisation: start from them.
        if let i = initPath, let c = try ModelInit.weightFileConfig(i) { r.adopt(c) }
        if let v = fstride { r.fstride = v }
        if let v = tstride { r.tstride = v }
        if let v = targetLength { r.targetLength = v }
        if let v = mean { r.mean = v }
        if let v = std { r.std = v }
        if let v = loss { r.loss = v }
        if let v = metric { r.metric = v }
        if let v = batchSize { r.batchSize = v }
        if let v = epochs { r.epochs = v }
        if let v = lr { r.lr = v }
        if let v = headLr { r.headLR = v }
        if let v = lrSchedulerStart { r.lrSchedulerStart = v }
        if let v = lrSchedulerStep { r.lrSchedulerStep = v }
        if let v = lrSchedulerDecay { r.lrSchedulerDecay = v }
        if let v = warmup { r.warmup = v.value }
        if let v = freqm { r.freqm = v }
        if let v = timem { r.timem = v }
        if let v = mixup { r.mixup = v }
        if let v = noise { r.noise = v.value }
        if let v = weightDecay { r.weightDecay = v }
        if let h = head { r.pooling = h }
        if adamw { r.adamW = true }
        if noShuffle { r.shuffle = false }
        if noAugment { r.augment = false }
        r.seed = seed
        try r.validate()
        return r
    }

    /// `--benchmark`: our training step and PyTorch's (with --torch) in alternating rounds.
    func runBenchmark() throws {
        guard (1...100).contains(rounds) else { throw SSASTError("--rounds must be between 1 and 100 (got \(rounds))") }
        guard (1...1000).contains(steps) else { throw SSASTError("--steps must be between 1 and 1000 (got \(steps))") }
        let b = batchSize ?? 8
        let bench = try TrainStepBenchmark(threads: threads, batch: b)
        print("SSAST-Tiny, 16x16 patches, stride 10, 512 frames, 12 blocks, batch \(b), \(threads) threads, \(rounds) round(s) of \(steps) step(s)")
        var ours: [Double] = []
        var torchRounds = AlternatingRounds()
        var torchRSS = 0.0, torchLine = ""
        for r in 0..<rounds {
            let mine = try bench.run(steps: steps).map { $0 * 1000 / Double(b) }  // ms per sample
            ours += mine
            var line = String(printf: "round %d: ours median %.1f ms/sample (min %.1f)", r + 1, median(mine), mine.min() ?? 0)
            if let python = torch {
                let out = try runProgram(python, [torchScript, "--threads", "\(threads)", "--batch", "\(b)", "--steps", "\(steps)"])
                guard let jl = out.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                      let obj = try? MiniJSONParser.parse(Array(jl.utf8), what: "PyTorch's result"),
                      let med = obj["median_ms_per_sample"]?.double, let mn = obj["min_ms_per_sample"]?.double,
                      let rss = obj["peak_rss_mib"]?.double else {
                    throw SSASTError("the PyTorch benchmark (\(torchScript)) printed no result: \(out.suffix(500))")
                }
                torchRSS = max(torchRSS, rss)
                torchLine = out.split(separator: "\n").first(where: { $0.hasPrefix("PyTorch") }).map(String.init) ?? torchLine
                let ratio = torchRounds.add(first: (median(mine), mine.min() ?? 0), second: (med, mn))
                line += String(printf: ", PyTorch median %.1f ms/sample (min %.1f), ratio %.3f", med, mn, ratio)
            }
            print(line)
        }
        let perSample = median(ours)
        let result = TrainBenchmarkResult(msPerSample: perSample, msPerStep: perSample * Double(b), peakRSSBytes: peakResidentBytes(),
                                          activationBytes: bench.activationBytes, parameters: bench.parameters)
        print(result.description + " (median step)")
        var pairs: [(String, String)] = [
            ("ours_ms_per_sample", JSONOut.number(perSample)), ("ours_min_ms_per_sample", JSONOut.number(ours.min() ?? 0)),
            ("ours_peak_rss_mib", JSONOut.number(Double(result.peakRSSBytes) / 1048576)),
            ("threads", "\(threads)"), ("batch", "\(b)"), ("rounds", "\(rounds)"), ("steps", "\(steps)"),
        ]
        if torch != nil {
            if !torchLine.isEmpty { print(torchLine) }
            print(String(printf: "ours / PyTorch: %.3f (median of %d rounds' ratios), %.3f on the fastest step of each; peak RSS %.0f MiB vs %.0f MiB",
                         torchRounds.ratio, rounds, torchRounds.ratioMin, Double(result.peakRSSBytes) / 1048576, torchRSS))
            pairs += [("torch_ms_per_sample", JSONOut.number(torchRounds.secondMedian)), ("torch_peak_rss_mib", JSONOut.number(torchRSS)),
                      ("ratio", JSONOut.number(torchRounds.ratio)), ("ratio_min", JSONOut.number(torchRounds.ratioMin))]
        }
        print(JSONOut.object(pairs))
    }

    func run() throws {
        try runReportingErrors {
            if benchmark {
                try runBenchmark()
                return
            }
            guard let initPath = initPath, let train = train, let labels = labels, let output = output else {
                throw SSASTError("ssast train needs --init, --train, --labels and -o (or --benchmark)")
            }
            var o = TrainOptions(initPath: initPath, trainJSON: train, valJSON: val, labelCSV: labels, output: output,
                                 recipe: try makeRecipe())
            o.threads = threads; o.resume = resume
            o.predictionsCSV = val == nil ? nil : (predictions ?? output + ".val.csv")
            o.exportPth = exportPth; o.curves = !noCurves; o.newHead = newHead
            var notes: [String] = []
            let t = try Trainer(options: o, notes: &notes)
            for n in notes { writeStandardError(("note: " + n + "\n")) }
            let c = t.model.config
            print("training \(c.depth) blocks, dim \(c.dim), \(c.patches) patches, \(c.labels.count) labels; "
                  + "\(t.train.count) training files" + (t.val.map { ", \(($0).count) validation files" } ?? ""))
            // Ctrl-C: the run ends at the next batch boundary and says what can be resumed; a second one quits now.
            Interrupts.watch { count in
                if count == 1 { writeStandardError("\nssast train: stopping after this batch (Ctrl-C again to quit at once)\n"); t.requestStop() }
                else { _exit(130) }
            }
            do { try t.run() } catch let e as SSASTError where t.stopRequested {
                printError(e.message)
                throw ExitCode(130)
            }
            print("wrote \(output)")
        }
    }
}

