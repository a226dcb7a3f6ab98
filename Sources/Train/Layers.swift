#if canImport(Glibc)
import Glibc
#endif
import Runtime

/// One forward and one backward function per layer (llm.c style), same argument order in both.
/// Conventions: row-major; `rows` = batch x tokens. Backward functions ADD into parameter
/// gradients (so a step can accumulate) and document whether input gradients are written or added.
/// Every matmul goes through `Engine.sgemm`.
public enum Layers {
    typealias P = UnsafeMutablePointer<Float>

    /// Runs body over 0..<count split across the engine's threads (contiguous ranges), or inline
    /// without an engine. Every caller splits work whose pieces write disjoint memory and keeps the
    /// serial summation order, so results do not depend on the thread count.
    static func par(_ e: Engine?, _ count: Int, _ body: (Range<Int>) -> Void) {
        guard let e = e, e.threads > 1, count > 1 else { body(0..<count); return }
        e.parallelFor(count, body)
    }

    /// dst[c, r] = src[r, c] for a rows x cols block of src (row stride ld); dst has row stride rows.
    /// Tiled so reads and writes both stay in cache lines; columns split across threads.
    static func transpose(_ e: Engine?, _ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int,
                          _ dst: UnsafeMutablePointer<Float>) {
        let tile = 32
        par(e, (cols + tile - 1) / tile) { cbs in
            for cb in cbs {
                let c0 = cb * tile, c1 = min(cols, c0 + tile)
                var r0 = 0
                while r0 < rows {
                    let r1 = min(rows, r0 + tile)
                    for c in c0..<c1 {
                        let d = dst + c * rows
                        for r in r0..<r1 { d[r] = src[r * ld + c] }
                    }
                    r0 = r1
                }
            }
        }
    }

    // MARK: Linear  y[m, n] = x[m, k] · Wᵀ + b,  W is [n, k] as in PyTorch.

    public static func linearForward(_ e: Engine, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                     w: UnsafePointer<Float>, b: UnsafePointer<Float>?, m: Int, k: Int, n: Int) {
        e.sgemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x, lda: k, b: w, ldb: k,
                beta: 0, c: y, ldc: n)
        if let b = b {
            par(e, m) { r in for i in r { let row = y + i * n; for j in 0..<n { row[j] += b[j] } } }
        }
    }

    /// dx (written, or added when `addDx`) = dy · W; dW += dyᵀ · x; db += Σ_rows dy.
    /// `scratch` (m * n floats), when given, holds dyᵀ made by a tiled transpose, so the sgemm
    /// does not transpose A itself (its column-walking copy was ~10% of a training step).
    public static func linearBackward(_ e: Engine, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                      w: UnsafePointer<Float>, m: Int, k: Int, n: Int,
                                      dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                                      db: UnsafeMutablePointer<Float>?, addDx: Bool = false,
                                      scratch: UnsafeMutablePointer<Float>? = nil) {
        if let dx = dx {
            e.sgemm(transA: false, transB: false, m: m, n: k, k: n, alpha: 1, a: dy, lda: n, b: w, ldb: k,
                    beta: addDx ? 1 : 0, c: dx, ldc: k)
        }
        if let t = scratch {
            transpose(e, dy, rows: m, cols: n, ld: n, t)
            e.sgemm(transA: false, transB: false, m: n, n: k, k: m, alpha: 1, a: t, lda: m, b: x, ldb: k,
                    beta: 1, c: dw, ldc: k)
        } else {
            e.sgemm(transA: true, transB: false, m: n, n: k, k: m, alpha: 1, a: dy, lda: n, b: x, ldb: k,
                    beta: 1, c: dw, ldc: k)
        }
        if let db = db {
            // Split over columns: each thread sums its columns over all rows, in row order.
            par(e, n) { jr in for i in 0..<m { let row = dy + i * n; for j in jr { db[j] += row[j] } } }
        }
    }

    // MARK: LayerNorm over the last dimension (biased variance, as PyTorch).

    /// y = (x - mean) * rstd * w + b; saves mean and rstd per row for the backward pass.
    public static func layerNormForward(_ e: Engine? = nil, y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                                        rstd: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                        w: UnsafePointer<Float>, b: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float) {
        par(e, rows) { rr in for r in rr {
            let xr = x + r * dim, yr = y + r * dim
            // Double accumulation: the statistics are then exact to float rounding whatever dim is.
            var s = 0.0
            for i in 0..<dim { s += Double(xr[i]) }
            let mu = s / Double(dim)
            var v = 0.0
            for i in 0..<dim { let d = Double(xr[i]) - mu; v += d * d }
            v /= Double(dim)
            let rs = Float(1 / (v + Double(eps)).squareRoot())
            let m = Float(mu)
            mean[r] = m; rstd[r] = rs
            for i in 0..<dim { yr[i] = (xr[i] - m) * rs * w[i] + b[i] }
        } }
    }

    /// dx += rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ ∘ x̂)) with ĝ = dy ∘ w;  dw += Σ dy ∘ x̂;  db += Σ dy.
    /// Two passes so both split across threads: dx by rows, then dw/db by columns (row order kept).
    public static func layerNormBackward(_ e: Engine? = nil, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                         w: UnsafePointer<Float>, rows: Int, dim: Int,
                                         dx: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>,
                                         db: UnsafeMutablePointer<Float>) {
        let inv = 1 / Float(dim)
        par(e, rows) { rr in
            for r in rr {
                let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
                let m = mean[r], rs = rstd[r]
                var sumG: Float = 0, sumGX: Float = 0
                for i in 0..<dim {
                    let xh = (xr[i] - m) * rs
                    let g = dyr[i] * w[i]
                    sumG += g; sumGX += g * xh
                }
                let mg = sumG * inv, mgx = sumGX * inv
                for i in 0..<dim {
                    let xh = (xr[i] - m) * rs
                    dxr[i] += rs * (dyr[i] * w[i] - mg - xh * mgx)
                }
            }
        }
        par(e, dim) { ir in
            for r in 0..<rows {
                let xr = x + r * dim, dyr = dy + r * dim
                let m = mean[r], rs = rstd[r]
                for i in ir {
                    dw[i] += dyr[i] * ((xr[i] - m) * rs)
                    db[i] += dyr[i]
                }
            }
        }
    }

    // MARK: GELU, exact erf form.

    /// With an engine: its vectorised exact-erf GELU (|error| ~2e-7, see KernelTests) on all threads.
    public static func geluForward(_ e: Engine? = nil, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
        if let e = e {
            par(e, count) { r in (y + r.lowerBound).update(from: x + r.lowerBound, count: r.count) }
            e.gelu(y, count: count)
            return
        }
        for i in 0..<count { let v = x[i]; y[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
    }

    /// dx (written; may alias dy) = dy · (Φ(x) + x φ(x)).
    public static func geluBackward(_ e: Engine? = nil, dy: UnsafePointer<Float>, x: UnsafePointer<Float>, count: Int,
                                    dx: UnsafeMutablePointer<Float>) {
        let invSqrt2Pi: Float = 0.3989422804014327
        par(e, count) { r in
            for i in r {
                let v = x[i]
                let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
                let pdf = invSqrt2Pi * expf(-0.5 * v * v)
                dx[i] = dy[i] * (cdf + v * pdf)
            }
        }
    }

    // MARK: Multi-head self-attention core (without the qkv and proj linears).
    // qkv rows are [q | k | v], each D wide, head h at columns h*dh. out is [tokens, D].

    /// P = softmax(q kᵀ · dh^-½) for one (sample, head), into `p` [t, t].
    static func attentionProbs(_ e: Engine, qkv: UnsafePointer<Float>, t: Int, d: Int, h: Int, dh: Int,
                               p: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(dh).squareRoot()
        e.sgemm(transA: false, transB: true, m: t, n: t, k: dh, alpha: scale, a: qkv + h * dh, lda: 3 * d,
                b: qkv + d + h * dh, ldb: 3 * d, beta: 0, c: p, ldc: t)
        // The engine's row softmax: vectorised exp, rows split across its threads.
        e.softmax(p, rows: t, cols: t)
    }

    /// out[b] = concat_h softmax(q_h k_hᵀ / √dh) v_h.  `scratch` holds t*t floats.
    public static func attentionForward(_ e: Engine, out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                                        batch: Int, tokens t: Int, heads: Int, headDim dh: Int,
                                        scratch: UnsafeMutablePointer<Float>) {
        let d = heads * dh
        for b in 0..<batch {
            let q = qkv + b * t * 3 * d, o = out + b * t * d
            for h in 0..<heads {
                attentionProbs(e, qkv: q, t: t, d: d, h: h, dh: dh, p: scratch)
                e.sgemm(transA: false, transB: false, m: t, n: dh, k: t, alpha: 1, a: scratch, lda: t,
                        b: q + 2 * d + h * dh, ldb: 3 * d, beta: 0, c: o + h * dh, ldc: d)
            }
        }
    }

    /// dqkv (written) from dout. P is recomputed from qkv rather than stored (it is the largest
    /// activation: heads x tokens² per sample per block). `scratch` holds 2*t*t floats, or 3*t*t
    /// with `transposeInScratch` (Pᵀ and dSᵀ are then made by a tiled transpose, not by the sgemm).
    public static func attentionBackward(_ e: Engine, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                         batch: Int, tokens t: Int, heads: Int, headDim dh: Int,
                                         dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                         transposeInScratch: Bool = false) {
        let tr = scratch + 2 * t * t
        /// C = op(A)ᵀ-free form of alpha · Aᵀ · B for a square t x t A.
        func atb(_ a: UnsafePointer<Float>, alpha: Float, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
            if transposeInScratch {
                transpose(e, a, rows: t, cols: t, ld: t, tr)
                e.sgemm(transA: false, transB: false, m: t, n: dh, k: t, alpha: alpha, a: tr, lda: t, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
            } else {
                e.sgemm(transA: true, transB: false, m: t, n: dh, k: t, alpha: alpha, a: a, lda: t, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
            }
        }
        let d = heads * dh, scale = 1 / Float(dh).squareRoot()
        let p = scratch, dp = scratch + t * t
        for b in 0..<batch {
            let q = qkv + b * t * 3 * d, dq = dqkv + b * t * 3 * d, go = dout + b * t * d
            for h in 0..<heads {
                attentionProbs(e, qkv: q, t: t, d: d, h: h, dh: dh, p: p)
                // dP = dO · Vᵀ
                e.sgemm(transA: false, transB: true, m: t, n: t, k: dh, alpha: 1, a: go + h * dh, lda: d,
                        b: q + 2 * d + h * dh, ldb: 3 * d, beta: 0, c: dp, ldc: t)
                // dV = Pᵀ · dO
                atb(p, alpha: 1, b: go + h * dh, ldb: d, c: dq + 2 * d + h * dh, ldc: 3 * d)
                // dS = P ∘ (dP - rowsum(P ∘ dP))   (softmax backward, in place in dp)
                par(e, t) { rows in
                    for i in rows {
                        let pr = p + i * t, dr = dp + i * t
                        var s: Float = 0
                        for j in 0..<t { s += pr[j] * dr[j] }
                        for j in 0..<t { dr[j] = pr[j] * (dr[j] - s) }
                    }
                }
                // dQ = dS · K · scale;  dK = dSᵀ · Q · scale
                e.sgemm(transA: false, transB: false, m: t, n: dh, k: t, alpha: scale, a: dp, lda: t,
                        b: q + d + h * dh, ldb: 3 * d, beta: 0, c: dq + h * dh, ldc: 3 * d)
                atb(dp, alpha: scale, b: q + h * dh, ldb: 3 * d, c: dq + d + h * dh, ldc: 3 * d)
            }
        }
    }

    // MARK: Patch projection as im2col + linear.
    // Input x is (B, T, F) with F mel bins; the model sees it as an image with F rows (frequency)
    // and T columns (time). Patch n = fi * tDim + ti; column index kf * tshape + kt matches the
    // conv weight layout (D, 1, fshape, tshape).

    public static func im2col(_ e: Engine? = nil, cols: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, batch: Int, frames: Int,
                              mel: Int, fshape: Int, tshape: Int, fstride: Int, tstride: Int, fDim: Int, tDim: Int) {
        let k = fshape * tshape, patches = fDim * tDim
        par(e, batch * fDim) { rows in for bf in rows {
            let b = bf / fDim, fi = bf % fDim
            let xb = x + b * frames * mel
            do {
                for ti in 0..<tDim {
                    let c = cols + (b * patches + fi * tDim + ti) * k
                    for kf in 0..<fshape {
                        for kt in 0..<tshape {
                            c[kf * tshape + kt] = xb[(ti * tstride + kt) * mel + fi * fstride + kf]
                        }
                    }
                }
            }
        } }
    }

    // MARK: Tokens: [cls, dist, patches] + pos_embed.

    public static func embedForward(x0: UnsafeMutablePointer<Float>, patches: UnsafePointer<Float>,
                                    cls: UnsafePointer<Float>, dist: UnsafePointer<Float>, pos: UnsafePointer<Float>,
                                    batch: Int, numPatches: Int, dim: Int) {
        let t = numPatches + 2
        for b in 0..<batch {
            let xb = x0 + b * t * dim
            for i in 0..<dim { xb[i] = cls[i] + pos[i]; xb[dim + i] = dist[i] + pos[dim + i] }
            let pb = patches + b * numPatches * dim
            for n in 0..<(numPatches * dim) { xb[2 * dim + n] = pb[n] + pos[2 * dim + n] }
        }
    }

    /// dpatches (written), dcls/ddist/dpos added.
    public static func embedBackward(dx0: UnsafePointer<Float>, batch: Int, numPatches: Int, dim: Int,
                                     dpatches: UnsafeMutablePointer<Float>, dcls: UnsafeMutablePointer<Float>,
                                     ddist: UnsafeMutablePointer<Float>, dpos: UnsafeMutablePointer<Float>) {
        let t = numPatches + 2
        for b in 0..<batch {
            let g = dx0 + b * t * dim
            for i in 0..<dim { dcls[i] += g[i]; ddist[i] += g[dim + i] }
            for n in 0..<(t * dim) { dpos[n] += g[n] }
            let pb = dpatches + b * numPatches * dim
            for n in 0..<(numPatches * dim) { pb[n] = g[2 * dim + n] }
        }
    }

    // MARK: Pooling: avgtok = mean of the patch tokens; cls = (token0 + token1) / 2.

    public static func poolForward(pooled: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, avgtok: Bool,
                                   batch: Int, tokens t: Int, dim: Int) {
        for b in 0..<batch {
            let xb = x + b * t * dim, pb = pooled + b * dim
            if avgtok {
                for i in 0..<dim { pb[i] = 0 }
                for n in 2..<t { let r = xb + n * dim; for i in 0..<dim { pb[i] += r[i] } }
                let inv = 1 / Float(t - 2)
                for i in 0..<dim { pb[i] *= inv }
            } else {
                for i in 0..<dim { pb[i] = (xb[i] + xb[dim + i]) / 2 }
            }
        }
    }

    /// dx (written, every token).
    public static func poolBackward(dpooled: UnsafePointer<Float>, avgtok: Bool, batch: Int, tokens t: Int, dim: Int,
                                    dx: UnsafeMutablePointer<Float>) {
        for b in 0..<batch {
            let g = dpooled + b * dim, dxb = dx + b * t * dim
            if avgtok {
                let inv = 1 / Float(t - 2)
                for i in 0..<(2 * dim) { dxb[i] = 0 }
                for n in 2..<t { let r = dxb + n * dim; for i in 0..<dim { r[i] = g[i] * inv } }
            } else {
                for i in 0..<dim { dxb[i] = g[i] / 2; dxb[dim + i] = g[i] / 2 }
                for i in (2 * dim)..<(t * dim) { dxb[i] = 0 }
            }
        }
    }

    // MARK: Losses.

    /// Cross-entropy with integer targets, mean over the batch. Returns the loss; dlogits written.
    public static func crossEntropy(logits: UnsafePointer<Float>, targets: [Int], batch: Int, classes: Int,
                                    dlogits: UnsafeMutablePointer<Float>?) -> Float {
        var loss = 0.0
        for b in 0..<batch {
            let z = logits + b * classes
            var mx = -Float.infinity
            for c in 0..<classes { mx = max(mx, z[c]) }
            var sum = 0.0
            for c in 0..<classes { sum += Double(expf(z[c] - mx)) }
            let lse = Double(mx) + log(sum)
            loss += lse - Double(z[targets[b]])
            if let dl = dlogits {
                for c in 0..<classes {
                    let p = exp(Double(z[c]) - lse)
                    dl[b * classes + c] = Float((p - (c == targets[b] ? 1 : 0)) / Double(batch))
                }
            }
        }
        return Float(loss / Double(batch))
    }

    /// BCE with logits, mean over every element (PyTorch's stable form). dlogits written.
    public static func bceWithLogits(logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int,
                                     dlogits: UnsafeMutablePointer<Float>?) -> Float {
        var loss = 0.0
        for i in 0..<count {
            let z = Double(logits[i]), y = Double(targets[i])
            loss += max(z, 0) - z * y + log1p(exp(-abs(z)))
            if let dl = dlogits { dl[i] = Float((1 / (1 + exp(-z)) - y) / Double(count)) }
        }
        return Float(loss / Double(count))
    }
}
