// AVX2 + FMA + F16C kernels: Core's generic bodies specialised for SIMD8<Float> and compiled with
// -target-cpu haswell (see Package.swift). Only reached when CPUID/XGETBV report AVX2.
import CKernels
import KernelsCore

enum AVX2ISA: KernelISA {
    typealias V = SIMD8<Float>
    @inline(__always) static func madd(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }
    // Lane by lane, not the generic SIMD conversion init: that is emitted as a weak stdlib specialisation
    // the linker could share with another ISA module.
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

@inline(never) func gemmF32AVX2(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<Float>, _ ps: Int,
                                _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(AVX2ISA.self, f16: false, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func gemmF16AVX2(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<UInt16>, _ ps: Int,
                                _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(AVX2ISA.self, f16: true, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func attentionPackAVX2(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                      _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(AVX2ISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed)
}
@inline(never) func attentionAVX2(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                  _ packed: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(AVX2ISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed, out: out, scratch: scratch)
}
@inline(never) func peakAVX2(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(AVX2ISA.self, iterations: iterations, sink: &sink)
}

/// The AVX2 table. Call only when the CPU has AVX2+FMA+F16C (this module is compiled for Haswell).
public func avx2Kernels() -> KernelTable {
    KernelTable(
        name: "avx2", gemmF32: gemmF32AVX2, gemmF16: gemmF16AVX2,
        quantizeRows: { x, ldx, rows, k, kPad, qmax, xq, xs in
            ssast_i8_quantize_avx2(x, ldx, rows.lowerBound, rows.upperBound, k, kPad, qmax, xq, xs)
        },
        gemmI8: { xq, xs, rows, w, ws, bias, n, kPad, panels, y, ldy, acc in
            ssast_i8_gemm_avx2(xq, xs, rows.lowerBound, rows.upperBound, w, ws, bias, n, kPad,
                               panels.lowerBound, panels.upperBound, y, ldy, acc ? 1 : 0)
        },
        layerNorm: { x, rows, dim, g, b, eps, y in
            Core.layerNormRows(AVX2ISA.self, x: x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps, y: y)
        },
        gelu: { x, range in Core.geluRange(AVX2ISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(AVX2ISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { t, heads, dh in heads * Core.attentionLayout(tokens: t, headDim: dh, nr: 2 * AVX2ISA.V.scalarCount).headFloats },
        attentionPack: attentionPackAVX2, attention: attentionAVX2, attentionI16Pack: { qkv, t, heads, dh, tasks, packed in
            ssast_attn_i16_pack_avx2(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed)
        },
        attentionI16: { qkv, t, heads, dh, tasks, packed, out, scratch in
            ssast_attn_i16_avx2(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed, out, scratch)
        },
        peak: peakAVX2)
}

// MARK: - the AVX-512 kernels' 16-lane shape, on AVX2

/// Core's bodies specialised for SIMD16<Float> exactly as KernelsAVX512 specialises them, but compiled
/// for Haswell (each 16-lane operation becomes two YMM operations). Not a fast path: no AVX-512 CPU or
/// emulator is at hand (qemu's TCG has no AVX-512), so this is how the 16-lane code paths the AVX-512
/// table runs (32-key attention panels, one register chunk per 32-wide weight panel, 16-lane tails)
/// are executed and tested against their twins here. Reached only by asking for the family "avx512-shape".
enum AVX2Wide16ISA: KernelISA {
    typealias V = SIMD16<Float>
    // As AVX512ISA, so its 12-row tiles are exercised (here they spill: test-only).
    static var wideTiles: Bool { true }
    @inline(__always) static func madd(_ a: V, _ b: V, _ c: V) -> V { c.addingProduct(a, b) }
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

@inline(never) func gemmF32Wide16(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<Float>, _ ps: Int,
                                  _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                  _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(AVX2Wide16ISA.self, f16: false, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func gemmF16Wide16(_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<UInt16>, _ ps: Int,
                                  _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                                  _ acc: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
    Core.gemmPanels(AVX2Wide16ISA.self, f16: true, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                    panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
}
@inline(never) func attentionPackWide16(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                        _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(AVX2Wide16ISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed)
}
@inline(never) func attentionWide16(_ qkv: UnsafePointer<Float>, _ t: Int, _ heads: Int, _ dh: Int, _ tasks: Range<Int>,
                                    _ packed: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(AVX2Wide16ISA.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed, out: out, scratch: scratch)
}
@inline(never) func peakWide16(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(AVX2Wide16ISA.self, iterations: iterations, sink: &sink)
}

/// The "avx512-shape" table: the AVX-512 table's Swift kernels at 16 lanes, on AVX2 (see AVX2Wide16ISA).
/// Its int8 entries are the AVX2 C kernels (the AVX-512 C tiles need AVX-512 to run at all).
public func avx512ShapeKernels() -> KernelTable {
    let base = avx2Kernels()
    return KernelTable(
        name: "avx512-shape", gemmF32: gemmF32Wide16, gemmF16: gemmF16Wide16,
        quantizeRows: base.quantizeRows, gemmI8: base.gemmI8,
        layerNorm: { x, rows, dim, g, b, eps, y in
            Core.layerNormRows(AVX2Wide16ISA.self, x: x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps, y: y)
        },
        gelu: { x, range in Core.geluRange(AVX2Wide16ISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(AVX2Wide16ISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { t, heads, dh in heads * Core.attentionLayout(tokens: t, headDim: dh, nr: 2 * AVX2Wide16ISA.V.scalarCount).headFloats },
        attentionPack: attentionPackWide16, attention: attentionWide16,
        attentionI16Pack: base.attentionI16Pack, attentionI16: base.attentionI16,
        peak: peakWide16)
}
