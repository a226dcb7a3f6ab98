import Glibc
import Runtime

/// Evaluation statistics as SSAST reports them (accuracy, per-class ROC-AUC and AP -> mAUC, mAP)
/// plus, for two-class tasks, sensitivity / specificity of the positive class (index 1) at 0.5 and
/// at the Youden-optimal threshold.
public struct EvalStats {
    public var loss: Float
    public var accuracy: Double
    public var auc: [Double]          // per class; NaN where a class has only one kind of target
    public var ap: [Double]
    public var mAUC: Double { nanMean(auc) }
    public var mAP: Double { nanMean(ap) }
    public var binary: BinaryStats?

    public init(loss: Float, accuracy: Double, auc: [Double], ap: [Double], binary: BinaryStats? = nil) {
        self.loss = loss; self.accuracy = accuracy; self.auc = auc; self.ap = ap; self.binary = binary
    }

    public struct BinaryStats {
        public var sensitivityAt05: Double, specificityAt05: Double
        public var youdenThreshold: Double, sensitivityAtYouden: Double, specificityAtYouden: Double
        /// ROC-AUC of P(label 1) as the model reports it (softmax for CE): the curve the report draws and
        /// the threshold applies to. It differs from `auc[1]` and mAUC, which rank sigmoid(logit) per
        /// class as SSAST's validate() does.
        public var aucOfProbability: Double = .nan
    }

    public var summary: String {
        var s = String(printf: "loss %.4f  acc %.4f  mAUC %.4f  mAP %.4f", loss, accuracy, mAUC, mAP)
        if let b = binary {
            s += String(printf: "  sens/spec@0.5 %.3f/%.3f  Youden thr %.4f sens/spec %.3f/%.3f", b.sensitivityAt05,
                        b.specificityAt05, b.youdenThreshold, b.sensitivityAtYouden, b.specificityAtYouden)
        }
        return s
    }
}

func nanMean(_ xs: [Double]) -> Double {
    let v = xs.filter { !$0.isNaN }
    return v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
}

public enum Metrics {
    /// Statistics of a model's raw outputs, as SSAST's traintest.validate() reports them: it applies a
    /// sigmoid to every model's logits (CE-trained ones too) before calculate_stats, so per-class ROC-AUC
    /// and AP rank sigmoid(logit_c). That ranking can differ from softmax's (which mixes in the other
    /// logits), so we follow the original to keep our AUC/mAP comparable with SSAST's logs. Accuracy
    /// (argmax) is the same under either. The returned scores, the predictions CSV and the two-class
    /// thresholds use the model's own activation (softmax for CE), i.e. the probability `ssast classify`
    /// reports and its stored threshold applies to. `loss` is passed in: ours is computed on the logits
    /// as in training (validate() feeds the sigmoid outputs to the loss, which we do not copy).
    public static func evaluate(logits: [Float], targets: [Float], classes: Int, kind: LossKind, loss: Float) -> (EvalStats, [Float]) {
        let scores = kind == .ce ? softmax(logits, classes: classes) : sigmoid(logits)
        let ranked = kind == .ce ? sigmoid(logits) : scores
        return (evaluate(scores: scores, targets: targets, classes: classes, loss: loss, rankScores: ranked), scores)
    }

    /// scores, targets: n x classes row-major. scores are probabilities (softmax or sigmoid): they give
    /// accuracy and the two-class block. Per-class AUC and AP rank `rankScores` when given, else `scores`.
    public static func evaluate(scores: [Float], targets: [Float], classes: Int, loss: Float, rankScores: [Float]? = nil) -> EvalStats {
        let ranked = rankScores ?? scores
        precondition(ranked.count == scores.count)
        let n = classes > 0 ? scores.count / classes : 0
        var correct = 0
        for i in 0..<n {
            let s = scores[(i * classes)..<((i + 1) * classes)], t = targets[(i * classes)..<((i + 1) * classes)]
            if argmax(s) == argmax(t) { correct += 1 }
        }
        var aucs: [Double] = [], aps: [Double] = []
        for c in 0..<classes {
            let s = (0..<n).map { Double(ranked[$0 * classes + c]) }
            let y = (0..<n).map { targets[$0 * classes + c] >= 0.5 }
            aucs.append(rocAUC(scores: s, positive: y))
            aps.append(averagePrecision(scores: s, positive: y))
        }
        var stats = EvalStats(loss: loss, accuracy: n > 0 ? Double(correct) / Double(n) : .nan, auc: aucs, ap: aps)
        if classes == 2 {
            let s = (0..<n).map { Double(scores[$0 * 2 + 1]) }
            let y = (0..<n).map { targets[$0 * 2 + 1] >= 0.5 }
            let (se, sp) = sensSpec(scores: s, positive: y, threshold: 0.5)
            let thr = youden(scores: s, positive: y)
            let (se2, sp2) = sensSpec(scores: s, positive: y, threshold: thr)
            stats.binary = .init(sensitivityAt05: se, specificityAt05: sp, youdenThreshold: thr,
                                 sensitivityAtYouden: se2, specificityAtYouden: sp2, aucOfProbability: rocAUC(scores: s, positive: y))
        }
        return stats
    }

    /// ROC-AUC with ties counted half (Mann-Whitney via average ranks), as sklearn.
    public static func rocAUC(scores: [Double], positive: [Bool]) -> Double {
        let np = positive.filter { $0 }.count, nn = positive.count - np
        guard np > 0, nn > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0, i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let avgRank = Double(i + j) / 2 + 1
            for k in i...j where positive[order[k]] { rankSum += avgRank }
            i = j + 1
        }
        return (rankSum - Double(np) * Double(np + 1) / 2) / (Double(np) * Double(nn))
    }

    /// Average precision as sklearn: Σ (R_k - R_{k-1}) P_k over distinct thresholds, high to low.
    public static func averagePrecision(scores: [Double], positive: [Bool]) -> Double {
        let np = positive.filter { $0 }.count
        guard np > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0, prevRecall = 0.0, ap = 0.0, i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            for k in i...j { if positive[order[k]] { tp += 1 } else { fp += 1 } }
            let recall = Double(tp) / Double(np), precision = Double(tp) / Double(tp + fp)
            ap += (recall - prevRecall) * precision
            prevRecall = recall
            i = j + 1
        }
        return ap
    }

    /// Positive when score >= threshold.
    public static func sensSpec(scores: [Double], positive: [Bool], threshold: Double) -> (Double, Double) {
        var tp = 0, fn = 0, tn = 0, fp = 0
        for (s, p) in zip(scores, positive) {
            if p { if s >= threshold { tp += 1 } else { fn += 1 } } else { if s >= threshold { fp += 1 } else { tn += 1 } }
        }
        return (tp + fn > 0 ? Double(tp) / Double(tp + fn) : .nan, tn + fp > 0 ? Double(tn) / Double(tn + fp) : .nan)
    }

    /// The score threshold maximising sensitivity + specificity - 1 (ties: the higher threshold).
    public static func youden(scores: [Double], positive: [Bool]) -> Double {
        var best = -Double.infinity, bestThr = 0.5
        for thr in Set(scores).sorted(by: >) {
            let (se, sp) = sensSpec(scores: scores, positive: positive, threshold: thr)
            guard !se.isNaN, !sp.isNaN else { continue }
            if se + sp - 1 > best { best = se + sp - 1; bestThr = thr }
        }
        return bestThr
    }

    public static func softmax(_ logits: [Float], classes: Int) -> [Float] {
        var out = logits
        for r in 0..<(logits.count / max(classes, 1)) {
            let row = logits[(r * classes)..<((r + 1) * classes)]
            let mx = row.max() ?? 0
            let e = row.map { Glibc.exp(Double($0 - mx)) }
            let s = e.reduce(0, +)
            for c in 0..<classes { out[r * classes + c] = Float(e[c] / s) }
        }
        return out
    }

    public static func sigmoid(_ logits: [Float]) -> [Float] { logits.map { 1 / (1 + Glibc.exp(-$0)) } }
}
