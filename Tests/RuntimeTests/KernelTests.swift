import Foundation
import KernelChecks
import Runtime
import TestSupport
import XCTest

/// Every fast kernel against its `Reference` twin, for every kernel family this CPU can run (forced
/// through Engine(isa:)), at 1 and 2 threads, on shapes with remainders in every dimension. The checks
/// and their bounds are KernelChecks' (shared with the aarch64 driver); here they are only asserted.
final class KernelTests: XCTestCase {
    /// SSAST_KERNEL_TESTS_QUICK (emulated CPUs, scripts/qemu-tests.sh) leaves out the model's large shapes.
    static var quick: Bool { ProcessInfo.processInfo.environment["SSAST_KERNEL_TESTS_QUICK"] != nil }

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

    func families() throws -> [KernelChecks.Family] { try KernelChecks.families(KernelChecks.familyNames) }

    /// Runs checks, prints what they measured and fails with each failed check's message.
    func check(_ body: (inout CheckReport) -> Void) {
        var r = CheckReport()
        body(&r)
        for n in r.notes { print("KernelTests: " + n) }
        for f in r.failures.prefix(30) { XCTFail(f) }
        XCTAssertEqual(r.failures.count, 0, "\(r.failures.count) of \(r.checks) checks failed")
        XCTAssertGreaterThan(r.checks, 0)
    }

    // MARK: dispatch

    func testDispatch() {
        let forced = ProcessInfo.processInfo.environment["SSAST_ISA"].flatMap { $0.isEmpty || $0 == "auto" ? nil : $0 }
        check { KernelChecks.dispatch(&$0, forced: forced) }
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

    // MARK: kernel twins

    func testLinearF32() throws { let f = try families(); check { KernelChecks.linear(&$0, f, .f32, quick: KernelTests.quick) } }
    func testLinearF16() throws { let f = try families(); check { KernelChecks.linear(&$0, f, .f16, quick: KernelTests.quick) } }
    func testLinearI8() throws { let f = try families(); check { KernelChecks.linear(&$0, f, .i8, bits: 12, quick: KernelTests.quick) } }
    func testLinearI8Activations8Bit() throws {
        let f = try families(); check { KernelChecks.linear(&$0, f, .i8, bits: 8, quick: KernelTests.quick) }
    }
    /// linear(gelu: true) (fc1; GELU in the GEMM's epilogue for fp32/fp16 weights) against the twin
    /// followed by `Reference.gelu`.
    func testLinearWithGelu() throws {
        let f = try families()
        check { r in
            for type in [WeightType.f32, .f16] { KernelChecks.linear(&r, f, type, gelu: true, quick: true) }
            for bits in Engine.int8ActivationWidths { KernelChecks.linear(&r, f, .i8, bits: bits, gelu: true, quick: true) }
        }
    }
    /// 8-bit activations with `wideRows`: the first rows take 12 bits (`Reference.linearI8Dynamic`), the
    /// rest bytes (`Reference.linearU8Dynamic`), on every family, with 1 and 2 threads (identical),
    /// plain and accumulating.
    func testLinearI8WideRows() throws { let f = try families(); check { KernelChecks.linearI8WideRows(&$0, f) } }
    func testLinearAccumulate() throws { let f = try families(); check { KernelChecks.linearAccumulate(&$0, f) } }
    func testLinearI8ZeroRow() throws { let f = try families(); check { KernelChecks.linearI8ZeroRow(&$0, f) } }
    func testSgemm() throws { let f = try families(); check { KernelChecks.sgemm(&$0, f) } }
    /// fp32 attention and the int16-product attention of int8 models.
    func testAttention() throws { let f = try families(); check { KernelChecks.attention(&$0, f, quick: KernelTests.quick) } }
    func testLayerNormSoftmaxGelu() throws { let f = try families(); check { KernelChecks.layerNormSoftmaxGelu(&$0, f) } }
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
        var rng = CheckRNG(s: 1)
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
