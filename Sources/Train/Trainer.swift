import Convert
import Glibc
import Runtime
import Support

/// Where the starting weights come from and how the run is laid out on disk.
public struct TrainOptions {
    public var initPath: String
    public var trainJSON: String
    public var valJSON: String?
    public var labelCSV: String
    public var output: String              // our weight file; training state goes to output + ".ckpt"
    public var recipe: Recipe
    public var threads = 1
    public var resume = false
    public var predictionsCSV: String?     // validation predictions of the kept (best) epoch
    public var exportPth: String?          // also write the kept model as a PyTorch state_dict
    public var curves = true               // write output + ".curves.svg" after every epoch
    public var newHead = false             // replace a fine-tuned model's head by a fresh one for the label CSV
    public init(initPath: String, trainJSON: String, valJSON: String?, labelCSV: String, output: String, recipe: Recipe) {
        self.initPath = initPath; self.trainJSON = trainJSON; self.valJSON = valJSON
        self.labelCSV = labelCSV; self.output = output; self.recipe = recipe
    }
}

/// Starting weights for training or evaluation.
public struct StartingModel {
    public var config: ModelConfig
    public var tensors: [String: [Float]]
    public var notes: [String]
    /// The features the model expects: the weight file's, or SSAST's for a checkpoint or scratch.
    public var fbank: FbankSettings = .ssast
}

/// Loads starting weights: a PyTorch/safetensors checkpoint through the converter (so pretrained
/// files get the same pos_embed adaptation as `ssast convert`), or one of our weight files.
/// A checkpoint without a classification head (or any, with `newHead`) gets a fresh one initialised
/// like PyTorch's defaults (LayerNorm 1/0, Linear U(-1/√D, 1/√D)) from the seeded RNG.
public enum ModelInit {
    public static func load(path: String, labels: LabelSet, recipe r: Recipe, rng: inout SplitMix64, allowNewHead: Bool = true,
                            newHead: Bool = false) throws -> StartingModel {
        // `--init scratch[:...]`: no starting weights at all (ScratchInit.swift).
        if let spec = try ScratchInit.parse(path) {
            let s = try ScratchInit.make(spec, labels: labels, recipe: r, rng: &rng)
            return StartingModel(config: s.config, tensors: s.tensors, notes: s.notes)
        }
        var tensors: [String: [Float]] = [:]
        var config: ModelConfig
        var notes: [String] = []
        var fbank = FbankSettings.ssast
        if isWeightFile(path) {
            let wf = try WeightFile(path: path)
            config = try ModelConfig(weightFile: wf)
            fbank = try FbankSettings(weightFile: wf)
            guard config.fstride == r.fstride, config.tstride == r.tstride, config.targetLength == r.targetLength else {
                throw SSASTError("\(path): the weight file was built for fstride \(config.fstride), tstride \(config.tstride), "
                    + "target length \(config.targetLength); the training options ask for \(r.fstride)/\(r.tstride)/\(r.targetLength)")
            }
            for name in ModelSchema.names(config) { tensors[name] = try wf.dequantised(name) }
            if wf.tensors.contains(where: { $0.type != .f32 }) {
                notes.append("warning: \(path) holds quantised weights; they are used as their dequantised fp32 values")
            }
        } else {
            var o = ConvertOptions()
            o.fstride = r.fstride; o.tstride = r.tstride; o.targetLength = r.targetLength
            o.mean = r.mean; o.std = r.std; o.pooling = r.pooling
            let ck = try SSASTConverter.read(path, options: o)
            config = ck.config
            for (k, v) in ck.tensors { tensors[k] = v.values }
            // The label names come from the CSV, so the converter's note about missing names does not apply.
            notes += ck.notes.filter { !$0.hasPrefix("no --labels") }
        }
        config.datasetMean = r.mean; config.datasetStd = r.std; config.pooling = r.pooling
        config.activation = r.loss == .ce ? .softmax : .sigmoid
        if newHead && config.hasHead {
            for t in ModelSchema.tensors(config) where t.isHead { tensors[t.name] = nil }
            notes.append("--new-head: the model's \(config.labels.count)-label head (\(config.labels.joined(separator: ", "))) was dropped")
            config.labels = []
        }
        if config.hasHead {
            guard config.labels.count == labels.count else {
                throw SSASTError("\(path): the model's head has \(config.labels.count) outputs but the label CSV lists \(labels.count) labels"
                    + (allowNewHead ? "; pass --new-head to train a fresh head for the new labels" : ""))
            }
            try matchHead(&tensors, config: config, to: labels, path: path, allowNewHead: allowNewHead, notes: &notes)
        } else {
            guard allowNewHead else { throw SSASTError("\(path): the model has no classification head (a pretrained backbone)") }
            let d = config.dim, bound = 1 / Float(d).squareRoot()
            tensors["mlp_head.0.weight"] = [Float](repeating: 1, count: d)
            tensors["mlp_head.0.bias"] = [Float](repeating: 0, count: d)
            tensors["mlp_head.1.weight"] = (0..<(labels.count * d)).map { _ in (rng.nextFloat() * 2 - 1) * bound }
            tensors["mlp_head.1.bias"] = (0..<labels.count).map { _ in (rng.nextFloat() * 2 - 1) * bound }
            notes.append("new classification head for \(labels.count) labels")
        }
        config.labels = labels.names
        return StartingModel(config: config, tensors: tensors, notes: notes, fbank: fbank)
    }

    /// The head's rows follow the model's label order; the run (and the name it writes) follows the
    /// label CSV's. Same labels in another order: the rows are permuted to the CSV's. Other labels: an
    /// error, since naming the rows after them would silently change what each output means. Outputs
    /// that were never named are taken to be the CSV's labels in its order.
    static func matchHead(_ tensors: inout [String: [Float]], config: ModelConfig, to labels: LabelSet, path: String,
                          allowNewHead: Bool, notes: inout [String]) throws {
        let model = config.labels
        if config.hasPlaceholderLabels {
            notes.append("the model's outputs have no names (\(model.joined(separator: ", "))): "
                + "they are taken as the label CSV's, in its order (\(labels.names.joined(separator: ", ")))")
            return
        }
        guard let order = labels.outputOrder(modelLabels: model) else {
            throw SSASTError("\(path): the model was trained for the labels \(model.joined(separator: ", ")) but the label CSV lists "
                + "\(labels.names.joined(separator: ", ")) (display names and mids differ)"
                + (allowNewHead ? "; pass --new-head to train a fresh head for these labels" : ""))
        }
        guard order != Array(order.indices) else { return }
        let d = config.dim
        guard let w = tensors["mlp_head.1.weight"], let b = tensors["mlp_head.1.bias"], w.count == model.count * d, b.count == model.count else {
            throw SSASTError("\(path): the classification head does not match its \(model.count) labels")
        }
        tensors["mlp_head.1.weight"] = reorderedRows(w, order: order, width: d)
        tensors["mlp_head.1.bias"] = reorderedRows(b, order: order, width: 1)
        notes.append("the label CSV lists the model's labels in another order: the head's rows were reordered to it "
            + "(model: \(model.joined(separator: ", ")); CSV: \(labels.names.joined(separator: ", ")))")
    }

    /// The config of an ssast weight file, or nil when `path` is not one.
    public static func weightFileConfig(_ path: String) throws -> ModelConfig? {
        guard isWeightFile(path) else { return nil }
        return try ModelConfig(weightFile: try WeightFile(path: path))
    }

    static func isWeightFile(_ path: String) -> Bool {
        guard let f = try? MappedFile(path: path), f.count >= WeightFileFormat.magic.count else { return false }
        return Array(f.bytes[0..<WeightFileFormat.magic.count]) == WeightFileFormat.magic
    }
}

/// The fine-tuning loop: SSAST's traintest.train() with our model, optimiser and data pipeline.
public final class Trainer {
    public let options: TrainOptions
    public let model: TrainModel
    public let adam: Adam
    public let labels: LabelSet
    /// The fbank settings of the starting model, used for the data and written into the output.
    public let fbank: FbankSettings
    public let train: Dataset
    public let val: Dataset?
    public private(set) var schedule: LRSchedule
    public private(set) var rng: SplitMix64
    public private(set) var epoch = 0          // completed epochs
    public private(set) var globalStep = 0
    /// The epoch whose training state is in `statePath` (0: none written or loaded).
    public private(set) var savedEpoch = 0
    public var log: (String) -> Void = { writeStandardError($0 + "\n") }
    /// Set from another thread (Ctrl-C) to end the run at the next batch boundary: the state of the last
    /// finished epoch stays in `statePath` for --resume, and `run` throws an error saying so.
    public func requestStop() { stopLock.withLock { stopFlag = true } }
    public var stopRequested: Bool { stopLock.withLock { stopFlag } }
    private let stopLock = Lock()
    private var stopFlag = false
    /// Redraws the progress line in place; used only when `interactive`.
    public var progress: (String) -> Void = { writeStandardError("\r" + $0 + "\u{1B}[K") }
    /// stderr is a terminal: progress is redrawn per batch; otherwise one line per epoch.
    public var interactive = isatty(2) != 0
    public private(set) var history: [EpochRecord] = []
    /// The kept model: the epoch with the best validation metric (SSAST's traintest: strictly greater
    /// accuracy, or mAP with --metric mAP / BCE recipes), or the last epoch without validation.
    public private(set) var bestEpoch: Int?
    public private(set) var bestMetric = -Double.infinity
    /// Two-class tasks: the Youden-optimal threshold on P(label 1) of the kept model on validation.
    public private(set) var bestThreshold: Float?
    /// Two-class tasks: validation scores of label 1 and truth of the kept model (the ROC curve).
    public private(set) var bestROC: (scores: [Double], positive: [Bool])?

    /// What defines this run, as (option, value): the inputs and every recipe value. Printed at the
    /// start, stored in the weight file's header, and compared by --resume (all but --epochs, which a
    /// resumed run may extend).
    public var settings: [(String, String)] {
        [("init", options.initPath), ("new-head", "\(options.newHead)"), ("train", options.trainJSON), ("val", options.valJSON ?? "none"),
         ("labels", labels.mids.indices.map { labels.mids[$0] + "=" + labels.names[$0] }.joined(separator: ";"))]
            + options.recipe.settings
    }

    public var statePath: String { options.output + ".ckpt" }
    public var curvesPath: String { options.output + ".curves.svg" }
    public var metricsCSVPath: String { options.output + ".metrics.csv" }
    public var metricsJSONPath: String { options.output + ".metrics.json" }

    /// The effective settings, grouped as a user reads them; printed when the run starts.
    public var settingsSummary: [String] {
        let r = options.recipe, c = model.config, fb = fbank
        let fbText = fb == .ssast ? "SSAST's Kaldi fbank (\(fb.melBins) mel bins, 25 ms / 10 ms at 16 kHz)"
            : "from the starting model: " + fb.fields.map { "\($0.0) \(TrainReport.fmt($0.1))" }.joined(separator: ", ")
        return [
            "recipe: \(r.preset); init \(options.initPath)\(options.newHead ? " (new head)" : ""); seed \(r.seed)",
            "geometry: patch \(c.fshape)x\(c.tshape), stride \(r.fstride)x\(r.tstride), target length \(r.targetLength) frames, "
                + "\(c.patches) patches, dim \(c.dim), depth \(c.depth), heads \(c.heads), pooling \(r.pooling.rawValue)",
            "normalisation: (fbank - \(r.mean)) / (2 x \(r.std)); features: " + fbText,
            "schedule: \(r.epochs) epochs, batch \(r.batchSize), lr \(r.lr) (head x\(r.headLR)), \(r.adamW ? "AdamW" : "Adam") "
                + "betas \(r.betas.0)/\(r.betas.1), weight decay \(r.weightDecay), warm-up \(r.warmup ? "on" : "off"), "
                + "x\(r.lrSchedulerDecay) after epochs \(r.lrSchedulerStart), \(r.lrSchedulerStart + r.lrSchedulerStep), ...; loss \(r.loss.rawValue); "
                + "kept by \(r.metric == .mAP ? "mAP" : "accuracy"), ties to lower validation loss, then higher mAUC",
            "augmentation: " + (r.augment ? "SpecAugment freq \(r.freqm) time \(r.timem), mixup \(r.mixup), noise+roll \(r.noise ? "on" : "off")" : "off")
                + (r.shuffle ? ", shuffled" : ", datafile order"),
        ]
    }

    public init(options o: TrainOptions, notes: inout [String]) throws {
        try o.recipe.validate()
        // Everything the run will write must be writable before any work is done.
        for (what, path) in [("-o", o.output), ("--predictions", o.predictionsCSV), ("--export-pth", o.exportPth)] {
            if let p = path { try Trainer.checkWritableFolder(of: p, option: what) }
        }
        options = o
        rng = SplitMix64(seed: o.recipe.seed)
        let labelSet = try LabelSet(csvPath: o.labelCSV)
        labels = labelSet
        let start = try ModelInit.load(path: o.initPath, labels: labelSet, recipe: o.recipe, rng: &rng, newHead: o.newHead)
        let config = start.config, tensors = start.tensors
        fbank = start.fbank
        notes += start.notes
        let layout = try ParameterLayout(config: config, deitHeadClasses: 0)
        model = try TrainModel(layout: layout, engine: try Engine(threads: o.threads), maxBatch: o.recipe.batchSize)
        for v in layout.views {
            guard let t = tensors[v.name] else { throw SSASTError("\(o.initPath): missing tensor \(v.name)") }
            try model.setParameter(v.name, t)
        }
        adam = Adam(layout: layout, lr: o.recipe.lr, headLR: o.recipe.lr * o.recipe.headLR, betas: o.recipe.betas,
                    eps: 1e-8, weightDecay: o.recipe.weightDecay, decoupled: o.recipe.adamW)
        schedule = LRSchedule(recipe: o.recipe)
        let fb = start.fbank
        train = try Dataset(jsonPath: o.trainJSON, labels: labelSet, targetLength: config.targetLength, fbank: fb)
        val = try o.valJSON.map { try Dataset(jsonPath: $0, labels: labelSet, targetLength: config.targetLength, fbank: fb) }
        try train.checkAll()
        try val?.checkAll()
        if o.resume { try loadState() }
    }

    /// Whether an epoch's validation `s` (kept-model metric `metric`) replaces the kept epoch's: a higher
    /// metric; at an equal metric (common on small validation sets) a lower validation loss, then a higher
    /// mAUC; the first epoch (`kept` nil) always.
    public static func beats(_ s: EvalStats, metric: Double, kept: EvalStats?, keptMetric: Double) -> Bool {
        guard let k = kept else { return true }
        if metric != keptMetric { return metric > keptMetric }
        if s.loss != k.loss { return s.loss < k.loss }
        return s.mAUC > k.mAUC
    }

    static func checkWritableFolder(of path: String, option: String) throws {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dir = folder.isEmpty ? "/" : folder
        guard FileSystem.isDirectory(dir) else {
            throw SSASTError("\(option) \(path): the folder \(dir) does not exist")
        }
        guard access(dir, W_OK) == 0 else { throw SSASTError("\(option) \(path): the folder \(dir) is not writable") }
    }

    /// Runs the remaining epochs. Each epoch ends with validation (if any); when the epoch's model
    /// is the best so far (or there is no validation set) it is written to the weight file (with the
    /// validation threshold for two-class tasks), the predictions CSV and the optional .pth; then the
    /// curves and the training state (for --resume). Every file is written atomically, so a full disk
    /// or a crash leaves the previous version in place. A non-finite loss or gradient stops the run
    /// before the optimiser touches the parameters: the files on disk stay those of the last good epoch.
    public func run() throws {
        let r = options.recipe
        let frame = model.config.targetLength * model.config.melBins
        let runStart = monotonicTime()
        var samplesThisRun = 0
        for line in settingsSummary { log("settings: " + line) }
        // The epoch table, printed once: header and any epochs of a resumed run now, each new row as it ends.
        log(TrainReport.tableHeader(metric: r.metric))
        for h in history { log(TrainReport.tableRow(h)) }
        while epoch < r.epochs {
            let e = epoch + 1
            var order = Array(0..<train.count)
            if r.shuffle { order.shuffle(using: &rng) }
            var lossSum = 0.0, seen = 0
            let start = monotonicTime()
            var inputs = [Float](repeating: 0, count: r.batchSize * frame)
            var batchStart = 0, batchIndex = 0
            let batches = (order.count + r.batchSize - 1) / r.batchSize
            while batchStart < order.count {
                if stopRequested { throw interrupted(epoch: e, batch: batchIndex, of: batches) }
                let idx = Array(order[batchStart..<min(batchStart + r.batchSize, order.count)])
                var lab: [Float] = []
                for (b, i) in idx.enumerated() {
                    let (x, y) = try train.example(i, recipe: r, train: true, rng: &rng)
                    inputs.replaceSubrange((b * frame)..<((b + 1) * frame), with: x)
                    lab += y
                }
                schedule.beforeStep(globalStep)
                adam.lr = schedule.current
                model.zeroGrad()
                try model.forward(inputs, batch: idx.count)
                let loss = try model.loss(labels: lab, kind: r.loss)
                guard loss.isFinite else {
                    throw diverged("the training loss is \(loss)", epoch: e, batch: batchIndex + 1, of: batches)
                }
                model.backward()
                if let bad = firstNonFinite(model.grads) {
                    throw diverged("the gradient of \(bad) is not finite", epoch: e, batch: batchIndex + 1, of: batches)
                }
                adam.update(params: model.params, grads: model.grads)
                globalStep += 1; batchIndex += 1
                lossSum += Double(loss) * Double(idx.count); seen += idx.count
                if interactive {
                    let rate = Double(seen) / max((monotonicTime() - start), 1e-9)
                    let eta = Double(order.count - seen) / rate
                    progress(String(printf: "epoch %d/%d  batch %d/%d  loss %.4f  %.1f samples/s  lr %.2e  epoch ETA ",
                                    e, r.epochs, batchIndex, batches, lossSum / Double(seen), rate, schedule.current[0])
                             + TrainReport.duration(eta))
                }
                batchStart += r.batchSize
            }
            let trainSeconds = (monotonicTime() - start)
            samplesThisRun += seen
            let trainLoss = Float(lossSum / Double(max(seen, 1)))
            if let bad = firstNonFinite(model.params) {
                throw diverged("parameter \(bad) is not finite", epoch: e, batch: batches, of: batches)
            }
            var record = EpochRecord(epoch: e, trainLoss: trainLoss, val: nil, lr: schedule.current[0],
                                     samplesPerSecond: Double(seen) / max(trainSeconds, 1e-9))
            var improved = val == nil
            var valScores: [Float] = []
            if let v = val {
                if interactive { progress(String(printf: "epoch %d/%d  validating %d files", e, r.epochs, v.count)) }
                let (s, scores) = try evaluate(model: model, dataset: v, recipe: r)
                guard s.loss.isFinite else {
                    throw diverged("the validation loss is \(s.loss)", epoch: e, batch: batches, of: batches)
                }
                record.val = s
                valScores = scores
                let metric = r.metric == .mAP ? s.mAP : s.accuracy
                // The first epoch is always kept (even with an undefined metric), so -o always exists.
                // Equal metrics (common on small validation sets) go to the lower validation loss, then the higher mAUC.
                let kept = bestEpoch.flatMap { b in history.first { $0.epoch == b }?.val }
                if bestEpoch == nil || Trainer.beats(s, metric: metric, kept: kept, keptMetric: bestMetric) {
                    improved = true; bestMetric = metric.isNaN ? -.infinity : metric
                }
            }
            record.best = improved
            if improved {
                bestEpoch = e
                bestThreshold = record.val?.binary.map { Float($0.youdenThreshold) }
                if let v = val, labels.count == 2 {
                    bestROC = ((0..<v.count).map { Double(valScores[$0 * 2 + 1]) }, (0..<v.count).map { v.labelVector($0)[1] >= 0.5 })
                }
                try saving(options.output, epoch: e) { try exportWeights(to: options.output, threshold: bestThreshold) }
                if let v = val, let p = options.predictionsCSV {
                    try saving(p, epoch: e) { try writePredictions(p, dataset: v, scores: valScores, labels: labels) }
                }
                if let p = options.exportPth {
                    if !(try saving(p, epoch: e) { try exportPyTorch(to: p) }) && bestEpoch == 1 {
                        log("note: \(p) has no v.head/v.head_dist (the starting weights had none): load it with strict=False")
                    }
                    if fbank != .ssast && bestEpoch == 1 {
                        log("note: \(p) holds tensors only; the model's fbank settings differ from SSAST's defaults and are in "
                            + "\(options.output) (train.settings / fbank.*), not in the .pth")
                    }
                }
            }
            history.append(record)
            schedule.afterEpoch(e)
            epoch = e
            if options.curves { try saving(curvesPath, epoch: e) { try writeCurves() } }
            try saving(metricsCSVPath, epoch: e) {
                try writeFileAtomically(metricsCSVPath) { try $0.write(Array(TrainReport.metricsCSV(history, labels: labels.names, kept: bestEpoch).utf8)) }
            }
            try saving(metricsJSONPath, epoch: e) {
                let json = TrainReport.metricsJSON(history, labels: labels.names, kept: bestEpoch, settings: settings)
                try writeFileAtomically(metricsJSONPath) { try $0.write(json) }
            }
            try saving(statePath, epoch: e) { try saveState() }
            let row = TrainReport.tableRow(record)
            if interactive { progress(row + "\n") } else { log(row) }
            // Time left from this run's own pace (training + validation), not counting resumed epochs.
            let perSample = (monotonicTime() - runStart) / Double(max(samplesThisRun, 1))
            if e < r.epochs {
                log("       \(improved ? "kept this epoch's model" : "kept epoch \(bestEpoch ?? e)"); "
                    + "about \(TrainReport.duration(perSample * Double(train.count * (r.epochs - e)))) left")
            }
        }
        if let b = bestEpoch {
            var s = "kept the model of epoch \(b)" + (val != nil ? " (best validation \(r.metric == .mAP ? "mAP" : "accuracy") "
                + String(printf: "%.4f", bestMetric) + ")" : " (no validation set: the last epoch)")
            if let t = bestThreshold { s += "; decision threshold on P(\(labels.names[1])) " + String(printf: "%.4f", t) + " (Youden's J on validation)" }
            log(s + " in \(options.output)" + (options.exportPth.map { " and \($0)" } ?? ""))
        }
    }

    /// Writes the curves SVG (atomically).
    public func writeCurves() throws {
        let title = "ssast train: \(labels.count) labels, \(train.count) training files"
            + (val.map { ", \($0.count) validation files" } ?? "")
        let svg = TrainReport.curvesSVG(history: history, roc: bestROC, threshold: bestThreshold, title: title)
        try writeFileAtomically(curvesPath) { try $0.write(Array(svg.utf8)) }
    }

    func firstNonFinite(_ buf: UnsafeMutableBufferPointer<Float>) -> String? {
        // One pass over the flat buffer (a few ms); names are looked up only on failure.
        var i = 0
        let n = buf.count
        while i < n {
            if !buf[i].isFinite { break }
            i += 1
        }
        guard i < n else { return nil }
        let v = model.layout.views.first { i >= $0.offset && i < $0.offset + $0.count }
        return v.map { "\($0.name) (element \(i - $0.offset))" } ?? "element \(i)"
    }

    /// A failed write (full disk, quota, file-size limit) stops the run with the file's name and the OS
    /// error. Every output is replaced by rename only once complete, so what is on disk is an earlier
    /// complete version of each file (or none), and the training state still resumes.
    func saving<T>(_ path: String, epoch e: Int, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let err as SSASTError {
            let state = savedEpoch > 0 ? "\(statePath) still holds epoch \(savedEpoch) for --resume" : "no training state was saved yet"
            throw SSASTError("training stopped at epoch \(e): cannot write \(path): \(err.message). "
                + "No partial file was left: each output keeps its previous complete version, if any; \(state).")
        }
    }

    func interrupted(epoch e: Int, batch: Int, of batches: Int) -> SSASTError {
        let state = savedEpoch > 0
            ? "\(statePath) holds epoch \(savedEpoch): the same command with --resume continues with epoch \(savedEpoch + 1)"
                + (bestEpoch.map { "; \(options.output) holds the model kept so far (epoch \($0))" } ?? "")
            : "no epoch had finished, so there is nothing to resume"
        return SSASTError("training interrupted at epoch \(e), after batch \(batch) of \(batches); " + state + ".")
    }

    func diverged(_ what: String, epoch e: Int, batch: Int, of batches: Int) -> SSASTError {
        let kept = epoch > 0
            ? "the files on disk are those of the last good epoch (\(epoch)): \(statePath) for --resume"
                + (bestEpoch.map { ", \(options.output) (epoch \($0))" } ?? "")
            : "no epoch finished, so nothing was saved"
        return SSASTError("training stopped: \(what) at epoch \(e), batch \(batch) of \(batches) (optimiser step \(globalStep + 1)); "
            + kept + ". Try a lower --lr.")
    }

    // MARK: weights out

    /// Writes our weight file (fp32) from the current parameters via the converter's writer.
    public func exportWeights(to path: String, threshold: Float? = nil) throws {
        var c = model.config
        c.threshold = threshold
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for v in model.layout.views { tensors[v.name] = (v.shape, model.parameter(v.name)!) }
        let ck = SSASTCheckpoint(config: c, tensors: tensors, dropped: [], notes: [], fbank: fbank)
        let source = "ssast train from " + (options.initPath.split(separator: "/").last.map(String.init) ?? options.initPath)
        var (meta, blobs) = try SSASTConverter.weightFileContents(ck, dtype: .f32, source: source)
        // Not the datafile paths (the same run from another folder writes the same file), nor --epochs
        // (a resumed run may extend it).
        let stored = settings.filter { !["train", "val", "epochs"].contains($0.0) }
        meta.append(("train.settings", .strings(stored.map { $0.0 + "=" + $0.1 })))
        try WeightFileWriter.write(path: path, metadata: meta, tensors: blobs)
    }

    // MARK: training state (resume)

    static let stateMagic: [UInt8] = Array("SSASTCKP".utf8)

    /// magic, u32 version 1, u64 header length, JSON header, then params, Adam m, Adam v as
    /// little-endian float32 (layout order). Written atomically.
    public func saveState() throws {
        var header: [(String, JSONValue)] = [
            ("epoch", .int(Int64(epoch))), ("global_step", .int(Int64(globalStep))), ("adam_step", .int(Int64(adam.step))),
            ("lr_current", .array(schedule.current.map { .number(Double($0)) })), ("rng_state", .string(String(rng.state))),
            ("parameters", .int(Int64(model.layout.total))), ("names", .array(model.layout.views.map { .string($0.name) })),
            ("history", .array(history.map(TrainReport.encode))), ("best_metric", .string(String(bestMetric))),
            ("settings", TrainReport.settingsObject(settings)),
        ]
        if let b = bestEpoch { header.append(("best_epoch", .int(Int64(b)))) }
        if let t = bestThreshold { header.append(("best_threshold", .number(Double(t)))) }
        if let roc = bestROC {
            header.append(("best_roc", .object([("scores", .array(roc.scores.map(TrainReport.num))),
                                                ("positive", .array(roc.positive.map { .bool($0) }))])))
        }
        let json = Array(JSONValue.object(header).encoded.utf8)
        try writeFileAtomically(statePath) { w in
            try w.write(Trainer.stateMagic)
            var version = UInt32(1).littleEndian, len = UInt64(json.count).littleEndian
            try withUnsafeBytes(of: &version) { try w.write($0) }
            try withUnsafeBytes(of: &len) { try w.write($0) }
            try w.write(json)
            try w.write(UnsafeRawBufferPointer(model.params))
            try w.write(UnsafeRawBufferPointer(adam.m))
            try w.write(UnsafeRawBufferPointer(adam.v))
        }
        savedEpoch = epoch
    }

    public func loadState() throws {
        let p = statePath
        let f = try MappedFile(path: p)
        forgetInputFile(p)   // saved again at the end of each epoch
        let bytes = f.bytes
        guard bytes.count >= 20, Array(bytes[0..<8]) == Trainer.stateMagic else {
            throw SSASTError("\(p): not an ssast training checkpoint")
        }
        guard bytes.le(UInt32.self, at: 8) == 1 else { throw SSASTError("\(p): unsupported checkpoint version") }
        // Compared as stored (unsigned): a length of 2^63 or more must not reach Int arithmetic.
        let stored = bytes.le(UInt64.self, at: 12)
        guard stored > 0, stored < 1 << 30 else { throw SSASTError("\(p): damaged checkpoint (header length \(stored))") }
        let len = Int(stored)
        let n = model.layout.total
        guard len > 0, bytes.count == 20 + len + 3 * n * 4 else {
            throw SSASTError("\(p): size does not match this model (\(bytes.count) bytes; expected \(20 + len + 3 * n * 4))")
        }
        let json = try f.slice(20, len, what: "checkpoint header")
        guard let h = try? MiniJSONParser.parse(json, what: p),
              let ep = h["epoch"]?.int, let gs = h["global_step"]?.int, let st = h["adam_step"]?.int,
              let lrs = h["lr_current"]?.array?.compactMap(\.double), lrs.count == 2, let rs = h["rng_state"]?.string.flatMap(UInt64.init),
              let names = h["names"]?.array?.compactMap(\.string) else {
            throw SSASTError("\(p): damaged checkpoint header")
        }
        guard names == model.layout.views.map(\.name) else {
            throw SSASTError("\(p): the checkpoint's parameters do not match the model being trained")
        }
        // The same run or none: a resumed run with other settings would be neither the old run nor a new one.
        if case .object(let pairs)? = h["settings"] {
            var saved: [String: String] = [:]
            for (k, v) in pairs { if let t = v.string, saved[k] == nil { saved[k] = t } }
            let diffs = settings.filter { $0.0 != "epochs" && saved[$0.0] != nil && saved[$0.0] != $0.1 }
                .map { "--\($0.0) was \(saved[$0.0]!), now \($0.1)" }
            if !diffs.isEmpty {
                throw SSASTError("\(p): --resume continues the run as it was started, but " + diffs.joined(separator: "; ")
                    + ". Give the same options (only --epochs may change), or start a new run with another -o.")
            }
        }
        let floats = f.base + 20 + len
        func arr(_ i: Int) -> [Float] {
            var a = [Float](repeating: 0, count: n)
            a.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: floats + i * n * 4, count: n * 4)) }
            return a
        }
        let pv = arr(0)
        _ = model.params.update(fromContentsOf: pv)
        try adam.restore(step: st, m: arr(1), v: arr(2))
        epoch = ep; globalStep = gs; savedEpoch = ep
        // Run records (absent in files from before they were saved: then the table starts empty).
        history = (h["history"]?.array ?? []).compactMap(TrainReport.decode)
        bestEpoch = h["best_epoch"]?.int
        // As text (files written by JSON writers that do not round-trip every Double), and ties must compare as before.
        bestMetric = h["best_metric"]?.string.flatMap(Double.init) ?? -.infinity
        if bestMetric.isNaN { bestMetric = -.infinity }
        bestThreshold = h["best_threshold"]?.double.map(Float.init)
        if let roc = h["best_roc"], let pos = roc["positive"]?.array?.compactMap(\.bool), let sc = roc["scores"]?.array, sc.count == pos.count {
            bestROC = (sc.map { Double(Float(TrainReport.dbl($0))) }, pos)   // the scores are Floats
        }
        schedule.current = lrs.map(Float.init)
        rng = SplitMix64(seed: 0); rng.state = rs
        log("resumed from \(p): \(ep) epochs, \(gs) steps done")
    }
}

// MARK: evaluation

/// Runs `model` over a dataset without augmentation. Returns the statistics (see
/// `Metrics.evaluate(logits:...)`: AUC/AP on sigmoid outputs as SSAST's validate()) and the scores
/// (softmax for CE-trained models, sigmoid for BCE), n x labels.
public func evaluate(model: TrainModel, dataset: Dataset, recipe r: Recipe) throws -> (EvalStats, [Float]) {
    let nl = model.config.labels.count, frame = model.config.targetLength * model.config.melBins
    var logitsAll: [Float] = [], targets: [Float] = []
    var lossSum = 0.0
    var rng = SplitMix64(seed: 0)
    var start = 0
    var inputs = [Float](repeating: 0, count: model.maxBatch * frame)
    while start < dataset.count {
        let idx = Array(start..<min(start + model.maxBatch, dataset.count))
        var lab: [Float] = []
        for (b, i) in idx.enumerated() {
            let (x, y) = try dataset.example(i, recipe: r, train: false, rng: &rng)
            inputs.replaceSubrange((b * frame)..<((b + 1) * frame), with: x)
            lab += y
        }
        let logits = try model.forward(inputs, batch: idx.count)
        lossSum += Double(try model.loss(labels: lab, kind: r.loss)) * Double(idx.count)
        logitsAll += logits
        targets += lab
        start += idx.count
    }
    return Metrics.evaluate(logits: logitsAll, targets: targets, classes: nl, kind: r.loss, loss: Float(lossSum / Double(dataset.count)))
}

/// file, target label names, one score column per label.
public func writePredictions(_ path: String, dataset: Dataset, scores: [Float], labels: LabelSet) throws {
    let nl = labels.count
    func q(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingAll("\"", with: "\"\"") + "\"" : s }
    var out = "file,target," + labels.names.map(q).joined(separator: ",") + "\n"
    for i in 0..<dataset.count {
        out += q(dataset.items[i].wav) + "," + q(dataset.items[i].labels.map { labels.names[$0] }.joined(separator: ";"))
        for c in 0..<nl { out += "," + String(printf: "%.6f", scores[i * nl + c]) }
        out += "\n"
    }
    try writeFileAtomically(path) { try $0.write(Array(out.utf8)) }
}
