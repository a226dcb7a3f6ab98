/// The SSAST weight file: one flat, memory-mappable file holding everything inference needs.
/// See docs/FORMAT.md for the byte layout. Readers validate every field and every checksum;
/// nothing in the file is trusted before it is checked.
public enum WeightFileFormat {
    public static let magic: [UInt8] = Array("SSASTWF\0".utf8)
    public static let version: UInt32 = 1
    public static let alignment = 64
    /// Upper bounds that keep a hostile header from causing huge allocations.
    /// Upper bounds that keep a hostile header from causing huge allocations (docs/FORMAT.md, "Limits").
    public static let maxHeaderBytes = 64 << 20, maxTensors = 100_000, maxDims = 8, maxString = 1 << 20
    /// Largest dimension; a tensor's bytes must also lie within the file, so no tensor exceeds it.
    public static let maxDimension = 1 << 32

    /// The complete header (magic ... header checksum) for these metadata and table entries, offsets
    /// as given. The writer uses it; tests use it to craft files with valid checksums.
    public static func header(metadata: [(String, MetaValue)], tensors: [TensorInfo]) -> [UInt8] {
        var head = ByteWriter()
        head.bytes += magic
        head.u32(version)
        head.u32(0) // header length, patched below
        head.u32(UInt32(metadata.count))
        for (key, value) in metadata { head.bytes += encoded(key, value) }
        head.u32(UInt32(tensors.count))
        for i in tensors {
            head.string16(i.name); head.u32(i.type.rawValue); head.u32(i.layout.rawValue)
            // Bit patterns: a test may encode any value, including ones no reader accepts.
            head.u32(UInt32(i.shape.count)); for d in i.shape { head.u64(UInt64(truncatingIfNeeded: d)) }
            head.u64(UInt64(truncatingIfNeeded: i.offset)); head.u64(UInt64(truncatingIfNeeded: i.byteCount)); head.u64(i.checksum)
        }
        let headerLength = UInt32(head.bytes.count + 8)
        withUnsafeBytes(of: headerLength.littleEndian) { for k in 0..<4 { head.bytes[12 + k] = $0[k] } }
        head.u64(head.bytes.withUnsafeBytes { xxh64($0) })
        return head.bytes
    }

    static func encoded(_ key: String, _ value: MetaValue) -> [UInt8] {
        var head = ByteWriter()
        head.string16(key); head.bytes.append(value.typeCode)
        switch value {
        case .int(let v): head.u64(UInt64(bitPattern: v))
        case .float(let v): head.u64(v.bitPattern)
        case .string(let s): head.string32(s)
        case .strings(let list): head.u32(UInt32(list.count)); for s in list { head.string32(s) }
        }
        return head.bytes
    }
}

/// One metadata value in the header.
public enum MetaValue: Equatable {
    case int(Int64), float(Double), string(String), strings([String])
    var typeCode: UInt8 { switch self { case .int: 1; case .float: 2; case .string: 3; case .strings: 4 } }
}

/// Layout of a tensor's bytes: plain row-major in its shape, or packed panels (`Packing`) for a
/// [n, k] matmul weight.
public enum TensorLayout: UInt32 { case rowMajor = 0, packedPanels = 1 }

/// A tensor table entry.
public struct TensorInfo: Equatable {
    public var name: String
    public var type: WeightType
    public var layout: TensorLayout
    public var shape: [Int]
    public var offset: Int      // from the start of the file, a multiple of 64
    public var byteCount: Int
    public var checksum: UInt64 // xxh64 of the bytes
    /// Valid for tensors of a loaded file (the reader checked that the product fits).
    public var elementCount: Int { shape.reduce(1, *) }
    public init(name: String, type: WeightType, layout: TensorLayout, shape: [Int], offset: Int, byteCount: Int, checksum: UInt64) {
        self.name = name; self.type = type; self.layout = layout; self.shape = shape
        self.offset = offset; self.byteCount = byteCount; self.checksum = checksum
    }
}

// MARK: - Writing

/// A tensor to be written: bytes plus how to read them.
public struct TensorBlob {
    public var name: String, type: WeightType, layout: TensorLayout, shape: [Int], bytes: [UInt8]
    public init(name: String, type: WeightType, layout: TensorLayout = .rowMajor, shape: [Int], bytes: [UInt8]) {
        self.name = name; self.type = type; self.layout = layout; self.shape = shape; self.bytes = bytes
    }
    public init(name: String, floats: [Float], shape: [Int]) {
        self.init(name: name, type: .f32, shape: shape, bytes: floats.withUnsafeBytes { Array($0) })
    }
}

public enum WeightFileWriter {
    /// Writes metadata + tensors atomically (temporary file, then rename).
    public static func write(path: String, metadata: [(String, MetaValue)], tensors: [TensorBlob]) throws(SSASTError) {
        var metaSize = 20
        for (key, value) in metadata { metaSize += WeightFileFormat.encoded(key, value).count }
        // Table size is known before offsets: compute it, then lay the data out after it.
        var tableSize = 4
        for t in tensors { tableSize += 2 + t.name.utf8.count + 4 + 4 + 4 + 8 * t.shape.count + 8 + 8 + 8 }
        let headerEnd = metaSize + tableSize + 8 // + header checksum
        var offset = align(headerEnd)
        var infos: [TensorInfo] = []
        for t in tensors {
            let sum = t.bytes.withUnsafeBytes { xxh64($0) }
            infos.append(TensorInfo(name: t.name, type: t.type, layout: t.layout, shape: t.shape,
                                    offset: offset, byteCount: t.bytes.count, checksum: sum))
            offset = align(offset + t.bytes.count)
        }
        let head = WeightFileFormat.header(metadata: metadata, tensors: infos)
        precondition(head.count == headerEnd, "weight file header size mismatch")
        try writeFileAtomically(path) { (w: FileWriter) throws(SSASTError) in
            try w.write(head)
            for (t, info) in zip(tensors, infos) {
                try w.writePadding(toMultipleOf: WeightFileFormat.alignment)
                precondition(w.offset == info.offset)
                try w.write(t.bytes)
            }
            try w.writePadding(toMultipleOf: WeightFileFormat.alignment)
        }
    }

    static func align(_ x: Int) -> Int { (x + WeightFileFormat.alignment - 1) / WeightFileFormat.alignment * WeightFileFormat.alignment }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string16(_ s: String) { let u = Array(s.utf8); bytes += withUnsafeBytes(of: UInt16(u.count).littleEndian, Array.init); bytes += u }
    mutating func string32(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
}

// MARK: - Reading

/// A weight file mapped read-only; tensors are views into the map. Validation happens in `init`.
public final class WeightFile {
    public let file: MappedFile
    public let version: UInt32
    public let metadata: [String: MetaValue]
    public let metadataOrder: [String]
    public let tensors: [TensorInfo]
    private let index: [String: Int]

    /// Opens and validates: magic, version, header checksum, table bounds/alignment/sizes and,
    /// unless `verifyChecksums` is false, every tensor's xxh64.
    public convenience init(path: String, verifyChecksums: Bool = true) throws(SSASTError) {
        try self.init(file: try MappedFile(path: path), verifyChecksums: verifyChecksums)
    }

    /// The same over an already mapped (or in-memory) file.
    public init(file: MappedFile, verifyChecksums: Bool = true) throws(SSASTError) {
        self.file = file
        let path = file.path
        let b = file.bytes
        func fail(_ msg: String) -> SSASTError { SSASTError("\(path): \(msg)") }
        guard b.count >= 24 else { throw fail("too short to be an SSAST weight file (\(b.count) bytes)") }
        guard Array(b[0..<8]) == WeightFileFormat.magic else {
            if b[0] == 0x50, b[1] == 0x4B { throw fail("this is a PyTorch checkpoint (zip), not an SSAST weight file: convert it first with `ssast convert`") }
            throw fail("not an SSAST weight file (bad magic)")
        }
        version = b.le(UInt32.self, at: 8)
        guard version == WeightFileFormat.version else {
            throw fail("weight file format version \(version) is not supported (this build reads version \(WeightFileFormat.version))")
        }
        let headerLength = Int(b.le(UInt32.self, at: 12))
        guard headerLength >= 24, headerLength <= min(b.count, WeightFileFormat.maxHeaderBytes) else {
            throw fail("truncated or corrupt header (header length \(headerLength), file \(b.count) bytes)")
        }
        let stored = b.le(UInt64.self, at: headerLength - 8)
        guard xxh64(UnsafeRawBufferPointer(rebasing: b[0..<(headerLength - 8)])) == stored else {
            throw fail("header checksum mismatch: the file is corrupt")
        }
        var r = ByteReader(bytes: UnsafeRawBufferPointer(rebasing: b[0..<(headerLength - 8)]), pos: 16, path: path)
        let metaCount = try r.u32()
        var meta: [String: MetaValue] = [:], order: [String] = []
        for _ in 0..<metaCount {
            let key = try r.string16()
            let type = try r.u8()
            let value: MetaValue
            switch type {
            case 1: value = .int(Int64(bitPattern: try r.u64()))
            case 2: value = .float(Double(bitPattern: try r.u64()))
            case 3: value = .string(try r.string32())
            case 4:
                let n = try r.u32()
                guard n <= WeightFileFormat.maxTensors else { throw fail("metadata list \(key) too long") }
                var list: [String] = []
                for _ in 0..<n { list.append(try r.string32()) }
                value = .strings(list)
            default: throw fail("metadata \(key) has unknown type \(type)")
            }
            if meta[key] != nil { throw fail("metadata key \(key) appears twice") }
            meta[key] = value; order.append(key)
        }
        let count = Int(try r.u32())
        guard count <= WeightFileFormat.maxTensors else { throw fail("tensor table claims \(count) tensors") }
        var infos: [TensorInfo] = [], idx: [String: Int] = [:]
        for _ in 0..<count {
            let name = try r.string16()
            let tcode = try r.u32(), lcode = try r.u32()
            guard let type = WeightType(rawValue: tcode) else { throw fail("tensor \(name) has unsupported dtype code \(tcode) (this build knows fp32, fp16, int8)") }
            guard let layout = TensorLayout(rawValue: lcode) else { throw fail("tensor \(name) has unknown layout \(lcode)") }
            let nd = Int(try r.u32())
            guard nd <= WeightFileFormat.maxDims else { throw fail("tensor \(name) has \(nd) dimensions") }
            var shape: [Int] = []
            for _ in 0..<nd {
                let d = try r.u64()
                guard d <= UInt64(WeightFileFormat.maxDimension) else { throw fail("tensor \(name) has an implausible dimension \(d)") }
                shape.append(Int(d))
            }
            // The element count, overflow-checked, must fit in the file before any size is derived from it.
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, p <= b.count else { throw fail("tensor \(name) dimensions \(shape) describe more data than the file holds (\(b.count) bytes)") }
                elements = p
            }
            let off = try r.u64(), size = try r.u64(), sum = try r.u64()
            guard off <= UInt64(b.count), size <= UInt64(b.count) - off else {
                throw fail("tensor \(name) (bytes \(off)..<\(off &+ size)) lies beyond the end of the file (\(b.count) bytes): truncated")
            }
            guard off % UInt64(WeightFileFormat.alignment) == 0, Int(off) >= headerLength else {
                throw fail("tensor \(name) is not 64-byte aligned after the header")
            }
            var info = TensorInfo(name: name, type: type, layout: layout, shape: shape, offset: Int(off), byteCount: Int(size), checksum: sum)
            let expected: Int
            if layout == .packedPanels {
                guard shape.count == 2 else { throw fail("packed tensor \(name) must be 2-D") }
                expected = Packing.packedBytes(n: shape[0], k: shape[1], type: type)
            } else {
                expected = elements * type.byteWidth
            }
            guard expected == info.byteCount else {
                throw fail("tensor \(name) shape \(shape) \(type) needs \(expected) bytes, the table says \(info.byteCount)")
            }
            if idx[name] != nil { throw fail("tensor \(name) appears twice") }
            idx[name] = infos.count
            info.name = name
            infos.append(info)
        }
        guard r.pos == r.bytes.count else { throw fail("header has \(r.bytes.count - r.pos) unexplained trailing bytes") }
        // No two tensors share bytes.
        let byOffset = infos.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw fail("tensors \(a.name) and \(b.name) overlap (bytes \(a.offset)..<\(a.offset + a.byteCount) and \(b.offset)..<\(b.offset + b.byteCount))")
        }
        if infos.contains(where: { $0.layout == .packedPanels }) {
            guard case .int(let id)? = meta["ssast.packing_layout"], UInt32(exactly: id) == Packing.layoutID else {
                throw fail("packed weights use layout \(meta["ssast.packing_layout"].map { "\($0)" } ?? "(unrecorded)"), "
                    + "this build reads layout \(Packing.layoutID): re-convert the model with this version of `ssast convert`")
            }
        }
        if verifyChecksums {
            for t in infos {
                let bytes = UnsafeRawBufferPointer(start: file.base + t.offset, count: t.byteCount)
                if xxh64(bytes) != t.checksum { throw fail("checksum mismatch in tensor \(t.name): the file is corrupt") }
                // Read anyway for the checksum, so the scan costs one more pass over cached bytes.
                if let i = WeightFile.firstNonFinite(bytes, t.type) {
                    throw fail("tensor \(t.name) holds a non-finite value (NaN or infinity) at element \(i)")
                }
            }
        }
        metadata = meta; metadataOrder = order; tensors = infos; index = idx
    }

    /// Index of the first NaN or infinity in fp32 / fp16 data (int8 values are always finite).
    static func firstNonFinite(_ bytes: UnsafeRawBufferPointer, _ type: WeightType) -> Int? {
        switch type {
        case .f32:
            for i in 0..<(bytes.count / 4) where bytes.le(UInt32.self, at: 4 * i) & 0x7F80_0000 == 0x7F80_0000 { return i }
        case .f16:
            for i in 0..<(bytes.count / 2) where bytes.le(UInt16.self, at: 2 * i) & 0x7C00 == 0x7C00 { return i }
        case .i8: break
        }
        return nil
    }

    public func info(_ name: String) -> TensorInfo? { index[name].map { tensors[$0] } }
    public func raw(_ info: TensorInfo) -> UnsafeRawPointer { file.base + info.offset }

    /// fp32 view of a tensor, checked for name, dtype and shape.
    public func floats(_ name: String, shape: [Int]) throws(SSASTError) -> UnsafePointer<Float> {
        guard let t = info(name) else { throw SSASTError("\(file.path): missing tensor \(name)") }
        guard t.type == .f32, t.layout == .rowMajor else { throw SSASTError("\(file.path): tensor \(name) must be fp32 row-major, is \(t.type)") }
        guard t.shape == shape else { throw SSASTError("\(file.path): tensor \(name) has shape \(t.shape), expected \(shape)") }
        return raw(t).assumingMemoryBound(to: Float.self)
    }

    /// Values of any tensor as [Float] (dequantised / unpacked to row-major [n, k]): for inspect and tests.
    public func dequantised(_ name: String) throws(SSASTError) -> [Float] {
        guard let t = info(name) else { throw SSASTError("\(file.path): missing tensor \(name)") }
        let p = raw(t)
        if t.layout == .packedPanels {
            let n = t.shape[0], k = t.shape[1]
            switch t.type {
            case .f32: return Packing.unpackF32(p.assumingMemoryBound(to: Float.self), n: n, k: k)
            case .f16: return Packing.unpackF16(p.assumingMemoryBound(to: UInt16.self), n: n, k: k)
            case .i8:
                let scales = try floats(name + ".scale", shape: [Packing.paddedN(n)])
                return Packing.unpackI8(p.assumingMemoryBound(to: Int8.self), scales: scales, n: n, k: k)
            }
        }
        switch t.type {
        case .f32: return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: t.elementCount))
        case .f16: return UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt16.self), count: t.elementCount).map { Float(Float16(bitPattern: $0)) }
        case .i8: throw SSASTError("\(file.path): tensor \(name) is int8 without a packed layout")
        }
    }

    // Typed metadata accessors: the error names the key and what was wrong.
    public func int(_ key: String) throws(SSASTError) -> Int {
        guard case .int(let v)? = metadata[key] else { throw SSASTError("\(file.path): header lacks integer \(key)") }
        guard v >= Int64(Int32.min), v <= Int64(Int32.max) else { throw SSASTError("\(file.path): header \(key) = \(v) is out of range") }
        return Int(v)
    }
    public func float(_ key: String) throws(SSASTError) -> Double {
        guard case .float(let v)? = metadata[key] else { throw SSASTError("\(file.path): header lacks number \(key)") }
        return v
    }
    public func string(_ key: String) throws(SSASTError) -> String {
        guard case .string(let v)? = metadata[key] else { throw SSASTError("\(file.path): header lacks string \(key)") }
        return v
    }
    public func strings(_ key: String) throws(SSASTError) -> [String] {
        guard case .strings(let v)? = metadata[key] else { throw SSASTError("\(file.path): header lacks string list \(key)") }
        return v
    }
}

struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var pos: Int
    let path: String
    mutating func need(_ n: Int) throws(SSASTError) {
        guard n >= 0, pos <= bytes.count, n <= bytes.count - pos else { throw SSASTError("\(path): truncated or corrupt header at byte \(pos)") }
    }
    mutating func u8() throws(SSASTError) -> UInt8 { try need(1); defer { pos += 1 }; return bytes[pos] }
    mutating func u16() throws(SSASTError) -> UInt16 { try need(2); defer { pos += 2 }; return bytes.le(UInt16.self, at: pos) }
    mutating func u32() throws(SSASTError) -> UInt32 { try need(4); defer { pos += 4 }; return bytes.le(UInt32.self, at: pos) }
    mutating func u64() throws(SSASTError) -> UInt64 { try need(8); defer { pos += 8 }; return bytes.le(UInt64.self, at: pos) }
    mutating func string16() throws(SSASTError) -> String { let n = Int(try u16()); return try text(n) }
    mutating func string32() throws(SSASTError) -> String {
        let n = Int(try u32())
        guard n <= WeightFileFormat.maxString else { throw SSASTError("\(path): header string of \(n) bytes is implausible") }
        return try text(n)
    }
    mutating func text(_ n: Int) throws(SSASTError) -> String {
        try need(n)
        defer { pos += n }
        guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)]), as: UTF8.self) else {
            throw SSASTError("\(path): header string at byte \(pos) is not valid UTF-8")
        }
        return s
    }
}
