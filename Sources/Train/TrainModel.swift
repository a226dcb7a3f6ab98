#if canImport(Glibc)
import Glibc
#endif
import Runtime

public enum LossKind: String, CaseIterable {
    case ce, bce
}

/// The SSAST fine-tuning model: flat parameters + gradients (same layout, see `ParameterLayout`),
/// a preallocated activation buffer sized from (batch, tokens, dim, depth), forward and backward.
public final class TrainModel {
    public let layout: ParameterLayout
    public var config: ModelConfig { layout.config }
    public let engine: Engine
    public let params: UnsafeMutableBufferPointer<Float>
    public let grads: UnsafeMutableBufferPointer<Float>
    public let maxBatch: Int
    /// Batch size of the last forward pass (the backward pass uses it).
    public private(set) var batch = 0

    private let acts: UnsafeMutableBufferPointer<Float>
    private struct LayerActs { var ln1, mean1, rstd1, qkv, att, x1, ln2, mean2, rstd2, h: Int }
    private let cols, patchOut: Int
    private let xs: [Int]              // depth + 1 residual streams: block i input = xs[i]
    private let layers: [LayerActs]
    private let lnf, meanf, rstdf, pooled, hn, hmean, hrstd, logitsOff, dlogitsOff: Int
    private let dres, dln, datt, dqkv, gbuf, dh, attScratch, dpooled, dhn: Int
    private let tbuf: Int              // transposed dy for the weight gradients

    /// Total floats in the activation buffer (for memory reports).
    public var activationFloats: Int { acts.count }

    public init(layout: ParameterLayout, engine: Engine, maxBatch: Int) throws {
        guard maxBatch >= 1 else { throw SSASTError("batch size must be at least 1 (got \(maxBatch))") }
        self.layout = layout
        self.engine = engine
        self.maxBatch = maxBatch
        let c = layout.config
        let b = maxBatch, n = c.tokens, d = c.dim, m = c.mlpDim, p = c.patches, nl = c.labels.count
        let bn = b * n
        var total = 0
        func take(_ count: Int) -> Int { let o = total; total += count; return o }
        cols = take(b * p * c.patchK)
        patchOut = take(b * p * d)
        var xs: [Int] = []
        var layers: [LayerActs] = []
        xs.append(take(bn * d))
        for _ in 0..<c.depth {
            layers.append(LayerActs(ln1: take(bn * d), mean1: take(bn), rstd1: take(bn), qkv: take(bn * 3 * d),
                                    att: take(bn * d), x1: take(bn * d), ln2: take(bn * d), mean2: take(bn),
                                    rstd2: take(bn), h: take(bn * m)))
            xs.append(take(bn * d))
        }
        self.xs = xs
        self.layers = layers
        lnf = take(bn * d); meanf = take(bn); rstdf = take(bn)
        pooled = take(b * d); hn = take(b * d); hmean = take(b); hrstd = take(b)
        logitsOff = take(b * nl); dlogitsOff = take(b * nl)
        dres = take(bn * d); dln = take(bn * d); datt = take(bn * d); dqkv = take(bn * 3 * d)
        gbuf = take(bn * m); dh = take(bn * m); attScratch = take(3 * n * n)
        tbuf = take(max(b * p * d, bn * max(3 * d, m)))
        dpooled = take(b * d); dhn = take(b * d)
        acts = .allocate(capacity: total)
        acts.initialize(repeating: 0)
        params = .allocate(capacity: layout.total)
        params.initialize(repeating: 0)
        grads = .allocate(capacity: layout.total)
        grads.initialize(repeating: 0)
    }

    deinit {
        acts.deallocate(); params.deallocate(); grads.deallocate()
    }

    private func a(_ off: Int) -> UnsafeMutablePointer<Float> { acts.baseAddress! + off }
    private func w(_ off: Int) -> UnsafeMutablePointer<Float> { params.baseAddress! + off }
    private func g(_ off: Int) -> UnsafeMutablePointer<Float> { grads.baseAddress! + off }

    // MARK: parameters by name

    /// Copies one tensor into the flat buffer; the element count must match.
    public func setParameter(_ name: String, _ values: [Float]) throws {
        guard let v = layout[name] else { throw SSASTError("trainer: no parameter named \(name)") }
        guard values.count == v.count else {
            throw SSASTError("trainer: \(name) has \(values.count) values, expected \(v.count) (shape \(v.shape))")
        }
        values.withUnsafeBufferPointer { src in
            (params.baseAddress! + v.offset).update(from: src.baseAddress!, count: v.count)
        }
    }

    public func parameter(_ name: String) -> [Float]? {
        guard let v = layout[name] else { return nil }
        return Array(UnsafeBufferPointer(start: params.baseAddress! + v.offset, count: v.count))
    }

    public func gradient(_ name: String) -> [Float]? {
        guard let v = layout[name] else { return nil }
        return Array(UnsafeBufferPointer(start: grads.baseAddress! + v.offset, count: v.count))
    }

    public func zeroGrad() { grads.update(repeating: 0) }

    // MARK: forward

    /// Runs the model on `batch` inputs (batch x targetLength x melBins, normalised) and returns
    /// the logits (batch x labels). Activations are kept for `backward`.
    @discardableResult
    public func forward(_ inputs: UnsafePointer<Float>, batch: Int) throws -> [Float] {
        guard batch >= 1 && batch <= maxBatch else {
            throw SSASTError("trainer: batch \(batch) outside 1...\(maxBatch)")
        }
        self.batch = batch
        let c = config, e = engine
        let n = c.tokens, d = c.dim, m = c.mlpDim, p = c.patches, nl = c.labels.count
        let bn = batch * n
        Layers.im2col(e, cols: a(cols), x: inputs, batch: batch, frames: c.targetLength, mel: c.melBins,
                      fshape: c.fshape, tshape: c.tshape, fstride: c.fstride, tstride: c.tstride,
                      fDim: c.fDim, tDim: c.tDim)
        Layers.linearForward(e, y: a(patchOut), x: a(cols), w: w(layout.patchW), b: w(layout.patchB),
                             m: batch * p, k: c.patchK, n: d)
        Layers.embedForward(x0: a(xs[0]), patches: a(patchOut), cls: w(layout.cls), dist: w(layout.dist),
                            pos: w(layout.pos), batch: batch, numPatches: p, dim: d)
        for (l, o) in layout.blocks.enumerated() {
            let la = layers[l], x = a(xs[l]), out = a(xs[l + 1])
            Layers.layerNormForward(e, y: a(la.ln1), mean: a(la.mean1), rstd: a(la.rstd1), x: x, w: w(o.norm1W),
                                    b: w(o.norm1B), rows: bn, dim: d, eps: c.blockEps)
            Layers.linearForward(e, y: a(la.qkv), x: a(la.ln1), w: w(o.qkvW), b: w(o.qkvB), m: bn, k: d, n: 3 * d)
            Layers.attentionForward(e, out: a(la.att), qkv: a(la.qkv), batch: batch, tokens: n, heads: c.heads,
                                    headDim: c.headDim, scratch: a(attScratch))
            Layers.linearForward(e, y: a(la.x1), x: a(la.att), w: w(o.projW), b: w(o.projB), m: bn, k: d, n: d)
            let x1 = a(la.x1)
            Layers.par(e, bn) { r in for i in (r.lowerBound * d)..<(r.upperBound * d) { x1[i] += x[i] } }
            Layers.layerNormForward(e, y: a(la.ln2), mean: a(la.mean2), rstd: a(la.rstd2), x: x1, w: w(o.norm2W),
                                    b: w(o.norm2B), rows: bn, dim: d, eps: c.blockEps)
            Layers.linearForward(e, y: a(la.h), x: a(la.ln2), w: w(o.fc1W), b: w(o.fc1B), m: bn, k: d, n: m)
            Layers.geluForward(e, y: a(gbuf), x: a(la.h), count: bn * m)
            Layers.linearForward(e, y: out, x: a(gbuf), w: w(o.fc2W), b: w(o.fc2B), m: bn, k: m, n: d)
            Layers.par(e, bn) { r in for i in (r.lowerBound * d)..<(r.upperBound * d) { out[i] += x1[i] } }
        }
        Layers.layerNormForward(e, y: a(lnf), mean: a(meanf), rstd: a(rstdf), x: a(xs[c.depth]), w: w(layout.normW),
                                b: w(layout.normB), rows: bn, dim: d, eps: c.blockEps)
        Layers.poolForward(pooled: a(pooled), x: a(lnf), avgtok: c.pooling == .avgtok, batch: batch, tokens: n, dim: d)
        Layers.layerNormForward(e, y: a(hn), mean: a(hmean), rstd: a(hrstd), x: a(pooled), w: w(layout.headNormW),
                                b: w(layout.headNormB), rows: batch, dim: d, eps: c.headEps)
        Layers.linearForward(e, y: a(logitsOff), x: a(hn), w: w(layout.headW), b: w(layout.headB),
                             m: batch, k: d, n: nl)
        return Array(UnsafeBufferPointer(start: a(logitsOff), count: batch * nl))
    }

    /// Loss of the last forward pass; also stores dLoss/dlogits for `backward`.
    /// `labels` is batch x labels (multi-hot or mixup-weighted); CE uses argmax(labels) as the class,
    /// as SSAST's traintest.py does.
    public func loss(labels: [Float], kind: LossKind) throws -> Float {
        let nl = config.labels.count
        guard labels.count == batch * nl else {
            throw SSASTError("trainer: \(labels.count) label values for a batch of \(batch) x \(nl)")
        }
        switch kind {
        case .ce:
            let targets = (0..<batch).map { b in argmax(labels[(b * nl)..<(b * nl + nl)]) }
            return Layers.crossEntropy(logits: a(logitsOff), targets: targets, batch: batch, classes: nl,
                                       dlogits: a(dlogitsOff))
        case .bce:
            return labels.withUnsafeBufferPointer {
                Layers.bceWithLogits(logits: a(logitsOff), targets: $0.baseAddress!, count: batch * nl,
                                     dlogits: a(dlogitsOff))
            }
        }
    }

    /// Accumulates dLoss/dparams into `grads` (call `zeroGrad` first for a fresh step).
    public func backward() {
        let c = config, e = engine, bs = batch
        let n = c.tokens, d = c.dim, m = c.mlpDim, p = c.patches, nl = c.labels.count
        let bn = bs * n
        // Head: logits = LN(pooled) · Wᵀ + b.
        Layers.linearBackward(e, dy: a(dlogitsOff), x: a(hn), w: w(layout.headW), m: bs, k: d, n: nl,
                              dx: a(dhn), dw: g(layout.headW), db: g(layout.headB))
        a(dpooled).update(repeating: 0, count: bs * d)
        Layers.layerNormBackward(e, dy: a(dhn), x: a(pooled), mean: a(hmean), rstd: a(hrstd), w: w(layout.headNormW),
                                 rows: bs, dim: d, dx: a(dpooled), dw: g(layout.headNormW), db: g(layout.headNormB))
        Layers.poolBackward(dpooled: a(dpooled), avgtok: c.pooling == .avgtok, batch: bs, tokens: n, dim: d, dx: a(dln))
        a(dres).update(repeating: 0, count: bn * d)
        Layers.layerNormBackward(e, dy: a(dln), x: a(xs[c.depth]), mean: a(meanf), rstd: a(rstdf), w: w(layout.normW),
                                 rows: bn, dim: d, dx: a(dres), dw: g(layout.normW), db: g(layout.normB))
        // Blocks, last to first; dres holds d(block output) and becomes d(block input).
        for l in stride(from: c.depth - 1, through: 0, by: -1) {
            let o = layout.blocks[l], la = layers[l]
            // MLP branch: out = x1 + fc2(gelu(fc1(ln2(x1)))).
            Layers.geluForward(e, y: a(gbuf), x: a(la.h), count: bn * m)
            Layers.linearBackward(e, dy: a(dres), x: a(gbuf), w: w(o.fc2W), m: bn, k: m, n: d,
                                  dx: a(dh), dw: g(o.fc2W), db: g(o.fc2B), scratch: a(tbuf))
            Layers.geluBackward(e, dy: a(dh), x: a(la.h), count: bn * m, dx: a(dh))
            Layers.linearBackward(e, dy: a(dh), x: a(la.ln2), w: w(o.fc1W), m: bn, k: d, n: m,
                                  dx: a(dln), dw: g(o.fc1W), db: g(o.fc1B), scratch: a(tbuf))
            Layers.layerNormBackward(e, dy: a(dln), x: a(la.x1), mean: a(la.mean2), rstd: a(la.rstd2), w: w(o.norm2W),
                                     rows: bn, dim: d, dx: a(dres), dw: g(o.norm2W), db: g(o.norm2B))
            // Attention branch: x1 = x + proj(attn(qkv(ln1(x)))).
            Layers.linearBackward(e, dy: a(dres), x: a(la.att), w: w(o.projW), m: bn, k: d, n: d,
                                  dx: a(datt), dw: g(o.projW), db: g(o.projB), scratch: a(tbuf))
            Layers.attentionBackward(e, dout: a(datt), qkv: a(la.qkv), batch: bs, tokens: n, heads: c.heads,
                                     headDim: c.headDim, dqkv: a(dqkv), scratch: a(attScratch),
                                     transposeInScratch: true)
            Layers.linearBackward(e, dy: a(dqkv), x: a(la.ln1), w: w(o.qkvW), m: bn, k: d, n: 3 * d,
                                  dx: a(dln), dw: g(o.qkvW), db: g(o.qkvB), scratch: a(tbuf))
            Layers.layerNormBackward(e, dy: a(dln), x: a(xs[l]), mean: a(la.mean1), rstd: a(la.rstd1), w: w(o.norm1W),
                                     rows: bn, dim: d, dx: a(dres), dw: g(o.norm1W), db: g(o.norm1B))
        }
        // Tokens and patch projection (the input itself needs no gradient).
        Layers.embedBackward(dx0: a(dres), batch: bs, numPatches: p, dim: d, dpatches: a(dln),
                             dcls: g(layout.cls), ddist: g(layout.dist), dpos: g(layout.pos))
        Layers.linearBackward(e, dy: a(dln), x: a(cols), w: w(layout.patchW), m: bs * p, k: c.patchK, n: d,
                              dx: nil, dw: g(layout.patchW), db: g(layout.patchB), scratch: a(tbuf))
    }
}

func argmax<C: Collection>(_ xs: C) -> Int where C.Element == Float {
    var best = 0, bestV = -Float.infinity, i = 0
    for v in xs { if v > bestV { bestV = v; best = i }; i += 1 }
    return best
}
