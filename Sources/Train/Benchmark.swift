import Runtime
import Support

public struct TrainBenchmarkResult {
    public var msPerSample: Double
    public var msPerStep: Double
    public var peakRSSBytes: Int
    public var activationBytes: Int
    public var parameters: Int
    public var description: String {
        String(printf: "train step: %.1f ms/step, %.1f ms/sample, peak RSS %.0f MiB (activations %.0f MiB, %d parameters)",
               msPerStep, msPerSample, Double(peakRSSBytes) / 1048576, Double(activationBytes) / 1048576, parameters)
    }
}

/// Times full fine-tuning steps (forward, CE loss, backward, Adam) of SSAST-Tiny at CIAB geometry
/// (16x16 patches, stride 10, 512 frames, 12 blocks, 2 labels) on random weights and inputs.
/// The first step is a warm-up; the rest are timed. Not a test: no numbers are asserted.
public func benchmarkTrainStep(threads: Int = 2, batch: Int = 8, depth: Int = 12, targetLength: Int = 512,
                               steps: Int = 2) throws -> TrainBenchmarkResult {
    let cfg = ModelConfig(dim: 192, depth: depth, heads: 3, mlpDim: 768, fshape: 16, tshape: 16, fstride: 10, tstride: 10,
                          targetLength: targetLength, labels: ["Negative", "Positive"], datasetMean: -8.2096, datasetStd: 6.1568)
    let layout = try ParameterLayout(config: cfg, deitHeadClasses: 0)
    let model = try TrainModel(layout: layout, engine: try Engine(threads: threads), maxBatch: batch)
    var rng = SplitMix64(seed: 1)
    for v in layout.views {
        let isScale = v.name.hasSuffix("norm1.weight") || v.name.hasSuffix("norm2.weight") || v.name == "v.norm.weight"
            || v.name == "mlp_head.0.weight"
        try model.setParameter(v.name, (0..<v.count).map { _ in isScale ? 1 : (rng.nextFloat() * 2 - 1) * 0.02 })
    }
    let adam = Adam(layout: layout, lr: 1e-4)
    let inputs = (0..<(batch * cfg.targetLength * cfg.melBins)).map { _ in rng.nextFloat() * 2 - 1 }
    var labels = [Float](repeating: 0, count: batch * 2)
    for b in 0..<batch { labels[b * 2 + b % 2] = 1 }
    var timed = 0.0
    for s in 0..<max(steps, 2) {
        let t0 = monotonicTime()
        model.zeroGrad()
        try model.forward(inputs, batch: batch)
        _ = try model.loss(labels: labels, kind: .ce)
        model.backward()
        adam.update(params: model.params, grads: model.grads)
        if s > 0 { timed += (monotonicTime() - t0) }
    }
    let perStep = timed * 1000 / Double(max(steps, 2) - 1)
    return TrainBenchmarkResult(msPerSample: perStep / Double(batch), msPerStep: perStep,
                                peakRSSBytes: peakResidentBytes(), activationBytes: model.activationFloats * 4,
                                parameters: layout.total)
}
