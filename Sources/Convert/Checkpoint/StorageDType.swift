import Runtime

/// Element types a checkpoint tensor may have (torch storage classes / safetensors dtype names).
public enum StorageDType: String, CaseIterable, Sendable {
    case float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool

    public var itemSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }

    /// torch storage class names (`torch.FloatStorage` ...), as they appear in pickles.
    init?(storageClass name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }

    /// torch dtype attribute names (`torch.float32`, `torch.half` ...), as `_rebuild_tensor_v3` receives them.
    init?(torchDType name: String) {
        switch name {
        case "float32", "float": self = .float32
        case "float16", "half": self = .float16
        case "bfloat16": self = .bfloat16
        case "float64", "double": self = .float64
        case "int64", "long": self = .int64
        case "int32", "int": self = .int32
        case "int16", "short": self = .int16
        case "int8": self = .int8
        case "uint8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }

    /// safetensors dtype names.
    init?(safetensors name: String) {
        switch name {
        case "F32": self = .float32
        case "F16": self = .float16
        case "BF16": self = .bfloat16
        case "F64": self = .float64
        case "I64": self = .int64
        case "I32": self = .int32
        case "I16": self = .int16
        case "I8": self = .int8
        case "U8": self = .uint8
        case "BOOL": self = .bool
        default: return nil
        }
    }

    /// Element `i` (counted in elements from `p`) as Float. Little-endian, unaligned-safe.
    @inline(__always)
    func loadFloat(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        switch self {
        case .float32: return Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
        case .float16: return Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))))
        case .bfloat16:
            let h = UInt16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            return Float(bitPattern: UInt32(h) << 16)
        case .float64: return Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
        case .int64: return Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
        case .int32: return Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
        case .int16: return Float(Int16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
        case .int8: return Float(p.load(fromByteOffset: i, as: Int8.self))
        case .uint8: return Float(p.load(fromByteOffset: i, as: UInt8.self))
        case .bool: return p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0
        }
    }

    /// Element `i` as Int64; only meaningful for the integer and bool types.
    @inline(__always)
    func loadInt(_ p: UnsafeRawPointer, _ i: Int) -> Int64 {
        switch self {
        case .int64: return Int64(littleEndian: p.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
        case .int32: return Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
        case .int16: return Int64(Int16(littleEndian: p.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
        case .int8: return Int64(p.load(fromByteOffset: i, as: Int8.self))
        case .uint8: return Int64(p.load(fromByteOffset: i, as: UInt8.self))
        case .bool: return p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0
        default: return 0
        }
    }
}
