import ArgumentParser
import Glibc
import Runtime
import Support
import Train

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model on an SSAST datafile: loss, accuracy, ROC-AUC, mAP, sensitivity/specificity.",
        discussion: """
            The model is a weight file (geometry and normalisation from its header) or a fine-tuned .pth \
            (then give --fstride, --tstride, --target-length, --mean and --std). Two-class tasks also report \
            sensitivity and specificity of class index 1 at 0.5 and at the Youden-optimal threshold.
            """)

    @Option(help: "Model: ssast weight file or fine-tuned .pth.") var model: String
    @Option(help: "Datafile (SSAST JSON).") var data: String
    @Option(help: "Label CSV (index,mid,display_name).") var labels: String
    @Option(help: "Write per-file scores here (CSV).") var predictions: String?
    @Option(help: "Loss: ce or bce (default from the model's activation: softmax -> ce).") var loss: String?
    @Option(help: "Batch size.") var batchSize: Int = 8
    @Option(help: "Threads.") var threads: Int = 2
    @Option(help: "Patch stride along frequency (.pth only).") var fstride: Int?
    @Option(help: "Patch stride along time (.pth only).") var tstride: Int?
    @Option(help: "Input length in frames (.pth only).") var targetLength: Int?
    @Option(parsing: .unconditional, help: "Dataset fbank mean (.pth only).") var mean: Float?
    @Option(help: "Dataset fbank std (.pth only).") var std: Float?
    @Option(help: "Pooling head for a .pth: avgtok or cls.") var head: String?

    func run() throws {
        try runReportingErrors {
            var r = Recipe()
            r.batchSize = batchSize; r.augment = false
            if let c = try ModelInit.weightFileConfig(model) {
                r.fstride = c.fstride; r.tstride = c.tstride; r.targetLength = c.targetLength
                r.mean = c.datasetMean; r.std = c.datasetStd; r.pooling = c.pooling
                r.loss = c.activation == .softmax ? .ce : .bce
            } else {
                guard let fs = fstride, let ts = tstride, let tl = targetLength, let m = mean, let s = std else {
                    throw SSASTError("\(model): a .pth does not record its geometry or normalisation; pass --fstride, --tstride, --target-length, --mean and --std")
                }
                r.fstride = fs; r.tstride = ts; r.targetLength = tl; r.mean = m; r.std = s
                if let h = head {
                    guard let p = ModelConfig.Pooling(rawValue: h) else { throw SSASTError("--head must be avgtok or cls") }
                    r.pooling = p
                }
            }
            if let l = loss {
                guard let k = LossKind(rawValue: l.lowercased()) else { throw SSASTError("--loss must be ce or bce (got \(l))") }
                r.loss = k
            }
            try r.validate()
            let labelSet = try LabelSet(csvPath: labels)
            var rng = SplitMix64(seed: 0)
            let (config, tensors, _) = try ModelInit.load(path: model, labels: labelSet, recipe: r, rng: &rng, allowNewHead: false)
            let layout = try ParameterLayout(config: config, deitHeadClasses: 0)
            let m = try TrainModel(layout: layout, engine: try Engine(threads: threads), maxBatch: batchSize)
            for v in layout.views {
                guard let t = tensors[v.name] else { throw SSASTError("\(model): missing tensor \(v.name)") }
                try m.setParameter(v.name, t)
            }
            let ds = try Dataset(jsonPath: data, labels: labelSet, targetLength: config.targetLength)
            let (stats, scores) = try evaluate(model: m, dataset: ds, recipe: r)
            print("\(ds.count) files: " + stats.summary)
            for (i, name) in labelSet.names.enumerated() {
                print("  \(name): " + String(printf: "AUC %.4f  AP %.4f", stats.auc[i], stats.ap[i]))
            }
            if let p = predictions {
                try writePredictions(p, dataset: ds, scores: scores, labels: labelSet)
                print("wrote \(p)")
            }
        }
    }
}
