import Arguments
import Glibc
import Runtime
import Screening
import Support
import Train

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model on an SSAST datafile: loss, accuracy, ROC-AUC, mAP, and screening figures at its thresholds.",
        discussion: """
            The model is a weight file (geometry, normalisation and labels from its header; default: the bundled \
            model) or a fine-tuned .pth (then give --fstride, --tstride, --target-length, --mean, --std and \
            --labels). Each clip is one window of the model's length, as SSAST evaluates.

            Screening figures: the confusion matrix of the decisions `ssast classify` makes (the threshold \
            stored in the model for a two-label model's second label, else the most probable label), and for \
            each label that raises events, one against the rest: TP, FN, FP, TN, sensitivity, specificity, \
            PPV and NPV at the label's threshold (as for classify: --threshold, the model's, else 0.5), at 0.5, \
            and at the Youden threshold re-fitted on this data (optimistic: chosen on the data it is scored on).
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Datafile (SSAST JSON).") var data: String
    @Option(help: "Label CSV (index,mid,display_name); default: the model's labels (the datafile then names labels by them).") var labels: String?
    @Option(help: ArgumentHelp("Decision threshold: P for every label or LABEL=P (repeatable), as in classify.", valueName: "P|LABEL=P"), completion: CompletionKind.none)
    var threshold: [String] = []
    @Option(help: "Write per-file scores here (CSV).") var predictions: String?
    @Option(help: "Loss (default from the model's activation: softmax -> ce).") var loss: LossKind?
    @Option(help: "Batch size.") var batchSize: Int = 8
    @Option(help: "Patch stride along frequency (.pth only).") var fstride: Int?
    @Option(help: "Patch stride along time (.pth only).") var tstride: Int?
    @Option(help: "Input length in frames (.pth only).") var targetLength: Int?
    @Option(parsing: .unconditional, help: "Dataset fbank mean (.pth only).") var mean: Float?
    @Option(help: "Dataset fbank std (.pth only).") var std: Float?
    @Option(help: "Pooling head for a .pth.") var head: ModelConfig.Pooling?

    func run() throws {
        try runReportingErrors {
            if modelOptions.int8Activations != nil {
                printWarning("--int8-activations has no effect on eval: it scores with the trainer's fp32 graph (int8 weights are dequantised)")
            }
            let model = try modelOptions.resolvedModelPath()
            var r = Recipe()
            r.batchSize = batchSize; r.augment = false
            var stored: ModelConfig? = nil
            if let c = try ModelInit.weightFileConfig(model) {
                stored = c
                r.fstride = c.fstride; r.tstride = c.tstride; r.targetLength = c.targetLength
                r.mean = c.datasetMean; r.std = c.datasetStd; r.pooling = c.pooling
                r.loss = c.activation == .softmax ? .ce : .bce
            } else {
                guard let fs = fstride, let ts = tstride, let tl = targetLength, let m = mean, let s = std else {
                    throw SSASTError("\(model): a .pth does not record its geometry or normalisation; pass --fstride, --tstride, --target-length, --mean and --std")
                }
                r.fstride = fs; r.tstride = ts; r.targetLength = tl; r.mean = m; r.std = s
                if let h = head { r.pooling = h }
            }
            if let l = loss { r.loss = l }
            try r.validate()
            let labelSet: LabelSet
            if let labels {
                let csv = try LabelSet(csvPath: labels)
                // The same labels in another order: scored in the model's order, so its stored threshold
                // keeps its label and the decisions are classify's.
                if let names = stored?.labels, let order = csv.outputOrder(modelLabels: names), order != Array(order.indices) {
                    labelSet = csv.inModelOrder(order)
                    writeStandardError("note: \(labels) lists the model's labels in another order; they are reported in the model's: "
                        + labelSet.names.joined(separator: ", ") + "\n")
                } else {
                    labelSet = csv
                }
            } else if let names = stored?.labels, !names.isEmpty {
                labelSet = LabelSet(mids: names, names: names)
            } else {
                throw SSASTError("\(model) has no labels (a .pth or a backbone-only model): give --labels")
            }
            let rules = try EventRules(labels: labelSet.names, storedThreshold: stored?.threshold,
                                       thresholds: try threshold.map { try ThresholdSpec(parsing: $0) })
            var rng = SplitMix64(seed: 0)
            let start = try ModelInit.load(path: model, labels: labelSet, recipe: r, rng: &rng, allowNewHead: false)
            for n in start.notes { writeStandardError("note: " + n + "\n") }
            let config = start.config, tensors = start.tensors
            let layout = try ParameterLayout(config: config, deitHeadClasses: 0)
            let m = try TrainModel(layout: layout, engine: try Engine(threads: modelOptions.threads), maxBatch: batchSize)
            for v in layout.views {
                guard let t = tensors[v.name] else { throw SSASTError("\(model): missing tensor \(v.name)") }
                try m.setParameter(v.name, t)
            }
            let ds = try Dataset(jsonPath: data, labels: labelSet, targetLength: config.targetLength, fbank: start.fbank)
            let (stats, scores) = try evaluate(model: m, dataset: ds, recipe: r)
            print("model \(terminalSafe(model))")
            print("\(ds.count) files: " + String(printf: "loss %.4f  acc %.4f  mAUC %.4f  mAP %.4f", stats.loss, stats.accuracy, stats.mAUC, stats.mAP))
            let names = labelSet.names.map(terminalSafe)
            for (i, name) in names.enumerated() {
                print("  \(name): " + String(printf: "AUC %.4f  AP %.4f", stats.auc[i], stats.ap[i]))
            }
            print(screeningReport(scores: scores, dataset: ds, rules: rules, names: names))
            if let p = predictions {
                try writePredictions(p, dataset: ds, scores: scores, labels: labelSet)
                print("wrote \(terminalSafe(p))")
            }
        }
    }

    /// The confusion matrix of classify's decisions and per-label screening figures.
    func screeningReport(scores: [Float], dataset ds: Dataset, rules: EventRules, names: [String]) -> String {
        let nl = names.count, n = ds.count
        let rows = (0..<n).map { Array(scores[($0 * nl)..<(($0 + 1) * nl)]) }
        var out = ""
        if ds.items.allSatisfy({ $0.labels.count == 1 }) {
            let m = confusionMatrix(truth: ds.items.map { $0.labels[0] }, decided: rows.map(rules.decide), classes: nl)
            let w = max(6, names.map(\.count).max() ?? 0)
            func cell(_ s: String) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
            out += "decisions as classify makes them (rows: true label, columns: decided):\n"
            out += "  " + cell("") + names.map { " " + cell($0) }.joined() + "\n"
            for (t, row) in m.enumerated() { out += "  " + cell(names[t]) + row.map { " " + cell("\($0)") }.joined() + "\n" }
        }
        out += "one label against the rest (a decision is positive when the probability is at or above the threshold):\n"
        let nameWidth = max(12, names.map(\.count).max() ?? 0)
        out += "  " + "label".padded(to: nameWidth)
            + "  threshold" + String(repeating: " ", count: 37)
            + ["TP", "FN", "FP", "TN"].map { String(repeating: " ", count: 5 - $0.count) + $0 + " " }.joined()
            + ["sens", "spec", "PPV", "NPV"].map { " " + String(repeating: " ", count: 5 - $0.count) + $0 + " " }.joined()
        for l in 0..<nl where rules.eventLabels[l] {
            let s = rows.map { $0[l] }, y = ds.items.map { $0.labels.contains(l) }
            let youden = Float(Metrics.youden(scores: s.map(Double.init), positive: y))
            var points: [(Float, String)] = [(rules.thresholds[l], "the label's (as classify uses it)")]
            if rules.thresholds[l] != 0.5 { points.append((0.5, "0.5")) }
            points.append((youden, "Youden, re-fitted here: optimistic"))
            for (t, what) in points {
                let c = ThresholdCounts(scores: s, positive: y, threshold: t)
                out += "\n  " + names[l].padded(to: nameWidth)
                out += String(printf: "  %-9.4g ", t) + what.padded(to: 35)
                out += String(printf: " %5d %5d %5d %5d  %5.3f  %5.3f  %5.3f  %5.3f", c.tp, c.fn, c.fp, c.tn,
                              c.sensitivity, c.specificity, c.ppv, c.npv)
            }
        }
        return out
    }
}
