// aarch64 Advanced SIMD (NEON) kernels: Core's generic bodies specialised for SIMD8<Float> (two
// q registers per vector, so the 6 x 16 GEMM tile keeps 24 of the 32 vector registers as
// accumulators) with fused multiply-add (FMLA, part of every ARMv8-A core). int8 linears run the
// C kernels of neon_int8.c: SMLAL on any NEON core, SDOT where getauxval reports ASIMDDP.
// Only built for aarch64 (Package.swift on an aarch64 host, scripts/aarch64-tests.sh from x86).
#if arch(arm64)
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
    @inline(__always) static func abs(_ a: V) -> V {
        unsafeBitCast(unsafeBitCast(a, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: V.self)
    }
    @inline(__always) static func flipSign(_ m: V, where s: V) -> V {
        unsafeBitCast(unsafeBitCast(m, to: SIMD8<UInt32>.self) ^ (unsafeBitCast(s, to: SIMD8<UInt32>.self) & 0x8000_0000), to: V.self)
    }
    @inline(__always) static func pow2FromMagic(_ t: V) -> V {
        let b = unsafeBitCast(t, to: SIMD8<UInt32>.self) &<< 23 &+ SIMD8<UInt32>(repeating: 127 << 23)
        return unsafeBitCast(b, to: V.self)
    }
}

// This module's own non-generic wrappers, repeated in every ISA module on purpose: a shared generic
// builder let AVX-512 code reach the AVX2 path (see Runtime's KernelFamily).
@inline(never) func gemmF32NEON(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(NEONISA.self, f16: false, p, rows: rows, panels: panels)
}
@inline(never) func gemmF16NEON(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(NEONISA.self, f16: true, p, rows: rows, panels: panels)
}
@inline(never) func attentionPackNEON(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(NEONISA.self, p, tasks: tasks, packed: packed)
}
@inline(never) func attentionNEON(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafePointer<Float>,
                                  _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(NEONISA.self, p, tasks: tasks, packed: packed, scratch: scratch)
}
@inline(never) func peakNEON(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(NEONISA.self, iterations: iterations, sink: &sink)
}

/// The NEON table (FMLA); the int8 kernels (SMLAL, or SDOT with dot product) are C, named per family.
public func neonKernels() -> KernelTable {
    KernelTable(
        name: "neon", gemmF32: gemmF32NEON, gemmF16: gemmF16NEON,
        layerNorm: { p, rows in Core.layerNormRows(NEONISA.self, p, rows: rows) },
        gelu: { x, range in Core.geluRange(NEONISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(NEONISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { p in Core.attentionPackedCount(NEONISA.self, p) },
        attentionPack: attentionPackNEON, attention: attentionNEON, peak: peakNEON)
}
#endif
