#if canImport(Glibc)
import Glibc
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif
import CKernels

/// Plain reference twins of every kernel: the definition the fast paths are tested against.
/// Straight loops, float accumulation in the natural order, no SIMD, no threads.
public enum Reference {
    /// y[m, n] = x[m, k] · Wᵀ + b, W packed (see `Packing`).
    public static func linear(_ x: UnsafePointer<Float>, m: Int, _ w: PackedLinear, _ y: UnsafeMutablePointer<Float>) {
        let n = w.n, k = w.k
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = 0
                switch w.type {
                case .f32:
                    let p = w.data.assumingMemoryBound(to: Float.self)
                    for kk in 0..<k { acc += x[i * k + kk] * p[Packing.index(row: j, col: kk, k: k)] }
                case .f16:
                    let p = w.data.assumingMemoryBound(to: UInt16.self)
                    for kk in 0..<k { acc += x[i * k + kk] * Float(Float16(bitPattern: p[Packing.index(row: j, col: kk, k: k)])) }
                case .i8:
                    let p = w.data.assumingMemoryBound(to: Int8.self)
                    for kk in 0..<k { acc += x[i * k + kk] * Float(p[Packing.indexI8(row: j, col: kk, k: k)]) }
                    acc *= w.scales![j]
                }
                y[i * n + j] = acc + (w.bias?[j] ?? 0)
            }
        }
    }

    /// What `Engine.linear` computes for int8 weights: each row of x quantised symmetrically to
    /// -qmax...qmax (scale = max|x_i| / qmax, round half to even; qmax = 127 for int8, 2047 for the
    /// engine's default 12 bits), exact integer dot products with the int8 weights, then
    /// y = dot · xscale[i] · wscale[j] + b.
    public static func linearI8Dynamic(_ x: UnsafePointer<Float>, m: Int, _ w: PackedLinear, qmax: Int = 127,
                                       _ y: UnsafeMutablePointer<Float>) {
        let qm = Float(qmax)
        let n = w.n, k = w.k
        let p = w.data.assumingMemoryBound(to: Int8.self)
        var q = [Int32](repeating: 0, count: k)
        for i in 0..<m {
            var mx: Float = 0
            for kk in 0..<k { mx = max(mx, abs(x[i * k + kk])) }
            let xs: Float = mx > 0 ? mx / qm : 1, inv: Float = mx > 0 ? qm / mx : 0
            for kk in 0..<k { q[kk] = Int32((x[i * k + kk] * inv).rounded(.toNearestOrEven)) }
            for j in 0..<n {
                var acc: Int32 = 0
                for kk in 0..<k { acc += q[kk] * Int32(p[Packing.indexI8(row: j, col: kk, k: k)]) }
                y[i * n + j] = Float(acc) * xs * w.scales![j] + (w.bias?[j] ?? 0)
            }
        }
    }

    /// What `Engine.linear` computes for int8 weights with 8-bit activations (CKernels' ssast_u8_rows):
    /// each row of x quantised to bytes with a zero point over its range including 0
    /// (scale = (hi - lo) / 255, zero = round(-lo / scale), u = clamp(round(x / scale) + zero, 0, 255),
    /// round half to even), exact integer sums Σ (u - zero)·q, then y = sum · scale · wscale[j] + b.
    public static func linearU8Dynamic(_ x: UnsafePointer<Float>, m: Int, _ w: PackedLinear, _ y: UnsafeMutablePointer<Float>) {
        let n = w.n, k = w.k
        let p = w.data.assumingMemoryBound(to: Int8.self)
        var q = [Int32](repeating: 0, count: k)
        for i in 0..<m {
            var lo: Float = 0, hi: Float = 0
            for kk in 0..<k { lo = min(lo, x[i * k + kk]); hi = max(hi, x[i * k + kk]) }
            let range = hi - lo
            let xs: Float = range > 0 ? range / 255 : 1, inv: Float = range > 0 ? 255 / range : 0
            let zero = range > 0 ? Int32((-lo * inv).rounded(.toNearestOrEven)) : 0
            for kk in 0..<k {
                let u = Int32((x[i * k + kk] * inv).rounded(.toNearestOrEven)) + zero
                q[kk] = min(255, max(0, u)) - zero
            }
            for j in 0..<n {
                var acc: Int32 = 0
                for kk in 0..<k { acc += q[kk] * Int32(p[Packing.indexI8(row: j, col: kk, k: k)]) }
                y[i * n + j] = Float(acc) * xs * w.scales![j] + (w.bias?[j] ?? 0)
            }
        }
    }

    /// Row-wise softmax in place.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r * cols
            var mx = -Float.infinity
            for j in 0..<cols { mx = max(mx, row[j]) }
            var sum: Float = 0
            for j in 0..<cols { row[j] = expf(row[j] - mx); sum += row[j] }
            for j in 0..<cols { row[j] /= sum }
        }
    }

    /// LayerNorm over the last dimension (biased variance, as PyTorch).
    public static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, gamma: UnsafePointer<Float>,
                                 beta: UnsafePointer<Float>, eps: Float, _ y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = x + r * dim
            var mean: Float = 0
            for i in 0..<dim { mean += row[i] }
            mean /= Float(dim)
            var v: Float = 0
            for i in 0..<dim { let d = row[i] - mean; v += d * d }
            v /= Float(dim)
            let inv = 1 / (v + eps).squareRoot()
            for i in 0..<dim { y[r * dim + i] = (row[i] - mean) * inv * gamma[i] + beta[i] }
        }
    }

    /// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)).
    public static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = 0.5 * x[i] * (1 + erff(x[i] * 0.70710678118654752)) }
    }

    /// Multi-head self-attention core. qkv: [t, 3*d] rows (q | k | v, head h at columns h*dh..),
    /// out: [t, d] = softmax(q kᵀ · dh^-0.5) v per head, heads concatenated.
    public static func attention(qkv: UnsafePointer<Float>, tokens t: Int, heads: Int, headDim dh: Int,
                                 _ out: UnsafeMutablePointer<Float>) {
        let d = heads * dh, scale = 1 / Float(dh).squareRoot()
        var s = [Float](repeating: 0, count: t)
        for h in 0..<heads {
            for i in 0..<t {
                let q = qkv + i * 3 * d + h * dh
                var mx = -Float.infinity
                for j in 0..<t {
                    let kv = qkv + j * 3 * d + d + h * dh
                    var acc: Float = 0
                    for e in 0..<dh { acc += q[e] * kv[e] }
                    s[j] = acc * scale
                    mx = max(mx, s[j])
                }
                var sum: Float = 0
                for j in 0..<t { s[j] = expf(s[j] - mx); sum += s[j] }
                let o = out + i * d + h * dh
                for e in 0..<dh { o[e] = 0 }
                for j in 0..<t {
                    let v = qkv + j * 3 * d + 2 * d + h * dh
                    let p = s[j] / sum
                    for e in 0..<dh { o[e] += p * v[e] }
                }
            }
        }
    }

    /// What `Engine.attention(quantized: true)` computes with int16 products (the int8 models' attention at
    /// 12-bit activations; the quantisation is specified in CKernels' ckernels.h): per head, q and k rows
    /// quantised per token to L levels (2047 for dh <= 256), v per head dimension over blocks of 128
    /// keys to 2047 levels, scores in float from exact integer dot products, P = round(e^(s - max)·8191),
    /// out = Σ_blocks (Σ P·vq)·sv / Σ P. Rounding is half to even throughout.
    public static func attentionI16(qkv: UnsafePointer<Float>, tokens t: Int, heads: Int, headDim dh: Int,
                                    _ out: UnsafeMutablePointer<Float>) {
        attentionQuantized(qkv: qkv, tokens: t, heads: heads, headDim: dh, qkLevels: ssast_attn_i16_qk_levels(dh),
                           vLevels: 2047, pLevels: 8191, out)
    }

    /// What `Engine.attention(quantized: true)` computes with 8-bit products (u8 x s8, at 8-bit activations;
    /// CKernels' ckernels.h, ssast_attn_u8_*): as `attentionI16` with q, k and v at ±127 levels and P at
    /// 0...255. The kernels store q as q + 128 and subtract 128·Σk, which gives the same integers as the
    /// plain Σ q·k here. Their e^x is a polynomial (attention_u8_body.h), this twin's expf: a P level may differ by one.
    public static func attentionU8(qkv: UnsafePointer<Float>, tokens t: Int, heads: Int, headDim dh: Int,
                                   _ out: UnsafeMutablePointer<Float>) {
        attentionQuantized(qkv: qkv, tokens: t, heads: heads, headDim: dh, qkLevels: 127, vLevels: 127, pLevels: 255, out)
    }

    private static func attentionQuantized(qkv: UnsafePointer<Float>, tokens t: Int, heads: Int, headDim dh: Int,
                                           qkLevels lqk: Float, vLevels lv: Float, pLevels lp: Float,
                                           _ out: UnsafeMutablePointer<Float>) {
        let d = heads * dh, ld = 3 * d, scale = 1 / Float(dh).squareRoot(), block = 128
        func quantRow(_ x: UnsafePointer<Float>, _ levels: Float) -> ([Int32], Float) {
            var m: Float = 0
            for e in 0..<dh { m = max(m, abs(x[e])) }
            let inv: Float = m > 0 ? levels / m : 0
            return ((0..<dh).map { Int32((x[$0] * inv).rounded(.toNearestOrEven)) }, m > 0 ? m / levels : 0)
        }
        for h in 0..<heads {
            var qq = [[Int32]](), sq = [Float](), kq = [[Int32]](), sk = [Float]()
            for j in 0..<t {
                let (a, s) = quantRow(qkv + j * ld + h * dh, lqk); qq.append(a); sq.append(s * scale)
                let (b, r) = quantRow(qkv + j * ld + d + h * dh, lqk); kq.append(b); sk.append(r)
            }
            var vq = [[Int32]](repeating: [Int32](repeating: 0, count: dh), count: t)
            var sv = [[Float]]()
            for b0 in stride(from: 0, to: t, by: block) {
                var m = [Float](repeating: 0, count: dh)
                for j in b0..<min(b0 + block, t) { for e in 0..<dh { m[e] = max(m[e], abs(qkv[j * ld + 2 * d + h * dh + e])) } }
                let inv = m.map { $0 > 0 ? lv / $0 : 0 }
                for j in b0..<min(b0 + block, t) {
                    for e in 0..<dh { vq[j][e] = Int32((qkv[j * ld + 2 * d + h * dh + e] * inv[e]).rounded(.toNearestOrEven)) }
                }
                sv.append(m.map { $0 / lv })
            }
            var s = [Float](repeating: 0, count: t), p = [Int32](repeating: 0, count: t)
            for i in 0..<t {
                var mx = -Float.infinity
                for j in 0..<t {
                    var acc: Int32 = 0
                    for e in 0..<dh { acc += qq[i][e] * kq[j][e] }
                    s[j] = Float(acc) * sq[i] * sk[j]
                    mx = max(mx, s[j])
                }
                var l: Int32 = 0
                for j in 0..<t { p[j] = Int32((expf(s[j] - mx) * lp).rounded(.toNearestOrEven)); l += p[j] }
                for e in 0..<dh {
                    var o: Float = 0
                    for (bi, b0) in stride(from: 0, to: t, by: block).enumerated() {
                        var acc: Int32 = 0
                        for j in b0..<min(b0 + block, t) { acc += p[j] * vq[j][e] }
                        o += Float(acc) * sv[bi][e]
                    }
                    out[i * d + h * dh + e] = o / Float(l)
                }
            }
        }
    }

    /// C[m, n] = alpha · op(A) · op(B) + beta · C, row-major, op = transpose when the flag is set.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var acc: Float = 0
                for kk in 0..<k {
                    let av = transA ? a[kk * lda + i] : a[i * lda + kk]
                    let bv = transB ? b[j * ldb + kk] : b[kk * ldb + j]
                    acc += av * bv
                }
                c[i * ldc + j] = alpha * acc + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }
}
