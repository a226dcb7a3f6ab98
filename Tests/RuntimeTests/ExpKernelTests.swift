import Foundation
import KernelsCore
import XCTest

/// The attention softmax's 2^x (`Core.exp2Softmax`) against exp2 in Double. The body is generic over
/// the ISA's vector, so a plain SIMD4 adapter checks the arithmetic every ISA module compiles.
final class ExpKernelTests: XCTestCase {
    enum PlainISA: KernelISA {
        typealias V = SIMD4<Float>
        static func madd(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }
        static func loadF16(_ p: UnsafeRawPointer) -> V {
            var v = V()
            for i in 0..<4 { v[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            return v
        }
        static func pow2FromMagic(_ t: V) -> V {
            let b = unsafeBitCast(t, to: SIMD4<UInt32>.self) &<< 23 &+ SIMD4<UInt32>(repeating: 127 << 23)
            return unsafeBitCast(b, to: V.self)
        }
        static func max(_ a: V, _ b: V) -> V { a.replacing(with: b, where: a .< b) }
        static func min(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }
        static func abs(_ a: V) -> V { a.replacing(with: -a, where: a .< 0) }
        static func flipSign(_ m: V, where s: V) -> V { m.replacing(with: -m, where: s .< 0) }
    }

    /// Relative error ≤ 2e-7 on [-126, 0] (the stated bound is 1e-7 for the polynomial plus the
    /// rounding of x - n); below -126 (and -inf, a padded key) the floor 2^-126.
    func testExp2SoftmaxBound() {
        var worst = 0.0
        var i = 0
        while i <= 126_000 {
            let x = -Float(i) * 1e-3
            let v = PlainISA.V(x, x * 0.5, x + 0.25 > 0 ? 0 : x + 0.25, -Float(i % 1000) * 1e-3)
            let y = Core.exp2Softmax(PlainISA.self, v)
            for l in 0..<4 {
                let want = exp2(Double(max(v[l], -126)))  // the floor: Float(-126000) * 1e-3 is a hair below -126
                let rel = abs(Double(y[l]) / want - 1)
                worst = max(worst, rel)
                if rel > 2e-7 { XCTFail("exp2Softmax(\(v[l])) = \(y[l]), want \(want) (relative error \(rel))"); return }
            }
            i += 1
        }
        let low = Core.exp2Softmax(PlainISA.self, PlainISA.V(-126.5, -200, -.infinity, -1e30))
        for l in 0..<4 { XCTAssertEqual(low[l], Float.leastNormalMagnitude, "lane \(l)") }
        XCTAssertEqual(Core.exp2Softmax(PlainISA.self, PlainISA.V(repeating: 0))[0], 1)
        print("ExpKernelTests: exp2Softmax worst relative error on [-126, 0]: \(worst)")
    }
}
