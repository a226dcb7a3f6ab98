import Runtime
import XCTest
import Train

/// Finite-difference checks of every layer's backward pass on tiny random shapes.
/// L = Σ r ∘ y with a fixed random r; central differences in Float with eps 1e-2 on O(1) values,
/// the loss accumulated in Double, so the numeric derivative is good to ~1e-4.
final class LayerGradientTests: XCTestCase {
    var rng = SplitMix64(seed: 42)
    let engine = try! Engine(threads: 1)

    func rand(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in (rng.nextFloat() * 2 - 1) * scale } }

    /// Central difference of `loss` w.r.t. every element of `x`, compared with `analytic`.
    func checkFD(_ what: String, _ x: inout [Float], analytic: [Float], eps: Float = 1e-2, tol: Float = 2e-3,
                 loss: ([Float]) -> Double, file: StaticString = #filePath, line: UInt = #line) {
        var worst: Float = 0
        let scale = max(analytic.map { abs($0) }.max() ?? 0, 1e-3)
        for i in 0..<x.count {
            let orig = x[i]
            x[i] = orig + eps; let lp = loss(x)
            x[i] = orig - eps; let lm = loss(x)
            x[i] = orig
            let num = Float((lp - lm) / Double(2 * eps))
            worst = max(worst, abs(num - analytic[i]) / scale)
        }
        XCTAssertLessThan(worst, tol, "\(what): worst |numeric - analytic| / max|grad| = \(worst)", file: file, line: line)
    }

    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }

    func testLinear() {
        let m = 5, k = 7, n = 4
        var x = rand(m * k), w = rand(n * k), b = rand(n)
        let r = rand(m * n)
        func fwd(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: m * n)
            Layers.linearForward(engine, y: &y, x: x, w: w, b: b, m: m, k: k, n: n)
            return y
        }
        var dx = [Float](repeating: 9, count: m * k), dw = [Float](repeating: 0, count: n * k), db = [Float](repeating: 0, count: n)
        Layers.linearBackward(engine, dy: r, x: x, w: w, m: m, k: k, n: n, dx: &dx, dw: &dw, db: &db)
        checkFD("linear dx", &x, analytic: dx) { dot(fwd($0, w, b), r) }
        checkFD("linear dw", &w, analytic: dw) { dot(fwd(x, $0, b), r) }
        checkFD("linear db", &b, analytic: db) { dot(fwd(x, w, $0), r) }
    }

    func testLayerNorm() {
        let rows = 3, dim = 8
        var x = rand(rows * dim, scale: 2), w = rand(dim), b = rand(dim)
        let r = rand(rows * dim)
        func fwd(_ x: [Float], _ w: [Float], _ b: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * dim), mu = [Float](repeating: 0, count: rows), rs = mu
            Layers.layerNormForward(y: &y, mean: &mu, rstd: &rs, x: x, w: w, b: b, rows: rows, dim: dim, eps: 1e-6)
            return y
        }
        var mu = [Float](repeating: 0, count: rows), rs = mu, y = [Float](repeating: 0, count: rows * dim)
        Layers.layerNormForward(y: &y, mean: &mu, rstd: &rs, x: x, w: w, b: b, rows: rows, dim: dim, eps: 1e-6)
        var dx = [Float](repeating: 0, count: rows * dim), dw = [Float](repeating: 0, count: dim), db = dw
        Layers.layerNormBackward(dy: r, x: x, mean: mu, rstd: rs, w: w, rows: rows, dim: dim, dx: &dx, dw: &dw, db: &db)
        checkFD("layernorm dx", &x, analytic: dx) { dot(fwd($0, w, b), r) }
        checkFD("layernorm dw", &w, analytic: dw) { dot(fwd(x, $0, b), r) }
        checkFD("layernorm db", &b, analytic: db) { dot(fwd(x, w, $0), r) }
    }

    func testGelu() {
        var x = rand(20, scale: 3)
        let r = rand(20)
        func fwd(_ x: [Float]) -> [Float] { var y = x; Layers.geluForward(y: &y, x: x, count: x.count); return y }
        var dx = [Float](repeating: 0, count: 20)
        Layers.geluBackward(dy: r, x: x, count: 20, dx: &dx)
        checkFD("gelu", &x, analytic: dx) { dot(fwd($0), r) }
        // Exact-erf GELU value check (not the tanh approximation): gelu(1) = 0.8413447.
        XCTAssertEqual(fwd([1])[0], 0.8413447, accuracy: 1e-6)
    }

    func testAttention() {
        let batch = 2, t = 5, heads = 2, dh = 4, d = heads * dh
        var qkv = rand(batch * t * 3 * d)
        let r = rand(batch * t * d)
        var scratch = [Float](repeating: 0, count: 2 * t * t)
        func fwd(_ qkv: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: batch * t * d), s = [Float](repeating: 0, count: t * t)
            Layers.attentionForward(engine, out: &out, qkv: qkv, batch: batch, tokens: t, heads: heads, headDim: dh, scratch: &s)
            return out
        }
        // Forward equals the Runtime reference attention, sample by sample.
        let out = fwd(qkv)
        for b in 0..<batch {
            var ref = [Float](repeating: 0, count: t * d)
            Array(qkv[(b * t * 3 * d)..<((b + 1) * t * 3 * d)]).withUnsafeBufferPointer {
                Reference.attention(qkv: $0.baseAddress!, tokens: t, heads: heads, headDim: dh, &ref)
            }
            XCTAssertLessThan(zip(ref, out[(b * t * d)...]).map { abs($0 - $1) }.max()!, 1e-5)
        }
        var dqkv = [Float](repeating: 7, count: qkv.count)
        Layers.attentionBackward(engine, dout: r, qkv: qkv, batch: batch, tokens: t, heads: heads, headDim: dh,
                                 dqkv: &dqkv, scratch: &scratch)
        checkFD("attention dqkv", &qkv, analytic: dqkv) { dot(fwd($0), r) }
    }

    func testPoolEmbedAndLosses() {
        let batch = 2, t = 5, dim = 3
        for avgtok in [true, false] {
            var x = rand(batch * t * dim)
            let r = rand(batch * dim)
            func fwd(_ x: [Float]) -> [Float] {
                var p = [Float](repeating: 0, count: batch * dim)
                Layers.poolForward(pooled: &p, x: x, avgtok: avgtok, batch: batch, tokens: t, dim: dim)
                return p
            }
            var dx = [Float](repeating: 5, count: x.count)
            Layers.poolBackward(dpooled: r, avgtok: avgtok, batch: batch, tokens: t, dim: dim, dx: &dx)
            checkFD("pool avgtok=\(avgtok)", &x, analytic: dx) { dot(fwd($0), r) }
        }
        // Embedding: gradients of cls, dist, pos and the patch outputs.
        let np = t - 2
        var patches = rand(batch * np * dim), cls = rand(dim), dist = rand(dim), pos = rand(t * dim)
        let r = rand(batch * t * dim)
        func emb(_ pa: [Float], _ c: [Float], _ di: [Float], _ po: [Float]) -> [Float] {
            var x0 = [Float](repeating: 0, count: batch * t * dim)
            Layers.embedForward(x0: &x0, patches: pa, cls: c, dist: di, pos: po, batch: batch, numPatches: np, dim: dim)
            return x0
        }
        var dp = [Float](repeating: 3, count: patches.count), dc = [Float](repeating: 0, count: dim), dd = dc
        var dpos = [Float](repeating: 0, count: pos.count)
        Layers.embedBackward(dx0: r, batch: batch, numPatches: np, dim: dim, dpatches: &dp, dcls: &dc, ddist: &dd, dpos: &dpos)
        checkFD("embed patches", &patches, analytic: dp) { dot(emb($0, cls, dist, pos), r) }
        checkFD("embed cls", &cls, analytic: dc) { dot(emb(patches, $0, dist, pos), r) }
        checkFD("embed dist", &dist, analytic: dd) { dot(emb(patches, cls, $0, pos), r) }
        checkFD("embed pos", &pos, analytic: dpos) { dot(emb(patches, cls, dist, $0), r) }

        // Losses.
        let classes = 3
        var logits = rand(batch * classes, scale: 3)
        let targets = [2, 0]
        var dl = [Float](repeating: 0, count: logits.count)
        let ce = Layers.crossEntropy(logits: logits, targets: targets, batch: batch, classes: classes, dlogits: &dl)
        // Hand value: mean of logsumexp - z_target.
        var expect = 0.0
        for b in 0..<batch {
            let z = logits[(b * classes)..<(b * classes + classes)].map(Double.init)
            expect += log(z.map { exp($0) }.reduce(0, +)) - z[targets[b]]
        }
        XCTAssertEqual(Double(ce), expect / Double(batch), accuracy: 1e-6)
        checkFD("cross-entropy", &logits, analytic: dl) {
            Double(Layers.crossEntropy(logits: $0, targets: targets, batch: batch, classes: classes, dlogits: nil))
        }
        let y: [Float] = [1, 0, 0.3, 0, 1, 0.7]
        let bce = Layers.bceWithLogits(logits: logits, targets: y, count: y.count, dlogits: &dl)
        let bceExpect = zip(logits, y).map { z, t -> Double in
            let s = 1 / (1 + exp(-Double(z)))
            return -(Double(t) * log(s) + (1 - Double(t)) * log(1 - s))
        }.reduce(0, +) / Double(y.count)
        XCTAssertEqual(Double(bce), bceExpect, accuracy: 1e-6)
        checkFD("bce", &logits, analytic: dl) { Double(Layers.bceWithLogits(logits: $0, targets: y, count: y.count, dlogits: nil)) }
    }

    /// The whole model on a tiny random geometry: every parameter tensor's gradient (a sample of
    /// its elements) against finite differences of the real loss.
    func testWholeModel() throws {
        for (pooling, lossKind) in [(ModelConfig.Pooling.avgtok, LossKind.ce), (.cls, .bce)] {
            let cfg = ModelConfig(dim: 8, depth: 2, heads: 2, mlpDim: 16, fshape: 4, tshape: 4, fstride: 4, tstride: 2,
                                  targetLength: 12, melBins: 8, pooling: pooling, labels: ["a", "b", "c"],
                                  datasetMean: 0, datasetStd: 1)
            let layout = try ParameterLayout(config: cfg, deitHeadClasses: 5)
            let model = try TrainModel(layout: layout, engine: engine, maxBatch: 2)
            for v in layout.views {
                try model.setParameter(v.name, v.name.hasSuffix("norm1.weight") || v.name.hasSuffix("norm2.weight")
                                       || v.name.hasSuffix("norm.weight") || v.name == "mlp_head.0.weight"
                                       ? rand(v.count).map { 1 + 0.3 * $0 } : rand(v.count, scale: 0.5))
            }
            let batch = 2
            let input = rand(batch * cfg.targetLength * cfg.melBins)
            let labels: [Float] = lossKind == .ce ? [0, 0, 1, 1, 0, 0] : [1, 0, 1, 0, 1, 0]
            func lossNow() throws -> Double {
                try model.forward(input, batch: batch)
                return Double(try model.loss(labels: labels, kind: lossKind))
            }
            model.zeroGrad()
            _ = try lossNow()
            model.backward()
            let grads = Array(model.grads)
            for v in layout.views {
                let analytic = Array(grads[v.offset..<(v.offset + v.count)])
                if !v.inGraph { XCTAssertEqual(analytic.map { abs($0) }.max(), 0, v.name); continue }
                let scale = max(analytic.map { abs($0) }.max()!, 1e-4)
                var worst: Float = 0
                let picks = v.count <= 24 ? Array(0..<v.count) : (0..<24).map { _ in Int(rng.next() % UInt64(v.count)) }
                for i in picks {
                    let p = model.params.baseAddress! + v.offset + i
                    let orig = p.pointee, eps: Float = 1e-2
                    p.pointee = orig + eps; let lp = try lossNow()
                    p.pointee = orig - eps; let lm = try lossNow()
                    p.pointee = orig
                    worst = max(worst, abs(Float((lp - lm) / Double(2 * eps)) - analytic[i]) / scale)
                }
                XCTAssertLessThan(worst, 5e-3, "\(pooling) \(lossKind) \(v.name): worst ratio \(worst)")
            }
        }
    }
}
