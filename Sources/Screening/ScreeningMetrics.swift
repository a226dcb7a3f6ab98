/// How decisions at a threshold compare with the truth: one label against the rest.
public struct ThresholdCounts: Equatable, Sendable {
    public var tp = 0, fn = 0, fp = 0, tn = 0

    /// Positive when `score >= threshold`, as events and verdicts decide.
    public init(scores: [Float], positive: [Bool], threshold: Float) {
        for (s, p) in zip(scores, positive) {
            switch (p, s >= threshold) {
            case (true, true): tp += 1
            case (true, false): fn += 1
            case (false, true): fp += 1
            case (false, false): tn += 1
            }
        }
    }

    /// NaN where the denominator is empty.
    public var sensitivity: Double { ratio(tp, tp + fn) }
    public var specificity: Double { ratio(tn, tn + fp) }
    /// Positive and negative predictive values.
    public var ppv: Double { ratio(tp, tp + fp) }
    public var npv: Double { ratio(tn, tn + fn) }

    private func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : .nan }
}

/// counts[truth][decided] over single-label examples.
public func confusionMatrix(truth: [Int], decided: [Int], classes: Int) -> [[Int]] {
    var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    for (t, d) in zip(truth, decided) where t < classes && d < classes { m[t][d] += 1 }
    return m
}

extension EventRules {
    /// The decision for one window (a clip of the model's length, as evaluation scores it): the verdict
    /// `classify` gives a recording whose only window has these probabilities.
    public func decide(_ probabilities: [Float]) -> Int {
        let events = labels.indices.filter { eventLabels[$0] && $0 < probabilities.count && probabilities[$0] >= thresholds[$0] }
            .map { Event(label: $0, startS: 0, endS: 0, peak: probabilities[$0]) }
        return verdict(aggregate: probabilities, events: events)
    }
}
