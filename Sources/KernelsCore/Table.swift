/// The entry points one instruction set provides. Runtime's `Engine` picks one table at init (from
/// CPUID/XGETBV, or SSAST_ISA) and splits the work over its threads; each entry runs single-threaded
/// on the sub-range it is given.
public struct KernelTable {
    public let name: String
    /// y[i, j] for i in rows, j in panels (see Core.gemmPanels); fp32 weights.
    public let gemmF32: (_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<Float>, _ panelStride: Int,
                         _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                         _ accumulate: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) -> Void
    /// Same with IEEE-half weights.
    public let gemmF16: (_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ w: UnsafePointer<UInt16>, _ panelStride: Int,
                         _ k: Int, _ n: Int, _ panels: Range<Int>, _ bias: UnsafePointer<Float>?, _ alpha: Float,
                         _ accumulate: Bool, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) -> Void
    /// Per-row symmetric quantisation of activations to -qmax...qmax in int16 lanes (see CKernels).
    public let quantizeRows: (_ x: UnsafePointer<Float>, _ ldx: Int, _ rows: Range<Int>, _ k: Int, _ kPad: Int, _ qmax: Float,
                              _ xq: UnsafeMutablePointer<Int16>, _ xs: UnsafeMutablePointer<Float>) -> Void
    /// int8 linear on quantised rows: y = (xq·qᵀ)·xs[i]·ws[j] + bias[j] (+ y when accumulating).
    public let gemmI8: (_ xq: UnsafePointer<Int16>, _ xs: UnsafePointer<Float>, _ rows: Range<Int>, _ w: UnsafePointer<Int8>,
                        _ ws: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ n: Int, _ kPad: Int, _ panels: Range<Int>,
                        _ y: UnsafeMutablePointer<Float>, _ ldy: Int, _ accumulate: Bool) -> Void
    public let layerNorm: (_ x: UnsafePointer<Float>, _ rows: Range<Int>, _ dim: Int, _ gamma: UnsafePointer<Float>,
                           _ beta: UnsafePointer<Float>, _ eps: Float, _ y: UnsafeMutablePointer<Float>) -> Void
    public let gelu: (_ x: UnsafeMutablePointer<Float>, _ range: Range<Int>) -> Void
    public let softmax: (_ x: UnsafeMutablePointer<Float>, _ rows: Range<Int>, _ cols: Int) -> Void
    /// Floats of packed K/V that `attentionPack` fills for (tokens, heads, headDim).
    public let attentionPackedCount: (_ tokens: Int, _ heads: Int, _ headDim: Int) -> Int
    /// Packs K/V for tasks (head x key chunk, see Core.attentionPack).
    public let attentionPack: (_ qkv: UnsafePointer<Float>, _ tokens: Int, _ heads: Int, _ headDim: Int, _ tasks: Range<Int>,
                               _ packed: UnsafeMutablePointer<Float>) -> Void
    /// Attention for tasks (head x 6-query block) over the packed K/V (see Core.attention).
    public let attention: (_ qkv: UnsafePointer<Float>, _ tokens: Int, _ heads: Int, _ headDim: Int, _ tasks: Range<Int>,
                           _ packed: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutablePointer<Float>) -> Void
    /// int16-product attention (CKernels' ssast_attn_i16_*): packing pass and compute pass.
    public let attentionI16Pack: (_ qkv: UnsafePointer<Float>, _ tokens: Int, _ heads: Int, _ headDim: Int, _ tasks: Range<Int>,
                                  _ packed: UnsafeMutableRawPointer) -> Void
    public let attentionI16: (_ qkv: UnsafePointer<Float>, _ tokens: Int, _ heads: Int, _ headDim: Int, _ tasks: Range<Int>,
                              _ packed: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>, _ scratch: UnsafeMutableRawPointer) -> Void
    /// Runs the register-only FMA loop; returns flops done.
    public let peak: (_ iterations: Int) -> Double

    public init(name: String,
                gemmF32: @escaping (UnsafePointer<Float>, Int, Range<Int>, UnsafePointer<Float>, Int, Int, Int, Range<Int>,
                                    UnsafePointer<Float>?, Float, Bool, UnsafeMutablePointer<Float>, Int) -> Void,
                gemmF16: @escaping (UnsafePointer<Float>, Int, Range<Int>, UnsafePointer<UInt16>, Int, Int, Int, Range<Int>,
                                    UnsafePointer<Float>?, Float, Bool, UnsafeMutablePointer<Float>, Int) -> Void,
                quantizeRows: @escaping (UnsafePointer<Float>, Int, Range<Int>, Int, Int, Float, UnsafeMutablePointer<Int16>,
                                         UnsafeMutablePointer<Float>) -> Void,
                gemmI8: @escaping (UnsafePointer<Int16>, UnsafePointer<Float>, Range<Int>, UnsafePointer<Int8>, UnsafePointer<Float>,
                                   UnsafePointer<Float>?, Int, Int, Range<Int>, UnsafeMutablePointer<Float>, Int, Bool) -> Void,
                layerNorm: @escaping (UnsafePointer<Float>, Range<Int>, Int, UnsafePointer<Float>, UnsafePointer<Float>, Float,
                                      UnsafeMutablePointer<Float>) -> Void,
                gelu: @escaping (UnsafeMutablePointer<Float>, Range<Int>) -> Void,
                softmax: @escaping (UnsafeMutablePointer<Float>, Range<Int>, Int) -> Void,
                attentionPackedCount: @escaping (Int, Int, Int) -> Int,
                attentionPack: @escaping (UnsafePointer<Float>, Int, Int, Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void,
                attention: @escaping (UnsafePointer<Float>, Int, Int, Int, Range<Int>, UnsafePointer<Float>, UnsafeMutablePointer<Float>,
                                      UnsafeMutablePointer<Float>) -> Void,
                attentionI16Pack: @escaping (UnsafePointer<Float>, Int, Int, Int, Range<Int>, UnsafeMutableRawPointer) -> Void,
                attentionI16: @escaping (UnsafePointer<Float>, Int, Int, Int, Range<Int>, UnsafeRawPointer, UnsafeMutablePointer<Float>,
                                         UnsafeMutableRawPointer) -> Void,
                peak: @escaping (Int) -> Double) {
        self.name = name; self.gemmF32 = gemmF32; self.gemmF16 = gemmF16; self.quantizeRows = quantizeRows
        self.gemmI8 = gemmI8; self.layerNorm = layerNorm; self.gelu = gelu; self.softmax = softmax
        self.attentionPackedCount = attentionPackedCount; self.attentionPack = attentionPack
        self.attention = attention; self.attentionI16Pack = attentionI16Pack; self.attentionI16 = attentionI16
        self.peak = peak
    }
}
