#if canImport(Glibc)
import Glibc
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif
import CKernels
import CShim
#if canImport(KernelsAVX2)  // absent without the NativeKernels trait (Package.swift)
import KernelsAVX2
import KernelsAVX512
#endif
#if arch(arm64)
import KernelsNEON
#endif
import KernelsCore
import KernelsGeneric

/// The compute engine: which kernels run (chosen once from the CPU's features), the thread pool,
/// and the scratch the kernels need. The model calls only these entry points, so the instruction
/// set and thread count are decided in one place.
///
/// Kernel families (listed once, in `KernelFamily.all`): "avx512vnni"/"avx512" (Skylake-AVX512 build),
/// "avxvnni" (the AVX2 table with VEX vpdpbusd for 8-bit activations), "avx2" (Haswell build:
/// AVX2+FMA+F16C), "generic" (baseline SSE2, or on aarch64 plain NEON without FMA), and "reference" (the
/// plain `Reference` twins, single-threaded). On aarch64: "dotprod" (SDOT int8) and "neon" (FMLA, SMLAL int8).
/// The best one the CPU supports (CPUID + XGETBV, getauxval on aarch64) is used unless `isa:` or the SSAST_ISA
/// environment variable asks for another; asking for one the CPU lacks is an error, never SIGILL.
///
/// An Engine is used by one thread at a time (its kernels spread the work over its own pool).
public final class Engine {
    public let threads: Int
    /// Bits of the per-row activation quantisation in int8 linears (8...12). 8: bytes with a zero
    /// point (CKernels' ssast_u8_*), multiplied as bytes where the family can (vpdpbusd, SDOT: four
    /// products per 32-bit lane), else widened to int16 lanes with the same integer sums. 9...12:
    /// symmetric levels in int16 lanes (vpmaddwd, SMLAL), where 12 bits cost the same as 8 and cut
    /// the activation error 16-fold. Default: 8 where the family multiplies bytes, else 12.
    public var int8ActivationBits: Int = 12 {
        didSet { int8ActivationBits = min(12, max(8, int8ActivationBits)) }
    }
    /// Width of the integer products in int8 models' attention: 8 (u8 x s8) with 8-bit activations
    /// where the family has a byte attention kernel (AVX-512 VNNI, AVX-VNNI, aarch64 dot product and the
    /// plain twin), else 16. One rule: the attention follows the activations' width; 12-bit activations keep
    /// the int16 attention, and families without a byte attention (AVX2, AVX-512 without VNNI, aarch64
    /// without dot product) keep it always.
    public var attentionProductBits: Int { int8ActivationBits == 8 && byteAttention && family.c.attentionU8 != nil ? 8 : 16 }
    /// False: the int16 attention at every width. Set from SSAST_INT16_ATTENTION (any value: false), so
    /// one binary can be measured both ways (docs/PERFORMANCE.md).
    public var byteAttention = true
    /// The widths `int8ActivationBits` is offered at on the command line and in weight files.
    public static let int8ActivationWidths = [8, 12]
    /// Whether the selected family multiplies bytes (where 8-bit activations pay).
    public var multipliesBytes: Bool { family.c.gemmU8 != nil }

    /// Sets `int8ActivationBits` from, in order: `requested` (a command-line choice), the model's weight
    /// file, else this family's default. Any width runs on every family (without a byte multiply, 8-bit
    /// rows are widened to int16 lanes), so neither can ask for something this CPU lacks.
    public func chooseInt8Activations(requested: Int?, model: SSASTModel) throws(SSASTError) {
        let bits = requested ?? model.int8ActivationBits ?? (multipliesBytes ? 8 : 12)
        guard Engine.int8ActivationWidths.contains(bits) else {
            throw SSASTError("--int8-activations must be \(Engine.int8ActivationWidths.map { "\($0)" }.joined(separator: " or ")) (got \(bits))")
        }
        int8ActivationBits = bits
    }
    private let family: KernelFamily
    private let table: KernelTable?
    private let pool: ThreadPool
    /// Per-participant scratch, grown on demand (attention K/V panels, int8 activations).
    private var scratch: [UnsafeMutablePointer<Float>?]
    private var scratchCount: [Int]
    private var quantBuffer: UnsafeMutableRawPointer?
    private var quantBytes = 0
    private var packed: UnsafeMutablePointer<Float>?
    private var packFloats = 0

    public init(threads: Int = 1, isa: String? = nil) throws(SSASTError) {
        guard threads >= 1, threads <= 256 else {
            throw SSASTError("--threads must be between 1 and 256 (got \(threads))")
        }
        var wanted = isa
        if wanted == nil, let env = getenv("SSAST_ISA") { wanted = String(cString: env) }
        if let w = wanted, w.isEmpty || w == "auto" { wanted = nil }
        family = try Engine.selectFamily(wanted)
        table = family.table()
        int8ActivationBits = family.c.gemmU8 != nil ? 8 : 12
        byteAttention = getenv("SSAST_INT16_ATTENTION") == nil
        self.threads = threads
        pool = try ThreadPool(size: threads)
        scratch = Array(repeating: nil, count: threads)
        scratchCount = Array(repeating: 0, count: threads)
    }

    deinit {
        for p in scratch { p?.deallocate() }
        quantBuffer?.deallocate()
        packed?.deallocate()
    }

    /// Kernel families this CPU can run, best first (always ends with "generic", "reference").
    public static var availableISAs: [String] { KernelFamily.all.filter { $0.automatic && $0.supported() }.map { $0.name } }

    /// Families never picked automatically but selectable by name, for testing: "avx512-shape" runs
    /// the AVX-512 table's Swift kernels at their 16 lanes on AVX2 (see KernelsAVX2's AVX2Wide16ISA),
    /// so those code paths are exercised on CPUs (and emulators) without AVX-512.
    public static var testISAs: [String] { KernelFamily.all.filter { !$0.automatic && $0.supported() }.map { $0.name } }

    private static func selectFamily(_ wanted: String?) throws(SSASTError) -> KernelFamily {
        let available = availableISAs + testISAs
        let name = (wanted ?? available[0]).lowercased()
        guard available.contains(name), let family = KernelFamily.all.first(where: { $0.name == name }) else {
            let known = KernelFamily.allNames
            if known.contains(name) {
                throw SSASTError("kernel ISA '\(name)' was requested (--isa or SSAST_ISA) but this CPU does not support it; available: \(available.joined(separator: ", "))")
            }
            throw SSASTError("unknown kernel ISA '\(name)' (--isa or SSAST_ISA); use one of: auto, \(known.joined(separator: ", "))")
        }
        return family
    }

    /// Which kernel family was selected, for `ssast bench` and diagnostics.
    public var isaName: String { family.name }

    // MARK: - work splitting

    /// Runs body(range, participant) over 0..<count split across the pool.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        pool.parallelFor(count) { r, _ in body(r) }
    }

    /// Splits an (m rows) x (panels) GEMM: over rows in whole tiles when there are enough, else panels.
    private func splitGemm(m: Int, panels: Int, _ body: (Range<Int>, Range<Int>) -> Void) {
        let units = (m + tileRows - 1) / tileRows
        if threads == 1 || (units <= 1 && panels <= 1) { body(0..<m, 0..<panels); return }
        if units >= 2 * threads || units >= panels {
            pool.parallelFor(units) { r, _ in body((r.lowerBound * tileRows)..<min(m, r.upperBound * tileRows), 0..<panels) }
        } else {
            pool.parallelFor(panels) { p, _ in body(0..<m, p) }
        }
    }

    private func threadScratch(_ index: Int, count: Int) -> UnsafeMutablePointer<Float> {
        if scratchCount[index] < count {
            scratch[index]?.deallocate()
            scratch[index] = UnsafeMutablePointer<Float>.allocate(capacity: count)
            scratchCount[index] = count
        }
        return scratch[index]!
    }

    // MARK: - kernels

    /// y[m, n] = x[m, k] · Wᵀ + b, or with `accumulate` y += x · Wᵀ + b (a residual add in the
    /// GEMM's epilogue, saving a pass over y), or with `gelu` y = GELU(x · Wᵀ + b) (fc1; fp32 and fp16
    /// weights: applied as each tile is stored, saving a pass over y). int8 weights: x is quantised per row on
    /// the fly to `int8ActivationBits` bits (see `Reference.linearI8Dynamic`, its exact twin), except the first
    /// `wideRows` rows, which take 12 bits whatever the width: the model passes its class-token rows (and the
    /// pooled row of the head), whose rounding error no average over tokens dilutes.
    public func linear(_ x: UnsafePointer<Float>, m: Int, _ w: PackedLinear, _ y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
                       gelu: Bool = false, wideRows: Int = 0) {
        guard let table else {
            if !accumulate { Reference.linear(x, m: m, w, y) } else {
                let t = UnsafeMutablePointer<Float>.allocate(capacity: max(m * w.n, 1))
                defer { t.deallocate() }
                Reference.linear(x, m: m, w, t)
                for i in 0..<(m * w.n) { y[i] += t[i] }
            }
            if gelu { Reference.gelu(y, count: m * w.n) }
            return
        }
        if m <= 0 || w.n <= 0 { return }
        let panels = (w.n + panelWidth - 1) / panelWidth
        let k = w.k, n = w.n
        switch w.type {
        case .f32, .f16:
            let g = GemmProblem(x: x, ldx: k, w: w.data, panelStride: k * panelWidth, k: k, n: n, y: y, ldy: n,
                                epilogue: GemmEpilogue(bias: w.bias, accumulate: accumulate, gelu: gelu))
            let gemm = w.type == .f32 ? table.gemmF32 : table.gemmF16
            splitGemm(m: m, panels: panels) { rows, prs in gemm(g, rows, prs) }
        case .i8:
            guard let scales = w.scales else {
                preconditionFailure("int8 PackedLinear without scales (the weight file loader must supply them)")
            }
            // GELU stays a separate pass here: applying it to each block the C kernels had just written
            // was slower (docs/PERFORMANCE.md), and their epilogue is shared with the plain twin.
            defer { if gelu { self.gelu(y, count: m * n) } }
            guard int8ActivationBits == 8 else { linearI16(x, m: m, w, scales, y, accumulate: accumulate, bits: int8ActivationBits); return }
            let wide = min(max(wideRows, 0), m)
            if wide > 0 { linearI16(x, m: wide, w, scales, y, accumulate: accumulate, bits: 12) }
            if wide < m { linearU8(x + wide * k, m: m - wide, w, scales, y + wide * n, accumulate: accumulate) }
        }
    }

    /// int8 weights with activations of 9...12 bits in int16 lanes (`Reference.linearI8Dynamic`).
    private func linearI16(_ x: UnsafePointer<Float>, m: Int, _ w: PackedLinear, _ scales: UnsafePointer<Float>,
                           _ y: UnsafeMutablePointer<Float>, accumulate: Bool, bits: Int) {
        let k = w.k, kPad = Packing.kPadI8(k)
        let xq = quantScratch(m * kPad * 2 + m * 4).bindMemory(to: Int16.self, capacity: m * kPad)
        let xs = (quantBuffer! + (m * kPad * 2 + 3) / 4 * 4).bindMemory(to: Float.self, capacity: m)
        let qmax = Float(Engine.activationQMax(bits: bits, k: k))
        let quantize = family.c.quantizeI8
        pool.parallelFor(m) { rows, _ in quantize(x, k, rows.lowerBound, rows.upperBound, k, kPad, qmax, xq, xs) }
        gemmI8(ssast_i16_rows(xq: xq, scale: xs), m: m, w, scales, colsum: nil, y, accumulate: accumulate, family.c.gemmI8)
    }

    /// Runs an int8 C GEMM over m rows and all panels of `w`, split over the threads. The kernels read
    /// their arguments through pointers: one copy of each struct, shared by every thread.
    private func gemmI8<Rows>(_ rows: Rows, m: Int, _ w: PackedLinear, _ scales: UnsafePointer<Float>,
                              colsum: UnsafePointer<Int32>?, _ y: UnsafeMutablePointer<Float>, accumulate: Bool,
                              _ kernel: (UnsafePointer<Rows>?, Int, Int, UnsafePointer<ssast_i8_matrix>?, Int, Int,
                                         UnsafePointer<ssast_f32_out>?) -> Void) {
        let n = w.n, panels = (n + panelWidth - 1) / panelWidth
        let q = w.data.assumingMemoryBound(to: Int8.self)
        withUnsafePointer(to: rows) { X in
            withUnsafePointer(to: ssast_i8_matrix(q: q, scale: scales, colsum: colsum, bias: w.bias, n: n, kPad: Packing.kPadI8(w.k))) { W in
                withUnsafePointer(to: ssast_f32_out(y: y, ldy: n, accumulate: accumulate ? 1 : 0)) { Y in
                    splitGemm(m: m, panels: panels) { rows, prs in
                        kernel(X, rows.lowerBound, rows.upperBound, W, prs.lowerBound, prs.upperBound, Y)
                    }
                }
            }
        }
    }

    /// The int8 scratch (activations, scales, ...), at least `bytes` plus alignment slack.
    private func quantScratch(_ bytes: Int) -> UnsafeMutableRawPointer {
        if quantBytes < bytes + 64 {
            quantBuffer?.deallocate()
            quantBuffer = UnsafeMutableRawPointer.allocate(byteCount: bytes + 64, alignment: 64)
            quantBytes = bytes + 64
        }
        return quantBuffer!
    }

    /// int8 weights with 8-bit activations (see CKernels' ssast_u8_rows): rows quantised to bytes with
    /// a zero point, then the family's byte kernel (with the weights' column sums: the model's, else
    /// computed here), or the int16 kernel on the widened rows.
    private func linearU8(_ x: UnsafePointer<Float>, m: Int, _ w: PackedLinear, _ scales: UnsafePointer<Float>,
                          _ y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let k = w.k, n = w.n, kPad = Packing.kPadI8(k), stride = ssast_u8_stride(kPad)
        let panels = (n + panelWidth - 1) / panelWidth
        // Layout: zero points, column sums (Int32), scales (Float), then bytes or widened int16 rows.
        let ints = m + panels * panelWidth + m
        let rowBytes = m * stride + (family.c.gemmU8 == nil ? m * kPad * 2 + 8 : 0)
        let base = quantScratch(ints * 4 + rowBytes)
        let zero = base.bindMemory(to: Int32.self, capacity: m + panels * panelWidth)
        let colsum = zero + m
        let xs = (base + (m + panels * panelWidth) * 4).bindMemory(to: Float.self, capacity: m)
        let u = (base + ints * 4).bindMemory(to: UInt8.self, capacity: m * stride)
        let quantize = family.c.quantizeU8
        pool.parallelFor(m) { rows, _ in quantize(x, k, rows.lowerBound, rows.upperBound, k, stride, u, zero, xs) }
        let X = ssast_u8_rows(u: u, zero: zero, scale: xs, stride: stride)
        guard let gemm = family.c.gemmU8 else {
            let xq = UnsafeMutableRawPointer(u + (m * stride + 7) / 8 * 8).bindMemory(to: Int16.self, capacity: m * kPad)
            withUnsafePointer(to: X) { X in
                pool.parallelFor(m) { rows, _ in ssast_u8_widen(X, rows.lowerBound, rows.upperBound, kPad, xq) }
            }
            gemmI8(ssast_i16_rows(xq: xq, scale: xs), m: m, w, scales, colsum: nil, y, accumulate: accumulate, family.c.gemmI8)
            return
        }
        if let sums = w.colsum {
            gemmI8(X, m: m, w, scales, colsum: sums, y, accumulate: accumulate, gemm)
            return
        }
        let q = w.data.assumingMemoryBound(to: Int8.self)
        pool.parallelFor(panels) { prs, _ in ssast_i8_colsums(q, n, kPad, prs.lowerBound, prs.upperBound, colsum) }
        gemmI8(X, m: m, w, scales, colsum: colsum, y, accumulate: accumulate, gemm)
    }

    /// Largest activation level for `bits`, capped so k·127·qmax fits the int32 accumulators.
    public static func activationQMax(bits: Int, k: Int) -> Int {
        let want = (1 << (bits - 1)) - 1
        return max(1, min(want, Int(Int32.max) / (127 * max(Packing.kPadI8(k), 1))))
    }

    public func layerNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, gamma: UnsafePointer<Float>,
                          beta: UnsafePointer<Float>, eps: Float, _ y: UnsafeMutablePointer<Float>) {
        guard let table else { Reference.layerNorm(x, rows: rows, dim: dim, gamma: gamma, beta: beta, eps: eps, y); return }
        let p = LayerNormProblem(x: x, dim: dim, gamma: gamma, beta: beta, eps: eps, y: y)
        pool.parallelFor(rows) { r, _ in table.layerNorm(p, r) }
    }

    /// Exact-erf GELU in place (vectorised erf: |error| ≤ ~2e-7 vs erff; see KernelTests).
    public func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard let table else { Reference.gelu(x, count: count); return }
        let chunk = 4096
        if count <= chunk || threads == 1 { table.gelu(x, 0..<count); return }
        let parts = (count + chunk - 1) / chunk
        pool.parallelFor(parts) { r, _ in table.gelu(x, (r.lowerBound * chunk)..<min(count, r.upperBound * chunk)) }
    }

    /// Row-wise softmax in place.
    public func softmax(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        guard let table else { Reference.softmax(x, rows: rows, cols: cols); return }
        pool.parallelFor(rows) { r, _ in table.softmax(x, r, cols) }
    }

    /// Multi-head self-attention core (see `Reference.attention`). K and V are first packed into
    /// panels (parallel over heads x key chunks), then each task of 6 query rows of one head keeps
    /// its scores in L1 (parallel over heads x query blocks).
    /// `quantized` (int8 models): integer products, `attentionProductBits` wide: 8 (u8 x s8, see
    /// `Reference.attentionU8`, its twin) or 16 (see `Reference.attentionI16`).
    public func attention(qkv: UnsafePointer<Float>, tokens: Int, heads: Int, headDim: Int, _ out: UnsafeMutablePointer<Float>,
                          quantized: Bool = false) {
        let u8 = quantized && attentionProductBits == 8
        guard let table else {
            if u8 { Reference.attentionU8(qkv: qkv, tokens: tokens, heads: heads, headDim: headDim, out) }
            else if quantized { Reference.attentionI16(qkv: qkv, tokens: tokens, heads: heads, headDim: headDim, out) }
            else { Reference.attention(qkv: qkv, tokens: tokens, heads: heads, headDim: headDim, out) }
            return
        }
        if tokens <= 0 || heads <= 0 || headDim <= 0 { return }
        let tasks = heads * ((tokens + tileRows - 1) / tileRows)
        let p = AttentionProblem(qkv: qkv, tokens: tokens, heads: heads, headDim: headDim, out: out)
        if u8, let compute = family.c.attentionU8 {
            let packed = UnsafeMutableRawPointer(packBuffer(floats: (ssast_attn_u8_packed_bytes(tokens, heads, headDim) + 3) / 4))
            let pack = family.c.attentionU8Pack
            pool.parallelFor(ssast_attn_u8_pack_tasks(tokens, heads)) { r, _ in
                pack(qkv, tokens, heads, headDim, r.lowerBound, r.upperBound, packed)
            }
            let need = (ssast_attn_u8_scratch_bytes(tokens, headDim) + 3) / 4
            let n = ssast_attn_u8_tasks(tokens, heads)
            for i in 0..<min(threads, n) { _ = threadScratch(i, count: need) }
            let bufs = scratch
            pool.parallelFor(n) { r, i in compute(qkv, tokens, heads, headDim, r.lowerBound, r.upperBound, packed, out, bufs[i]!) }
            return
        }
        if quantized {
            let bytes = ssast_attn_i16_packed_bytes(tokens, heads, headDim)
            let packed = UnsafeMutableRawPointer(packBuffer(floats: (bytes + 3) / 4))
            let pack = family.c.attentionI16Pack, compute = family.c.attentionI16
            pool.parallelFor(ssast_attn_i16_pack_tasks(tokens, heads)) { r, _ in
                pack(qkv, tokens, heads, headDim, r.lowerBound, r.upperBound, packed)
            }
            let need = (ssast_attn_i16_scratch_bytes(tokens, headDim) + 3) / 4
            for i in 0..<min(threads, tasks) { _ = threadScratch(i, count: need) }
            let bufs = scratch
            pool.parallelFor(tasks) { r, i in compute(qkv, tokens, heads, headDim, r.lowerBound, r.upperBound, packed, out, bufs[i]!) }
            return
        }
        let packed = packBuffer(floats: table.attentionPackedCount(p))
        pool.parallelFor(heads * Core.attentionKeyChunks(tokens: tokens)) { r, _ in table.attentionPack(p, r, packed) }
        let need = Core.attentionScratchCount(tokens: tokens, headDim: headDim)
        for i in 0..<min(threads, tasks) { _ = threadScratch(i, count: need) }
        let bufs = scratch
        pool.parallelFor(tasks) { r, i in table.attention(p, r, packed, bufs[i]!) }
    }

    /// The shared packed-K/V buffer, grown on demand.
    private func packBuffer(floats: Int) -> UnsafeMutablePointer<Float> {
        if packFloats < floats {
            packed?.deallocate()
            packed = UnsafeMutablePointer<Float>.allocate(capacity: floats)
            packFloats = floats
        }
        return packed!
    }

    /// C[m, n] = alpha · op(A) · op(B) + beta · C, row-major (see `Reference.sgemm`). op(B) is packed
    /// into 32-column panels per call; op(A) is transposed into a temporary when transA.
    public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard let table else {
            Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                            b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        if m <= 0 || n <= 0 { return }
        pool.parallelFor(m) { rows, _ in
            for i in rows {
                let row = c + i * ldc
                if beta == 0 { for j in 0..<n { row[j] = 0 } } else if beta != 1 { for j in 0..<n { row[j] *= beta } }
            }
        }
        if k <= 0 || alpha == 0 { return }
        let panels = (n + panelWidth - 1) / panelWidth
        let bp = UnsafeMutablePointer<Float>.allocate(capacity: panels * k * panelWidth)
        defer { bp.deallocate() }
        pool.parallelFor(panels) { prs, _ in
            for p in prs {
                let dst = bp + p * k * panelWidth
                let j0 = p * panelWidth, cols = min(panelWidth, n - j0)
                if transB {
                    for j in 0..<panelWidth {
                        if j < cols { let src = b + (j0 + j) * ldb; for kk in 0..<k { dst[kk * panelWidth + j] = src[kk] } }
                        else { for kk in 0..<k { dst[kk * panelWidth + j] = 0 } }
                    }
                } else {
                    for kk in 0..<k {
                        let src = b + kk * ldb + j0, d = dst + kk * panelWidth
                        for j in 0..<cols { d[j] = src[j] }
                        for j in cols..<panelWidth { d[j] = 0 }
                    }
                }
            }
        }
        var at: UnsafeMutablePointer<Float>? = nil
        if transA {
            let t = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
            pool.parallelFor(m) { rows, _ in
                for i in rows { for kk in 0..<k { t[i * k + kk] = a[kk * lda + i] } }
            }
            at = t
        }
        defer { at?.deallocate() }
        let ap = at.map { UnsafePointer($0) } ?? a
        let ldA = transA ? k : lda
        let g = GemmProblem(x: ap, ldx: ldA, w: UnsafeRawPointer(bp), panelStride: k * panelWidth, k: k, n: n, y: c, ldy: ldc,
                            epilogue: GemmEpilogue(alpha: alpha, accumulate: true))
        splitGemm(m: m, panels: panels) { rows, prs in table.gemmF32(g, rows, prs) }
    }

    /// Peak multiply-add rate of the selected kernels: a register-only FMA loop on `threads`
    /// participants (at most the engine's), in GFLOP/s. The reference family reports generic's.
    /// Each participant's rate is its flops over its own thread CPU time, summed: on a shared machine
    /// wall time would count the moments another process held the core (it read 28 GFLOP/s for a
    /// ~100 GFLOP/s core at load 12).
    public func measurePeakFMA(threads wanted: Int? = nil) -> Double {
        let n = max(1, min(wanted ?? threads, threads))
        let t = table ?? genericKernels()
        let iterations = 4_000_000
        // Warm up clocks, and wake every participant: workers idle for a while sleep, and one that
        // woke late would run its loop after the others.
        pool.run { i in if i < n { _ = t.peak(iterations / 10) } }
        var rates = [Double](repeating: 0, count: n)
        rates.withUnsafeMutableBufferPointer { f in
            let fp = f.baseAddress!
            // One loop per participant at once (run, not parallelFor, which could hand both to one thread).
            pool.run { i in
                if i < n {
                    let start = threadCPUTime()
                    let flops = t.peak(iterations)
                    fp[i] = flops / max(threadCPUTime() - start, 1e-9)
                }
            }
        }
        return rates.reduce(0, +) / 1e9
    }
}
