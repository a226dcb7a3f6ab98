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
        "epoch  train loss  val loss     acc    mAUC     mAP  sens/spec@thr  threshold  AUC(p)        lr  samples/s"
            + (metric == .mAP ? "  (* kept: best mAP" : "  (* kept: best acc") + ", ties to lower val loss, then higher mAUC)"
    }

    public static func tableRow(_ r: EpochRecord) -> String {
        func f(_ x: Double, _ w: Int = 7) -> String { x.isFinite ? String(printf: "%\(w).4f", x) : String(repeating: " ", count: w - 1) + "-" }
        var s = String(printf: "%5d  %10.4f", r.epoch, r.trainLoss)
        if let v = r.val {
            s += "  " + f(Double(v.loss), 8) + " " + f(v.accuracy) + " " + f(v.mAUC) + " " + f(v.mAP)
            if let b = v.binary {
                s += String(printf: "    %5.3f/%5.3f     %6.4f ", b.sensitivityAtYouden, b.specificityAtYouden, b.youdenThreshold) + f(b.aucOfProbability)
            } else { s += "              -          -       -" }
        } else {
            s += "         -       -       -       -              -          -       -"
        }
        s += String(printf: "  %.2e  %9.1f", r.lr, r.samplesPerSecond)
        if r.best { s += "  *" }
        return s
    }

    public static func table(_ rows: [EpochRecord], metric: Recipe.Metric) -> String {
        ([tableHeader(metric: metric)] + rows.map(tableRow)).joined(separator: "\n")
    }

    // MARK: per-epoch metrics files

    /// Column names of OUT.metrics.csv; the keys of each object in OUT.metrics.json.
    public static func metricColumns(labels: [String]) -> [String] {
        ["epoch", "kept", "train_loss", "val_loss", "accuracy", "mAUC", "mAP"]
            + labels.flatMap { ["auc_" + $0, "ap_" + $0] }
            + ["sensitivity_at_0.5", "specificity_at_0.5", "youden_threshold", "sensitivity_at_threshold",
               "specificity_at_threshold", "auc_of_probability", "lr", "samples_per_second"]
    }

    /// One epoch's values in `metricColumns` order (NaN where not defined: no validation, not two classes).
    /// `kept` marks the epoch whose model the weight file holds.
    public static func metricValues(_ r: EpochRecord, labels: Int, kept: Int?) -> [Double] {
        let v = r.val, b = v?.binary, nan = Double.nan
        var out: [Double] = [Double(r.epoch), r.epoch == kept ? 1 : 0, Double(r.trainLoss), v.map { Double($0.loss) } ?? nan,
                             v?.accuracy ?? nan, v?.mAUC ?? nan, v?.mAP ?? nan]
        for c in 0..<labels { out += [v.map { c < $0.auc.count ? $0.auc[c] : nan } ?? nan, v.map { c < $0.ap.count ? $0.ap[c] : nan } ?? nan] }
        out += [b?.sensitivityAt05 ?? nan, b?.specificityAt05 ?? nan, b?.youdenThreshold ?? nan, b?.sensitivityAtYouden ?? nan,
                b?.specificityAtYouden ?? nan, b?.aucOfProbability ?? nan, Double(r.lr), r.samplesPerSecond]
        return out
    }

    /// Text that reads back as the same Double; empty for NaN.
    static func text(_ x: Double) -> String { x.isFinite ? (x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)") : "" }

    public static func metricsCSV(_ rows: [EpochRecord], labels: [String], kept: Int?) -> String {
        func q(_ s: String) -> String { s.contains(",") || s.contains("\"") ? "\"" + s.replacingAll("\"", with: "\"\"") + "\"" : s }
        var s = metricColumns(labels: labels).map(q).joined(separator: ",") + "\n"
        for r in rows { s += metricValues(r, labels: labels.count, kept: kept).map(text).joined(separator: ",") + "\n" }
        return s
    }

    /// The same table as JSON: {"labels", "kept_epoch", "settings", "epochs": [{column: value}]}, NaN as null.
    public static func metricsJSON(_ rows: [EpochRecord], labels: [String], kept: Int?, settings: [(String, String)]) -> [UInt8] {
        let cols = metricColumns(labels: labels)
        let epochs: [JSONValue] = rows.map { r in .object(Array(zip(cols, metricValues(r, labels: labels.count, kept: kept).map(num)))) }
        let obj = JSONValue.object([("labels", .array(labels.map { .string($0) })), ("kept_epoch", kept.map { .int(Int64($0)) } ?? .null),
                                    ("settings", settingsObject(settings)), ("epochs", .array(epochs))])
        return Array((obj.encoded + "\n").utf8)
    }

    /// Settings as a JSON object; a key given twice keeps its first value.
    static func settingsObject(_ settings: [(String, String)]) -> JSONValue {
        var seen = Set<String>()
        return .object(settings.filter { seen.insert($0.0).inserted }.map { ($0.0, .string($0.1)) })
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
                                           num(b.sensitivityAtYouden), num(b.specificityAtYouden), num(b.aucOfProbability)])))
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
            if let b = s["binary"]?.array, b.count >= 5 {
                v.binary = .init(sensitivityAt05: dbl(b[0]), specificityAt05: dbl(b[1]), youdenThreshold: dbl(b[2]),
                                 sensitivityAtYouden: dbl(b[3]), specificityAtYouden: dbl(b[4]), aucOfProbability: b.count > 5 ? dbl(b[5]) : .nan)
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

    /// The report picture: train / validation loss per epoch; validation accuracy, mAUC, mAP (and for
    /// two-class tasks the AUC of P(label 1)) per epoch; for two-class tasks the ROC curve of the kept
    /// model on the validation set with its threshold. The kept epoch is shaded and labelled in every
    /// per-epoch panel. Every number is the table's (OUT.metrics.csv): the ROC's AUC is the AUC(p) column.
    public static func curvesSVG(history: [EpochRecord], roc: (scores: [Double], positive: [Bool])?, threshold: Float?,
                                 title: String) -> String {
        let rocPts = roc.map { rocPoints(scores: $0.scores, positive: $0.positive) } ?? []
        let hasVal = history.contains { $0.val != nil }
        let panelW = 400.0, panelH = 260.0, left = 70.0, top = 88.0, gap = 100.0
        var width = left + panelW + 30
        if hasVal { width += gap + panelW }
        if !rocPts.isEmpty { width += gap + panelW * 0.75 }
        let height = top + panelH + 70
        var s = String(printf: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                       width, height, width, height)
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += String(printf: "<text x=\"%.1f\" y=\"22\" font-size=\"14\" font-weight=\"bold\">", left - 50) + esc(title) + "</text>\n"

        let n = history.map(\.epoch).max() ?? 1
        let xr = (1.0, Double(max(n, 2)))
        let xt = ticks(xr.0, xr.1, count: min(max(n - 1, 1), 8)).filter { $0 == $0.rounded() }
        let kept = history.last(where: \.best)
        // The kept epoch: a shaded band and a label in the panel, drawn under the curves.
        func keptMark(_ p: Panel) -> String {
            guard let b = kept else { return "" }
            let x = p.px(Double(b.epoch)), half = min(12.0, p.w / Double(max(n, 2)) / 2)
            var m = String(printf: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2ca02c\" fill-opacity=\"0.18\"/>\n",
                           x - half, p.y0, 2 * half, p.h)
            m += String(printf: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\n", x, p.y0, x, p.y0 + p.h)
            let right = x > p.x0 + p.w * 0.7
            m += String(printf: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#1a7a1a\" font-weight=\"bold\" ", right ? x - half - 3 : x + half + 3, p.y0 + 14)
                + "text-anchor=\"\(right ? "end" : "start")\">kept: epoch \(b.epoch)</text>\n"
            return m
        }
        func legend(_ items: [(String, String)], x: Double) -> String {
            var out = "", lx = x
            for (label, color) in items {
                out += String(printf: "<line x1=\"%.1f\" y1=\"46\" x2=\"%.1f\" y2=\"46\" ", lx, lx + 22) + "stroke=\"\(color)\" stroke-width=\"2\"/>"
                    + String(printf: "<text x=\"%.1f\" y=\"50\">", lx + 28) + esc(label) + "</text>\n"
                lx += 34 + Double(label.count) * 7
            }
            return out
        }

        // Loss panel.
        let train = history.map { (Double($0.epoch), Double($0.trainLoss)) }
        let val = history.compactMap { r in r.val.map { (Double(r.epoch), Double($0.loss)) } }
        let ys = (train + val).map(\.1).filter(\.isFinite)
        var lo = min(0, ys.min() ?? 0), hi = ys.max() ?? 1
        if hi <= lo { hi = lo + 1 }
        hi += (hi - lo) * 0.08
        let yt = ticks(lo, hi, count: 5)
        lo = min(lo, yt.first ?? lo); hi = max(hi, yt.last ?? hi)
        let p = Panel(x0: left, y0: top, w: panelW, h: panelH, xr: xr, yr: (lo, hi))
        s += p.frame(title: "Loss per epoch", xLabel: "epoch", yLabel: "loss", xTicks: xt, yTicks: yt)
        s += keptMark(p)
        s += p.polyline(train, color: "#1f77b4", markers: true)
        s += p.polyline(val, color: "#ff7f0e", markers: true)
        // Legends: one row between the title and the plots, so they never hide data.
        s += legend([("train loss", "#1f77b4")] + (val.isEmpty ? [] : [("validation loss", "#ff7f0e")]), x: left)

        // Validation metrics panel.
        var nextX = left + panelW + gap
        if hasVal {
            let q = Panel(x0: nextX, y0: top, w: panelW, h: panelH, xr: xr, yr: (0, 1))
            s += q.frame(title: "Validation metrics per epoch", xLabel: "epoch", yLabel: "value", xTicks: xt, yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1.0])
            s += keptMark(q)
            var series: [(String, String, [(Double, Double)])] = [
                ("accuracy", "#9467bd", history.compactMap { r in r.val.map { (Double(r.epoch), $0.accuracy) } }),
                ("mAUC", "#8c564b", history.compactMap { r in r.val.map { (Double(r.epoch), $0.mAUC) } }),
                ("mAP", "#e377c2", history.compactMap { r in r.val.map { (Double(r.epoch), $0.mAP) } }),
            ]
            if history.contains(where: { $0.val?.binary != nil }) {
                series.append(("AUC(p)", "#d62728", history.compactMap { r in r.val?.binary.map { (Double(r.epoch), $0.aucOfProbability) } }))
            }
            for (_, color, pts) in series { s += q.polyline(pts, color: color, markers: true) }
            s += legend(series.map { ($0.0, $0.1) }, x: nextX)
            nextX += panelW + gap
        }

        // ROC panel: the kept model's P(label 1) on the validation set; its AUC is the table's AUC(p).
        if !rocPts.isEmpty, let roc = roc {
            let side = panelW * 0.75
            let q = Panel(x0: nextX, y0: top, w: side, h: min(side, panelH), xr: (0, 1), yr: (0, 1))
            let auc = kept?.val?.binary?.aucOfProbability ?? Metrics.rocAUC(scores: roc.scores, positive: roc.positive)
            let t01 = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
            s += q.frame(title: String(printf: "ROC, kept epoch %d (AUC(p) %.4f)", kept?.epoch ?? 0, auc), xLabel: "1 - specificity",
                         yLabel: "sensitivity", xTicks: t01, yTicks: t01)
            s += q.polyline([(0, 0), (1, 1)], color: "#aaa", dash: true)
            s += q.polyline(rocPts, color: "#d62728")
            if let t = threshold {
                let (se, sp) = Metrics.sensSpec(scores: roc.scores, positive: roc.positive, threshold: Double(t))
                if se.isFinite && sp.isFinite {
                    s += String(printf: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"#000\" stroke-width=\"2\"/>\n", q.px(1 - sp), q.py(se))
                    s += String(printf: "<text x=\"%.1f\" y=\"%.1f\">threshold %.4f: sens %.3f spec %.3f</text>\n", q.px(1 - sp) + 8, q.py(se) + 14, t, se, sp)
                }
            }
        }
        s += "</svg>\n"
        return s
    }
}
