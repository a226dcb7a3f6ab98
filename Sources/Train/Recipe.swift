import Runtime

/// Every knob of an SSAST fine-tuning run (names follow SSAST's run.py). Presets reproduce the
/// published run scripts; any field can be overridden flag by flag afterwards.
public struct Recipe {
    public var batchSize = 12
    public var epochs = 10
    public var lr: Float = 1e-4
    public var headLR: Float = 1           // mlp_head lr = lr * headLR
    public var lrSchedulerStart = 5        // MultiStepLR milestones: start, start+step, ... (< 1000)
    public var lrSchedulerStep = 1
    public var lrSchedulerDecay: Float = 0.85
    public var warmup = false              // traintest.py: every 50 steps up to step 1000, lr = step/1000 * base
    public var freqm = 0, timem = 0        // SpecAugment widths (0 = off)
    public var mixup: Float = 0            // probability of waveform mixup, lambda ~ Beta(10, 10)
    public var noise = false               // + U(0,1) * U(0,1) / 10, then roll by [-10, 9] frames
    public var loss: LossKind = .ce
    public var metric: Metric = .acc
    public var targetLength = 1024
    public var fstride = 10, tstride = 10
    public var mean: Float = -4.2677393, std: Float = 4.5689974
    public var pooling: ModelConfig.Pooling = .avgtok
    public var betas: (Float, Float) = (0.95, 0.999)
    public var weightDecay: Float = 5e-7
    public var adamW = false
    public var shuffle = true
    public var augment = true              // --no-augment turns off SpecAugment, noise/roll and mixup
    public var seed: UInt64 = 0

    public enum Metric: String, CaseIterable { case acc, mAP }

    public init() {}

    public static let names = ["ciab", "esc50", "speechcommands", "audioset"]

    /// Presets from SSAST's src/finetune/*/run_*.sh and the CIAB fork (SSAST-NOTES §4).
    public static func preset(_ name: String) throws -> Recipe {
        var r = Recipe()
        switch name.lowercased() {
        case "ciab":
            // CIAB run scripts: CE, SpecAugment 24/96, noise on, no mixup, T=512, three-cough stats.
            r.batchSize = 18; r.epochs = 15; r.lr = 1e-4; r.headLR = 1
            r.lrSchedulerStart = 6; r.lrSchedulerStep = 1; r.lrSchedulerDecay = 0.85
            r.freqm = 24; r.timem = 96; r.mixup = 0; r.noise = true; r.loss = .ce; r.metric = .acc
            r.targetLength = 512; r.mean = -8.2096; r.std = 6.1568
        case "esc50":
            r.batchSize = 48; r.epochs = 50; r.lr = 1e-4; r.headLR = 10
            r.lrSchedulerStart = 5; r.lrSchedulerStep = 1; r.lrSchedulerDecay = 0.85
            r.freqm = 24; r.timem = 96; r.mixup = 0; r.noise = true; r.loss = .ce; r.metric = .acc
            r.targetLength = 512; r.mean = -6.6268077; r.std = 5.358466
        case "speechcommands":
            // Written for frame patches (fshape 128, tshape 2, fstride 128, tstride 1).
            r.batchSize = 128; r.epochs = 30; r.lr = 2.5e-4; r.headLR = 1; r.warmup = true
            r.lrSchedulerStart = 5; r.lrSchedulerStep = 1; r.lrSchedulerDecay = 0.85
            r.freqm = 48; r.timem = 48; r.mixup = 0.6; r.noise = true; r.loss = .bce; r.metric = .acc
            r.targetLength = 128; r.mean = -6.845978; r.std = 5.5654526
            r.fstride = 128; r.tstride = 1
        case "audioset":
            // Balanced AudioSet settings.
            r.batchSize = 12; r.epochs = 25; r.lr = 5e-5; r.headLR = 1; r.warmup = false
            r.lrSchedulerStart = 10; r.lrSchedulerStep = 5; r.lrSchedulerDecay = 0.5
            r.freqm = 48; r.timem = 192; r.mixup = 0.5; r.noise = false; r.loss = .bce; r.metric = .mAP
            r.targetLength = 1024; r.mean = -4.2677393; r.std = 4.5689974
        default:
            throw SSASTError("unknown recipe '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        return r
    }

    public func validate() throws {
        func need(_ ok: Bool, _ m: String) throws { if !ok { throw SSASTError("training options: " + m) } }
        try need(batchSize >= 1 && batchSize <= 4096, "--batch-size must be 1...4096 (got \(batchSize))")
        try need(epochs >= 1 && epochs <= 100_000, "--epochs must be at least 1 (got \(epochs))")
        try need(lr.isFinite && lr > 0, "--lr must be positive (got \(lr))")
        try need(headLR.isFinite && headLR > 0, "--head-lr must be positive (got \(headLR))")
        try need(lrSchedulerStep >= 1 && lrSchedulerStart >= 0, "--lr-scheduler-step must be >= 1 and start >= 0")
        try need(lrSchedulerDecay.isFinite && lrSchedulerDecay > 0, "--lr-scheduler-decay must be positive")
        try need(freqm >= 0 && timem >= 0, "--freqm/--timem must be >= 0")
        try need(mixup >= 0 && mixup <= 1, "--mixup must be in [0, 1] (got \(mixup))")
        try need(std.isFinite && std > 0 && mean.isFinite, "--std must be positive and --mean finite")
        try need(targetLength >= 1 && fstride >= 1 && tstride >= 1, "--target-length and strides must be positive")
    }
}

/// SSAST's learning-rate behaviour, as state: traintest.py's warm-up rewrites each group's lr
/// every 50 steps up to step 1000 (lr = step / 1000 * base, so it is 0 for the first 50 steps);
/// MultiStepLR multiplies the current lr by `decay` after each epoch whose number is a milestone.
public struct LRSchedule: Equatable {
    public var base: [Float]       // [body, mlp_head]
    public var current: [Float]
    public let warmup: Bool
    public let milestones: Set<Int>
    public let decay: Float

    public init(recipe r: Recipe) {
        base = [r.lr, r.lr * r.headLR]
        current = base
        warmup = r.warmup
        milestones = Set(stride(from: r.lrSchedulerStart, to: 1000, by: r.lrSchedulerStep))
        decay = r.lrSchedulerDecay
    }

    /// Before the optimiser step with index `globalStep` (0-based).
    public mutating func beforeStep(_ globalStep: Int) {
        if warmup && globalStep <= 1000 && globalStep % 50 == 0 {
            current = base.map { Float(globalStep) / 1000 * $0 }
        }
    }

    /// After epoch `epoch` (1-based) finished: scheduler.step() -> last_epoch = epoch.
    public mutating func afterEpoch(_ epoch: Int) {
        if milestones.contains(epoch) { current = current.map { $0 * decay } }
    }
}
