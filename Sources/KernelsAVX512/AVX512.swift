// AVX-512 (F, BW, DQ, VL) kernels: Core's generic bodies specialised for SIMD16<Float>, compiled with
// -target-cpu skylake-avx512 (see Package.swift). Only reached when CPUID/XGETBV report AVX-512.
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
    @inline(__always) static func abs(_ a: V) -> V {
        unsafeBitCast(unsafeBitCast(a, to: SIMD16<UInt32>.self) & 0x7fff_ffff, to: V.self)
    }
    @inline(__always) static func flipSign(_ m: V, where s: V) -> V {
        unsafeBitCast(unsafeBitCast(m, to: SIMD16<UInt32>.self) ^ (unsafeBitCast(s, to: SIMD16<UInt32>.self) & 0x8000_0000), to: V.self)
    }
    @inline(__always) static func pow2FromMagic(_ t: V) -> V {
        let b = unsafeBitCast(t, to: SIMD16<UInt32>.self) &<< 23 &+ SIMD16<UInt32>(repeating: 127 << 23)
        return unsafeBitCast(b, to: V.self)
    }
}

// This module's own non-generic wrappers, repeated in every ISA module on purpose: a shared generic
// builder let AVX-512 code reach the AVX2 path (see Runtime's KernelFamily).
@inline(never) func gemmF32AVX512(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(AVX512ISA.self, f16: false, p, rows: rows, panels: panels)
}
@inline(never) func gemmF16AVX512(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(AVX512ISA.self, f16: true, p, rows: rows, panels: panels)
}
@inline(never) func attentionPackAVX512(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(AVX512ISA.self, p, tasks: tasks, packed: packed)
}
@inline(never) func attentionAVX512(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafePointer<Float>,
                                  _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(AVX512ISA.self, p, tasks: tasks, packed: packed, scratch: scratch)
}
@inline(never) func peakAVX512(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(AVX512ISA.self, iterations: iterations, sink: &sink)
}

/// The AVX-512 table. Call only when the CPU has AVX-512 F/BW/DQ/VL; this whole module is compiled for
/// Skylake-AVX512, so even building the table must not run elsewhere.
public func avx512Kernels() -> KernelTable {
    KernelTable(
        name: "avx512", gemmF32: gemmF32AVX512, gemmF16: gemmF16AVX512,
        layerNorm: { p, rows in Core.layerNormRows(AVX512ISA.self, p, rows: rows) },
        gelu: { x, range in Core.geluRange(AVX512ISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(AVX512ISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { p in Core.attentionPackedCount(AVX512ISA.self, p) },
        attentionPack: attentionPackAVX512, attention: attentionAVX512, peak: peakAVX512)
}
