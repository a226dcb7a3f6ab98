#if canImport(Glibc)
import Glibc
#endif
import Runtime

/// Writes a PyTorch state_dict file that `torch.load(path, weights_only=True)` reads, laid out as
/// `torch.save` lays it out (PyTorchStreamWriter): a zip of STORED entries, each entry's data
/// 64-byte aligned by a padding extra field ("FB" + 'Z's), all under one top folder named after
/// the file:
///
///     <archive>/data.pkl      pickle protocol 2: collections.OrderedDict of
///                             torch._utils._rebuild_tensor_v2(persistent_load(('storage',
///                             torch.FloatStorage, key, 'cpu', numel)), 0, size, stride, False, OrderedDict())
///     <archive>/byteorder     "little"
///     <archive>/data/<key>    raw little-endian float32, one storage per tensor (key = 0, 1, ...)
///     <archive>/version       "3\n"
///
/// Not written: the OrderedDict's `_metadata` (per-module versions; `load_state_dict` works without
/// it) and the `.data/serialization_id` / `.format_version` entries of the newest torch versions.
/// fp32 only; the archive must stay under 4 GiB (no ZIP64), which every SSAST size does.
public enum TorchWriter {
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        public init(name: String, shape: [Int], values: [Float]) { self.name = name; self.shape = shape; self.values = values }
    }

    /// Writes `tensors` (in this order) atomically to `path`. Names are written as given (add the
    /// `module.` prefix before calling if the file should look like SSAST's DataParallel checkpoints).
    public static func write(path: String, tensors: [Tensor]) throws {
        guard UInt32(littleEndian: 1) == 1 else { throw SSASTError("\(path): writing .pth needs a little-endian machine") }
        var seen = Set<String>()
        for t in tensors {
            guard !t.name.isEmpty, seen.insert(t.name).inserted else {
                throw SSASTError("\(path): tensor name '\(t.name)' is empty or repeated")
            }
            guard t.shape.allSatisfy({ $0 >= 0 }), t.shape.reduce(1, *) == t.values.count else {
                throw SSASTError("\(path): tensor \(t.name) has \(t.values.count) values for shape \(t.shape)")
            }
        }
        let archive = archiveName(path)
        var entries: [(name: String, write: (FileWriter) throws -> Void, size: Int, crc: UInt32)] = []
        let pkl = pickle(tensors)
        func bytesEntry(_ name: String, _ b: [UInt8]) {
            let crc = b.withUnsafeBytes { CRC32.checksum($0) }
            entries.append((archive + "/" + name, { try $0.write(b) }, b.count, crc))
        }
        bytesEntry("data.pkl", pkl)
        bytesEntry("byteorder", Array("little".utf8))
        for (i, t) in tensors.enumerated() {
            let crc = t.values.withUnsafeBytes { CRC32.checksum($0) }
            entries.append((archive + "/data/\(i)", { w in try t.values.withUnsafeBytes { try w.write($0) } },
                            t.values.count * 4, crc))
        }
        bytesEntry("version", Array("3\n".utf8))

        let total = entries.reduce(0) { $0 + $1.size + 30 + 4 + 64 + $1.name.utf8.count * 2 + 46 } + 22
        guard total < Int(UInt32.max) else {
            throw SSASTError("\(path): \(total) bytes is too large for a zip without ZIP64 (not supported by this writer)")
        }
        try writeFileAtomically(path) { w in
            var central: [UInt8] = []
            for e in entries {
                let name = Array(e.name.utf8)
                let local = w.offset
                // Pad the local extra field so the data starts on a 64-byte boundary (torch's alignment).
                let unpadded = local + 30 + name.count + 4
                let pad = (64 - unpadded % 64) % 64
                var h: [UInt8] = []
                h.le32(0x0403_4b50); h.le16(20); h.le16(0); h.le16(0)         // signature, version, flags, stored
                h.le16(0); h.le16(0x21)                                        // time 00:00, date 1980-01-01
                h.le32(e.crc); h.le32(UInt32(e.size)); h.le32(UInt32(e.size))
                h.le16(UInt16(name.count)); h.le16(UInt16(4 + pad))
                h += name
                h.le16(0x4246); h.le16(UInt16(pad))                            // "FB" padding field
                h += [UInt8](repeating: UInt8(ascii: "Z"), count: pad)
                try w.write(h)
                try e.write(w)
                var c: [UInt8] = []
                c.le32(0x0201_4b50); c.le16(0x031E); c.le16(20); c.le16(0); c.le16(0)   // made by unix 3.0
                c.le16(0); c.le16(0x21)
                c.le32(e.crc); c.le32(UInt32(e.size)); c.le32(UInt32(e.size))
                c.le16(UInt16(name.count)); c.le16(0); c.le16(0)               // extra, comment
                c.le16(0); c.le16(0); c.le32(0o100644 << 16)                   // disk, internal, external (-rw-r--r--)
                c.le32(UInt32(local))
                c += name
                central += c
            }
            let cdOffset = w.offset
            try w.write(central)
            var end: [UInt8] = []
            end.le32(0x0605_4b50); end.le16(0); end.le16(0)
            end.le16(UInt16(entries.count)); end.le16(UInt16(entries.count))
            end.le32(UInt32(central.count)); end.le32(UInt32(cdOffset)); end.le16(0)
            try w.write(end)
        }
    }

    /// torch.save names the top folder after the file (without extension); keep it to safe characters.
    static func archiveName(_ path: String) -> String {
        var base = path.split(separator: "/").last.map(String.init) ?? "archive"
        if let dot = base.lastIndex(of: "."), dot != base.startIndex { base = String(base[..<dot]) }
        let safe = base.unicodeScalars.map { c -> Character in
            (c.isASCII && (c.properties.isAlphabetic || c.properties.numericType != nil || c == "-" || c == "_")) ? Character(c) : "_"
        }
        return safe.isEmpty ? "archive" : String(safe)
    }

    /// The data.pkl bytes: the opcode sequence torch's pickler produces for a state_dict of
    /// contiguous float tensors, with the same memo use (globals and repeated strings by BINGET).
    static func pickle(_ tensors: [Tensor]) -> [UInt8] {
        var p = Pickler()
        p.proto()
        p.global("collections", "OrderedDict")
        p.op(0x29); p.op(0x52); p.put()                 // EMPTY_TUPLE, REDUCE -> the state_dict
        if !tensors.isEmpty { p.op(0x28) }              // MARK
        for (i, t) in tensors.enumerated() {
            p.unicode(t.name, memo: false)
            p.global("torch._utils", "_rebuild_tensor_v2")
            p.op(0x28)                                  // MARK (args of _rebuild_tensor_v2)
            p.op(0x28)                                  // MARK (persistent id)
            p.unicode("storage", memo: true)
            p.global("torch", "FloatStorage")
            p.unicode(String(i), memo: false)
            p.unicode("cpu", memo: true)
            p.int(t.values.count)
            p.op(0x74); p.put()                         // TUPLE
            p.op(0x51)                                  // BINPERSID
            p.int(0)                                    // storage offset
            var strides = [Int](repeating: 1, count: t.shape.count)
            for d in stride(from: t.shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * t.shape[d + 1] }
            p.tuple(t.shape); p.tuple(strides)
            p.op(0x89)                                  // NEWFALSE: requires_grad
            p.global("collections", "OrderedDict")      // backward hooks: OrderedDict()
            p.op(0x29); p.op(0x52); p.put()
            p.op(0x74); p.put()                         // TUPLE
            p.op(0x52); p.put()                         // REDUCE
        }
        if !tensors.isEmpty { p.op(0x75) }              // SETITEMS
        p.op(0x2E)                                      // STOP
        return p.out
    }
}

/// Protocol-2 pickle opcodes, with the memo torch's (C) pickler keeps: every GLOBAL and string is
/// memoised, repeats of globals and of the memoised strings are fetched back.
private struct Pickler {
    var out: [UInt8] = []
    var next = 0
    var memo: [String: Int] = [:]

    mutating func op(_ c: UInt8) { out.append(c) }
    mutating func proto() { out += [0x80, 2] }

    mutating func put() {
        if next < 256 { out += [0x71, UInt8(next)] } else { out.append(0x72); out.le32(UInt32(next)) }   // BINPUT / LONG_BINPUT
        next += 1
    }
    mutating func get(_ i: Int) {
        if i < 256 { out += [0x68, UInt8(i)] } else { out.append(0x6A); out.le32(UInt32(i)) }            // BINGET / LONG_BINGET
    }
    mutating func global(_ module: String, _ name: String) {
        let key = "g:" + module + "\n" + name
        if let i = memo[key] { get(i); return }
        out.append(0x63); out += Array(module.utf8); out.append(0x0A); out += Array(name.utf8); out.append(0x0A)
        memo[key] = next; put()
    }
    mutating func unicode(_ s: String, memo keep: Bool) {
        let key = "s:" + s
        if keep, let i = memo[key] { get(i); return }
        let b = Array(s.utf8)
        out.append(0x58); out.le32(UInt32(b.count)); out += b                                              // BINUNICODE
        if keep { memo[key] = next }
        put()
    }
    mutating func int(_ v: Int) {
        if v >= 0 && v < 256 { out += [0x4B, UInt8(v)] }                                                   // BININT1
        else if v >= 0 && v < 65536 { out.append(0x4D); out.le16(UInt16(v)) }                             // BININT2
        else if v >= Int(Int32.min) && v <= Int(Int32.max) { out.append(0x4A); out.le32(UInt32(bitPattern: Int32(v))) }  // BININT
        else {                                                                                              // LONG1
            var bytes: [UInt8] = []
            var x = v
            repeat { bytes.append(UInt8(truncatingIfNeeded: x)); x >>= 8 } while !(x == 0 && bytes.last! < 0x80) && !(x == -1 && bytes.last! >= 0x80)
            out += [0x8A, UInt8(bytes.count)] + bytes
        }
    }
    mutating func tuple(_ xs: [Int]) {
        switch xs.count {
        case 0: op(0x29)                                                      // EMPTY_TUPLE
        case 1...3: for x in xs { int(x) }; op([0x85, 0x86, 0x87][xs.count - 1])
        default: op(0x28); for x in xs { int(x) }; op(0x74)
        }
        if !xs.isEmpty { put() }
    }
}

private extension Array where Element == UInt8 {
    mutating func le16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    mutating func le32(_ v: UInt32) { for s in stride(from: 0, to: 32, by: 8) { append(UInt8((v >> UInt32(s)) & 0xFF)) } }
}
