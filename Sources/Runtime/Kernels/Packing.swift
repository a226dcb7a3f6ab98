/// How matmul weights are stored in the weight file and consumed by the kernels.
///
/// A Linear layer y = x·Wᵀ + b has PyTorch weight W of shape [n, k] (out, in). The converter stores
/// it as *panels* of `Packing.panel` output channels: n is padded up to a multiple of the panel
/// with zero rows, and panel p holds, k-major, W[p*panel + j, kk] at element (kk * panel + j).
/// A kernel then streams one panel's rows contiguously while broadcasting x values.
/// fp16 weights are IEEE binary16 in the same order.
/// int8 weights use per-output-channel symmetric scales (w ≈ scale[j] * q[j, k], q in -127...127)
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
    /// Symmetric per-output-channel int8: scale = max|w_j| / 127, q = round(w / scale).
    public static func packI8(_ w: [Float], n: Int, k: Int) -> (q: [Int8], scales: [Float]) {
        var scales = [Float](repeating: 0, count: paddedN(n))
        var q = [Int8](repeating: 0, count: packedBytes(n: n, k: k, type: .i8))
        for j in 0..<n {
            var m: Float = 0
            for kk in 0..<k { m = max(m, abs(w[j * k + kk])) }
            let s = m > 0 ? m / 127 : 1
            scales[j] = s
            for kk in 0..<k {
                let v = (w[j * k + kk] / s).rounded(.toNearestOrEven)
                q[indexI8(row: j, col: kk, k: k)] = Int8(max(-127, min(127, v)))
            }
        }
        return (q, scales)
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
    public init(n: Int, k: Int, type: WeightType, data: UnsafeRawPointer, scales: UnsafePointer<Float>?, bias: UnsafePointer<Float>?) {
        self.n = n; self.k = k; self.type = type; self.data = data; self.scales = scales; self.bias = bias
    }
}
