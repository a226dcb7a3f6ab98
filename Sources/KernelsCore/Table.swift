// The arguments of each kernel travel as one small struct (passed by value into the @inline(__always)
// bodies, so they cost nothing over separate arguments): adding an argument touches its struct and the
// code that reads it, not every table, wrapper and call site.

/// What a GEMM does with each finished output tile, while it is still in registers:
/// y = act(alpha · Σ + bias (+ y when accumulating)), act = GELU or the identity.
@frozen public struct GemmEpilogue {
    public var bias: UnsafePointer<Float>?
    public var alpha: Float
    /// Adds the old y (a residual add, saving a pass over y).
    public var accumulate: Bool
    /// Exact-erf GELU of the result (fc1): saves a separate pass over the activations.
    public var gelu: Bool
    @inlinable @inline(__always)
    public init(bias: UnsafePointer<Float>? = nil, alpha: Float = 1, accumulate: Bool = false, gelu: Bool = false) {
        self.bias = bias; self.alpha = alpha; self.accumulate = accumulate; self.gelu = gelu
    }
}

/// A GEMM on packed weights: y[i, j] = epilogue(Σ_kk x[i, kk] · W[j, kk]) for j < n. W in panels of
/// `panelWidth` channels, k-major, `panelStride` elements apart (fp32 or IEEE half, per table entry).
/// Which rows and panels one call computes is given beside it (the engine's split over threads).
@frozen public struct GemmProblem {
    public var x: UnsafePointer<Float>
    public var ldx: Int
    public var w: UnsafeRawPointer
    public var panelStride: Int
    public var k: Int
    public var n: Int
    public var y: UnsafeMutablePointer<Float>
    public var ldy: Int
    public var epilogue: GemmEpilogue
    @inlinable @inline(__always)
    public init(x: UnsafePointer<Float>, ldx: Int, w: UnsafeRawPointer, panelStride: Int, k: Int, n: Int,
                y: UnsafeMutablePointer<Float>, ldy: Int, epilogue: GemmEpilogue) {
        self.x = x; self.ldx = ldx; self.w = w; self.panelStride = panelStride; self.k = k; self.n = n
        self.y = y; self.ldy = ldy; self.epilogue = epilogue
    }
}

/// Multi-head self-attention over qkv rows [tokens, 3·heads·headDim] (q | k | v) into out [tokens, heads·headDim].
@frozen public struct AttentionProblem {
    public var qkv: UnsafePointer<Float>
    public var tokens: Int
    public var heads: Int
    public var headDim: Int
    public var out: UnsafeMutablePointer<Float>
    @inlinable @inline(__always)
    public init(qkv: UnsafePointer<Float>, tokens: Int, heads: Int, headDim: Int, out: UnsafeMutablePointer<Float>) {
        self.qkv = qkv; self.tokens = tokens; self.heads = heads; self.headDim = headDim; self.out = out
    }
}

/// Row-wise LayerNorm of x [rows, dim] into y.
@frozen public struct LayerNormProblem {
    public var x: UnsafePointer<Float>
    public var dim: Int
    public var gamma: UnsafePointer<Float>
    public var beta: UnsafePointer<Float>
    public var eps: Float
    public var y: UnsafeMutablePointer<Float>
    @inlinable @inline(__always)
    public init(x: UnsafePointer<Float>, dim: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                y: UnsafeMutablePointer<Float>) {
        self.x = x; self.dim = dim; self.gamma = gamma; self.beta = beta; self.eps = eps; self.y = y
    }
}

/// The entry points one instruction set provides. Runtime's `Engine` picks one table at init (from
/// CPUID/XGETBV, or SSAST_ISA) and splits the work over its threads; each entry runs single-threaded
/// on the sub-range it is given. The int8 kernels (linears and int16 attention) are C functions in
/// CKernels, which choose their instructions per function; Runtime's `KernelFamily` names them.
public struct KernelTable {
    public let name: String
    /// `rows` x `panels` of a GEMM with fp32 weights (see Core.gemmPanels).
    public let gemmF32: (_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) -> Void
    /// Same with IEEE-half weights.
    public let gemmF16: (_ p: GemmProblem, _ rows: Range<Int>, _ panels: Range<Int>) -> Void
    public let layerNorm: (_ p: LayerNormProblem, _ rows: Range<Int>) -> Void
    public let gelu: (_ x: UnsafeMutablePointer<Float>, _ range: Range<Int>) -> Void
    public let softmax: (_ x: UnsafeMutablePointer<Float>, _ rows: Range<Int>, _ cols: Int) -> Void
    /// Floats of packed K/V that `attentionPack` fills.
    public let attentionPackedCount: (_ p: AttentionProblem) -> Int
    /// Packs K/V for tasks (head x key chunk, see Core.attentionPack).
    public let attentionPack: (_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafeMutablePointer<Float>) -> Void
    /// Attention for tasks (head x 6-query block) over the packed K/V (see Core.attention).
    public let attention: (_ p: AttentionProblem, _ tasks: Range<Int>, _ packed: UnsafePointer<Float>,
                           _ scratch: UnsafeMutablePointer<Float>) -> Void
    /// Runs the register-only FMA loop; returns flops done.
    public let peak: (_ iterations: Int) -> Double

    public init(name: String,
                gemmF32: @escaping (GemmProblem, Range<Int>, Range<Int>) -> Void,
                gemmF16: @escaping (GemmProblem, Range<Int>, Range<Int>) -> Void,
                layerNorm: @escaping (LayerNormProblem, Range<Int>) -> Void,
                gelu: @escaping (UnsafeMutablePointer<Float>, Range<Int>) -> Void,
                softmax: @escaping (UnsafeMutablePointer<Float>, Range<Int>, Int) -> Void,
                attentionPackedCount: @escaping (AttentionProblem) -> Int,
                attentionPack: @escaping (AttentionProblem, Range<Int>, UnsafeMutablePointer<Float>) -> Void,
                attention: @escaping (AttentionProblem, Range<Int>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void,
                peak: @escaping (Int) -> Double) {
        self.name = name; self.gemmF32 = gemmF32; self.gemmF16 = gemmF16
        self.layerNorm = layerNorm; self.gelu = gelu; self.softmax = softmax
        self.attentionPackedCount = attentionPackedCount; self.attentionPack = attentionPack
        self.attention = attention
        self.peak = peak
    }
}
