// Portable kernels: Core's generic bodies with SIMD4<Float> and separate multiply and add, built for
// the baseline CPU (x86-64 SSE2, or aarch64 NEON). Used when no wider ISA is available, and as a
// forced choice for tests (SSAST_ISA=generic).
import CKernels
import KernelsCore

enum GenericISA: KernelISA {
    typealias V = SIMD4<Float>
    // No FMA on the baseline: a fused call would become four scalar fmaf calls.
    @inline(__always) static func madd(_ a: V, _ b: V, _ c: V) -> V { a * b + c }
    @inline(__always) static func loadF16(_ p: UnsafeRawPointer) -> V {
        let h = p.loadUnaligned(as: SIMD4<UInt16>.self)
        return V(Float(Float16(bitPattern: h[0])), Float(Float16(bitPattern: h[1])),
                 Float(Float16(bitPattern: h[2])), Float(Float16(bitPattern: h[3])))
    }
    @inline(__always) static func max(_ a: V, _ b: V) -> V { a.replacing(with: b, where: a .< b) }
    @inline(__always) static func min(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }
    @inline(__always) static func abs(_ a: V) -> V { a.replacing(with: -a, where: a .< 0) }
    @inline(__always) static func flipSign(_ m: V, where s: V) -> V { m.replacing(with: -m, where: s .< 0) }
    @inline(__always) static func pow2FromMagic(_ t: V) -> V {
        let b = unsafeBitCast(t, to: SIMD4<UInt32>.self) &<< 23 &+ SIMD4<UInt32>(repeating: 127 << 23)
        return unsafeBitCast(b, to: V.self)
    }
}

@inline(never) func gemmF32Generic(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<Float>, _ ps: Int,
                                   _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                   _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(GenericISA.self, f16: false, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func gemmF16Generic(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<UInt16>, _ ps: Int,
                                   _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                   _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(GenericISA.self, f16: true, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func attentionPackGeneric(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                      _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(GenericISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed)
}
@inline(never) func attentionGeneric(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                  _ packed: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(GenericISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed, out: out, scratch: scratch)
}
@inline(never) func peakGeneric(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(GenericISA.self, iterations: iterations, sink: &sink)
}

/// The portable table; runs on any CPU.
public func genericKernels() -> KernelTable {
    KernelTable(
        name: "generic", gemmF32: gemmF32Generic, gemmF16: gemmF16Generic,
        quantizeRows: { x, ldx, rows, k, kPad, qmax, xq, xs in
            ssast_i8_quantize_generic(x, ldx, rows.lowerBound, rows.upperBound, k, kPad, qmax, xq, xs)
        },
        gemmI8: { xq, xs, rows, w, ws, bias, n, kPad, panels, y, ldy, acc in
            ssast_i8_gemm_generic(xq, xs, rows.lowerBound, rows.upperBound, w, ws, bias, n, kPad,
                                  panels.lowerBound, panels.upperBound, y, ldy, acc ? 1 : 0)
        },
        layerNorm: { x, rows, dim, g, b, eps, y in
            Core.layerNormRows(GenericISA.self, x: x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps, y: y)
        },
        gelu: { x, range in Core.geluRange(GenericISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(GenericISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { t, heads, dh in heads * Core.attentionLayout(tokens: t, headDim: dh, nr: 2 * GenericISA.V.scalarCount).headFloats },
        attentionPack: attentionPackGeneric, attention: attentionGeneric, attentionI16Pack: { qkv, t, heads, dh, tasks, packed in
            ssast_attn_i16_pack_generic(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed)
        },
        attentionI16: { qkv, t, heads, dh, tasks, packed, out, scratch in
            ssast_attn_i16_generic(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed, out, scratch)
        },
        peak: peakGeneric)
}
