import CKernels
import CKernelsSIMDe
import Runtime
import XCTest

/// The 8-bit-activation int8 kernels (CKernels' ssast_u8_*) against their plain twin
/// ssast_u8_gemm_generic, bit for bit, on shapes with remainders in rows, channels and k (odd pair
/// counts, k not a multiple of 4), with and without accumulation: the AVX-512 VNNI and AVX-VNNI tiles
/// built on SIMDe (every CPU), the same tiles built natively where the CPU has them, and the AVX2
/// quantiser against the generic one.
final class ByteKernelTests: XCTestCase {
    typealias Gemm = @convention(c) (UnsafePointer<ssast_u8_rows>?, Int, Int, UnsafePointer<ssast_i8_matrix>?, Int, Int,
                                     UnsafePointer<ssast_f32_out>?) -> Void

    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 2, 1), (5, 31, 3), (13, 33, 17), (9, 64, 6), (20, 96, 192), (75, 40, 257), (3, 1, 5), (17, 192, 768), (80, 33, 10),
    ]

    func testByteKernelsMatchGenericBitForBit() throws {
        var kernels: [(String, Gemm)] = [("avx512vnni (SIMDe)", ssast_u8_gemm_avx512vnni_simde), ("avxvnni (SIMDe)", ssast_u8_gemm_avxvnni_simde)]
        let isas = Engine.availableISAs
        #if arch(x86_64)
        if isas.contains("avx512vnni") { kernels.append(("avx512vnni (native)", ssast_u8_gemm_avx512vnni)) }
        if isas.contains("avxvnni") { kernels.append(("avxvnni (native)", ssast_u8_gemm_avxvnni)) }
        #endif
        print("ByteKernelTests: checking \(kernels.map { $0.0 }.joined(separator: ", "))"
              + (isas.contains("avx512vnni") ? "" : "; AVX-512 VNNI tile NOT run natively (CPU lacks it)")
              + (isas.contains("avxvnni") ? "" : "; AVX-VNNI tile NOT run natively (CPU lacks it)"))
        var rng = KernelTests.RNG(s: 2024)
        var checked = 0
        for (t, s) in ByteKernelTests.shapes.enumerated() {
            let kPad = Packing.kPadI8(s.k), stride = ssast_u8_stride(kPad), panels = (s.n + 31) / 32
            // One-sided rows (as after GELU) and mixed ones, so zero points vary from 0 to 255.
            let x = (0..<(s.m * s.k)).map { i in rng.next() * ((i / s.k) % 3 == 0 ? 3 : 1) + ((i / s.k) % 2 == 0 ? 0.9 : -0.2) }
            let (q, ws) = Packing.packI8(rng.array(s.n * s.k, scale: 0.2), n: s.n, k: s.k)
            let bias = rng.array(s.n), y0 = rng.array(s.m * s.n)
            var u = [UInt8](repeating: 0, count: s.m * stride), zero = [Int32](repeating: 0, count: s.m), xs = [Float](repeating: 0, count: s.m)
            ssast_u8_quantize_generic(x, s.k, 0, s.m, s.k, stride, &u, &zero, &xs)
            #if arch(x86_64)
            if isas.contains("avx2") {
                var u2 = u.map { _ in UInt8(0) }, z2 = zero.map { _ in Int32(0) }, xs2 = xs.map { _ in Float(0) }
                ssast_u8_quantize_avx2(x, s.k, 0, s.m, s.k, stride, &u2, &z2, &xs2)
                XCTAssertTrue(u2 == u && z2 == zero && xs2 == xs, "AVX2 quantiser differs, shape \(s)")
            }
            #endif
            var colsum = [Int32](repeating: 0, count: panels * 32)
            ssast_i8_colsums(q, s.n, kPad, 0, panels, &colsum)
            let accumulate = Int32(t % 2)
            func run(_ gemm: Gemm) -> [Float] {
                var y = y0
                u.withUnsafeBufferPointer { ub in zero.withUnsafeBufferPointer { zb in xs.withUnsafeBufferPointer { sb in
                q.withUnsafeBufferPointer { qb in ws.withUnsafeBufferPointer { wsb in colsum.withUnsafeBufferPointer { cb in
                bias.withUnsafeBufferPointer { bb in y.withUnsafeMutableBufferPointer { yb in
                    var X = ssast_u8_rows(u: ub.baseAddress, zero: zb.baseAddress, scale: sb.baseAddress, stride: stride)
                    var W = ssast_i8_matrix(q: qb.baseAddress, scale: wsb.baseAddress, colsum: cb.baseAddress, bias: bb.baseAddress, n: s.n, kPad: kPad)
                    var Y = ssast_f32_out(y: yb.baseAddress, ldy: s.n, accumulate: accumulate)
                    // Rows and panels in two parts, as the engine splits them over threads.
                    let mh = s.m / 2, ph = panels / 2
                    gemm(&X, 0, mh, &W, 0, panels, &Y)
                    gemm(&X, mh, s.m, &W, 0, ph, &Y)
                    gemm(&X, mh, s.m, &W, ph, panels, &Y)
                }}}}}}}}
                return y
            }
            let want = run(ssast_u8_gemm_generic)
            XCTAssertNotEqual(want, y0, "shape \(s): the twin wrote nothing")
            // The twin against the Swift reference (same integers, same float epilogue order).
            var ref = [Float](repeating: 0, count: s.m * s.n)
            q.withUnsafeBytes { qb in ws.withUnsafeBufferPointer { wsb in bias.withUnsafeBufferPointer { bb in
                let pl = PackedLinear(n: s.n, k: s.k, type: .i8, data: qb.baseAddress!, scales: wsb.baseAddress, bias: bb.baseAddress)
                Reference.linearU8Dynamic(x, m: s.m, pl, &ref)
            }}}
            if accumulate != 0 { for i in ref.indices { ref[i] += y0[i] } }
            XCTAssertEqual(want, ref, "generic u8 twin vs Reference.linearU8Dynamic, shape \(s)")
            for (name, gemm) in kernels {
                let got = run(gemm)
                let differing = zip(got, want).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(name) vs generic, shape \(s): \(differing) of \(want.count) outputs differ")
                checked += want.count
            }
        }
        print("ByteKernelTests: \(checked) outputs compared bit for bit over \(ByteKernelTests.shapes.count) shapes")
    }
}
