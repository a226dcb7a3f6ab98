// aarch64 Advanced SIMD (NEON) kernels: Core's generic bodies specialised for SIMD8<Float> (two
// q registers per vector, so the 6 x 16 GEMM tile keeps 24 of the 32 vector registers as
// accumulators) with fused multiply-add (FMLA, part of every ARMv8-A core). int8 linears run the
// C kernels of neon_int8.c: SMLAL on any NEON core, SDOT where getauxval reports ASIMDDP.
// Only built for aarch64 (Package.swift on an aarch64 host, scripts/aarch64-tests.sh from x86).
#if arch(arm64)
import CKernels
import KernelsCore

enum NEONISA: KernelISA {
    typealias V = SIMD8<Float>
    @inline(__always) static func madd(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }
    @inline(__always) static func loadF16(_ p: UnsafeRawPointer) -> V {
        var v = V()
        for i in 0..<8 { v[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        return v
    }
    @inline(__always) static func max(_ a: V, _ b: V) -> V { a.replacing(with: b, where: a .< b) }
    @inline(__always) static func min(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }
    @inline(__always) static func abs(_ a: V) -> V { a.replacing(with: -a, where: a .< 0) }
    @inline(__always) static func flipSign(_ m: V, where s: V) -> V { m.replacing(with: -m, where: s .< 0) }
    @inline(__always) static func pow2FromMagic(_ t: V) -> V {
        let b = unsafeBitCast(t, to: SIMD8<UInt32>.self) &<< 23 &+ SIMD8<UInt32>(repeating: 127 << 23)
        return unsafeBitCast(b, to: V.self)
    }
}

@inline(never) func gemmF32NEON(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<Float>, _ ps: Int,
                                _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(NEONISA.self, f16: false, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func gemmF16NEON(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<UInt16>, _ ps: Int,
                                _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(NEONISA.self, f16: true, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func attentionPackNEON(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                      _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(NEONISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed)
}
@inline(never) func attentionNEON(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                  _ packed: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(NEONISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed, out: out, scratch: scratch)
}
@inline(never) func peakNEON(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(NEONISA.self, iterations: iterations, sink: &sink)
}

/// The NEON table ("neon"), or with `dotprod` the same with SDOT int8 linears ("dotprod"). Call
/// with dotprod only when getauxval(AT_HWCAP) has HWCAP_ASIMDDP.
public func neonKernels(dotprod: Bool) -> KernelTable {
    KernelTable(
        name: dotprod ? "dotprod" : "neon", gemmF32: gemmF32NEON, gemmF16: gemmF16NEON,
        quantizeRows: { x, ldx, rows, k, kPad, qmax, xq, xs in
            ssast_i8_quantize_generic(x, ldx, rows.lowerBound, rows.upperBound, k, kPad, qmax, xq, xs)
        },
        gemmI8: { xq, xs, rows, w, ws, bias, n, kPad, panels, y, ldy, acc in
            (dotprod ? ssast_i8_gemm_dotprod : ssast_i8_gemm_neon)(xq, xs, rows.lowerBound, rows.upperBound, w, ws, bias, n, kPad,
                                                                  panels.lowerBound, panels.upperBound, y, ldy, acc ? 1 : 0)
        },
        layerNorm: { x, rows, dim, g, b, eps, y in
            Core.layerNormRows(NEONISA.self, x: x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps, y: y)
        },
        gelu: { x, range in Core.geluRange(NEONISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(NEONISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { t, heads, dh in heads * Core.attentionLayout(tokens: t, headDim: dh, nr: 2 * NEONISA.V.scalarCount).headFloats },
        attentionPack: attentionPackNEON, attention: attentionNEON, attentionI16Pack: { qkv, t, heads, dh, tasks, packed in
            ssast_attn_i16_pack_generic(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed)
        },
        attentionI16: { qkv, t, heads, dh, tasks, packed, out, scratch in
            ssast_attn_i16_neon(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed, out, scratch)
        },
        peak: peakNEON)
}
#endif
