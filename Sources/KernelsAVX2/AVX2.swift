// AVX2 + FMA + F16C kernels: Core's generic bodies specialised for SIMD8<Float> and compiled with
// -target-cpu haswell (see Package.swift). Only reached when CPUID/XGETBV report AVX2.
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
    // Sign bits by masks (one and / xor each), not compare-and-blend (three instructions).
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
@inline(never) func gemmF32AVX2(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(AVX2ISA.self, f16: false, p, rows: rows, panels: panels)
}
@inline(never) func gemmF16AVX2(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(AVX2ISA.self, f16: true, p, rows: rows, panels: panels)
}
@inline(never) func attentionPackAVX2(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(AVX2ISA.self, p, tasks: tasks, packed: packed)
}
@inline(never) func attentionAVX2(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafePointer<Float>,
                                  _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(AVX2ISA.self, p, tasks: tasks, packed: packed, scratch: scratch)
}
@inline(never) func peakAVX2(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(AVX2ISA.self, iterations: iterations, sink: &sink)
}

/// The AVX2 table. Call only when the CPU has AVX2+FMA+F16C (this module is compiled for Haswell).
public func avx2Kernels() -> KernelTable {
    KernelTable(
        name: "avx2", gemmF32: gemmF32AVX2, gemmF16: gemmF16AVX2,
        layerNorm: { p, rows in Core.layerNormRows(AVX2ISA.self, p, rows: rows) },
        gelu: { x, range in Core.geluRange(AVX2ISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(AVX2ISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { p in Core.attentionPackedCount(AVX2ISA.self, p) },
        attentionPack: attentionPackAVX2, attention: attentionAVX2, peak: peakAVX2)
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

@inline(never) func gemmF32Wide16(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(AVX2Wide16ISA.self, f16: false, p, rows: rows, panels: panels)
}
@inline(never) func gemmF16Wide16(_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) {
    Core.gemmPanels(AVX2Wide16ISA.self, f16: true, p, rows: rows, panels: panels)
}
@inline(never) func attentionPackWide16(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafeMutablePointer<Float>) {
    Core.attentionPack(AVX2Wide16ISA.self, p, tasks: tasks, packed: packed)
}
@inline(never) func attentionWide16(_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafePointer<Float>,
                                  _ scratch: UnsafeMutablePointer<Float>) {
    Core.attention(AVX2Wide16ISA.self, p, tasks: tasks, packed: packed, scratch: scratch)
}
@inline(never) func peakWide16(_ iterations: Int) -> Double {
    var sink: Float = 0
    return Core.peakLoop(AVX2Wide16ISA.self, iterations: iterations, sink: &sink)
}

/// The "avx512-shape" table: the AVX-512 table's Swift kernels at 16 lanes, on AVX2 (see AVX2Wide16ISA).
public func avx512ShapeKernels() -> KernelTable {
    KernelTable(
        name: "avx512-shape", gemmF32: gemmF32Wide16, gemmF16: gemmF16Wide16,
        layerNorm: { p, rows in Core.layerNormRows(AVX2Wide16ISA.self, p, rows: rows) },
        gelu: { x, range in Core.geluRange(AVX2Wide16ISA.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(AVX2Wide16ISA.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { p in Core.attentionPackedCount(AVX2Wide16ISA.self, p) },
        attentionPack: attentionPackWide16, attention: attentionWide16, peak: peakWide16)
}
