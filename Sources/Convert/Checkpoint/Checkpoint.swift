import Runtime
import Support

public enum CheckpointFormat: String, Sendable {
    case pytorchZip, safetensors
}

/// One tensor of a checkpoint: a view on the mapped file; values are read only when asked for.
public struct CheckpointTensor {
    public let name: String
    public let dtype: StorageDType
    public let shape: [Int]
    /// Strides in elements (row-major contiguous for safetensors).
    public let strides: [Int]
    let source: ByteSource
    let dataOffset: Int       // absolute byte offset of element [0, 0, ...]

    public var count: Int { shape.reduce(1, *) }
    public var isContiguous: Bool {
        var expect = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expect { return false }
            expect *= shape[d]
        }
        return true
    }

    /// Visits the element indices (relative to `dataOffset`, in elements) in row-major order.
    private func forEachIndex(_ body: (Int, Int) -> Void) {
        let n = count
        if n == 0 { return }
        if isContiguous { for i in 0..<n { body(i, i) }; return }
        let rank = shape.count
        var idx = [Int](repeating: 0, count: rank)
        var at = 0
        for i in 0..<n {
            body(i, at)
            var d = rank - 1
            while d >= 0 {
                // Wrapping ops: a size-1 dimension may carry any stride; `at` returns in range.
                idx[d] += 1; at = at &+ strides[d]
                if idx[d] < shape[d] { break }
                at = at &- strides[d] &* shape[d]; idx[d] = 0
                d -= 1
            }
        }
    }

    /// A contiguous row-major copy converted to Float (NaN/Inf passed through).
    public func floats() throws -> [Float] {
        // The mapping must outlive the raw pointer taken from it.
        withExtendedLifetime(source) {
            let base = source.bytes.baseAddress! + dataOffset
            let dt = dtype
            let contiguousF32 = dt == .float32 && isContiguous && UInt32(littleEndian: 1) == 1
            return [Float](unsafeUninitializedCapacity: count) { buf, initialized in
                if contiguousF32, count > 0 {
                    // The common case (fp32 state_dict): the bytes already are the answer.
                    UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: base, byteCount: count * 4)
                } else {
                    forEachIndex { i, at in buf[i] = dt.loadFloat(base, at) }
                }
                initialized = count
            }
        }
    }

    /// A contiguous row-major copy of an integer or bool tensor (e.g. the int64 scalars
    /// `p_input_fdim`/`p_input_tdim`).
    public func int64s() throws -> [Int64] {
        guard !dtype.isFloatingPoint else {
            throw SSASTError("\(source.path): tensor '\(name)' is \(dtype), not an integer tensor")
        }
        return withExtendedLifetime(source) {
            let base = source.bytes.baseAddress! + dataOffset
            let dt = dtype
            return [Int64](unsafeUninitializedCapacity: count) { buf, initialized in
                forEachIndex { i, at in buf[i] = dt.loadInt(base, at) }
                initialized = count
            }
        }
    }

    /// The single value of a one-element integer tensor.
    public func intScalar() throws -> Int64 {
        let v = try int64s()
        guard v.count == 1 else { throw SSASTError("\(source.path): tensor '\(name)' has \(v.count) elements, expected one") }
        return v[0]
    }
}

/// A PyTorch (zip, torch >= 1.6) or safetensors checkpoint, read without Python and without
/// running any code from the file.
public final class Checkpoint {
    public let path: String
    public let format: CheckpointFormat
    /// In file order (pickle order for PyTorch, header order for safetensors).
    public let tensors: [CheckpointTensor]
    /// safetensors `__metadata__`; for PyTorch: the archive's `version`/`byteorder`, and the
    /// non-tensor values found beside the tensors (rendered as text).
    public let metadata: [String: String]
    private let index: [String: Int]
    private let zip: ZipArchive?

    init(path: String, format: CheckpointFormat, tensors: [CheckpointTensor], metadata: [String: String],
         zip: ZipArchive? = nil) {
        self.path = path; self.format = format; self.tensors = tensors; self.metadata = metadata; self.zip = zip
        var idx: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { idx[t.name] = i }
        index = idx
    }

    public var names: [String] { tensors.map(\.name) }

    public subscript(name: String) -> CheckpointTensor? { index[name].map { tensors[$0] } }

    /// PyTorch zips: checks the CRC-32 of every entry (reads the whole file), so flipped bits in
    /// tensor data are caught. safetensors files carry no checksum; this does nothing for them.
    public func verifyIntegrity() throws {
        try zip?.verifyChecksums()
    }

    /// Loads a checkpoint, detecting the format from its first bytes.
    public static func load(_ path: String) throws -> Checkpoint {
        try load(ByteSource(mapped: try MappedFile(path: path)))
    }

    /// The same from bytes in memory; `name` is used in messages.
    public static func load(bytes: [UInt8], name: String) throws -> Checkpoint {
        try load(ByteSource(copying: bytes, name: name))
    }

    static func load(_ src: ByteSource) throws -> Checkpoint {
        let b = src.bytes
        if b.count >= 4, b[0] == 0x50, b[1] == 0x4B, (b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6) {
            return try loadPyTorchZip(src)
        }
        if b.count >= 2, b[0] == 0x80, b[1] <= 5 {
            // The legacy format begins with pickle protocol 2 and the magic number 0x1950a86a20f9469cfc6c.
            let magic: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
            if b.count >= 14, Array(b[2..<14]) == magic {
                throw SSASTError("\(src.path): this is a legacy (torch < 1.6) checkpoint, which is not supported. Re-save it in the zip format with Python: torch.save(torch.load(f), out, _use_new_zipfile_serialization=True)")
            }
            throw SSASTError("\(src.path): a bare pickle, not a torch.save checkpoint (no zip archive, no legacy magic number)")
        }
        if b.count >= 10, b[8] == UInt8(ascii: "{") {
            return try loadSafetensors(src)
        }
        let head = b.prefix(8).map { String($0, radix: 16) }.joined(separator: " ")
        throw SSASTError("\(src.path): not a PyTorch (zip) checkpoint or a safetensors file (first bytes: \(head))")
    }

    // MARK: PyTorch zip

    static func loadPyTorchZip(_ src: ByteSource) throws -> Checkpoint {
        let zip = try ZipArchive(src)
        var meta: [String: String] = ["format": "pytorch-zip", "archive": zip.top]
        func text(_ rel: String) -> String? {
            guard let e = zip.entry(rel), e.size <= 4096 else { return nil }
            return String(decoding: zip.data(e), as: UTF8.self).trimmingSpace()
        }
        if let v = text("version") { meta["version"] = v }
        if let v = text("byteorder") {
            meta["byteorder"] = v
            guard v == "little" else {
                throw SSASTError("\(src.path): storages are stored \(v)-endian; only little-endian checkpoints are supported")
            }
        }
        guard let pkl = zip.entry("data.pkl") else {
            throw SSASTError("\(src.path): not a torch checkpoint: no '\(zip.top)/data.pkl' in the archive")
        }
        let up = TorchUnpickler(code: zip.data(pkl), what: "\(src.path): \(pkl.name)", zip: zip)
        let root = try up.run()
        let found = try flatten(root, up, path: src.path, meta: &meta)
        var out: [CheckpointTensor] = []
        out.reserveCapacity(found.count)
        for (name, ti) in found {
            let t = up.tensors[ti]
            let s = up.storages[t.storage]
            out.append(CheckpointTensor(name: name, dtype: t.dtype, shape: t.shape, strides: t.strides,
                                        source: src, dataOffset: s.dataOffset + t.offset * t.dtype.itemSize))
        }
        return Checkpoint(path: src.path, format: .pytorchZip, tensors: out, metadata: meta, zip: zip)
    }

    static let maxTensors = 1 << 22

    /// The state_dict: the top dict, or -- for {"model": state_dict, "epoch": 3, ...} -- the
    /// nested dict(s) holding tensors. Non-tensor scalars are listed in `meta`.
    static func flatten(_ root: PickleValue, _ up: TorchUnpickler, path: String,
                        meta: inout [String: String]) throws -> [(String, Int)] {
        guard case .dict(let top) = root else {
            if case .tensor(let t) = root { return [("", t)] }
            throw SSASTError("\(path): the checkpoint holds \(describe(root, up)), not a dict of tensors (state_dict)")
        }
        func keyName(_ k: PickleValue) throws -> String {
            switch k {
            case .string(let s):
                guard s.utf8.count <= 4096 else { throw SSASTError("\(path): a key longer than 4096 bytes") }
                return s
            case .int(let i): return String(i)
            case .bool(let b): return b ? "True" : "False"
            default: throw SSASTError("\(path): a dict key that is \(describe(k, up)), not a name")
            }
        }
        // Python dict semantics: a repeated key keeps its first position and its last value.
        func entries(_ d: Int) throws -> [(String, PickleValue)] {
            var order: [(String, PickleValue)] = []
            var at: [String: Int] = [:]
            for (k, v) in up.dicts[d] {
                let name = try keyName(k)
                if let i = at[name] { order[i].1 = v } else { at[name] = order.count; order.append((name, v)) }
            }
            return order
        }
        let topEntries = try entries(top)
        var result: [(String, Int)] = topEntries.compactMap { if case .tensor(let t) = $0.1 { return ($0.0, t) }; return nil }
        if result.isEmpty {
            // One level down: children that are dicts holding tensors (each distinct dict once).
            var children: [(String, [(String, Int)])] = []
            var seen = Set<Int>()
            for (k, v) in topEntries {
                guard case .dict(let d) = v, seen.insert(d).inserted else { continue }
                let ts: [(String, Int)] = try entries(d).compactMap { if case .tensor(let t) = $0.1 { return ($0.0, t) }; return nil }
                if !ts.isEmpty { children.append((k, ts)) }
            }
            if children.count == 1 {
                result = children[0].1
                meta["state_dict_key"] = children[0].0
            } else {
                for (k, ts) in children {
                    guard result.count + ts.count <= maxTensors else { throw SSASTError("\(path): more than \(maxTensors) tensors") }
                    result += ts.map { ("\(k).\($0.0)", $0.1) }
                }
            }
        }
        for (k, v) in topEntries {
            switch v {
            case .tensor: continue
            default: if meta[k] == nil { meta[k] = describe(v, up) }
            }
        }
        if result.isEmpty { throw SSASTError("\(path): the checkpoint holds no tensors") }
        return result
    }

    /// A short description of a non-tensor value for metadata and messages (never recursive).
    static func describe(_ v: PickleValue, _ up: TorchUnpickler) -> String {
        switch v {
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .string(let s): return s.count <= 256 ? s : String(s.prefix(256)) + "..."
        case .bytes(let b): return "<\(b.count) bytes>"
        case .tuple(let i): return "<tuple of \(up.seqs[i].count)>"
        case .list(let i): return "<list of \(up.seqs[i].count)>"
        case .set(let i): return "<set of \(up.seqs[i].count)>"
        case .dict(let i): return "<dict of \(up.dicts[i].count)>"
        case .global(let g): return "<\(g)>"
        case .storage: return "<storage>"
        case .tensor: return "<tensor>"
        }
    }

    // MARK: safetensors

    static let maxSafetensorsHeader = 100 << 20

    static func loadSafetensors(_ src: ByteSource) throws -> Checkpoint {
        let path = src.path
        let n64 = try src.u64(0, "safetensors header length")
        guard n64 <= UInt64(maxSafetensorsHeader) else {
            throw SSASTError("\(path): safetensors header length \(n64) is larger than the \(maxSafetensorsHeader >> 20) MB limit")
        }
        let n = Int(n64)
        let header = try src.slice(8, n, "safetensors header")
        let dataStart = 8 + n
        let dataSize = src.count - dataStart
        let json = try MiniJSONParser.parse(header, what: "\(path): safetensors header")
        guard case .object(let pairs) = json else { throw SSASTError("\(path): safetensors header is not a JSON object") }
        var meta: [String: String] = ["format": "safetensors"]
        var out: [CheckpointTensor] = []
        var seen = Set<String>()
        for (name, v) in pairs {
            if name == "__metadata__" {
                guard case .object(let m) = v else { throw SSASTError("\(path): __metadata__ is not an object") }
                for (k, mv) in m {
                    guard case .string(let s) = mv else { throw SSASTError("\(path): __metadata__ value '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            func bad(_ m: String) -> SSASTError { SSASTError("\(path): safetensors tensor '\(name)': \(m)") }
            guard seen.insert(name).inserted else { throw bad("listed twice") }
            guard case .string(let dts)? = v["dtype"] else { throw bad("no dtype") }
            guard let dt = StorageDType(safetensors: dts) else { throw bad("dtype \(dts) is not supported") }
            guard case .array(let shapeItems)? = v["shape"], shapeItems.count <= 64 else { throw bad("no shape") }
            var shape: [Int] = []
            var numel = 1
            for s in shapeItems {
                guard case .int(let x) = s, x >= 0 else { throw bad("shape entries must be non-negative integers") }
                shape.append(Int(x))
                numel = try checkedMul(numel, Int(x), bad("shape overflows"))
            }
            guard case .array(let offs)? = v["data_offsets"], offs.count == 2,
                  case .int(let begin) = offs[0], case .int(let end) = offs[1],
                  begin >= 0, end >= begin, end <= Int64(dataSize) else {
                throw bad("data_offsets missing or outside the \(dataSize)-byte data buffer")
            }
            let bytes = try checkedMul(numel, dt.itemSize, bad("size overflows"))
            guard Int(end - begin) == bytes else {
                throw bad("data_offsets span \(end - begin) bytes but \(shape) x \(dts) needs \(bytes)")
            }
            var strides = [Int](repeating: 1, count: shape.count)
            var acc = 1
            for d in stride(from: shape.count - 1, through: 0, by: -1) { strides[d] = acc; acc = acc &* max(shape[d], 1) }
            out.append(CheckpointTensor(name: name, dtype: dt, shape: shape, strides: strides,
                                        source: src, dataOffset: dataStart + Int(begin)))
        }
        return Checkpoint(path: path, format: .safetensors, tensors: out, metadata: meta)
    }
}

extension String {
    func trimmingSpace() -> String {
        let ws: Set<Character> = [" ", "\n", "\r", "\t"]
        var s = Substring(self)
        while let c = s.first, ws.contains(c) { s = s.dropFirst() }
        while let c = s.last, ws.contains(c) { s = s.dropLast() }
        return String(s)
    }
}
