import Glibc
import Runtime
import Support

/// One finished epoch, as reported in the table, the curves and the training state (for resume).
public struct EpochRecord {
    public var epoch: Int
    public var trainLoss: Float
    public var val: EvalStats?
    public var lr: Float             // body learning rate during the epoch's last step
    public var samplesPerSecond: Double
    public var best: Bool = false    // the model of this epoch became the kept (best) model
}

/// Text and pictures about a run: the progress line, the end-of-epoch table, the training curves.
public enum TrainReport {
    // MARK: progress

    /// "1:05:07" / "4:07" style durations for the progress line.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(printf: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(printf: "%d:%02d", s / 60, s % 60)
    }

    // MARK: table

    public static func tableHeader(metric: Recipe.Metric) -> String {
        "epoch  train loss  val loss     acc    mAUC     mAP  sens/spec@thr  threshold        lr  samples/s"
            + (metric == .mAP ? "  (best by mAP)" : "  (best by acc)")
    }

    public static func tableRow(_ r: EpochRecord) -> String {
        func f(_ x: Double, _ w: Int = 7) -> String { x.isFinite ? String(printf: "%\(w).4f", x) : String(repeating: " ", count: w - 1) + "-" }
        var s = String(printf: "%5d  %10.4f", r.epoch, r.trainLoss)
        if let v = r.val {
            s += "  " + f(Double(v.loss), 8) + " " + f(v.accuracy) + " " + f(v.mAUC) + " " + f(v.mAP)
            if let b = v.binary {
                s += String(printf: "    %5.3f/%5.3f     %6.4f", b.sensitivityAtYouden, b.specificityAtYouden, b.youdenThreshold)
            } else { s += "              -          -" }
        } else {
            s += "         -       -       -       -              -          -"
        }
        s += String(printf: "  %.2e  %9.1f", r.lr, r.samplesPerSecond)
        if r.best { s += "  *" }
        return s
    }

    public static func table(_ rows: [EpochRecord], metric: Recipe.Metric) -> String {
        ([tableHeader(metric: metric)] + rows.map(tableRow)).joined(separator: "\n")
    }

    // MARK: state (JSON in the training checkpoint; NaN is not JSON, so it travels as null)

    static func num(_ x: Double) -> JSONValue { x.isFinite ? .number(x) : .null }
    static func dbl(_ a: JSONValue?) -> Double { a?.double ?? .nan }

    static func encode(_ r: EpochRecord) -> JSONValue {
        var d: [(String, JSONValue)] = [("epoch", .int(Int64(r.epoch))), ("train_loss", num(Double(r.trainLoss))), ("lr", num(Double(r.lr))),
                                        ("samples_per_second", num(r.samplesPerSecond)), ("best", .bool(r.best))]
        if let v = r.val {
            var s: [(String, JSONValue)] = [("loss", num(Double(v.loss))), ("accuracy", num(v.accuracy)),
                                            ("auc", .array(v.auc.map(num))), ("ap", .array(v.ap.map(num)))]
            if let b = v.binary {
                s.append(("binary", .array([num(b.sensitivityAt05), num(b.specificityAt05), num(b.youdenThreshold),
                                           num(b.sensitivityAtYouden), num(b.specificityAtYouden)])))
            }
            d.append(("val", .object(s)))
        }
        return .object(d)
    }

    static func decode(_ d: JSONValue) -> EpochRecord? {
        guard let e = d["epoch"]?.int else { return nil }
        var r = EpochRecord(epoch: e, trainLoss: Float(dbl(d["train_loss"])), val: nil, lr: Float(dbl(d["lr"])),
                            samplesPerSecond: dbl(d["samples_per_second"]), best: d["best"]?.bool ?? false)
        if let s = d["val"], s.isObject {
            var v = EvalStats(loss: Float(dbl(s["loss"])), accuracy: dbl(s["accuracy"]),
                              auc: (s["auc"]?.array ?? []).map { dbl($0) }, ap: (s["ap"]?.array ?? []).map { dbl($0) })
            if let b = s["binary"]?.array, b.count == 5 {
                v.binary = .init(sensitivityAt05: dbl(b[0]), specificityAt05: dbl(b[1]), youdenThreshold: dbl(b[2]),
                                 sensitivityAtYouden: dbl(b[3]), specificityAtYouden: dbl(b[4]))
            }
            r.val = v
        }
        return r
    }

    // MARK: curves (hand-written SVG)

    /// ROC points (FPR, TPR) from scores, thresholds high to low, ties stepped together.
    public static func rocPoints(scores: [Double], positive: [Bool]) -> [(Double, Double)] {
        let np = positive.filter { $0 }.count, nn = positive.count - np
        guard np > 0, nn > 0 else { return [] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var pts: [(Double, Double)] = [(0, 0)]
        var tp = 0, fp = 0, i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            for k in i...j { if positive[order[k]] { tp += 1 } else { fp += 1 } }
            pts.append((Double(fp) / Double(nn), Double(tp) / Double(np)))
            i = j + 1
        }
        return pts
    }

    /// Tick values: about `count` round numbers covering lo...hi.
    static func ticks(_ lo: Double, _ hi: Double, count: Int) -> [Double] {
        let span = max(hi - lo, 1e-12)
        let raw = span / Double(max(count, 1))
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = (lo / step).rounded(.up) * step, out: [Double] = []
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    static func fmt(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e6 { return String(Int(x)) }
        let s = String(printf: "%.3g", x)
        return s
    }

    static func esc(_ s: String) -> String {
        s.replacingAll("&", with: "&amp;").replacingAll("<", with: "&lt;")
            .replacingAll(">", with: "&gt;").replacingAll("\"", with: "&quot;")
    }

    /// One plot panel with axes, ticks, grid and labels; `series` are drawn in the data space.
    struct Panel {
        var x0: Double, y0: Double, w: Double, h: Double           // plot area in SVG units
        var xr: (Double, Double), yr: (Double, Double)
        func px(_ x: Double) -> Double { x0 + (x - xr.0) / (xr.1 - xr.0) * w }
        func py(_ y: Double) -> Double { y0 + h - (y - yr.0) / (yr.1 - yr.0) * h }

        func frame(title: String, xLabel: String, yLabel: String, xTicks: [Double], yTicks: [Double]) -> String {
            var s = ""
            for t in yTicks {
                let y = py(t)
                s += String(printf: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", x0, y, x0 + w, y)
                s += String(printf: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 6, y + 4) + fmt(t) + "</text>\n"
            }
            for t in xTicks {
                let x = px(t)
                s += String(printf: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", x, y0, x, y0 + h)
                s += String(printf: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y0 + h + 16) + fmt(t) + "</text>\n"
            }
            s += String(printf: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", x0, y0, w, h)
            s += String(printf: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">", x0 + w / 2, y0 - 10) + esc(title) + "</text>\n"
            s += String(printf: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x0 + w / 2, y0 + h + 36) + esc(xLabel) + "</text>\n"
            s += String(printf: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">",
                        x0 - 46, y0 + h / 2, x0 - 46, y0 + h / 2) + esc(yLabel) + "</text>\n"
            return s
        }

        func polyline(_ pts: [(Double, Double)], color: String, dash: Bool = false, markers: Bool = false) -> String {
            let valid = pts.filter { $0.0.isFinite && $0.1.isFinite }
            guard !valid.isEmpty else { return "" }
            let coords = valid.map { String(printf: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            var s = "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash ? " stroke-dasharray=\"6 4\"" : "") points=\"\(coords)\"/>\n"
            if markers {
                for p in valid { s += String(printf: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" ", px(p.0), py(p.1)) + "fill=\"\(color)\"/>\n" }
            }
            return s
        }
    }

    /// The curves file: train / validation loss per epoch (best epoch marked) and, for two-class
    /// tasks, the ROC curve of the kept model on the validation set with its Youden point.
    public static func curvesSVG(history: [EpochRecord], roc: (scores: [Double], positive: [Bool])?, threshold: Float?,
                                 title: String) -> String {
        let rocPts = roc.map { rocPoints(scores: $0.scores, positive: $0.positive) } ?? []
        let panelW = 400.0, panelH = 260.0, left = 70.0, top = 88.0
        let width = rocPts.isEmpty ? left + panelW + 30 : left + panelW + 100 + panelW * 0.75 + 30
        let height = top + panelH + 70
        var s = String(printf: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                       width, height, width, height)
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += String(printf: "<text x=\"%.1f\" y=\"22\" font-size=\"14\" font-weight=\"bold\">", left - 50) + esc(title) + "</text>\n"

        // Loss panel.
        let n = history.map(\.epoch).max() ?? 1
        let train = history.map { (Double($0.epoch), Double($0.trainLoss)) }
        let val = history.compactMap { r in r.val.map { (Double(r.epoch), Double($0.loss)) } }
        let ys = (train + val).map(\.1).filter(\.isFinite)
        var lo = min(0, ys.min() ?? 0), hi = ys.max() ?? 1
        if hi <= lo { hi = lo + 1 }
        hi += (hi - lo) * 0.08
        let xr = (1.0, Double(max(n, 2)))
        let yt = ticks(lo, hi, count: 5)
        lo = min(lo, yt.first ?? lo); hi = max(hi, yt.last ?? hi)
        let p = Panel(x0: left, y0: top, w: panelW, h: panelH, xr: xr, yr: (lo, hi))
        let xt = ticks(xr.0, xr.1, count: min(max(n - 1, 1), 8)).filter { $0 == $0.rounded() }
        s += p.frame(title: "Loss per epoch", xLabel: "epoch", yLabel: "loss", xTicks: xt, yTicks: yt)
        if let b = history.last(where: \.best) {
            let x = p.px(Double(b.epoch))
            s += String(printf: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2ca02c\" stroke-dasharray=\"4 3\"/>\n", x, top, x, top + panelH)
            // Label inside the plot, on whichever side of the line has room.
            let right = x > left + panelW * 0.7
            s += String(printf: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#2ca02c\" ", right ? x - 4 : x + 4, top + 14)
                + "text-anchor=\"\(right ? "end" : "start")\">kept: epoch \(b.epoch)</text>\n"
        }
        s += p.polyline(train, color: "#1f77b4", markers: true)
        s += p.polyline(val, color: "#ff7f0e", markers: true)
        // Legend: one row between the title and the plots, so it never hides data.
        let ly = 46.0
        s += String(printf: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1f77b4\" stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">train loss</text>\n",
                    left, ly, left + 22, ly, left + 28, ly + 4)
        if !val.isEmpty {
            s += String(printf: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ff7f0e\" stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">validation loss</text>\n",
                        left + 110, ly, left + 132, ly, left + 138, ly + 4)
        }

        // ROC panel.
        if !rocPts.isEmpty, let roc = roc {
            let side = panelW * 0.75
            let q = Panel(x0: left + panelW + 100, y0: top, w: side, h: min(side, panelH), xr: (0, 1), yr: (0, 1))
            let auc = Metrics.rocAUC(scores: roc.scores, positive: roc.positive)
            let t01 = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
            s += q.frame(title: String(printf: "ROC, kept model (AUC %.3f)", auc), xLabel: "1 - specificity",
                         yLabel: "sensitivity", xTicks: t01, yTicks: t01)
            s += q.polyline([(0, 0), (1, 1)], color: "#aaa", dash: true)
            s += q.polyline(rocPts, color: "#d62728")
            if let t = threshold {
                let (se, sp) = Metrics.sensSpec(scores: roc.scores, positive: roc.positive, threshold: Double(t))
                if se.isFinite && sp.isFinite {
                    s += String(printf: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>\n", q.px(1 - sp), q.py(se))
                    s += String(printf: "<text x=\"%.1f\" y=\"%.1f\">threshold %.3f</text>\n", q.px(1 - sp) + 8, q.py(se) + 14, t)
                }
            }
        }
        s += "</svg>\n"
        return s
    }
}
