// The kernel bodies, written once and generic over the SIMD vector of one instruction set.
//
// Everything here is `@inlinable @inline(__always)`: the per-ISA modules (KernelsAVX512,
// KernelsAVX2, KernelsGeneric) instantiate these with their own `KernelISA` type, so each copy is
// specialised and compiled under that module's `-target-cpu`. Because the ISA types live in those
// modules, the specialised symbols are distinct per ISA and the linker cannot merge an AVX-512 copy
// into the AVX2 path. For the same reason the bodies avoid stdlib SIMD helpers that are not inlined
// (`.max()`, `.sum()`, `pointwiseMax`): their specialisations are weak symbols shared by name.

/// One instruction set: its float vector and the few primitives that need concrete types.
public protocol KernelISA {
    associatedtype V: SIMD where V.Scalar == Float
    /// a * b + c (fused where the ISA has FMA).
    static func madd(_ a: V, _ b: V, _ c: V) -> V
    /// Loads V.scalarCount IEEE halves and widens them.
    static func loadF16(_ p: UnsafeRawPointer) -> V
    /// Given t = n + 1.5·2^23 for an integral n in [-126, 127], returns 2^n (exponent bit trick).
    static func pow2FromMagic(_ t: V) -> V
    // Comparisons must be written against the concrete vector type: in generic code `.<` resolves
    // to the SIMD protocol's lane-by-lane loop, which does not vectorise.
    static func max(_ a: V, _ b: V) -> V
    static func min(_ a: V, _ b: V) -> V
    /// |a|
    static func abs(_ a: V) -> V
    /// m with its sign flipped where s has its sign bit set (s < 0, or -0).
    static func flipSign(_ m: V, where s: V) -> V
    /// Whether the linear kernels run 12-row tiles (24 accumulators: for 32 vector registers) where a
    /// row block has 12 rows left, instead of only the 6-row tile sized for 16 registers.
    static var wideTiles: Bool { get }
}

extension KernelISA {
    @inlinable @inline(__always) public static var wideTiles: Bool { false }
}

/// Output rows per register tile. With two vectors per row that is 12 accumulators, which fits
/// the 16 registers of AVX2 and SSE with room for the weight vectors and a broadcast.
public let tileRows = 6
/// Bytes of packed weights one register tile walks while its activation rows stay in L1 (see
/// `Core.gemmPanels`): below the L2 of every CPU we target (256 KiB and up), with room for the activations.
public let gemmWeightGroupBytes = 192 * 1024
/// Output channels per packed panel (must equal Packing.panel).
public let panelWidth = 32

/// 6 x (2 vectors) accumulators.
@frozen public struct Tile<V: SIMD> where V.Scalar == Float {
    public var a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5: V
    @inlinable @inline(__always) public init() {
        a0 = V(); b0 = V(); a1 = V(); b1 = V(); a2 = V(); b2 = V()
        a3 = V(); b3 = V(); a4 = V(); b4 = V(); a5 = V(); b5 = V()
    }
    @inlinable @inline(__always) public func row(_ r: Int) -> (V, V) {
        switch r {
        case 0: return (a0, b0)
        case 1: return (a1, b1)
        case 2: return (a2, b2)
        case 3: return (a3, b3)
        case 4: return (a4, b4)
        default: return (a5, b5)
        }
    }
}

@inlinable @inline(__always) public func vload<V: SIMD>(_ p: UnsafePointer<Float>) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}
@inlinable @inline(__always) public func vstore<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
}
@inlinable @inline(__always) public func hsum<V: SIMD>(_ v: V) -> Float where V.Scalar == Float {
    var s: Float = 0
    for i in 0..<V.scalarCount { s += v[i] }
    return s
}
@inlinable @inline(__always) public func hmax<V: SIMD>(_ v: V) -> Float where V.Scalar == Float {
    var s = v[0]
    for i in 1..<V.scalarCount { let e = v[i]; s = e > s ? e : s }
    return s
}

/// Keeps a value alive so a timing loop is not removed as dead code (opaque: not inlinable).
@inline(never) public func blackHole(_ x: Float) { blackHoleSink = x }
public var blackHoleSink: Float = 0

/// The kernel bodies, generic over the ISA. They are `@_alwaysEmitIntoClient`: only the per-ISA modules'
/// specialisations are ever called, and an unspecialised copy emitted here is kept by the linker (public
/// symbols are retained) — 0.7 MB of the stripped binary once the tile store carried the GELU path.
public enum Core {
    // MARK: - register tile: 6 rows x 2 vectors, over kc steps

    /// acc[r][c] = Σ_kk x[r, kk] · w[kk, c] for 6 rows (rows beyond `rows` repeat the last row and
    /// are discarded by the caller). w: element kk of column c at w + kk*wStride + c.
    @_alwaysEmitIntoClient @inline(__always)
    public static func tile<I: KernelISA>(_: I.Type, x: UnsafePointer<Float>, ldx: Int, rows: Int,
                                          w: UnsafePointer<Float>, wStride: Int, kc: Int) -> Tile<I.V> {
        let x0 = x
        let x1 = x + (rows > 1 ? ldx : 0)
        let x2 = x + (rows > 2 ? 2 &* ldx : 0)
        let x3 = x + (rows > 3 ? 3 &* ldx : 0)
        let x4 = x + (rows > 4 ? 4 &* ldx : 0)
        let x5 = x + (rows > 5 ? 5 &* ldx : 0)
        let nv = I.V.scalarCount
        var t = Tile<I.V>()
        var wp = w
        var kk = 0
        // Pointer bumps and wrapping index math: no overflow checks inside the loop.
        while kk < kc {
            let w0: I.V = vload(wp), w1: I.V = vload(wp + nv)
            var v = I.V(repeating: x0[kk]); t.a0 = I.madd(v, w0, t.a0); t.b0 = I.madd(v, w1, t.b0)
            v = I.V(repeating: x1[kk]); t.a1 = I.madd(v, w0, t.a1); t.b1 = I.madd(v, w1, t.b1)
            v = I.V(repeating: x2[kk]); t.a2 = I.madd(v, w0, t.a2); t.b2 = I.madd(v, w1, t.b2)
            v = I.V(repeating: x3[kk]); t.a3 = I.madd(v, w0, t.a3); t.b3 = I.madd(v, w1, t.b3)
            v = I.V(repeating: x4[kk]); t.a4 = I.madd(v, w0, t.a4); t.b4 = I.madd(v, w1, t.b4)
            v = I.V(repeating: x5[kk]); t.a5 = I.madd(v, w0, t.a5); t.b5 = I.madd(v, w1, t.b5)
            wp += wStride
            kk &+= 1
        }
        return t
    }

    /// Twelve full rows at once as two 6-row tiles sharing each weight load: 24 accumulators, 2 weight
    /// vectors and a broadcast fit AVX-512's 32 registers, and each weight vector feeds 12 multiply-adds
    /// instead of 6. One pointer per row indexed by kk, so every broadcast is a plain [row + 4·kk] load:
    /// rows reached by adding strides cost a scalar add each, and Skylake-X runs scalar adds on the
    /// ports its zmm multiply-adds need.
    @_alwaysEmitIntoClient @inline(__always)
    public static func tile12<I: KernelISA>(_: I.Type, x: UnsafePointer<Float>, ldx: Int,
                                            w: UnsafePointer<Float>, wStride: Int, kc: Int) -> (Tile<I.V>, Tile<I.V>) {
        let nv = I.V.scalarCount
        var p = Tile<I.V>(), q = Tile<I.V>()
        let x0 = x, x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx, x4 = x3 + ldx, x5 = x4 + ldx
        let x6 = x5 + ldx, x7 = x6 + ldx, x8 = x7 + ldx, x9 = x8 + ldx, x10 = x9 + ldx, x11 = x10 + ldx
        var wp = w
        var kk = 0
        while kk < kc {
            let w0: I.V = vload(wp), w1: I.V = vload(wp + nv)
            var v = I.V(repeating: x0[kk]); p.a0 = I.madd(v, w0, p.a0); p.b0 = I.madd(v, w1, p.b0)
            v = I.V(repeating: x1[kk]); p.a1 = I.madd(v, w0, p.a1); p.b1 = I.madd(v, w1, p.b1)
            v = I.V(repeating: x2[kk]); p.a2 = I.madd(v, w0, p.a2); p.b2 = I.madd(v, w1, p.b2)
            v = I.V(repeating: x3[kk]); p.a3 = I.madd(v, w0, p.a3); p.b3 = I.madd(v, w1, p.b3)
            v = I.V(repeating: x4[kk]); p.a4 = I.madd(v, w0, p.a4); p.b4 = I.madd(v, w1, p.b4)
            v = I.V(repeating: x5[kk]); p.a5 = I.madd(v, w0, p.a5); p.b5 = I.madd(v, w1, p.b5)
            v = I.V(repeating: x6[kk]); q.a0 = I.madd(v, w0, q.a0); q.b0 = I.madd(v, w1, q.b0)
            v = I.V(repeating: x7[kk]); q.a1 = I.madd(v, w0, q.a1); q.b1 = I.madd(v, w1, q.b1)
            v = I.V(repeating: x8[kk]); q.a2 = I.madd(v, w0, q.a2); q.b2 = I.madd(v, w1, q.b2)
            v = I.V(repeating: x9[kk]); q.a3 = I.madd(v, w0, q.a3); q.b3 = I.madd(v, w1, q.b3)
            v = I.V(repeating: x10[kk]); q.a4 = I.madd(v, w0, q.a4); q.b4 = I.madd(v, w1, q.b4)
            v = I.V(repeating: x11[kk]); q.a5 = I.madd(v, w0, q.a5); q.b5 = I.madd(v, w1, q.b5)
            wp += wStride
            kk &+= 1
        }
        return (p, q)
    }

    // Storing a tile: y[r, c] = alpha·acc + (bias[c]) + (accumulate ? y[r, c] : 0) for the valid rows and
    // columns. Full-width tiles (the common case) and the last narrower chunk are separate functions so the
    // full-width one stays small enough to be inlined into the kernels: one function with both paths was
    // kept out of line, and every tile went through a call with its 12 accumulators spilled (~7 % of a
    // forward pass).

    /// Full-width tile (2 vectors per row). Rows unrolled with fixed registers (a run-time row index
    /// made the compiler go through a jump table); no closures (they also kept it out of line).
    /// Transparent (inlined before optimisation): with the GELU path, @inline(__always) alone left it
    /// out of line, every tile a call with its accumulators spilled (the linears 6-11 % slower).
    @_alwaysEmitIntoClient @_transparent
    public static func storeFullTile<I: KernelISA>(_ isa: I.Type, _ t: Tile<I.V>, rows: Int, _ e: GemmEpilogue,
                                                   y: UnsafeMutablePointer<Float>, ldy: Int) {
        typealias V = I.V
        let nv = V.scalarCount
        var bv0 = V(), bv1 = V()
        if let b = e.bias { bv0 = vload(b); bv1 = vload(b + nv) }
        let av = V(repeating: e.alpha)
        let scaled = e.alpha != 1
        storeRow(isa, t.a0, t.b0, y, scaled, av, bv0, bv1, e)
        if rows > 1 { storeRow(isa, t.a1, t.b1, y + ldy, scaled, av, bv0, bv1, e) }
        if rows > 2 { storeRow(isa, t.a2, t.b2, y + 2 &* ldy, scaled, av, bv0, bv1, e) }
        if rows > 3 { storeRow(isa, t.a3, t.b3, y + 3 &* ldy, scaled, av, bv0, bv1, e) }
        if rows > 4 { storeRow(isa, t.a4, t.b4, y + 4 &* ldy, scaled, av, bv0, bv1, e) }
        if rows > 5 { storeRow(isa, t.a5, t.b5, y + 5 &* ldy, scaled, av, bv0, bv1, e) }
    }

    /// The last, narrower column chunk.
    @_alwaysEmitIntoClient
    public static func storePartialTile<I: KernelISA>(_ isa: I.Type, _ t: Tile<I.V>, rows: Int, cols: Int, _ e: GemmEpilogue,
                                                      y: UnsafeMutablePointer<Float>, ldy: Int) {
        let nv = I.V.scalarCount
        for r in 0..<rows {
            let (u0, u1) = t.row(r)
            let yr = y + r * ldy
            for c in 0..<cols {
                var v = e.alpha * (c < nv ? u0[c] : u1[c - nv])
                if let b = e.bias { v += b[c] }
                if e.accumulate { v += yr[c] }
                yr[c] = v
            }
            if e.gelu { geluRange(isa, yr, 0..<cols) }
        }
    }

    /// One full-width tile row: y[0..<2nv] = act((scaled ? alpha·(a|b) : (a|b)) + bias (+ y if accumulate)).
    @_alwaysEmitIntoClient @_transparent
    public static func storeRow<I: KernelISA>(_ isa: I.Type, _ a: I.V, _ b: I.V, _ y: UnsafeMutablePointer<Float>, _ scaled: Bool,
                                              _ av: I.V, _ bv0: I.V, _ bv1: I.V, _ e: GemmEpilogue) {
        let nv = I.V.scalarCount
        var u0 = a, u1 = b
        if scaled { u0 *= av; u1 *= av }
        u0 += bv0; u1 += bv1
        if e.accumulate { u0 += vload(y); u1 += vload(y + nv) }
        if e.gelu { u0 = gelu(isa, u0); u1 = gelu(isa, u1) }
        vstore(u0, y); vstore(u1, y + nv)
    }

    /// The blocked GEMM behind `linear` and `sgemm`:
    /// y[i, j] = act((accumulate ? y[i, j] : 0) + alpha · Σ_kk x[i, kk] · W[j, kk] + bias[j])
    /// for i in `rows`, j in the columns of `panels` below n (see GemmProblem), fp32 or fp16 weights.
    @_alwaysEmitIntoClient @inline(__always)
    public static func gemmPanels<I: KernelISA>(_ isa: I.Type, f16: Bool, _ g: GemmProblem, rows: Range<Int>, panels: Range<Int>) {
        let x = g.x, ldx = g.ldx, w = g.w, panelStride = g.panelStride, k = g.k, n = g.n, y = g.y, ldy = g.ldy
        let epilogue = g.epilogue, bias = epilogue.bias, accumulate = epilogue.accumulate
        if rows.isEmpty || panels.isEmpty { return }
        let nr = 2 * I.V.scalarCount
        let chunks = panelWidth / nr
        // k blocks bound what a tile keeps in L1: its activation rows (6 x 384 or 12 x 192 floats, 9 KiB) and
        // one weight chunk (kc x nr floats, 24 KiB; the fp16 conversion buffer).
        let kcMax = 6144 / max(nr, 16)
        if k == 0 {
            // Empty sum: only bias / accumulate.
            for i in rows {
                for p in panels {
                    let j0 = p * panelWidth
                    for j in j0..<min(j0 + panelWidth, n) {
                        var v: Float = bias?[j] ?? 0
                        if accumulate { v += y[i * ldy + j] }
                        y[i * ldy + j] = v
                    }
                    if epilogue.gelu { geluRange(isa, y + i * ldy, (p * panelWidth)..<min(p * panelWidth + panelWidth, n)) }
                }
            }
            return
        }
        // Loop order (BLIS-like): a k block of the activations' rows for one register tile (6 or 12 rows x kc
        // floats) stays in L1 while the tile walks a group of weight chunks (kc x nr each) that stays in L2;
        // the weights then come from memory once per k block, the activations from L2 once per group.
        // Walking all rows per chunk instead (rows outer in L2, chunk in L1) ran the in-model linears
        // ~5 % slower on AVX2 (docs/PERFORMANCE.md).
        // fp16 weights: the group is one chunk, widened into an L1-resident fp32 buffer and reused for every
        // row. Converting inside the tile loop costs registers (the compiler spills accumulators) and
        // repeats the conversion for every tile.
        let totalChunks = panels.count * chunks
        // (byteCount form: the typed one cannot be specialised by Embedded Swift, the aarch64 cross build.)
        withUnsafeTemporaryAllocation(byteCount: (f16 ? kcMax * nr : 1) * 4, alignment: 64) { buf in
            let wbuf = buf.baseAddress!.bindMemory(to: Float.self, capacity: f16 ? kcMax * nr : 1)
            var k0 = 0
            while k0 < k {
                let kc = min(kcMax, k - k0)
                let first = k0 == 0
                // Bias on the first k block, the activation on the last; later blocks accumulate.
                var e = epilogue
                e.accumulate = accumulate || !first
                e.gelu = e.gelu && k0 + kc == k
                let groupChunks = f16 ? 1 : max(1, gemmWeightGroupBytes / (kc * nr * 4))
                var g0 = 0
                while g0 < totalChunks {
                    let g1 = min(g0 + groupChunks, totalChunks)
                    if f16 {
                        // One chunk per group (see above).
                        let p = panels.lowerBound + g0 / chunks, c = g0 % chunks
                        let col = p * panelWidth + c * nr
                        if col >= n { g0 = g1; continue }
                        let nv = I.V.scalarCount
                        var src = w + 2 * (p * panelStride + k0 * panelWidth + c * nr)
                        for kk in 0..<kc {
                            let dst = wbuf + kk &* nr
                            vstore(I.loadF16(src), dst)
                            vstore(I.loadF16(src + 2 &* nv), dst + nv)
                            src += 2 &* panelWidth
                        }
                    }
                    var i = rows.lowerBound
                    while i < rows.upperBound {
                        let wide = I.wideTiles && i + 2 * tileRows <= rows.upperBound
                        let r = wide ? 2 * tileRows : min(tileRows, rows.upperBound - i)
                        let xi = x + i * ldx + k0
                        for gc in g0..<g1 {
                            let p = panels.lowerBound + gc / chunks, c = gc % chunks
                            let col = p * panelWidth + c * nr
                            if col >= n { continue }
                            let cols = min(nr, n - col)
                            let wp = f16 ? UnsafePointer(wbuf)
                                : w.assumingMemoryBound(to: Float.self) + (p * panelStride + k0 * panelWidth + c * nr)
                            let ws = f16 ? nr : panelWidth
                            e.bias = nil
                            if first, let b = bias { e.bias = b + col }
                            let y0 = y + i * ldy + col
                            if wide {
                                let (t0, t1) = tile12(isa, x: xi, ldx: ldx, w: wp, wStride: ws, kc: kc)
                                let y1 = y0 + tileRows * ldy
                                if cols == nr {
                                    storeFullTile(isa, t0, rows: tileRows, e, y: y0, ldy: ldy)
                                    storeFullTile(isa, t1, rows: tileRows, e, y: y1, ldy: ldy)
                                } else {
                                    storePartialTile(isa, t0, rows: tileRows, cols: cols, e, y: y0, ldy: ldy)
                                    storePartialTile(isa, t1, rows: tileRows, cols: cols, e, y: y1, ldy: ldy)
                                }
                            } else {
                                let t = tile(isa, x: xi, ldx: ldx, rows: r, w: wp, wStride: ws, kc: kc)
                                if cols == nr {
                                    storeFullTile(isa, t, rows: r, e, y: y0, ldy: ldy)
                                } else {
                                    storePartialTile(isa, t, rows: r, cols: cols, e, y: y0, ldy: ldy)
                                }
                            }
                        }
                        i += r
                    }
                    g0 = g1
                }
                k0 += kc
            }
        }
    }

    // MARK: - elementwise

    /// e^x, Cephes-style: range reduction by ln 2 in two parts, degree-6 polynomial, 2^n by
    /// exponent bits. Inputs are clamped to [-87.3, 88.7] (so -inf gives ~1e-38, not NaN).
    /// Transparent, not just always-inline: the AVX-512 specialisation was left out of line, and a
    /// call passes SIMD16<Float> as four xmm pieces (GELU ran slower than with AVX2).
    @_alwaysEmitIntoClient @_transparent
    public static func exp<I: KernelISA>(_: I.Type, _ x0: I.V) -> I.V {
        typealias V = I.V
        let x = I.min(I.max(x0, V(repeating: -87.3)), V(repeating: 88.7))
        let magic = V(repeating: 12582912.0)
        let t = I.madd(x, V(repeating: 1.44269504088896341), magic)
        let n = t - magic
        var r = I.madd(n, V(repeating: -0.693359375), x)
        r = I.madd(n, V(repeating: 2.12194440e-4), r)
        var p = V(repeating: 1.9875691500e-4)
        p = I.madd(p, r, V(repeating: 1.3981999507e-3))
        p = I.madd(p, r, V(repeating: 8.3334519073e-3))
        p = I.madd(p, r, V(repeating: 4.1665795894e-2))
        p = I.madd(p, r, V(repeating: 1.6666665459e-1))
        p = I.madd(p, r, V(repeating: 5.0000001201e-1))
        let r2 = r * r
        let y = I.madd(p, r2, r) + V(repeating: 1)
        return y * I.pow2FromMagic(t)
    }

    /// 2^x for the softmax inside `attention` (scores pre-scaled by log2 e, row max subtracted, so x ≤ 0):
    /// x = n + f with n = round(x), |f| ≤ 1/2; 2^f by a degree-6 polynomial fitted to relative error
    /// on Chebyshev nodes (≤ 1e-7 relative in float32 Horner evaluation); 2^n by exponent bits. Below
    /// -126 it returns 2^-126 (≤ 1.2e-38 of the row max: nothing in the row sum). About 12 operations
    /// to `exp`'s 17, with a shorter dependent chain.
    @_alwaysEmitIntoClient @inline(__always)
    public static func exp2Softmax<I: KernelISA>(_: I.Type, _ x0: I.V) -> I.V {
        typealias V = I.V
        let x = I.max(x0, V(repeating: -126))
        let magic = V(repeating: 12582912.0)   // 1.5·2^23: adding it rounds to an integer
        let t = x + magic
        let f = x - (t - magic)
        var p = V(repeating: 1.534581097e-4)
        p = I.madd(p, f, V(repeating: 1.339993090e-3))
        p = I.madd(p, f, V(repeating: 9.618489072e-3))
        p = I.madd(p, f, V(repeating: 5.550328642e-2))
        p = I.madd(p, f, V(repeating: 2.402264625e-1))
        p = I.madd(p, f, V(repeating: 6.931471825e-1))
        p = I.madd(p, f, V(repeating: 1))
        return p * I.pow2FromMagic(t)
    }

    /// Exact-erf GELU 0.5·x·(1 + erf(x/√2)); erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7).
    /// Transparent like `exp`: it is inlined into the GEMM's store (fc1), where a call would spill the tile.
    @_alwaysEmitIntoClient @_transparent
    public static func gelu<I: KernelISA>(_ isa: I.Type, _ x: I.V) -> I.V {
        typealias V = I.V
        let z = x * V(repeating: 0.70710678118654752)
        let az = I.abs(z)
        let t = V(repeating: 1) / I.madd(az, V(repeating: 0.3275911), V(repeating: 1))
        // q = -(A&S polynomial) · t, so that 1 - poly·e is one multiply-add.
        var q = V(repeating: -1.061405429)
        q = I.madd(q, t, V(repeating: 1.453152027))
        q = I.madd(q, t, V(repeating: -1.421413741))
        q = I.madd(q, t, V(repeating: 0.284496736))
        q = I.madd(q, t, V(repeating: -0.254829592))
        q *= t
        let e = exp(isa, (-az) * az)
        let erf = I.flipSign(I.madd(q, e, V(repeating: 1)), where: z)
        let hx = V(repeating: 0.5) * x
        return I.madd(hx, erf, hx)
    }

    @_alwaysEmitIntoClient @inline(__always)
    public static func geluRange<I: KernelISA>(_ isa: I.Type, _ x: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        let nv = I.V.scalarCount
        var i = range.lowerBound
        while i + nv <= range.upperBound {
            vstore(gelu(isa, vload(x + i)), x + i)
            i += nv
        }
        if i < range.upperBound {
            var tmp = I.V()
            for j in i..<range.upperBound { tmp[j - i] = x[j] }
            tmp = gelu(isa, tmp)
            for j in i..<range.upperBound { x[j] = tmp[j - i] }
        }
    }

    @_alwaysEmitIntoClient @inline(__always)
    public static func layerNormRows<I: KernelISA>(_: I.Type, _ p: LayerNormProblem, rows: Range<Int>) {
        let x = p.x, dim = p.dim, gamma = p.gamma, beta = p.beta, eps = p.eps, y = p.y
        typealias V = I.V
        let nv = V.scalarCount
        let full = dim - dim % nv
        for r in rows {
            let xr = x + r * dim, yr = y + r * dim
            var sv = V()
            var i = 0
            while i < full { sv += vload(xr + i); i += nv }
            var s = hsum(sv)
            for j in full..<dim { s += xr[j] }
            let mean = s / Float(dim)
            let mv = V(repeating: mean)
            var qv = V()
            i = 0
            while i < full { let d = vload(xr + i) - mv; qv = I.madd(d, d, qv); i += nv }
            var q = hsum(qv)
            for j in full..<dim { let d = xr[j] - mean; q += d * d }
            let inv = 1 / (q / Float(dim) + eps).squareRoot()
            let iv = V(repeating: inv)
            i = 0
            while i < full {
                let d = (vload(xr + i) - mv) * iv
                vstore(I.madd(d, vload(gamma + i), vload(beta + i)), yr + i)
                i += nv
            }
            for j in full..<dim { yr[j] = (xr[j] - mean) * inv * gamma[j] + beta[j] }
        }
    }

    /// Row-wise softmax in place over `cols` columns.
    @_alwaysEmitIntoClient @inline(__always)
    public static func softmaxRows<I: KernelISA>(_ isa: I.Type, x: UnsafeMutablePointer<Float>, rows: Range<Int>, cols: Int) {
        typealias V = I.V
        let nv = V.scalarCount
        for r in rows {
            let xr = x + r * cols
            softmaxRow(isa, xr, cols, scale: 1)
        }
        _ = nv
    }

    /// p[j] = exp(scale·(x[j] - max)) / Σ, in place.
    @_alwaysEmitIntoClient @inline(__always)
    public static func softmaxRow<I: KernelISA>(_ isa: I.Type, _ xr: UnsafeMutablePointer<Float>, _ cols: Int, scale: Float) {
        typealias V = I.V
        let nv = V.scalarCount
        let full = cols - cols % nv
        var mv = V(repeating: -Float.infinity)
        var i = 0
        while i < full { mv = I.max(mv, vload(xr + i)); i += nv }
        var m = hmax(mv)
        for j in full..<cols { m = xr[j] > m ? xr[j] : m }
        let sv = V(repeating: scale), msv = V(repeating: -m * scale)
        var acc = V()
        i = 0
        while i < full {
            let e = exp(isa, I.madd(vload(xr + i), sv, msv))
            vstore(e, xr + i); acc += e
            i += nv
        }
        if full < cols {
            var tmp = V(repeating: -Float.infinity)
            for j in full..<cols { tmp[j - full] = xr[j] }
            let e = exp(isa, I.madd(tmp, sv, msv))
            for j in full..<cols { xr[j] = e[j - full]; acc[j - full] += e[j - full] }
        }
        let inv = V(repeating: 1 / hsum(acc))
        i = 0
        while i < full { vstore(vload(xr + i) * inv, xr + i); i += nv }
        for j in full..<cols { xr[j] *= inv[0] }
    }

    // MARK: - attention

    /// Keys per packing task (a multiple of every ISA's key panel).
    public static let attentionKeyChunk = 128

    /// Geometry shared by the packing and compute passes of `attention` for key panels of `nr` keys.
    @inlinable @inline(__always)
    public static func attentionLayout(tokens t: Int, headDim dh: Int, nr: Int) -> (tPad: Int, dhPad: Int, kFloats: Int, headFloats: Int) {
        let tPad = (t + nr - 1) / nr * nr
        let dhPad = (dh + nr - 1) / nr * nr
        let kFloats = tPad * dh
        return (tPad, dhPad, kFloats, kFloats + dhPad * t)
    }

    /// Packs K and V of every head so the compute pass streams contiguous panels: per head, K
    /// transposed into panels of nr keys ([tPad / nr][dh][nr], zero keys past t) followed by V in
    /// column chunks of nr head dimensions ([dhPad / nr][t][nr], zero dimensions past dh).
    /// task = head * keyChunks + chunk of `attentionKeyChunk` keys.
    @_alwaysEmitIntoClient @inline(__always)
    public static func attentionPack<I: KernelISA>(_: I.Type, _ p: AttentionProblem, tasks: Range<Int>,
                                                   packed: UnsafeMutablePointer<Float>) {
        let qkv = p.qkv, t = p.tokens, heads = p.heads, dh = p.headDim
        let nr = 2 * I.V.scalarCount
        let d = heads * dh, ld = 3 * d
        let (tPad, dhPad, kFloats, headFloats) = attentionLayout(tokens: t, headDim: dh, nr: nr)
        let chunks = attentionKeyChunks(tokens: t)
        for task in tasks {
            let h = task / chunks, ci = task % chunks, c0 = ci * attentionKeyChunk
            let kt = packed + h * headFloats, vp = kt + kFloats
            // The last chunk also zero-fills the panel padding past t.
            for key in c0..<(ci == chunks - 1 ? tPad : c0 + attentionKeyChunk) {
                let base = kt + (key / nr) * nr * dh + key % nr
                if key < t {
                    let src = qkv + key * ld + d + h * dh
                    for e in 0..<dh { base[e * nr] = src[e] }
                    let vs = qkv + key * ld + 2 * d + h * dh
                    var c = 0
                    while c < dhPad {
                        let dst = vp + c &* t + key &* nr
                        if c + nr <= dh {
                            // Whole vectors: the element loop (with its overflow checks) was most of the packing time.
                            let nv = I.V.scalarCount
                            let a: I.V = vload(vs + c), b: I.V = vload(vs + c + nv)
                            vstore(a, dst); vstore(b, dst + nv)
                        } else {
                            let valid = dh - c
                            for e in 0..<valid { dst[e] = vs[c + e] }
                            for e in valid..<nr { dst[e] = 0 }
                        }
                        c += nr
                    }
                } else {
                    for e in 0..<dh { base[e * nr] = 0 }
                }
            }
        }
    }

    /// Floats of packed K/V that `attentionPack` fills with this ISA's key panels.
    @_alwaysEmitIntoClient @inline(__always)
    public static func attentionPackedCount<I: KernelISA>(_: I.Type, _ p: AttentionProblem) -> Int {
        p.heads * attentionLayout(tokens: p.tokens, headDim: p.headDim, nr: 2 * I.V.scalarCount).headFloats
    }

    /// Packing tasks per head.
    public static func attentionKeyChunks(tokens t: Int) -> Int { (t + attentionKeyChunk - 1) / attentionKeyChunk }

    /// Floats of per-thread scratch that `attention` needs.
    public static func attentionScratchCount(tokens: Int, headDim: Int) -> Int {
        tileRows * ((tokens + 63) / 64 * 64) + 64
    }

    /// Attention for tasks in `tasks` (task = head * qBlocks + block of 6 query rows) over K/V
    /// packed by `attentionPack`. A block's 6 rows of scores (6 x tokens floats) stay in L1, so the
    /// softmax is exact over whole rows: S = scale·Q Kᵀ as register tiles over key panels, then
    /// P = exp(S - max) with its row sums, then O = P V as register tiles over all keys, divided by
    /// the sums. qkv: [t, 3d] rows (q | k | v), out: [t, d].
    @_alwaysEmitIntoClient @inline(__always)
    public static func attention<I: KernelISA>(_ isa: I.Type, _ p: AttentionProblem, tasks: Range<Int>, packed: UnsafePointer<Float>,
                                               scratch: UnsafeMutablePointer<Float>) {
        let qkv = p.qkv, t = p.tokens, heads = p.heads, dh = p.headDim, out = p.out
        typealias V = I.V
        let nv = V.scalarCount
        let nr = 2 * nv
        let d = heads * dh, ld = 3 * d
        let qBlocks = (t + tileRows - 1) / tileRows
        let (tPad, dhPad, kFloats, headFloats) = attentionLayout(tokens: t, headDim: dh, nr: nr)
        // Scores in base-2 units (scaled by log2 e) so the softmax can use exp2Softmax.
        let scale = 1.44269504088896341 / Float(dh).squareRoot()
        let ls = (tPad + 15) / 16 * 16   // row stride of S
        let s = scratch
        for task in tasks {
            let h = task / qBlocks, qb = task % qBlocks
            let kt = packed + h * headFloats, vp = kt + kFloats
            let i0 = qb * tileRows
            let rows = min(tileRows, t - i0)
            let q = qkv + i0 * ld + h * dh
            // S = log2(e)·scale · Q Kᵀ over key panels (padded keys give 0 and are masked below).
            var pn = 0
            while pn < tPad {
                let st = tile(isa, x: q, ldx: ld, rows: rows, w: kt + pn * dh, wStride: nr, kc: dh)
                storeFullTile(isa, st, rows: rows, GemmEpilogue(alpha: scale), y: s + pn, ldy: ls)
                pn += nr
            }
            // P = 2^(S - row max) = e^(scale·QKᵀ - max) in place, row sums kept for the end.
            var inv = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
            let full = t - t % nv
            for r in 0..<rows {
                let sr = s + r * ls
                var mv = V(repeating: -Float.infinity)
                var j = 0
                while j < full { mv = I.max(mv, vload(sr + j)); j += nv }
                var m = hmax(mv)
                for jj in full..<t { m = sr[jj] > m ? sr[jj] : m }
                let msv = V(repeating: -m)
                var acc0 = V(), acc1 = V()
                j = 0
                while j + nr <= full {
                    let e0 = exp2Softmax(isa, vload(sr + j) + msv), e1 = exp2Softmax(isa, vload(sr + j + nv) + msv)
                    vstore(e0, sr + j); vstore(e1, sr + j + nv)
                    acc0 += e0; acc1 += e1
                    j += nr
                }
                if j < full {
                    let e0 = exp2Softmax(isa, vload(sr + j) + msv)
                    vstore(e0, sr + j); acc0 += e0
                    j += nv
                }
                if full < t {
                    var tmp = V(repeating: -Float.infinity)
                    for jj in full..<t { tmp[jj - full] = sr[jj] }
                    let e = exp2Softmax(isa, tmp + msv)
                    for jj in full..<t { sr[jj] = e[jj - full] }
                    acc1 += e
                }
                tupleSet(&inv, r, 1 / hsum(acc0 + acc1))
            }
            // O = P V / sums, nr head dimensions at a time over all keys.
            var c = 0
            while c < dhPad {
                let pt = tile(isa, x: s, ldx: ls, rows: rows, w: vp + c * t, wStride: nr, kc: t)
                let cols = min(nr, dh - c)
                // Fixed rows, not pt.row(r): a run-time row index costs a jump table per row.
                @inline(__always) func put(_ a: V, _ b: V, _ r: Int, _ sum: Float) {
                    let iv = V(repeating: sum)
                    let u0 = a * iv, u1 = b * iv
                    let dst = out + (i0 + r) * d + h * dh + c
                    if cols == nr {
                        vstore(u0, dst); vstore(u1, dst + nv)
                    } else {
                        for e in 0..<cols { dst[e] = e < nv ? u0[e] : u1[e - nv] }
                    }
                }
                put(pt.a0, pt.b0, 0, inv.0)
                if rows > 1 { put(pt.a1, pt.b1, 1, inv.1) }
                if rows > 2 { put(pt.a2, pt.b2, 2, inv.2) }
                if rows > 3 { put(pt.a3, pt.b3, 3, inv.3) }
                if rows > 4 { put(pt.a4, pt.b4, 4, inv.4) }
                if rows > 5 { put(pt.a5, pt.b5, 5, inv.5) }
                c += nr
            }
        }
    }

    @inlinable @inline(__always)
    static func tupleSet(_ t: inout (Float, Float, Float, Float, Float, Float), _ i: Int, _ v: Float) {
        switch i { case 0: t.0 = v; case 1: t.1 = v; case 2: t.2 = v; case 3: t.3 = v; case 4: t.4 = v; default: t.5 = v }
    }

    // MARK: - peak

    /// A register-only multiply-add loop (12 independent chains); returns the flops done.
    @_alwaysEmitIntoClient @inline(__always)
    public static func peakLoop<I: KernelISA>(_: I.Type, iterations: Int, sink: UnsafeMutablePointer<Float>) -> Double {
        typealias V = I.V
        var a0 = V(repeating: 0.1), a1 = V(repeating: 0.2), a2 = V(repeating: 0.3), a3 = V(repeating: 0.4)
        var a4 = V(repeating: 0.5), a5 = V(repeating: 0.6), a6 = V(repeating: 0.7), a7 = V(repeating: 0.8)
        var a8 = V(repeating: 0.9), a9 = V(repeating: 1.0), a10 = V(repeating: 1.1), a11 = V(repeating: 1.2)
        let b = V(repeating: 0.999999), c = V(repeating: 1e-7)
        for _ in 0..<iterations {
            a0 = I.madd(a0, b, c); a1 = I.madd(a1, b, c); a2 = I.madd(a2, b, c); a3 = I.madd(a3, b, c)
            a4 = I.madd(a4, b, c); a5 = I.madd(a5, b, c); a6 = I.madd(a6, b, c); a7 = I.madd(a7, b, c)
            a8 = I.madd(a8, b, c); a9 = I.madd(a9, b, c); a10 = I.madd(a10, b, c); a11 = I.madd(a11, b, c)
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        sink.pointee = hsum(s)
        blackHole(sink.pointee)
        return Double(iterations) * 12 * Double(V.scalarCount) * 2
    }
}
