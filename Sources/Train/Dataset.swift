import AudioFile
import Runtime
import Support

/// The SSAST label CSV: `index,mid,display_name` with a header; the datafile labels are `mid`s.
public struct LabelSet {
    public let mids: [String]
    public let names: [String]
    public let indexOfMid: [String: Int]

    public init(csvPath: String) throws {
        guard let text = try? FileSystem.readText(csvPath) else {
            throw SSASTError("\(csvPath): cannot read the label CSV")
        }
        var rows = text.split(whereSeparator: \.isNewline).map { LabelSet.parseCSVLine(String($0)) }
            .filter { !($0.count == 1 && $0[0].trimmedOfBlanks.isEmpty) }
        guard let header = rows.first else { throw SSASTError("\(csvPath): empty label CSV") }
        let h = header.map { $0.trimmedOfBlanks }
        guard let iIdx = h.firstIndex(of: "index"), let iMid = h.firstIndex(of: "mid"), let iName = h.firstIndex(of: "display_name") else {
            throw SSASTError("\(csvPath): the header must name the columns index,mid,display_name (got \(h.joined(separator: ",")))")
        }
        rows.removeFirst()
        var mids = [String](repeating: "", count: rows.count), names = mids
        var seen = [Bool](repeating: false, count: rows.count)
        for (line, r) in rows.enumerated() {
            guard r.count > max(iIdx, iMid, iName), let idx = Int(r[iIdx].trimmedOfBlanks) else {
                throw SSASTError("\(csvPath): line \(line + 2) is not index,mid,display_name")
            }
            guard !r[iMid].trimmedOfBlanks.isEmpty, !r[iName].trimmedOfBlanks.isEmpty else {
                throw SSASTError("\(csvPath): line \(line + 2) has an empty mid or display_name")
            }
            guard idx >= 0, idx < rows.count, !seen[idx] else {
                throw SSASTError("\(csvPath): line \(line + 2): index \(idx) is repeated or outside 0...\(rows.count - 1)")
            }
            seen[idx] = true
            mids[idx] = r[iMid]
            names[idx] = r[iName]
        }
        guard !mids.isEmpty else { throw SSASTError("\(csvPath): no labels") }
        var index: [String: Int] = [:]
        for (i, m) in mids.enumerated() {
            if index[m] != nil { throw SSASTError("\(csvPath): mid '\(m)' appears twice") }
            index[m] = i
        }
        self.mids = mids; self.names = names; self.indexOfMid = index
    }

    public init(mids: [String], names: [String]) {
        self.mids = mids; self.names = names
        var index: [String: Int] = [:]
        for (i, m) in mids.enumerated() { index[m] = i }
        indexOfMid = index
    }

    public var count: Int { mids.count }

    /// Where each label sits among a model's outputs (`order[i]` is the output of label i): the model's
    /// names matched against the display names, else against the mids; nil when the model names
    /// other labels than these.
    public func outputOrder(modelLabels: [String]) -> [Int]? {
        guard modelLabels.count == count else { return nil }
        var output: [String: Int] = [:]
        for (i, l) in modelLabels.enumerated() { output[l] = i }
        for key in [names, mids] {
            let order = key.compactMap { output[$0] }
            if order.count == count && Set(order).count == count { return order }
        }
        return nil
    }

    /// The same labels listed in the order of a model's outputs (`order` from `outputOrder`).
    public func inModelOrder(_ order: [Int]) -> LabelSet {
        var at = [Int](repeating: 0, count: count)
        for (label, output) in order.enumerated() { at[output] = label }
        return LabelSet(mids: at.map { mids[$0] }, names: at.map { names[$0] })
    }

    /// One CSV line with double-quoted fields ("" escapes a quote).
    static func parseCSVLine(_ line: String) -> [String] {
        var fields: [String] = [], cur = "", inQuotes = false
        var it = Array(line), i = 0
        if it.last == "\r" { it.removeLast() }
        while i < it.count {
            let ch = it[i]
            if inQuotes {
                if ch == "\"" {
                    if i + 1 < it.count && it[i + 1] == "\"" { cur.append("\""); i += 1 } else { inQuotes = false }
                } else { cur.append(ch) }
            } else if ch == "\"" { inQuotes = true }
            else if ch == "," { fields.append(cur); cur = "" }
            else { cur.append(ch) }
            i += 1
        }
        fields.append(cur)
        return fields
    }
}

/// An SSAST datafile (`{"data": [{"wav": path, "labels": "mid1,mid2"}, ...]}`) with features
/// computed on demand (with the model's fbank settings) and cached per file in memory.
public final class Dataset {
    public struct Item { public let wav: String; public let labels: [Int] }
    public let path: String
    public let items: [Item]
    public let labelCount: Int
    public let targetLength: Int
    private var cache: [(frames: Int, data: [Float])?]
    private let fbankCalc: Fbank

    public init(jsonPath: String, labels: LabelSet, targetLength: Int, fbank: FbankSettings = .ssast) throws {
        guard let data = try? FileSystem.readBytes(jsonPath) else {
            throw SSASTError("\(jsonPath): cannot read the datafile")
        }
        let root = try MiniJSONParser.parse(data, what: jsonPath)   // "PATH: bad JSON at byte N: ..."
        guard let list = root["data"]?.array, list.allSatisfy(\.isObject) else {
            throw SSASTError("\(jsonPath): expected {\"data\": [{\"wav\": ..., \"labels\": ...}, ...]}")
        }
        let base = (jsonPath.hasPrefix("/") ? jsonPath : FileSystem.currentDirectory.appendingPathComponent(jsonPath)).deletingLastPathComponent
        var items: [Item] = []
        for (i, e) in list.enumerated() {
            guard let wav = e["wav"]?.string, let lab = e["labels"]?.string else {
                throw SSASTError("\(jsonPath): entry \(i) needs string fields \"wav\" and \"labels\"")
            }
            var idx: [Int] = []
            for mid in lab.split(separator: ",") {
                let m = mid.trimmedOfBlanks
                guard let k = labels.indexOfMid[m] else {
                    throw SSASTError("\(jsonPath): entry \(i) (\(wav)) has label '\(m)', which is not a mid in the label CSV")
                }
                idx.append(k)
            }
            guard !idx.isEmpty else { throw SSASTError("\(jsonPath): entry \(i) (\(wav)) has no labels") }
            // SSAST opens paths as given (relative to the working directory); fall back to the datafile's folder.
            var p = wav
            if !wav.hasPrefix("/") && !FileSystem.exists(wav)
                && FileSystem.exists(base + "/" + wav) { p = base + "/" + wav }
            items.append(Item(wav: p, labels: idx))
        }
        guard !items.isEmpty else { throw SSASTError("\(jsonPath): the datafile lists no audio") }
        self.path = jsonPath
        self.items = items
        self.labelCount = labels.count
        self.targetLength = targetLength
        fbankCalc = try Fbank(settings: fbank)
        cache = Array(repeating: nil, count: items.count)
    }

    public var count: Int { items.count }

    /// Multi-hot label vector of item i.
    public func labelVector(_ i: Int) -> [Float] {
        var v = [Float](repeating: 0, count: labelCount)
        for k in items[i].labels { v[k] = 1 }
        return v
    }

    /// Waveform with its own mean removed (SSAST: waveform - waveform.mean()).
    func waveform(_ i: Int) throws -> [Float] {
        var w = try loadMono(path: items[i].wav, sampleRate: fbankCalc.settings.sampleRate)
        guard !w.isEmpty else { throw SSASTError("\(items[i].wav): no audio samples") }
        let mean = Float(w.reduce(0.0) { $0 + Double($1) } / Double(w.count))
        for k in w.indices { w[k] -= mean }
        return w
    }

    /// The log-mel fbank of item i (frames x bins, not normalised, not padded); cached.
    public func fbank(_ i: Int) throws -> (frames: Int, data: [Float]) {
        if let f = cache[i] { return f }
        let f: (frames: Int, data: [Float])
        do { f = try fbankCalc.compute(try waveform(i), name: items[i].wav) } catch {
            let why = (error as? SSASTError)?.message ?? "\(error)"
            throw SSASTError("\(path): entry \(i) (\(items[i].wav)): \(why)")
        }
        cache[i] = f
        return f
    }

    /// Decodes every entry now (the features are cached, so training does this work only once),
    /// so that a bad file stops the run before the first epoch, named by its index and path.
    public func checkAll() throws {
        for i in 0..<count { _ = try fbank(i) }
    }

    /// One training/eval example as SSAST's dataloader builds it: optional waveform mixup,
    /// SpecAugment, normalisation, noise + roll. Returns (input T x bins, label vector).
    public func example(_ i: Int, recipe r: Recipe, train: Bool, rng: inout SplitMix64) throws -> ([Float], [Float]) {
        let aug = train && r.augment
        let t = targetLength, f = fbankCalc.settings.melBins
        let prep = InputPreparation(targetLength: t, bins: f, mean: r.mean, std: r.std)
        var x: [Float]
        var label: [Float]
        if aug && r.mixup > 0 && rng.nextDouble() < Double(r.mixup) {
            let j = rng.int(0, count)
            let w1 = try waveform(i)
            var w2 = try waveform(j)
            if w2.count > w1.count { w2.removeLast(w2.count - w1.count) }
            else if w2.count < w1.count { w2 += [Float](repeating: 0, count: w1.count - w2.count) }
            let lam = Float(rng.beta(10, 10))
            var mix = [Float](repeating: 0, count: w1.count)
            for k in mix.indices { mix[k] = lam * w1[k] + (1 - lam) * w2[k] }
            // The fbank removes the mix's own mean, as SSAST does after mixing.
            let fb = try fbankCalc.compute(mix, name: items[i].wav + " (mixed with \(items[j].wav))")
            x = try prep.prepare(fb.data, frames: fb.frames)
            label = [Float](repeating: 0, count: labelCount)
            for k in items[i].labels { label[k] += lam }
            for k in items[j].labels { label[k] += 1 - lam }
        } else {
            let fb = try fbank(i)
            x = try prep.prepare(fb.data, frames: fb.frames)
            label = labelVector(i)
        }
        if aug {
            // torchaudio mask_along_axis: value = U * param, start = floor(U * (size - value)),
            // end = start + floor(value); filled with 0 before normalisation, i.e. `prep.zero` after.
            let zero = prep.zero
            if r.freqm > 0 {
                let v = Double(rng.nextFloat()) * Double(r.freqm)
                let s = Int(Double(rng.nextFloat()) * (Double(f) - v)), e = s + Int(v)
                for tt in 0..<t { for k in max(s, 0)..<min(e, f) { x[tt * f + k] = zero } }
            }
            if r.timem > 0 {
                let v = Double(rng.nextFloat()) * Double(r.timem)
                let s = Int(Double(rng.nextFloat()) * (Double(t) - v)), e = s + Int(v)
                if e > s { for tt in max(s, 0)..<min(e, t) { for k in 0..<f { x[tt * f + k] = zero } } }
            }
        }
        if aug && r.noise {
            let amp = rng.nextFloat() / 10
            for k in x.indices { x[k] += rng.nextFloat() * amp }
            let shift = rng.int(-10, 10)   // numpy randint(-10, 10): -10...9
            if shift != 0 {
                var rolled = x
                for tt in 0..<t {
                    let src = ((tt - shift) % t + t) % t
                    for k in 0..<f { rolled[tt * f + k] = x[src * f + k] }
                }
                x = rolled
            }
        }
        return (x, label)
    }
}
