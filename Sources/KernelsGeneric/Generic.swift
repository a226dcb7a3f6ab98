// Portable kernels: Core's generic bodies with SIMD4<Float> and separate multiply and add, built for
// the baseline CPU (x86-64 SSE2, or aarch64 NEON). Used when no wider ISA is available, and as a
// forced choice for tests (SSAST_ISA=generic).
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
    @inline(__always) static func abs(_ a: V) -> V {
        unsafeBitCast(unsafeBitCast(a, to: SIMD4<UInt32>.self) & 0x7fff_ffff, to: V.self)
    }
    @inline(__always) static func flipSign(_ m: V, where s: V) -> V {
        unsafeBitCast(unsafeBitCast(m, to: SIMD4<UInt32>.self) ^ (unsafeBitCast(s, to: SIMD4<UInt32>.self) & 0x8000_0000), to: V.self)
    }
    @inline(__always) static func pow2FromMagic(_ t: V) -> V {
        let b = unsafeBitCast(t, to: SIMD4<UInt32>.self) &<< 23 &+ SIMD4<UInt32>(repeating: 127 << 23)
        return unsafeBitCast(b, to: V.self)
    }
}

// This module's own non-generic wrappers, repeated in every ISA module on purpose: a shared generic
// builder let AVX-512 code reach the AVX2 path (see Runtime's KernelFamily).
@inline(never) func gemmF32Generic(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(GenericISA.self, f16: false, p, rows: rows, panels: panels)
}
@inline(never) func gemmF16Generic(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(GenericISA.self, f16: true, p, rows: rows, panels: panels)
}
@inline(never) func attentionPackGeneric(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(GenericISA.self, p, tasks: tasks, packed: packed)
}
@inline(never) func attentionGeneric(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafePointer<Float>,
                                  _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(GenericISA.self, p, tasks: tasks, packed: packed, scratch: scratch)
}
@inline(never) func peakGeneric(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(GenericISA.self, iterations: iterations, sink: &sink)
}

/// The portable table; runs on any CPU.
public func genericKernels() -> KernelTable {
    KernelTable(
        name: "generic", gemmF32: gemmF32Generic, gemmF16: gemmF16Generic,
        layerNorm: { p, rows in Core.layerNormRows(GenericISA.self, p, rows: rows) },
        gelu: { x, range in Core.geluRange(GenericISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(GenericISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { p in Core.attentionPackedCount(GenericISA.self, p) },
        attentionPack: attentionPackGeneric, attention: attentionGeneric, peak: peakGeneric)
}
