// The kernel twin checks, written once for both test harnesses: XCTest (Tests/RuntimeTests) and the
// Embedded Swift aarch64 driver (Embedded/Driver, run under qemu-aarch64). Each check runs every
// given kernel family against its plain `Reference` twin (or, for the byte kernels, against the plain
// C twin, bit for bit) on shapes with remainders in every dimension, and records what it measured in
// a `CheckReport`: the harness only asserts that no check failed and prints the notes.
// Embedded-compatible like Runtime: standard library and Runtime only, no Foundation, no float
// interpolation (see `sci`).
import CKernels
import Runtime

/// Bounds (per element; r = the same computation on |x| and |W|, i.e. Σ|x·w|):
/// - fp32 / fp16-weight linear and sgemm: |fast - ref| ≤ 2e-5·r + 1e-6 (only the summation order and
///   FMA contraction differ; fp16 weights are widened exactly in both).
/// - int8 linear vs `Reference.linearI8Dynamic` (12-bit activations) and `Reference.linearU8Dynamic`
///   (8-bit, with a zero point): same quantisation, exact integer sums: |fast - ref| ≤ 1e-5·|ref| +
///   2e-6·r + 1e-6 (float epilogue only).
/// - linear followed by GELU (fc1; in the GEMM's epilogue for fp32/fp16): the linear's bound (GELU's
///   slope is at most 1.13) plus GELU's 1e-6.
/// - attention, layerNorm: 2e-5 absolute; softmax 2e-6; GELU: 1e-6 absolute on [-10, 10].
/// - int16 attention vs `Reference.attentionI16`: 3e-4·max|v| (one P level moves an output by max|v| / 8191).
/// - byte kernels (8-bit activations) vs ssast_u8_gemm_generic: bit for bit.
/// - threads 1 vs 2: bit-identical (work is split by whole rows/panels, each element's sum order fixed).
public enum KernelChecks {
    /// One family at 1 and 2 threads.
    public struct Family {
        public let name: String
        public let one: Engine
        public let two: Engine
    }

    /// Every family the CPU runs except the reference itself, plus the test-only ones (avx512-shape).
    public static var familyNames: [String] {
        var names: [String] = []
        for n in Engine.availableISAs + Engine.testISAs where n != "reference" { names.append(n) }
        return names
    }

    public static func families(_ names: [String]) throws(SSASTError) -> [Family] {
        var f: [Family] = []
        for n in names { f.append(Family(name: n, one: try Engine(threads: 1, isa: n), two: try Engine(threads: 2, isa: n))) }
        return f
    }

    // MARK: dispatch

    /// The default family is the best one the CPU has (or SSAST_ISA's, or `expected`), generic and
    /// reference are always there, families the CPU lacks and unknown names are refused with a message.
    public static func dispatch(_ r: inout CheckReport, forced: String?, expected: String? = nil) {
        let avail = Engine.availableISAs
        guard let e = r.must("Engine(threads: 1)", { () throws(SSASTError) in try Engine(threads: 1) }) else { return }
        r.note("CPU supports \(avail.joined(separator: ", ")); default engine picks \(e.isaName)")
        r.expect(e.isaName == (forced ?? avail[0])) { "default engine picks \(e.isaName), expected \(forced ?? avail[0])" }
        if let x = expected { r.expect(e.isaName == x) { "default engine picks \(e.isaName), expected \(x)" } }
        for name in ["generic", "reference"] {
            let got = r.must(name, { () throws(SSASTError) in try Engine(threads: 1, isa: name) })
            r.expect(got?.isaName == name) { "isa \(name) not honoured" }
        }
        for name in ["sse9", "avx512vnni", "avx512", "avxvnni", "avx2", "dotprod", "neon"] where !avail.contains(name) {
            do throws(SSASTError) {
                _ = try Engine(threads: 1, isa: name)
                r.expect(false) { "isa \(name) accepted on a CPU without it" }
            } catch {
                let msg = error.message
                r.expect(contains(msg, name == "sse9" ? "unknown kernel ISA" : "does not support")) { "isa \(name): \(msg)" }
            }
        }
        do throws(SSASTError) { _ = try Engine(threads: 0); r.expect(false) { "threads 0 accepted" } } catch {}
    }

    // MARK: linear

    /// (m, n, k): remainders in every dimension; `quick` (emulators) keeps one of the model's shapes.
    public static func linearShapes(quick: Bool) -> [(Int, Int, Int)] {
        var c: [(Int, Int, Int)] = []
        for m in [1, 5, 13] { for n in [2, 31, 33, 192] { for k in [1, 3, 17, 192, 256] { c.append((m, n, k)) } } }
        c.append((80, 40, 30))  // k = 30: kPad not a multiple of 4 (SDOT's trailing pair)
        c.append((7, 40, 400))  // more than one k block (192 or 384 deep): bias first, GELU last
        c.append((13, 300, 1000))  // more than one group of weight chunks (gemmWeightGroupBytes, SSAST_I8_GROUP_BYTES)
        for (n, k) in quick ? [(33, 17)] : [(576, 192), (192, 768), (2, 192), (33, 17), (768, 192)] { c.append((602, n, k)) }
        if !quick { c.append((600, 192, 256)) }
        return c
    }

    /// Every family's `linear` (fp32, fp16 or int8 weights; int8 at `bits`-bit activations) against
    /// its twin, plus threads 1 vs 2; for int8 also the quantisation error against fp32 (< 2 % of the
    /// largest output). With `gelu`, linear(gelu: true) (GELU in the epilogue for fp32/fp16 weights, a
    /// separate pass for int8) against the twin followed by `Reference.gelu`.
    public static func linear(_ r: inout CheckReport, _ fams: [Family], _ type: WeightType, bits: Int = 12, gelu: Bool = false,
                              quick: Bool) {
        for f in fams { f.one.int8ActivationBits = bits; f.two.int8ActivationBits = bits }
        var rng = CheckRNG(s: 42 &+ UInt64(type.rawValue) &+ (gelu ? 1000 : 0))
        var worst = [Float](repeating: 0, count: fams.count)
        var quantErr: Float = 0, quantScale: Float = 0
        let shapes = linearShapes(quick: quick)
        for (m, n, k) in shapes {
            let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n)
            let xa = absolute(x), wa = absolute(w)
            let p = packed(type, w, n: n, k: k), pa = packed(type, wa, n: n, k: k)
            var ref = [Float](repeating: 0, count: m * n), bound = ref, y1 = ref, y2 = ref, f32 = ref
            p.bytes.withUnsafeBytes { wb in p.scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                pa.bytes.withUnsafeBytes { wab in pa.scales.withUnsafeBufferPointer { sab in
                    let lin = PackedLinear(n: n, k: k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                    let linAbs = PackedLinear(n: n, k: k, type: type, data: wab.baseAddress!, scales: sab.baseAddress, bias: nil)
                    if type == .i8 {
                        if bits == 8 { Reference.linearU8Dynamic(x, m: m, lin, &ref) }
                        else { Reference.linearI8Dynamic(x, m: m, lin, qmax: Engine.activationQMax(bits: bits, k: k), &ref) }
                        // Quantisation error against fp32 weights and activations.
                        let pf = Packing.packF32(w, n: n, k: k)
                        pf.withUnsafeBytes { pb in
                            Reference.linear(x, m: m, PackedLinear(n: n, k: k, type: .f32, data: pb.baseAddress!, scales: nil,
                                                                   bias: bb.baseAddress), &f32)
                        }
                    } else {
                        Reference.linear(x, m: m, lin, &ref)
                    }
                    Reference.linear(xa, m: m, linAbs, &bound)
                    if gelu { Reference.gelu(&ref, count: ref.count) }
                    for (fi, f) in fams.enumerated() {
                        f.one.linear(x, m: m, lin, &y1, gelu: gelu)
                        f.two.linear(x, m: m, lin, &y2, gelu: gelu)
                        let tag = "\(f.name) \(typeName(type))\(type == .i8 ? " (\(bits)-bit activations)" : "") linear\(gelu ? "+gelu" : "") m \(m) n \(n) k \(k)"
                        r.expect(y1 == y2) { tag + ": threads 1 vs 2 differ" }
                        var bad = 0
                        for i in 0..<y1.count {
                            let d = abs(y1[i] - ref[i])
                            var tol: Float = type == .i8 ? 1e-5 * abs(ref[i]) + 2e-6 * bound[i] + 1e-6 : 2e-5 * bound[i] + 1e-6
                            if gelu { tol = 1.13 * tol + 1e-6 }
                            if !(d <= tol) { bad += 1 }
                            worst[fi] = max(worst[fi], d / max(tol, 1e-30))
                        }
                        r.expect(bad == 0) { tag + ": \(bad) of \(y1.count) elements outside the bound" }
                    }
                }}
            }}}
            if type == .i8 && !gelu {
                for i in 0..<f32.count { quantErr = max(quantErr, abs(ref[i] - f32[i])); quantScale = max(quantScale, abs(f32[i])) }
            }
        }
        var line = "linear \(typeName(type))\(type == .i8 ? " \(bits)-bit activations" : "")\(gelu ? " + GELU" : ""), \(shapes.count) shapes: worst error / bound"
        for (fi, f) in fams.enumerated() { line += " \(f.name) \(sci(worst[fi]))" }
        r.note(line)
        if type == .i8 && !gelu {
            r.note("int8 (per-channel weights, per-row \(bits)-bit activations) vs fp32: max |diff| \(sci(quantErr)) for outputs up to \(sci(quantScale))")
            r.expect(quantErr < 0.02 * quantScale) { "int8 \(bits)-bit quantisation error \(sci(quantErr)) ≥ 2 % of \(sci(quantScale))" }
        }
    }

    /// `linear(accumulate: true)` (the residual add in the epilogue) = y0 + linear(x), every weight
    /// type, over more than one row block and k block; the reference family through Engine exactly.
    public static func linearAccumulate(_ r: inout CheckReport, _ fams: [Family]) {
        var rng = CheckRNG(s: 77)
        for type in [WeightType.f32, .f16, .i8] {
            for (m, n, k) in [(13, 33, 17), (80, 192, 768), (7, 40, 400)] {
                let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n), y0 = rng.array(m * n, scale: 5)
                let p = packed(type, w, n: n, k: k)
                var plain = [Float](repeating: 0, count: m * n)
                p.bytes.withUnsafeBytes { wb in p.scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                    let lin = PackedLinear(n: n, k: k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                    for f in fams {
                        f.one.linear(x, m: m, lin, &plain)
                        var y1 = y0, y2 = y0
                        f.one.linear(x, m: m, lin, &y1, accumulate: true)
                        f.two.linear(x, m: m, lin, &y2, accumulate: true)
                        r.expect(y1 == y2) { "\(f.name) \(typeName(type)) accumulate threads 1 vs 2" }
                        var bad = 0
                        for i in 0..<y1.count where !(abs(y1[i] - (y0[i] + plain[i])) <= 1e-5 * (abs(y0[i]) + abs(plain[i])) + 1e-6) { bad += 1 }
                        r.expect(bad == 0) { "\(f.name) \(typeName(type)) accumulate m \(m) n \(n) k \(k): \(bad) elements" }
                    }
                    if let e = r.must("reference engine", { () throws(SSASTError) in try Engine(threads: 1, isa: "reference") }) {
                        var yr = y0
                        e.linear(x, m: m, lin, &yr, accumulate: true)
                        Reference.linear(x, m: m, lin, &plain)
                        var bad = 0
                        for i in 0..<yr.count where yr[i] != y0[i] + plain[i] { bad += 1 }
                        r.expect(bad == 0) { "reference \(typeName(type)) accumulate m \(m) n \(n) k \(k): \(bad) elements" }
                    }
                }}}
            }
        }
        r.note("linear accumulate (fp32, fp16, int8): 3 shapes each")
    }

    /// An all-zero activation row has no scale; the int8 output must be exactly the bias.
    public static func linearI8ZeroRow(_ r: inout CheckReport, _ fams: [Family]) {
        var rng = CheckRNG(s: 7)
        let n = 40, k = 6
        let w = rng.array(n * k), bias = rng.array(n)
        let (q, s) = Packing.packI8(w, n: n, k: k)
        let x = [Float](repeating: 0, count: 2 * k)
        for f in fams {
            for bits in Engine.int8ActivationWidths {
                f.two.int8ActivationBits = bits
                var y = [Float](repeating: .nan, count: 2 * n)
                q.withUnsafeBytes { qb in s.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                    f.two.linear(x, m: 2, PackedLinear(n: n, k: k, type: .i8, data: qb.baseAddress!, scales: sb.baseAddress,
                                                       bias: bb.baseAddress), &y)
                }}}
                r.expect(Array(y[0..<n]) == bias && Array(y[n...]) == bias) { "\(f.name) int8 (\(bits)-bit) zero row is not exactly the bias" }
            }
        }
    }

    /// int8 with the first `wide` rows at 12-bit activations and the rest at 8-bit (the class-token rows of
    /// int8 models): each part against its own reference twin, accumulate, and 1 vs 2 threads identical.
    public static func linearI8WideRows(_ r: inout CheckReport, _ fams: [Family]) {
        var rng = CheckRNG(s: 91)
        let shapes = [(13, 33, 17, 2), (8, 40, 400, 1), (2, 70, 768, 2), (1, 35, 192, 1), (3, 33, 9, 5), (9, 64, 31, 0)]
        for (m, n, k, wide) in shapes {
            let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n), y0 = rng.array(m * n, scale: 5)
            let (q, scales) = Packing.packI8(w, n: n, k: k)
            q.withUnsafeBytes { wb in scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                let lin = PackedLinear(n: n, k: k, type: .i8, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                let rows = min(wide, m)
                var ref = [Float](repeating: 0, count: m * n)
                Reference.linearI8Dynamic(x, m: rows, lin, qmax: Engine.activationQMax(bits: 12, k: k), &ref)
                x.withUnsafeBufferPointer { xb in ref.withUnsafeMutableBufferPointer {
                    Reference.linearU8Dynamic(xb.baseAddress! + rows * k, m: m - rows, lin, $0.baseAddress! + rows * n)
                } }
                for f in fams {
                    let saved = (f.one.int8ActivationBits, f.two.int8ActivationBits)
                    f.one.int8ActivationBits = 8
                    f.two.int8ActivationBits = 8
                    var y1 = [Float](repeating: .nan, count: m * n), y2 = y1, ya = y0
                    f.one.linear(x, m: m, lin, &y1, wideRows: wide)
                    f.two.linear(x, m: m, lin, &y2, wideRows: wide)
                    f.two.linear(x, m: m, lin, &ya, accumulate: true, wideRows: wide)
                    f.one.int8ActivationBits = saved.0
                    f.two.int8ActivationBits = saved.1
                    r.expect(y1 == y2) { "\(f.name) int8 wide rows: 1 and 2 threads differ, m \(m) n \(n) k \(k) wide \(wide)" }
                    var bad = 0, badAcc = 0
                    for i in 0..<y1.count {
                        if !(abs(y1[i] - ref[i]) <= 1e-5 * abs(ref[i]) + 1e-5) { bad += 1 }
                        if !(abs(ya[i] - (y0[i] + y1[i])) <= 1e-5 * (abs(y0[i]) + abs(y1[i])) + 1e-6) { badAcc += 1 }
                    }
                    r.expect(bad == 0) { "\(f.name) int8 wide rows m \(m) n \(n) k \(k) wide \(wide): \(bad) elements differ from the reference" }
                    r.expect(badAcc == 0) { "\(f.name) int8 wide rows accumulate m \(m) n \(n) k \(k) wide \(wide): \(badAcc) elements" }
                }
            }}}
        }
        r.note("linear int8 with 12-bit wide rows over 8-bit rows: \(shapes.count) shapes")
    }

    // MARK: sgemm

    /// C = alpha·op(A)·op(B) + beta·C with padded leading dimensions (padding must stay untouched).
    public static func sgemm(_ r: inout CheckReport, _ fams: [Family]) {
        var rng = CheckRNG(s: 99)
        var cases = 0
        for transA in [false, true] { for transB in [false, true] {
            for (m, n, k) in [(1, 2, 1), (5, 31, 17), (13, 33, 192), (7, 70, 3), (64, 40, 400), (2, 577, 9)] {
                for (alpha, beta) in [(Float(1), Float(0)), (Float(0.5), Float(1.5))] {
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                    let a = rng.array((transA ? k : m) * lda), b = rng.array((transB ? n : k) * ldb)
                    let c0 = rng.array(m * ldc)
                    var ref = c0, bound = absolute(c0)
                    for i in 0..<bound.count { bound[i] *= abs(beta) }
                    Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                    beta: beta, c: &ref, ldc: ldc)
                    Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: abs(alpha), a: absolute(a), lda: lda,
                                    b: absolute(b), ldb: ldb, beta: 1, c: &bound, ldc: ldc)
                    for f in fams {
                        var c1 = c0, c2 = c0
                        f.one.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                    beta: beta, c: &c1, ldc: ldc)
                        f.two.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                    beta: beta, c: &c2, ldc: ldc)
                        r.expect(c1 == c2) { "\(f.name) sgemm threads 1 vs 2" }
                        var bad = 0
                        for i in 0..<m { for j in 0..<ldc {
                            let idx = i * ldc + j
                            if j >= n { if c1[idx] != c0[idx] { bad += 1 }; continue }  // padding untouched
                            if !(abs(c1[idx] - ref[idx]) <= 2e-5 * bound[idx] + 1e-6) { bad += 1 }
                        }}
                        r.expect(bad == 0) { "\(f.name) sgemm tA \(transA) tB \(transB) m \(m) n \(n) k \(k) alpha \(sci(alpha)) beta \(sci(beta)): \(bad) elements" }
                        cases += 1
                    }
                }
            }
        }}
        r.note("sgemm: \(cases) cases")
    }

    // MARK: attention

    public static func attentionShapes(quick: Bool) -> [(Int, Int, Int)] {
        // The model's shape (602 tokens) only natively: under emulation its scalar reference alone takes
        // longer than all the other cases.
        [(1, 3, 64), (7, 3, 64), (37, 2, 24), (9, 1, 5), (130, 2, 17), (257, 1, 32)] + (quick ? [] : [(602, 3, 64)])
    }

    /// fp32 attention vs `Reference.attention` (2e-5), and the attention of int8 models at each activation
    /// width: int16 products vs `Reference.attentionI16`, which quantises identically (3e-4·max|v|), 8-bit
    /// products (where the family runs them) vs `Reference.attentionU8` (8e-3·max|v|: its expf against the
    /// kernels' polynomial can move a P level of 255); and the twins' quantisation error vs fp32
    /// (int16 5e-3·max|v|, 8-bit 5e-2·max|v|).
    public static func attention(_ r: inout CheckReport, _ fams: [Family], quick: Bool) {
        var rng = CheckRNG(s: 5)
        var worst: Float = 0, worstI16: Float = 0, worstQuant: Float = 0, worstU8: Float = 0, worstQuantU8: Float = 0
        var u8Families: [String] = []
        for (t, heads, dh) in attentionShapes(quick: quick) {
            let d = heads * dh
            let qkv = rng.array(t * 3 * d, scale: 2)
            var ref = [Float](repeating: 0, count: t * d), refI16 = ref, refU8 = ref, y1 = ref, y2 = ref
            Reference.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &ref)
            Reference.attentionI16(qkv: qkv, tokens: t, heads: heads, headDim: dh, &refI16)
            Reference.attentionU8(qkv: qkv, tokens: t, heads: heads, headDim: dh, &refU8)
            var vmax: Float = 0
            for j in 0..<t { for e in 0..<d { vmax = max(vmax, abs(qkv[j * 3 * d + 2 * d + e])) } }
            for f in fams {
                f.one.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y1)
                f.two.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y2)
                r.expect(y1 == y2) { "\(f.name) attention threads 1 vs 2, t \(t)" }
                let e = maxAbsDiff(y1, ref)
                worst = max(worst, e)
                r.expect(e <= 2e-5) { "\(f.name) attention t \(t) heads \(heads) dh \(dh): \(sci(e))" }
                let saved = (f.one.int8ActivationBits, f.two.int8ActivationBits)
                defer { f.one.int8ActivationBits = saved.0; f.two.int8ActivationBits = saved.1 }
                for bits in Engine.int8ActivationWidths {
                    f.one.int8ActivationBits = bits; f.two.int8ActivationBits = bits
                    f.one.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y1, quantized: true)
                    f.two.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y2, quantized: true)
                    let u8 = f.one.attentionProductBits == 8
                    let what = "\(f.name) \(u8 ? "8-bit" : "int16") attention (\(bits)-bit activations)"
                    r.expect(y1 == y2) { what + " threads 1 vs 2, t \(t)" }
                    if u8 {
                        // One P level of 255 moves an output by up to max|v|/255 (exp polynomial vs expf).
                        let q = maxAbsDiff(y1, refU8)
                        worstU8 = max(worstU8, q / vmax)
                        r.expect(q <= 8e-3 * vmax) { what + " t \(t) heads \(heads) dh \(dh): \(sci(q))" }
                        if !u8Families.contains(f.name) { u8Families.append(f.name) }
                    } else {
                        let q = maxAbsDiff(y1, refI16)
                        worstI16 = max(worstI16, q / vmax)
                        r.expect(q <= 3e-4 * vmax) { what + " t \(t) heads \(heads) dh \(dh): \(sci(q))" }
                    }
                }
            }
            let q = maxAbsDiff(refI16, ref)
            worstQuant = max(worstQuant, q / vmax)
            r.expect(q <= 5e-3 * vmax) { "int16 attention quantisation error t \(t) dh \(dh): \(sci(q))" }
            let q8 = maxAbsDiff(refU8, ref)
            worstQuantU8 = max(worstQuantU8, q8 / vmax)
            r.expect(q8 <= 5e-2 * vmax) { "8-bit attention quantisation error t \(t) dh \(dh): \(sci(q8))" }
        }
        r.note("attention, \(attentionShapes(quick: quick).count) shapes: max |diff| vs reference \(sci(worst)); int16 attention vs its reference \(sci(worstI16))·max|v|, its quantisation error vs fp32 \(sci(worstQuant))·max|v|; 8-bit attention (\(u8Families.joined(separator: ", "))) vs its reference \(sci(worstU8))·max|v|, its quantisation error vs fp32 \(sci(worstQuantU8))·max|v|")
    }

    /// The 8-bit attention kernels (CKernels' ssast_attn_u8_*) against the plain twin
    /// ssast_attn_u8_generic, bit for bit, on one packing, tasks split in two parts as over threads; the
    /// packing passes in `packs` against ssast_attn_u8_pack, byte for byte (padding included).
    public static func byteAttention(_ r: inout CheckReport, kernels: [(String, ssast_attn_u8_fn)],
                                     packs: [(String, ssast_attn_u8_pack_fn)] = [], quick: Bool) {
        var rng = CheckRNG(s: 808)
        var compared = 0
        // dh 11 and 27: 3 and 7 groups of 4 dimensions, the SDOT tile's longest tail after its 4-group steps.
        for (t, heads, dh) in attentionShapes(quick: quick) + [(19, 2, 7), (33, 1, 64), (200, 1, 66), (45, 2, 11), (70, 1, 27)] {
            let d = heads * dh
            var qkv = rng.array(t * 3 * d, scale: 2)
            for i in stride(from: 0, to: qkv.count, by: 7) { qkv[i] += 0.5 }  // not centred: K sums vary
            var packed = [UInt8](repeating: 0, count: ssast_attn_u8_packed_bytes(t, heads, dh))
            var scratch = [UInt8](repeating: 0, count: ssast_attn_u8_scratch_bytes(t, dh))
            let pt = ssast_attn_u8_pack_tasks(t, heads), tasks = ssast_attn_u8_tasks(t, heads)
            ssast_attn_u8_pack(qkv, t, heads, dh, 0, pt / 2, &packed)
            ssast_attn_u8_pack(qkv, t, heads, dh, pt / 2, pt, &packed)
            for (name, pack) in packs {
                var other = [UInt8](repeating: 0, count: packed.count)
                pack(qkv, t, heads, dh, 0, pt, &other)
                r.expect(other == packed) { "\(name) 8-bit attention packing differs from the generic one, t \(t) heads \(heads) dh \(dh)" }
            }
            func run(_ k: ssast_attn_u8_fn) -> [Float] {
                var out = [Float](repeating: .nan, count: t * d)
                k(qkv, t, heads, dh, 0, tasks / 2, packed, &out, &scratch)
                k(qkv, t, heads, dh, tasks / 2, tasks, packed, &out, &scratch)
                return out
            }
            let want = run(ssast_attn_u8_generic)
            var ref = [Float](repeating: 0, count: t * d)
            Reference.attentionU8(qkv: qkv, tokens: t, heads: heads, headDim: dh, &ref)
            var vmax: Float = 0
            for j in 0..<t { for e in 0..<d { vmax = max(vmax, abs(qkv[j * 3 * d + 2 * d + e])) } }
            let e = maxAbsDiff(want, ref)
            r.expect(e <= 8e-3 * vmax) { "ssast_attn_u8_generic vs Reference.attentionU8 t \(t) heads \(heads) dh \(dh): \(sci(e))" }
            for (name, k) in kernels {
                let got = run(k)
                let differing = bitDifferences(got, want)
                r.expect(differing == 0) { "\(name) 8-bit attention vs generic, t \(t) heads \(heads) dh \(dh): \(differing) of \(want.count) outputs differ" }
                compared += want.count
            }
        }
        var names: [String] = []
        for (n, _) in kernels { names.append(n) }
        r.note(names.isEmpty ? "8-bit attention: no kernel to compare here; the generic twin checked against Reference.attentionU8"
               : "8-bit attention \(names.joined(separator: ", ")): \(compared) outputs compared bit for bit with the generic twin")
    }

    // MARK: elementwise

    public static func layerNormSoftmaxGelu(_ r: inout CheckReport, _ fams: [Family]) {
        var rng = CheckRNG(s: 11)
        for dim in [1, 7, 100, 192] {
            let rows = 13
            var x = rng.array(rows * dim, scale: 3)
            for i in 0..<x.count { x[i] += 0.5 }
            let g = rng.array(dim), b = rng.array(dim)
            var ref = [Float](repeating: 0, count: rows * dim), y = ref
            Reference.layerNorm(x, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6, &ref)
            for f in fams {
                for e in [f.one, f.two] {
                    e.layerNorm(x, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6, &y)
                    let d = maxAbsDiff(y, ref)
                    r.expect(d <= 2e-5) { "\(f.name) layerNorm dim \(dim): \(sci(d))" }
                }
            }
        }
        for cols in [1, 7, 33, 602] {
            let rows = 5
            let x = rng.array(rows * cols, scale: 20)
            var ref = x
            Reference.softmax(&ref, rows: rows, cols: cols)
            for f in fams {
                for e in [f.one, f.two] {
                    var y = x
                    e.softmax(&y, rows: rows, cols: cols)
                    let d = maxAbsDiff(y, ref)
                    r.expect(d <= 2e-6) { "\(f.name) softmax cols \(cols): \(sci(d))" }
                }
            }
        }
        // GELU on a dense grid over [-10, 10] plus the edges; 20001 + 6 values (odd count: a tail).
        var x = [Float](repeating: 0, count: 20001)
        for i in 0..<x.count { x[i] = Float(i) * 1e-3 - 10 }
        x += [0, -0.0, 1e-30, -1e-30, 30, -30]
        var ref = x
        Reference.gelu(&ref, count: ref.count)
        var worst: Float = 0
        for f in fams {
            for e in [f.one, f.two] {
                var y = x
                e.gelu(&y, count: y.count)
                let d = maxAbsDiff(y, ref)
                worst = max(worst, d)
                r.expect(d <= 1e-6) { "\(f.name) gelu: \(sci(d))" }
            }
        }
        r.note("layerNorm (4 widths), softmax (4 widths) checked; gelu max |diff| vs erff reference \(sci(worst))")
    }

    // MARK: byte kernels

    public static let byteShapes: [(m: Int, n: Int, k: Int)] = [
        (1, 2, 1), (5, 31, 3), (13, 33, 17), (9, 64, 6), (20, 96, 192), (75, 40, 257), (3, 1, 5), (17, 192, 768), (80, 33, 10),
        (13, 300, 1000),  // more than one group of weight chunks (SSAST_I8_GROUP_BYTES), the last one partial
    ]

    /// The 8-bit-activation kernels (CKernels' ssast_u8_gemm_*) against their plain twin
    /// ssast_u8_gemm_generic, bit for bit, rows and panels split in parts as over threads, with and
    /// without accumulation; the twin against `Reference.linearU8Dynamic`; and each quantiser in
    /// `quantizers` against ssast_u8_quantize_generic.
    public static func byteKernels(_ r: inout CheckReport, kernels: [(String, ssast_u8_gemm_fn)],
                                   quantizers: [(String, ssast_u8_quantize_fn)]) {
        var rng = CheckRNG(s: 2024)
        var compared = 0
        for (t, s) in byteShapes.enumerated() {
            let kPad = Packing.kPadI8(s.k), stride = ssast_u8_stride(kPad), panels = (s.n + 31) / 32
            // One-sided rows (as after GELU) and mixed ones, so zero points vary from 0 to 255.
            var x = [Float](repeating: 0, count: s.m * s.k)
            for i in 0..<x.count { x[i] = rng.next() * ((i / s.k) % 3 == 0 ? 3 : 1) + ((i / s.k) % 2 == 0 ? 0.9 : -0.2) }
            let (q, ws) = Packing.packI8(rng.array(s.n * s.k, scale: 0.2), n: s.n, k: s.k)
            let bias = rng.array(s.n), y0 = rng.array(s.m * s.n)
            var u = [UInt8](repeating: 0, count: s.m * stride), zero = [Int32](repeating: 0, count: s.m)
            var xs = [Float](repeating: 0, count: s.m)
            ssast_u8_quantize_generic(x, s.k, 0, s.m, s.k, stride, &u, &zero, &xs)
            for (name, quantize) in quantizers {
                var u2 = [UInt8](repeating: 0, count: u.count), z2 = [Int32](repeating: 0, count: zero.count)
                var xs2 = [Float](repeating: 0, count: xs.count)
                quantize(x, s.k, 0, s.m, s.k, stride, &u2, &z2, &xs2)
                r.expect(u2 == u && z2 == zero && xs2 == xs) { "\(name) u8 quantiser differs from the generic one, m \(s.m) k \(s.k)" }
            }
            var colsum = [Int32](repeating: 0, count: panels * 32)
            ssast_i8_colsums(q, s.n, kPad, 0, panels, &colsum)
            let accumulate = Int32(t % 2)
            func run(_ gemm: ssast_u8_gemm_fn) -> [Float] {
                var y = y0
                u.withUnsafeBufferPointer { ub in zero.withUnsafeBufferPointer { zb in xs.withUnsafeBufferPointer { sb in
                q.withUnsafeBufferPointer { qb in ws.withUnsafeBufferPointer { wsb in colsum.withUnsafeBufferPointer { cb in
                bias.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
                    var X = ssast_u8_rows(u: ub.baseAddress, zero: zb.baseAddress, scale: sb.baseAddress, stride: stride)
                    var W = ssast_i8_matrix(q: qb.baseAddress, scale: wsb.baseAddress, colsum: cb.baseAddress, bias: bb.baseAddress,
                                            n: s.n, kPad: kPad)
                    var Y = ssast_f32_out(y: yb.baseAddress, ldy: s.n, accumulate: accumulate)
                    // Rows and panels in parts, as the engine splits them over threads.
                    let mh = s.m / 2, ph = panels / 2
                    gemm(&X, 0, mh, &W, 0, panels, &Y)
                    gemm(&X, mh, s.m, &W, 0, ph, &Y)
                    gemm(&X, mh, s.m, &W, ph, panels, &Y)
                }}}}}}}}
                return y
            }
            let want = run(ssast_u8_gemm_generic)
            r.expect(want != y0) { "byte kernels m \(s.m) n \(s.n) k \(s.k): the generic twin wrote nothing" }
            // The twin against the Swift reference (same integers, same float epilogue order).
            var ref = [Float](repeating: 0, count: s.m * s.n)
            q.withUnsafeBytes { qb in ws.withUnsafeBufferPointer { wsb in bias.withUnsafeBufferPointer { bb in
                let pl = PackedLinear(n: s.n, k: s.k, type: .i8, data: qb.baseAddress!, scales: wsb.baseAddress, bias: bb.baseAddress)
                Reference.linearU8Dynamic(x, m: s.m, pl, &ref)
            }}}
            if accumulate != 0 { for i in 0..<ref.count { ref[i] += y0[i] } }
            r.expect(want == ref) { "generic u8 twin vs Reference.linearU8Dynamic, m \(s.m) n \(s.n) k \(s.k)" }
            for (name, gemm) in kernels {
                let got = run(gemm)
                let differing = bitDifferences(got, want)
                r.expect(differing == 0) { "\(name) vs generic, m \(s.m) n \(s.n) k \(s.k): \(differing) of \(want.count) outputs differ" }
                compared += want.count
            }
        }
        var names: [String] = []
        for (n, _) in kernels { names.append(n) }
        r.note(names.isEmpty ? "byte kernels: none to compare here; the generic twin checked against Reference.linearU8Dynamic over \(byteShapes.count) shapes"
               : "byte kernels \(names.joined(separator: ", ")): \(compared) outputs compared bit for bit with the generic twin over \(byteShapes.count) shapes")
    }

    // MARK: everything

    /// All twin checks on `fams`, in one report. `byteKernels`: the byte-multiplying GEMMs to compare
    /// bit for bit beside those the families use (e.g. SIMDe builds of the x86 tiles).
    public static func all(_ r: inout CheckReport, _ fams: [Family], quick: Bool, forced: String?, expected: String? = nil,
                           byteKernels extra: [(String, ssast_u8_gemm_fn)] = [], quantizers: [(String, ssast_u8_quantize_fn)] = [],
                           byteAttention attn: [(String, ssast_attn_u8_fn)] = []) {
        dispatch(&r, forced: forced, expected: expected)
        var names: [String] = []
        for f in fams { names.append(f.name) }
        r.note("kernel twins for \(names.joined(separator: ", "))")
        linear(&r, fams, .f32, quick: quick)
        linear(&r, fams, .f16, quick: quick)
        linear(&r, fams, .i8, bits: 12, quick: quick)
        linear(&r, fams, .i8, bits: 8, quick: quick)
        for type in [WeightType.f32, .f16] { linear(&r, fams, type, gelu: true, quick: true) }
        for bits in Engine.int8ActivationWidths { linear(&r, fams, .i8, bits: bits, gelu: true, quick: true) }
        linearAccumulate(&r, fams)
        linearI8ZeroRow(&r, fams)
        linearI8WideRows(&r, fams)
        sgemm(&r, fams)
        attention(&r, fams, quick: quick)
        layerNormSoftmaxGelu(&r, fams)
        byteKernels(&r, kernels: extra, quantizers: quantizers)
        byteAttention(&r, kernels: attn, quick: quick)
    }

    // MARK: helpers

    static func packed(_ type: WeightType, _ w: [Float], n: Int, k: Int) -> (bytes: [UInt8], scales: [Float]) {
        switch type {
        case .f32: return (Packing.packF32(w, n: n, k: k).withUnsafeBytes { Array($0) }, [])
        case .f16: return (Packing.packF16(w, n: n, k: k).withUnsafeBytes { Array($0) }, [])
        case .i8:
            let (q, s) = Packing.packI8(w, n: n, k: k)
            return (q.withUnsafeBytes { Array($0) }, s)
        }
    }

    public static func typeName(_ t: WeightType) -> String { t == .f32 ? "fp32" : t == .f16 ? "fp16" : "int8" }

    static func absolute(_ a: [Float]) -> [Float] {
        var b = a
        for i in 0..<b.count { b[i] = abs(b[i]) }
        return b
    }

    /// How many of the outputs differ in any bit (arrays of one length): the bit-for-bit twin checks.
    static func bitDifferences(_ a: [Float], _ b: [Float]) -> Int {
        var n = 0
        for i in 0..<a.count where a[i].bitPattern != b[i].bitPattern { n += 1 }
        return n
    }

    public static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        if a.count != b.count { return .infinity }
        var m: Float = 0
        for i in 0..<a.count {
            let d = abs(a[i] - b[i])
            if d.isNaN { return .infinity }
            m = max(m, d)
        }
        return m
    }

    static func contains(_ s: String, _ needle: String) -> Bool {
        let a = Array(s.utf8), b = Array(needle.utf8)
        if b.isEmpty { return true }
        if a.count < b.count { return false }
        for i in 0...(a.count - b.count) where Array(a[i..<(i + b.count)]) == b { return true }
        return false
    }
}

/// What the checks measured: failed checks (each a message) and notes (figures worth printing).
public struct CheckReport {
    public private(set) var failures: [String] = []
    public private(set) var notes: [String] = []
    public private(set) var checks = 0
    public init() {}

    public mutating func expect(_ ok: Bool, _ message: () -> String) {
        checks += 1
        if !ok { failures.append(message()) }
    }
    public mutating func note(_ s: String) { notes.append(s) }

    /// The value, or nil with a failure recorded.
    public mutating func must<T>(_ what: String, _ body: () throws(SSASTError) -> T) -> T? {
        do throws(SSASTError) { return try body() } catch {
            expect(false) { what + ": " + error.message }
            return nil
        }
    }
}

/// The checks' deterministic inputs: uniform in [-1, 1] (times `scale`).
public struct CheckRNG {
    public var s: UInt64
    public init(s: UInt64) { self.s = s }
    public mutating func next() -> Float {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s >> 11) % 2_000_001 - 1_000_000) / 1_000_000
    }
    public mutating func array(_ n: Int, scale: Float = 1) -> [Float] {
        var a = [Float](repeating: 0, count: n)
        for i in 0..<n { a[i] = next() * scale }
        return a
    }
}

/// v with 3 significant digits ("1.23e-5"): Embedded Swift cannot interpolate floating-point values.
public func sci(_ v: Float) -> String { sci(Double(v)) }
public func sci(_ v: Double) -> String {
    if v.isNaN { return "nan" }
    if v.isInfinite { return v < 0 ? "-inf" : "inf" }
    if v == 0 { return "0" }
    var m = abs(v), e = 0
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    var d = Int((m * 100).rounded())
    if d >= 1000 { d /= 10; e += 1 }
    let frac = d % 100
    var s = (v < 0 ? "-" : "") + "\(d / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    if e != 0 { s += "e\(e)" }
    return s
}
