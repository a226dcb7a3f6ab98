import Foundation
import Runtime
import TestSupport
import XCTest

/// Every fast kernel against its `Reference` twin, for every kernel family this CPU can run
/// (forced through Engine(isa:)), at 1 and 2 threads, on shapes with remainders in every dimension.
///
/// Bounds (per element, r = the same computation on |x| and |W|, i.e. Σ|x·w|):
/// - fp32 / fp16-weight linear and sgemm: |fast - ref| ≤ 2e-5·r + 1e-6 (only the summation order
///   and FMA contraction differ; fp16 weights are widened exactly in both).
/// - int8 linear vs `Reference.linearI8Dynamic` (12-bit activations) and `Reference.linearU8Dynamic` (8-bit,
///   with a zero point) (same quantisation, exact integer sums):
///   |fast - ref| ≤ 1e-5·|ref| + 1e-5·r·wscale (float epilogue only).
/// - attention, layerNorm, softmax: 2e-5 absolute; GELU: 1e-6 absolute on [-10, 10].
/// - threads 1 vs 2: bit-identical (work is split by whole rows/panels, each element's sum order fixed).
final class KernelTests: XCTestCase {
    struct RNG {
        var s: UInt64
        mutating func next() -> Float {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
    }

    /// Families to test: all the CPU supports except the reference itself, plus the test-only
    /// "avx512-shape" (the AVX-512 Swift kernels at 16 lanes on AVX2) where the CPU has AVX2.
    static var families: [String] { Engine.availableISAs.filter { $0 != "reference" } + Engine.testISAs }

    static let reported: Void = {
        let all = Engine.availableISAs
        print("KernelTests: CPU supports \(all.joined(separator: ", ")); default engine picks \((try? Engine(threads: 1).isaName) ?? "?")")
        if !all.contains("avx512") {
            print("KernelTests: AVX-512 kernels NOT run here: this CPU (or emulator) reports no AVX-512 (CPUID/XGETBV)"
                  + (Engine.testISAs.contains("avx512-shape") ? "; their Swift bodies run at 16 lanes on AVX2 as family avx512-shape (the AVX-512 C int8 tiles do not)" : ""))
        }
        if !all.contains("avx2") { print("KernelTests: AVX2 kernels NOT tested here: no AVX2+FMA+F16C") }
    }()

    override func setUp() { _ = KernelTests.reported }

    func engines() throws -> [(String, Engine, Engine)] {
        try KernelTests.families.map { ($0, try Engine(threads: 1, isa: $0), try Engine(threads: 2, isa: $0)) }
    }

    // MARK: dispatch

    func testDispatch() throws {
        let e = try Engine(threads: 1)
        let avail = Engine.availableISAs
        // The best family the CPU has, unless SSAST_ISA overrides it.
        let forced = ProcessInfo.processInfo.environment["SSAST_ISA"].flatMap { $0.isEmpty || $0 == "auto" ? nil : $0 }
        XCTAssertEqual(e.isaName, forced ?? avail.first)
        XCTAssertEqual(try Engine(threads: 1, isa: "generic").isaName, "generic")
        XCTAssertEqual(try Engine(threads: 1, isa: "reference").isaName, "reference")
        XCTAssertThrowsError(try Engine(threads: 1, isa: "sse9"))
        for name in ["avx512", "avx2"] where !avail.contains(name) {
            XCTAssertThrowsError(try Engine(threads: 1, isa: name)) { err in
                XCTAssertTrue("\(err)".contains("does not support"), "\(err)")
            }
        }
        XCTAssertThrowsError(try Engine(threads: 0))
        print("KernelTests: selected ISA \(e.isaName)")
    }

    /// Engine.parallelFor (the pool's chunks claimed from an atomic counter): every index exactly once,
    /// in contiguous chunks, for counts below, at and above the chunk count, on 2 and 3 threads, and
    /// the work really is spread (some chunk runs off the calling thread).
    func testParallelForCoversEveryIndexOnce() throws {
        for threads in [2, 3] {
            let e = try Engine(threads: threads)
            for count in [0, 1, 2, 3, 7, 8, 9, 12, 13, 100, 602] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                hits.initialize(repeating: 0, count: max(count, 1))
                defer { hits.deallocate() }
                let lock = NSLock()
                var chunks: [Range<Int>] = []
                var offThread = false
                let caller = pthread_self()
                let start = Date()
                e.parallelFor(count) { r in
                    for i in r { hits[i] += 1 }   // chunks are disjoint: no two threads touch one index
                    lock.lock(); chunks.append(r); if pthread_equal(pthread_self(), caller) == 0 { offThread = true }; lock.unlock()
                    // Large counts: hold every chunk until a pool thread has run one (so the caller cannot
                    // finish them all alone while the workers wake), at most 10 s.
                    while count >= 100 && Date().timeIntervalSince(start) < 10 {
                        lock.lock(); let seen = offThread; lock.unlock()
                        if seen { break }
                        usleep(100)
                    }
                }
                for i in 0..<count { XCTAssertEqual(hits[i], 1, "threads \(threads) count \(count) index \(i)") }
                XCTAssertTrue(chunks.allSatisfy { !$0.isEmpty }, "empty chunk for count \(count)")
                XCTAssertEqual(chunks.map(\.count).reduce(0, +), count)
                if count >= 100 {
                    XCTAssertGreaterThan(chunks.count, threads, "count \(count) split into \(chunks.count) chunks")
                    XCTAssertTrue(offThread, "threads \(threads) count \(count): no chunk ran on a pool thread within 10 s")
                }
            }
        }
    }

    // MARK: linear

    struct LinearCase { let m, n, k: Int }

    static var linearCases: [LinearCase] {
        var c: [LinearCase] = []
        for m in [1, 5, 13] { for n in [2, 31, 33, 192] { for k in [1, 3, 17, 192, 256] { c.append(LinearCase(m: m, n: n, k: k)) } } }
        // The model's shapes; SSAST_KERNEL_TESTS_QUICK (emulated CPUs, scripts/qemu-tests.sh) keeps one.
        let quick = ProcessInfo.processInfo.environment["SSAST_KERNEL_TESTS_QUICK"] != nil
        for (n, k) in quick ? [(33, 17)] : [(576, 192), (192, 768), (2, 192), (33, 17), (768, 192)] {
            c.append(LinearCase(m: 602, n: n, k: k))
        }
        if !quick { c.append(LinearCase(m: 600, n: 192, k: 256)) }
        return c
    }

    func packed(_ type: WeightType, _ w: [Float], n: Int, k: Int) -> (bytes: [UInt8], scales: [Float]) {
        switch type {
        case .f32: return (Packing.packF32(w, n: n, k: k).withUnsafeBytes { Array($0) }, [])
        case .f16: return (Packing.packF16(w, n: n, k: k).withUnsafeBytes { Array($0) }, [])
        case .i8:
            let (q, s) = Packing.packI8(w, n: n, k: k)
            return (q.withUnsafeBytes { Array($0) }, s)
        }
    }

    func runLinear(_ type: WeightType, activationBits: Int = 12) throws {
        let engines = try engines()
        for (_, e1, e2) in engines { e1.int8ActivationBits = activationBits; e2.int8ActivationBits = activationBits }
        var rng = RNG(s: 42 &+ UInt64(type.rawValue))
        var worst = [String: Float]()
        var quantErr: Float = 0, quantScale: Float = 0
        for c in KernelTests.linearCases {
            let x = rng.array(c.m * c.k), w = rng.array(c.n * c.k, scale: 0.2), bias = rng.array(c.n)
            let p = packed(type, w, n: c.n, k: c.k)
            let pa = packed(type, w.map(abs), n: c.n, k: c.k)
            let xa = x.map(abs)
            var ref = [Float](repeating: 0, count: c.m * c.n), bound = ref, y1 = ref, y2 = ref, f32 = ref
            p.bytes.withUnsafeBytes { wb in p.scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                pa.bytes.withUnsafeBytes { wab in pa.scales.withUnsafeBufferPointer { sab in
                    let lin = PackedLinear(n: c.n, k: c.k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                    let linAbs = PackedLinear(n: c.n, k: c.k, type: type, data: wab.baseAddress!, scales: sab.baseAddress, bias: nil)
                    if type == .i8 {
                        if activationBits == 8 { Reference.linearU8Dynamic(x, m: c.m, lin, &ref) }
                        else { Reference.linearI8Dynamic(x, m: c.m, lin, qmax: Engine.activationQMax(bits: activationBits, k: c.k), &ref) }
                        Reference.linear(xa, m: c.m, linAbs, &bound)
                        // Quantisation error against fp32 weights and activations, for the report.
                        let pf = Packing.packF32(w, n: c.n, k: c.k)
                        pf.withUnsafeBytes { pb in
                            Reference.linear(x, m: c.m, PackedLinear(n: c.n, k: c.k, type: .f32, data: pb.baseAddress!, scales: nil, bias: bb.baseAddress), &f32)
                        }
                    } else {
                        Reference.linear(x, m: c.m, lin, &ref)
                        Reference.linear(xa, m: c.m, linAbs, &bound)
                    }
                    for (name, e1, e2) in engines {
                        e1.linear(x, m: c.m, lin, &y1)
                        e2.linear(x, m: c.m, lin, &y2)
                        XCTAssertEqual(y1, y2, "\(name) \(type) threads 1 vs 2 differ, m \(c.m) n \(c.n) k \(c.k)")
                        var bad = 0
                        for i in 0..<y1.count {
                            let d = abs(y1[i] - ref[i])
                            let tol: Float = type == .i8 ? 1e-5 * abs(ref[i]) + 2e-6 * bound[i] + 1e-6 : 2e-5 * bound[i] + 1e-6
                            if !(d <= tol) { bad += 1 }
                            worst[name] = max(worst[name] ?? 0, d / max(tol, 1e-30))
                        }
                        XCTAssertEqual(bad, 0, "\(name) \(type) linear m \(c.m) n \(c.n) k \(c.k): \(bad) elements outside the bound")
                    }
                }}
            }}}
            if type == .i8 {
                for i in 0..<f32.count { quantErr = max(quantErr, abs(ref[i] - f32[i])); quantScale = max(quantScale, abs(f32[i])) }
            }
        }
        let tag = type == .i8 ? "int8 (activations \(activationBits) bits)" : "\(type)"
        print("KernelTests: linear \(tag) worst error / bound per family: \(worst.sorted { $0.key < $1.key })")
        if type == .i8 {
            print("KernelTests: int8 (per-channel weights, per-row \(activationBits)-bit activations) vs fp32: max |diff| \(quantErr) for outputs up to \(quantScale)")
            XCTAssertLessThan(quantErr, 0.02 * quantScale)
        }
    }

    func testLinearF32() throws { try runLinear(.f32) }
    func testLinearF16() throws { try runLinear(.f16) }
    func testLinearI8() throws { try runLinear(.i8, activationBits: 12) }
    func testLinearI8Activations8Bit() throws { try runLinear(.i8, activationBits: 8) }

    /// `linear(accumulate: true)` (the residual add fused into the epilogue) = y0 + linear(x).
    func testLinearAccumulate() throws {
        let engines = try engines()
        var rng = RNG(s: 77)
        for type in [WeightType.f32, .f16, .i8] {
            for (m, n, k) in [(13, 33, 17), (80, 192, 768), (7, 40, 400)] {  // 80 rows > one row block; k = 768: two k blocks
                let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n), y0 = rng.array(m * n, scale: 5)
                let p = packed(type, w, n: n, k: k)
                var plain = [Float](repeating: 0, count: m * n)
                p.bytes.withUnsafeBytes { wb in p.scales.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                    let lin = PackedLinear(n: n, k: k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                    for (name, e1, e2) in engines {
                        e1.linear(x, m: m, lin, &plain)
                        var y1 = y0, y2 = y0
                        e1.linear(x, m: m, lin, &y1, accumulate: true)
                        e2.linear(x, m: m, lin, &y2, accumulate: true)
                        XCTAssertEqual(y1, y2, "\(name) \(type) accumulate threads 1 vs 2")
                        var bad = 0
                        for i in 0..<y1.count where !(abs(y1[i] - (y0[i] + plain[i])) <= 1e-5 * (abs(y0[i]) + abs(plain[i])) + 1e-6) { bad += 1 }
                        XCTAssertEqual(bad, 0, "\(name) \(type) accumulate m \(m) n \(n) k \(k)")
                    }
                    // The reference family takes the same path through Engine.
                    let r = try! Engine(threads: 1, isa: "reference")
                    var yr = y0
                    r.linear(x, m: m, lin, &yr, accumulate: true)
                    Reference.linear(x, m: m, lin, &plain)
                    XCTAssertEqual(yr, zip(y0, plain).map { $0 + $1 }, "reference \(type) accumulate")
                }}}
            }
        }
    }

    /// 8-bit activations with `wideRows`: the first rows take 12 bits (`Reference.linearI8Dynamic`), the
    /// rest bytes (`Reference.linearU8Dynamic`), on every family, with 1 and 2 threads (identical),
    /// plain and accumulating.
    func testLinearI8WideRows() throws {
        var rng = RNG(s: 91)
        for (m, n, k, wide) in [(13, 33, 17, 2), (8, 40, 400, 1), (2, 70, 768, 2), (1, 35, 192, 1), (3, 33, 9, 5), (9, 64, 31, 0)] {
            let x = rng.array(m * k), w = rng.array(n * k, scale: 0.2), bias = rng.array(n), y0 = rng.array(m * n, scale: 5)
            let p = packed(.i8, w, n: n, k: k)
            try p.bytes.withUnsafeBytes { wb in try p.scales.withUnsafeBufferPointer { sb in try bias.withUnsafeBufferPointer { bb in
                let lin = PackedLinear(n: n, k: k, type: .i8, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                let rows = min(wide, m)
                var ref = [Float](repeating: 0, count: m * n)
                Reference.linearI8Dynamic(x, m: rows, lin, qmax: Engine.activationQMax(bits: 12, k: k), &ref)
                x.withUnsafeBufferPointer { xb in ref.withUnsafeMutableBufferPointer { Reference.linearU8Dynamic(xb.baseAddress! + rows * k, m: m - rows, lin, $0.baseAddress! + rows * n) } }
                for name in KernelTests.families {
                    var first = [Float]()
                    for threads in [1, 2] {
                        let e = try Engine(threads: threads, isa: name)
                        e.int8ActivationBits = 8
                        var y = [Float](repeating: .nan, count: m * n), ya = y0
                        e.linear(x, m: m, lin, &y, wideRows: wide)
                        e.linear(x, m: m, lin, &ya, accumulate: true, wideRows: wide)
                        if first.isEmpty { first = y }
                        XCTAssertTrue(y == first, "\(name): 1 and 2 threads differ, m \(m) n \(n) k \(k) wide \(wide)")
                        let bad = (0..<y.count).filter { (i: Int) -> Bool in
                            let d: Float = abs(y[i] - ref[i]), tol: Float = 1e-5 * abs(ref[i]) + 1e-5
                            return !(d <= tol)
                        }
                        XCTAssertEqual(bad.count, 0, "\(name) m \(m) n \(n) k \(k) wide \(wide): elements \(bad.prefix(5)) differ from the reference")
                        let badAcc = (0..<y.count).filter { (i: Int) -> Bool in
                            let d: Float = abs(ya[i] - (y0[i] + y[i])), tol: Float = 1e-5 * (abs(y0[i]) + abs(y[i])) + 1e-6
                            return !(d <= tol)
                        }
                        XCTAssertEqual(badAcc.count, 0, "\(name) accumulate m \(m) n \(n) k \(k) wide \(wide)")
                    }
                }
            }}}
        }
    }

    func testLinearI8ZeroRow() throws {
        // An all-zero activation row has no scale; the output must be exactly the bias.
        let n = 40, k = 6
        var rng = RNG(s: 7)
        let w = rng.array(n * k), bias = rng.array(n)
        let (q, s) = Packing.packI8(w, n: n, k: k)
        let x = [Float](repeating: 0, count: 2 * k)
        var y = [Float](repeating: .nan, count: 2 * n)
        for name in KernelTests.families {
            let e = try Engine(threads: 2, isa: name)
            q.withUnsafeBytes { qb in s.withUnsafeBufferPointer { sb in bias.withUnsafeBufferPointer { bb in
                e.linear(x, m: 2, PackedLinear(n: n, k: k, type: .i8, data: qb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress), &y)
            }}}
            XCTAssertEqual(Array(y[0..<n]), bias, name)
            XCTAssertEqual(Array(y[n...]), bias, name)
        }
    }

    // MARK: sgemm

    func testSgemm() throws {
        let engines = try engines()
        var rng = RNG(s: 99)
        for transA in [false, true] { for transB in [false, true] {
            for (m, n, k) in [(1, 2, 1), (5, 31, 17), (13, 33, 192), (7, 70, 3), (64, 40, 400), (2, 577, 9)] {
                for (alpha, beta) in [(Float(1), Float(0)), (0.5, 1.5)] {
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                    let a = rng.array((transA ? k : m) * lda), b = rng.array((transB ? n : k) * ldb)
                    let c0 = rng.array(m * ldc)
                    var ref = c0, bound = c0.map { abs($0) * abs(beta) }
                    Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                    beta: beta, c: &ref, ldc: ldc)
                    Reference.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: abs(alpha), a: a.map(abs), lda: lda,
                                    b: b.map(abs), ldb: ldb, beta: 1, c: &bound, ldc: ldc)
                    for (name, e1, e2) in engines {
                        var c1 = c0, c2 = c0
                        e1.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                 beta: beta, c: &c1, ldc: ldc)
                        e2.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                                 beta: beta, c: &c2, ldc: ldc)
                        XCTAssertEqual(c1, c2, "\(name) sgemm threads 1 vs 2")
                        var bad = 0
                        for i in 0..<m { for j in 0..<ldc {
                            let idx = i * ldc + j
                            if j >= n { if c1[idx] != c0[idx] { bad += 1 }; continue }  // padding untouched
                            if !(abs(c1[idx] - ref[idx]) <= 2e-5 * bound[idx] + 1e-6) { bad += 1 }
                        }}
                        XCTAssertEqual(bad, 0, "\(name) sgemm tA \(transA) tB \(transB) m \(m) n \(n) k \(k) alpha \(alpha) beta \(beta)")
                    }
                }
            }
        }}
    }

    // MARK: attention

    func testAttention() throws {
        let engines = try engines()
        var rng = RNG(s: 5)
        var worst: Float = 0
        // The model's shape (602 tokens) only natively: under qemu (SSAST_KERNEL_TESTS_QUICK) its scalar
        // reference alone takes longer than all the other cases.
        let quick = ProcessInfo.processInfo.environment["SSAST_KERNEL_TESTS_QUICK"] != nil
        for (t, heads, dh) in [(1, 3, 64), (7, 3, 64), (37, 2, 24), (9, 1, 5), (130, 2, 17), (257, 1, 32)] + (quick ? [] : [(602, 3, 64)]) {
            let d = heads * dh
            let qkv = rng.array(t * 3 * d, scale: 2)
            var ref = [Float](repeating: 0, count: t * d), y1 = ref, y2 = ref
            Reference.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &ref)
            for (name, e1, e2) in engines {
                e1.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y1)
                e2.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y2)
                XCTAssertEqual(y1, y2, "\(name) attention threads 1 vs 2, t \(t)")
                let e = maxAbsDiff(y1, ref)
                worst = max(worst, e)
                XCTAssertLessThanOrEqual(e, 2e-5, "\(name) attention t \(t) heads \(heads) dh \(dh)")
            }
        }
        print("KernelTests: attention max |diff| vs reference \(worst)")
    }

    /// int16-product attention (int8 models) against its twin `Reference.attentionI16`, which
    /// quantises identically. The fast exp differs from expf by ~1e-7 relative, which can move a
    /// P level across a rounding boundary: one level moves an output by at most max|v| / 8191.
    func testAttentionI16() throws {
        let engines = try engines()
        var rng = RNG(s: 6)
        var worst: Float = 0, worstF32: Float = 0
        let quick = ProcessInfo.processInfo.environment["SSAST_KERNEL_TESTS_QUICK"] != nil
        for (t, heads, dh) in [(1, 3, 64), (7, 3, 64), (37, 2, 24), (9, 1, 5), (130, 2, 17), (257, 1, 32)] + (quick ? [] : [(602, 3, 64)]) {
            let d = heads * dh
            let qkv = rng.array(t * 3 * d, scale: 2)
            var ref = [Float](repeating: 0, count: t * d), f32 = ref, y1 = ref, y2 = ref
            Reference.attentionI16(qkv: qkv, tokens: t, heads: heads, headDim: dh, &ref)
            Reference.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &f32)
            var vmax: Float = 0
            for j in 0..<t { for e in 0..<d { vmax = max(vmax, abs(qkv[j * 3 * d + 2 * d + e])) } }
            for (name, e1, e2) in engines {
                e1.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y1, quantized: true)
                e2.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &y2, quantized: true)
                XCTAssertEqual(y1, y2, "\(name) int16 attention threads 1 vs 2, t \(t)")
                let e = maxAbsDiff(y1, ref)
                worst = max(worst, e / vmax)
                XCTAssertLessThanOrEqual(e, 3e-4 * vmax, "\(name) int16 attention t \(t) heads \(heads) dh \(dh)")
            }
            let q = maxAbsDiff(ref, f32)
            worstF32 = max(worstF32, q / vmax)
            XCTAssertLessThanOrEqual(q, 5e-3 * vmax, "int16 attention quantisation error t \(t) dh \(dh)")
        }
        print("KernelTests: int16 attention max |diff| vs its reference \(worst)·max|v|; quantisation error vs fp32 \(worstF32)·max|v|")
    }

    // MARK: elementwise

    func testLayerNormSoftmaxGelu() throws {
        let engines = try engines()
        var rng = RNG(s: 11)
        for dim in [1, 7, 100, 192] {
            let rows = 13
            let x = rng.array(rows * dim, scale: 3).map { $0 + 0.5 }, g = rng.array(dim), b = rng.array(dim)
            var ref = [Float](repeating: 0, count: rows * dim), y = ref
            Reference.layerNorm(x, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6, &ref)
            for (name, e1, e2) in engines {
                for e in [e1, e2] {
                    e.layerNorm(x, rows: rows, dim: dim, gamma: g, beta: b, eps: 1e-6, &y)
                    XCTAssertLessThanOrEqual(maxAbsDiff(y, ref), 2e-5, "\(name) layerNorm dim \(dim)")
                }
            }
        }
        for cols in [1, 7, 33, 602] {
            let rows = 5
            let x = rng.array(rows * cols, scale: 20)
            var ref = x
            Reference.softmax(&ref, rows: rows, cols: cols)
            for (name, e1, e2) in engines {
                for e in [e1, e2] {
                    var y = x
                    e.softmax(&y, rows: rows, cols: cols)
                    XCTAssertLessThanOrEqual(maxAbsDiff(y, ref), 2e-6, "\(name) softmax cols \(cols)")
                }
            }
        }
        // GELU on a dense grid over [-10, 10] plus the edges; 20001 + 6 values (odd count: a tail).
        var x = (0...20000).map { Float($0) * 1e-3 - 10 }
        x += [0, -0.0, 1e-30, -1e-30, 30, -30]
        var ref = x
        Reference.gelu(&ref, count: ref.count)
        var worst: Float = 0
        for (name, e1, e2) in engines {
            for e in [e1, e2] {
                var y = x
                e.gelu(&y, count: y.count)
                let d = maxAbsDiff(y, ref)
                worst = max(worst, d)
                XCTAssertLessThanOrEqual(d, 1e-6, "\(name) gelu")
            }
        }
        print("KernelTests: gelu max |diff| vs erff-based reference \(worst)")
    }
}

/// Opt-in kernel timing (SSAST_KERNEL_BENCH=1): prints GFLOP/s per kernel, family and thread count.
/// No assertions on time; machines are shared and noisy.
final class KernelBenchmarks: XCTestCase {
    /// Wall time, or with SSAST_BENCH_CPU=1 this process's CPU time (steadier on a loaded machine,
    /// meaningful for one thread only).
    func now() -> Double {
        var t = timespec()
        clock_gettime(ProcessInfo.processInfo.environment["SSAST_BENCH_CPU"] != nil ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    func time(_ reps: Int, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<reps { let t0 = now(); body(); best = min(best, now() - t0) }
        return best
    }

    func testBenchmark() throws {
        guard ProcessInfo.processInfo.environment["SSAST_KERNEL_BENCH"] != nil else { throw XCTSkip("set SSAST_KERNEL_BENCH=1 to time kernels") }
        var rng = KernelTests.RNG(s: 1)
        let families = ProcessInfo.processInfo.environment["SSAST_BENCH_ISAS"].map { $0.split(separator: ",").map(String.init) }
            ?? Engine.availableISAs.filter { $0 != "reference" }
        for name in families {
            for threads in [1, 2] {
                let e = try Engine(threads: threads, isa: name)
                print("bench \(name) t\(threads): peak \(String(format: "%.1f", e.measurePeakFMA())) GFLOP/s")
                for (m, n, k) in [(602, 576, 192), (602, 192, 192), (602, 768, 192), (602, 192, 768), (600, 192, 256)] {
                    let x = rng.array(m * k), w = rng.array(n * k, scale: 0.1), b = rng.array(n)
                    var y = [Float](repeating: 0, count: m * n)
                    var line = "bench \(name) t\(threads) linear m\(m) n\(n) k\(k):"
                    for type in [WeightType.f32, .f16, .i8] {
                        let bytes: [UInt8], scales: [Float]
                        switch type {
                        case .f32: bytes = Packing.packF32(w, n: n, k: k).withUnsafeBytes { Array($0) }; scales = []
                        case .f16: bytes = Packing.packF16(w, n: n, k: k).withUnsafeBytes { Array($0) }; scales = []
                        case .i8: let (q, s) = Packing.packI8(w, n: n, k: k); bytes = q.withUnsafeBytes { Array($0) }; scales = s
                        }
                        let sec = bytes.withUnsafeBytes { wb in scales.withUnsafeBufferPointer { sb in b.withUnsafeBufferPointer { bb in
                            let lin = PackedLinear(n: n, k: k, type: type, data: wb.baseAddress!, scales: sb.baseAddress, bias: bb.baseAddress)
                            return time(10) { e.linear(x, m: m, lin, &y) }
                        }}}
                        line += " \(type) \(String(format: "%.1f", 2.0 * Double(m * n * k) / sec / 1e9))"
                    }
                    print(line + " GFLOP/s")
                }
                let t = 602, heads = 3, dh = 64
                let qkv = rng.array(t * 3 * heads * dh)
                var out = [Float](repeating: 0, count: t * heads * dh)
                let sec = time(10) { e.attention(qkv: qkv, tokens: t, heads: heads, headDim: dh, &out) }
                print("bench \(name) t\(threads) attention t602 h3 dh64: \(String(format: "%.1f", 4.0 * Double(t * t * heads * dh) / sec / 1e9)) GFLOP/s (\(String(format: "%.2f", sec * 1e3)) ms)")
                var g = rng.array(602 * 768)
                let gs = time(10) { e.gelu(&g, count: g.count) }
                let ln = rng.array(602 * 192), gam = rng.array(192), bet = rng.array(192)
                var lo = ln
                let ls = time(10) { e.layerNorm(ln, rows: 602, dim: 192, gamma: gam, beta: bet, eps: 1e-6, &lo) }
                print("bench \(name) t\(threads) gelu 602x768 \(String(format: "%.3f", gs * 1e3)) ms, layerNorm 602x192 \(String(format: "%.3f", ls * 1e3)) ms")
                for (tA, tB, m, n, k) in [(false, false, 602, 192, 768), (true, false, 192, 768, 602)] {
                    let a = rng.array(m * k), bm = rng.array(k * n)
                    var c = [Float](repeating: 0, count: m * n)
                    let s = time(5) {
                        e.sgemm(transA: tA, transB: tB, m: m, n: n, k: k, alpha: 1, a: a, lda: tA ? m : k, b: bm, ldb: n, beta: 0, c: &c, ldc: n)
                    }
                    print("bench \(name) t\(threads) sgemm tA \(tA) m\(m) n\(n) k\(k): \(String(format: "%.1f", 2.0 * Double(m * n * k) / s / 1e9)) GFLOP/s")
                }
            }
        }
    }
}
