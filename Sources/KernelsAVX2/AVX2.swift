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

// MARK: - the AVX-512 kernels' 16-lane shape, on AVX2

/// Core's bodies specialised for SIMD16<Float> exactly as KernelsAVX512 specialises them, but compiled
/// for Haswell (each 16-lane operation becomes two YMM operations). Not a fast path: no AVX-512 CPU or
/// emulator is at hand (qemu's TCG has no AVX-512), so this is how the 16-lane code paths the AVX-512
/// table runs (32-key attention panels, one register chunk per 32-wide weight panel, 16-lane tails)
/// are executed and tested against their twins here. Reached only by asking for the family "avx512-shape".
enum AVX2Wide16ISA: KernelISA {
    typealias V = SIMD16<Float>
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

/// A Haswell-compiled table over one vector type: `I` is AVX2ISA for the "avx2" family and
/// AVX2Wide16ISA for "avx512-shape". Inlined into each caller, so every closure below is specialised for
/// the concrete ISA type of this module (and its symbols cannot be shared with another ISA module's).
/// The int8 entries are the AVX2 C kernels in both (the AVX-512 C tiles need AVX-512 to run at all).
@inline(__always) func haswellTable<I: KernelISA>(_: I.Type, name: String) -> KernelTable {
    KernelTable(
        name: name,
        gemmF32: { x, ldx, rows, w, ps, k, n, panels, bias, alpha, acc, y, ldy in
            Core.gemmPanels(I.self, f16: false, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                            panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
        },
        gemmF16: { x, ldx, rows, w, ps, k, n, panels, bias, alpha, acc, y, ldy in
            Core.gemmPanels(I.self, f16: true, x: x, ldx: ldx, rows: rows, w: UnsafeRawPointer(w), panelStride: ps, k: k, n: n,
                            panels: panels, bias: bias, alpha: alpha, accumulate: acc, y: y, ldy: ldy)
        },
        quantizeRows: { x, ldx, rows, k, kPad, qmax, xq, xs in
            ssast_i8_quantize_avx2(x, ldx, rows.lowerBound, rows.upperBound, k, kPad, qmax, xq, xs)
        },
        gemmI8: { xq, xs, rows, w, ws, bias, n, kPad, panels, y, ldy, acc in
            ssast_i8_gemm_avx2(xq, xs, rows.lowerBound, rows.upperBound, w, ws, bias, n, kPad,
                               panels.lowerBound, panels.upperBound, y, ldy, acc ? 1 : 0)
        },
        layerNorm: { x, rows, dim, g, b, eps, y in
            Core.layerNormRows(I.self, x: x, rows: rows, dim: dim, gamma: g, beta: b, eps: eps, y: y)
        },
        gelu: { x, range in Core.geluRange(I.self, x, range) },
        softmax: { x, rows, cols in Core.softmaxRows(I.self, x: x, rows: rows, cols: cols) },
        attentionPackedCount: { t, heads, dh in heads * Core.attentionLayout(tokens: t, headDim: dh, nr: 2 * I.V.scalarCount).headFloats },
        attentionPack: { qkv, t, heads, dh, tasks, packed in
            Core.attentionPack(I.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed)
        },
        attention: { qkv, t, heads, dh, tasks, packed, out, scratch in
            Core.attention(I.self, qkv: qkv, tokens: t, heads: heads, headDim: dh, tasks: tasks, packed: packed, out: out, scratch: scratch)
        },
        attentionI16Pack: { qkv, t, heads, dh, tasks, packed in
            ssast_attn_i16_pack_avx2(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed)
        },
        attentionI16: { qkv, t, heads, dh, tasks, packed, out, scratch in
            ssast_attn_i16_avx2(qkv, t, heads, dh, tasks.lowerBound, tasks.upperBound, packed, out, scratch)
        },
        peak: { iterations in
            var sink: Float = 0
            return Core.peakLoop(I.self, iterations: iterations, sink: &sink)
        })
}

/// The AVX2 table. Call only when the CPU has AVX2+FMA+F16C (this module is compiled for Haswell).
public func avx2Kernels() -> KernelTable { haswellTable(AVX2ISA.self, name: "avx2") }

/// The "avx512-shape" table: the AVX-512 table's Swift kernels at 16 lanes, on AVX2 (see AVX2Wide16ISA).
public func avx512ShapeKernels() -> KernelTable { haswellTable(AVX2Wide16ISA.self, name: "avx512-shape") }
