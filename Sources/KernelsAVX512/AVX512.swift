// AVX-512 (F, BW, DQ, VL) kernels: Core's generic bodies specialised for SIMD16<Float>, compiled with
// -target-cpu skylake-avx512 (see Package.swift). Only reached when CPUID/XGETBV report AVX-512.
import CKernels
import KernelsCore

enum AVX512ISA: KernelISA {
    typealias V = SIMD16<Float>
    // 32 zmm registers: 12-row linear tiles (24 accumulators).
    static var wideTiles: Bool { true }
    @inline(__always) static func madd(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }
    // Lane by lane: any generic SIMD conversion init is emitted as a weak stdlib specialisation that the
    // linker could share between ISA modules (and so run AVX-512 code on an AVX2 path). Cost is negligible:
    // the fp16 linear converts each weight panel chunk once, outside the inner loop.
    @inline(__always) static func loadF16(_ p: UnsafeRawPointer) -> V {
        var v = V()
        for i in 0..<16 { v[i] = Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        return v
    }
    @inline(__always) static func max(_ a: V, _ b: V) -> V { a.replacing(with: b, where: a .< b) }
    @inline(__always) static func min(_ a: V, _ b: V) -> V { a.replacing(with: b, where: b .< a) }
    @inline(__always) static func abs(_ a: V) -> V { a.replacing(with: -a, where: a .< 0) }
    @inline(__always) static func flipSign(_ m: V, where s: V) -> V { m.replacing(with: -m, where: s .< 0) }
    @inline(__always) static func pow2FromMagic(_ t: V) -> V {
        let b = unsafeBitCast(t, to: SIMD16<UInt32>.self) &<< 23 &+ SIMD16<UInt32>(repeating: 127 << 23)
        return unsafeBitCast(b, to: V.self)
    }
}

@inline(never) func gemmF32AVX512(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<Float>, _ ps: Int,
                                _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(AVX512ISA.self, f16: false, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func gemmF16AVX512(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<UInt16>, _ ps: Int,
                                _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(AVX512ISA.self, f16: true, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func attentionPackAVX512(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                      _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(AVX512ISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed)
}
@inline(never) func attentionAVX512(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                  _ packed: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(AVX512ISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed, out: out, scratch: scratch)
}
@inline(never) func peakAVX512(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(AVX512ISA.self, iterations: iterations, sink: &sink)
}

/// The AVX-512 table. Call only when the CPU has AVX-512 F/BW/DQ/VL (+VNNI if `vnni`); this whole module is compiled for Skylake-AVX512, so even building the table must not run elsewhere.
public func avx512Kernels(vnni: Bool) -> KernelTable {
    KernelTable(
        name: vnni ? "avx512vnni" : "avx512", gemmF32: gemmF32AVX512, gemmF16: gemmF16AVX512,
        quantizeRows: { x, ldx, rows, k, kPad, qmax, xq, xs in
            ssast_i8_quantize_avx2(x, ldx, rows.lowerBound, rows.upperBound, k, kPad, qmax, xq, xs)
        },
        gemmI8: { xq, xs, rows, w, ws, bias, n, kPad, panels, y, ldy, acc in
            (vnni ? ssast_i8_gemm_avx512vnni : ssast_i8_gemm_avx512)(xq, xs, rows.lowerBound, rows.upperBound, w, ws, bias, n, kPad,
                               panels.lowerBound, panels.upperBound, y, ldy, acc ? 1 : 0)
        },
        layerNorm: { x, rows, dim, g, b, eps, y in
            Core.layerNormRows(AVX512ISA.self, x: x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps, y: y)
        },
        gelu: { x, range in Core.geluRange(AVX512ISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(AVX512ISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { t, heads, dh in heads * Core.attentionLayout(tokens: t, headDim: dh, nr: 2 * AVX512ISA.V.scalarCount).headFloats },
        attentionPack: attentionPackAVX512, attention: attentionAVX512, attentionI16Pack: { qkv, t, heads, dh, tasks, packed in
            ssast_attn_i16_pack_avx2(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed)
        },
        attentionI16: { qkv, t, heads, dh, tasks, packed, out, scratch in
            (vnni ? ssast_attn_i16_avx512vnni : ssast_attn_i16_avx512)(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound,
                                                                      packed, out, scratch)
        },
        peak: peakAVX512)
}
