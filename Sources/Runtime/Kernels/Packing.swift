/// How matmul weights are stored in the weight file and consumed by the kernels.
///
/// A Linear layer y = x·Wᵀ + b has PyTorch weight W of shape [n, k] (out, in). The converter stores
/// it as *panels* of `Packing.panel` output channels: n is padded up to a multiple of the panel
/// with zero rows, and panel p holds, k-major, W[p*panel + j, kk] at element (kk * panel + j).
/// A kernel then streams one panel's rows contiguously while broadcasting x values.
/// fp16 weights are IEEE binary16 in the same order.
/// int8 weights use per-output-channel symmetric scales (w ≈ scale[j] * q[j, k], q in -127...127;
/// scale and rounding chosen at conversion: `int8Scale`, `int8Round`)
/// and pair-interleaved panels for multiply-add-pairs instructions (vpmaddwd, vpdpwssd): k is padded
/// to an even kPad with zeros, and panel p holds q[p*panel + j, kk] at byte
/// (kk / 2) * 2 * panel + j * 2 + kk % 2 — see `indexI8`.
public enum WeightType: UInt32, CustomStringConvertible {
    case f32 = 0, f16 = 1, i8 = 2
    public var description: String { ["fp32", "fp16", "int8"][Int(rawValue)] }
    public var byteWidth: Int { [4, 2, 1][Int(rawValue)] }
    public init?(name: String) {
        switch name.lowercased() {
        case "fp32", "f32", "float32": self = .f32
        case "fp16", "f16", "float16", "half": self = .f16
        case "int8", "i8", "q8": self = .i8
        default: return nil
        }
    }
}

public enum Packing {
    /// Output channels per panel. 32 = two AVX-512 vectors, four AVX2 vectors, eight NEON vectors.
    public static let panel = 32
    /// Layout identifier recorded in the weight file; a runtime refuses layouts it does not know.
    /// 2: int8 panels are pair-interleaved (layout 1 had them k-major like fp32).
    public static let layoutID: UInt32 = 2

    public static func paddedN(_ n: Int) -> Int { (n + panel - 1) / panel * panel }
    /// Elements (not bytes) of a packed [n, k] matrix.
    public static func packedCount(n: Int, k: Int) -> Int { paddedN(n) * k }
    @inlinable public static func index(row j: Int, col kk: Int, k: Int) -> Int {
        (j / 32) * (k * 32) + kk * 32 + (j % 32)
    }
    /// int8: k rounded up to even.
    @inlinable public static func kPadI8(_ k: Int) -> Int { (k + 1) & ~1 }
    /// int8 element (byte) index of W[j, kk] (pair-interleaved panels).
    @inlinable public static func indexI8(row j: Int, col kk: Int, k: Int) -> Int {
        (j / 32) * (kPadI8(k) * 32) + (kk / 2) * 64 + (j % 32) * 2 + (kk % 2)
    }
    /// Bytes of a packed [n, k] matrix of `type` (int8 includes the k padding).
    public static func packedBytes(n: Int, k: Int, type: WeightType) -> Int {
        type == .i8 ? paddedN(n) * kPadI8(k) : packedCount(n: n, k: k) * type.byteWidth
    }

    /// Packs a row-major [n, k] fp32 matrix into panels (fp32).
    public static func packF32(_ w: [Float], n: Int, k: Int) -> [Float] {
        precondition(w.count == n * k)
        var out = [Float](repeating: 0, count: packedCount(n: n, k: k))
        for j in 0..<n { for kk in 0..<k { out[index(row: j, col: kk, k: k)] = w[j * k + kk] } }
        return out
    }
    public static func unpackF32(_ p: UnsafePointer<Float>, n: Int, k: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * k)
        for j in 0..<n { for kk in 0..<k { out[j * k + kk] = p[index(row: j, col: kk, k: k)] } }
        return out
    }
    public static func packF16(_ w: [Float], n: Int, k: Int) -> [UInt16] {
        packF32(w, n: n, k: k).map { Float16($0).bitPattern }
    }
    public static func unpackF16(_ p: UnsafePointer<UInt16>, n: Int, k: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * k)
        for j in 0..<n { for kk in 0..<k { out[j * k + kk] = Float(Float16(bitPattern: p[index(row: j, col: kk, k: k)])) } }
        return out
    }
    /// Symmetric per-output-channel int8: w ≈ scale·q, q in -127...127. The scale is `int8Scale`'s, the
    /// rounding `int8Round`'s.
    public static func packI8(_ w: [Float], n: Int, k: Int) -> (q: [Int8], scales: [Float]) {
        var scales = [Float](repeating: 0, count: paddedN(n))
        var q = [Int8](repeating: 0, count: packedBytes(n: n, k: k, type: .i8))
        w.withUnsafeBufferPointer { all in
            for j in 0..<n {
                let row = UnsafeBufferPointer(rebasing: all[(j * k)..<((j + 1) * k)])
                let s = int8Scale(row)
                scales[j] = s
                for (kk, v) in int8Round(row, scale: s).enumerated() { q[indexI8(row: j, col: kk, k: k)] = v }
            }
        }
        return (q, scales)
    }

    @inline(__always) static func int8Level(_ x: Float, _ s: Float) -> Float { max(-127, min(127, (x / s).rounded(.toNearestOrEven))) }

    /// The scale of one output channel: of the candidates max|w|·f / 127 for f = 1, 0.99, ..., 0.50,
    /// the one with the least Σ (w - s·round(w / s))². max|w| / 127 alone (no clipping) spends the
    /// range on the channel's largest weight and every other weight pays for it in step size; clipping
    /// the few largest trades their error for a finer step everywhere. For inputs of equal variance per
    /// column this is the least output noise of the channel (Σ_k Δw_k² · E[x_k²]). Chosen at conversion
    /// and stored as the channel's scale: no cost at run time.
    public static func int8Scale(_ row: UnsafeBufferPointer<Float>) -> Float {
        var m: Float = 0
        for v in row { m = max(m, abs(v)) }
        guard m > 0 else { return 1 }
        var best = m / 127, bestError = Double.infinity
        for step in 0...50 {
            let s = m * (1 - Float(step) * 0.01) / 127, inv = 1 / s
            var e: Float = 0
            for v in row { let d = v - max(-127, min(127, (v * inv).rounded(.toNearestOrEven))) * s; e += d * d }
            if Double(e) < bestError { bestError = Double(e); best = s }
        }
        return best
    }

    /// The levels of one channel: nearest rounding, then the channel's sum kept. Nearest rounding
    /// leaves each channel a summed error R = Σ_k (w/s - q); multiplied by any part of the input that
    /// is common to all k (GELU outputs are mostly positive, LayerNorm adds beta) it is one offset
    /// for every token, which no average over tokens (the avgtok head, attention) removes. Moving the
    /// |round(R)| levels whose rounding was nearest a tie one step the other way brings |R| to at most
    /// a half step, for 1 - 2|r| step² of squared error each (r: the moved level's residual).
    public static func int8Round(_ row: UnsafeBufferPointer<Float>, scale s: Float) -> [Int8] {
        var q = row.map { int8Level($0, s) }
        var residual = [Float](repeating: 0, count: row.count), total: Float = 0
        for i in 0..<row.count { residual[i] = row[i] / s - q[i]; total += residual[i] }
        let moves = Int(total.rounded(.toNearestOrEven))
        if moves != 0 {
            let up = moves > 0
            // Levels nearest a tie in the direction of the move first; a level at ±127 cannot move.
            let order = residual.indices.sorted { up ? residual[$0] > residual[$1] : residual[$0] < residual[$1] }
            var left = abs(moves)
            for i in order where left > 0 && (up ? q[i] < 127 : q[i] > -127) {
                q[i] += up ? 1 : -1
                left -= 1
            }
        }
        return q.map { Int8($0) }
    }

    public static func unpackI8(_ p: UnsafePointer<Int8>, scales: UnsafePointer<Float>, n: Int, k: Int) -> [Float] {
        var out = [Float](repeating: 0, count: n * k)
        for j in 0..<n { for kk in 0..<k { out[j * k + kk] = Float(p[indexI8(row: j, col: kk, k: k)]) * scales[j] } }
        return out
    }
}

/// One Linear layer as the kernels see it: packed weights used in place from the mmap.
public struct PackedLinear {
    public let n: Int          // output features
    public let k: Int          // input features
    public let type: WeightType
    public let data: UnsafeRawPointer        // packed panels, `type` elements
    public let scales: UnsafePointer<Float>? // int8 only: paddedN(n) per-output-channel scales
    public let bias: UnsafePointer<Float>?   // n values, or nil
    /// int8 only: Σ_k q[j, k] per channel (paddedN(n)), which the byte kernels subtract zero·colsum with;
    /// computed once when the model loads (nil: per call).
    public let colsum: UnsafePointer<Int32>?
    public init(n: Int, k: Int, type: WeightType, data: UnsafeRawPointer, scales: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
                colsum: UnsafePointer<Int32>? = nil) {
        self.n = n; self.k = k; self.type = type; self.data = data; self.scales = scales; self.bias = bias; self.colsum = colsum
    }
}
