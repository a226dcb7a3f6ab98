/// Timing beside another program on a shared machine: the two alternate for a number of rounds, so
/// both see the same moments of the machine. `ratio` is the median of the per-round ratios of
/// medians (first / second), `ratioMin` the first's fastest run over the second's fastest (the best
/// estimate of a quiet machine). Used by `ssast bench` and `ssast train --benchmark`.
struct AlternatingRounds {
    private(set) var ratios: [Double] = []
    private(set) var secondMedians: [Double] = []
    private(set) var firstMin = Double.infinity
    private(set) var secondMin = Double.infinity

    /// Records one round (a median and a minimum per side, any one unit); returns the round's ratio.
    @discardableResult
    mutating func add(first: (median: Double, min: Double), second: (median: Double, min: Double)) -> Double {
        ratios.append(first.median / second.median)
        secondMedians.append(second.median)
        firstMin = min(firstMin, first.min)
        secondMin = min(secondMin, second.min)
        return ratios.last!
    }
    var ratio: Double { median(ratios) }
    var ratioMin: Double { firstMin / secondMin }
    var secondMedian: Double { median(secondMedians) }
}

/// The middle value (the upper one of an even count); 0 for none.
func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
