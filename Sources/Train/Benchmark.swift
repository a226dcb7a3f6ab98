import Glibc
import Runtime
import Support

public struct TrainBenchmarkResult {
    public var msPerSample: Double
    public var msPerStep: Double
    public var peakRSSBytes: Int
    public var activationBytes: Int
    public var parameters: Int
    public init(msPerSample: Double, msPerStep: Double, peakRSSBytes: Int, activationBytes: Int, parameters: Int) {
        self.msPerSample = msPerSample; self.msPerStep = msPerStep; self.peakRSSBytes = peakRSSBytes
        self.activationBytes = activationBytes; self.parameters = parameters
    }
    public var description: String {
        String(printf: "train step: %.1f ms/step, %.1f ms/sample, peak RSS %.0f MiB (activations %.0f MiB, %d parameters)",
               msPerStep, msPerSample, Double(peakRSSBytes) / 1048576, Double(activationBytes) / 1048576, parameters)
    }
}

/// Full fine-tuning steps (forward, CE loss, backward, Adam) of SSAST-Tiny at CIAB geometry (16x16
/// patches, stride 10, 512 frames, 12 blocks, 2 labels) on random weights and inputs, built once so
/// that `ssast train --benchmark` can time it in rounds alternating with PyTorch's. Not a test: no
/// numbers are asserted.
public final class TrainStepBenchmark {
    public let batch: Int
    let model: TrainModel
    let adam: Adam
    let inputs: [Float]
    let labels: [Float]
    public let parameters: Int
    private var warm = false

    public init(threads: Int = 2, batch: Int = 8, depth: Int = 12, targetLength: Int = 512) throws {
        let cfg = ModelConfig(dim: 192, depth: depth, heads: 3, mlpDim: 768, fshape: 16, tshape: 16, fstride: 10, tstride: 10,
                              targetLength: targetLength, labels: ["Negative", "Positive"], datasetMean: -8.2096, datasetStd: 6.1568)
        let layout = try ParameterLayout(config: cfg, deitHeadClasses: 0)
        model = try TrainModel(layout: layout, engine: try Engine(threads: threads), maxBatch: batch)
        var rng = SplitMix64(seed: 1)
        for v in layout.views {
            let isScale = v.name.hasSuffix("norm1.weight") || v.name.hasSuffix("norm2.weight") || v.name == "v.norm.weight"
                || v.name == "mlp_head.0.weight"
            try model.setParameter(v.name, (0..<v.count).map { _ in isScale ? 1 : (rng.nextFloat() * 2 - 1) * 0.02 })
        }
        adam = Adam(layout: layout, lr: 1e-4)
        inputs = (0..<(batch * cfg.targetLength * cfg.melBins)).map { _ in rng.nextFloat() * 2 - 1 }
        var l = [Float](repeating: 0, count: batch * 2)
        for b in 0..<batch { l[b * 2 + b % 2] = 1 }
        labels = l
        self.batch = batch
        parameters = layout.total
    }

    /// Seconds of each of `steps` timed steps; the first call also runs an untimed warm-up step.
    public func run(steps: Int) throws -> [Double] {
        if !warm { _ = try step(); warm = true }
        return try (0..<steps).map { _ in try step() }
    }

    private func step() throws -> Double {
        let t0 = monotonicTime()
        model.zeroGrad()
        try model.forward(inputs, batch: batch)
        _ = try model.loss(labels: labels, kind: .ce)
        model.backward()
        adam.update(params: model.params, grads: model.grads)
        return monotonicTime() - t0
    }

    public var activationBytes: Int { model.activationFloats * 4 }
}
