import Runtime

/// A read-only view of a zip archive of stored (uncompressed) entries, as written by
/// `torch.save` (PyTorchStreamWriter). Entry data are slices of the source, never copied.
struct ZipEntry {
    let name: String
    let dataOffset: Int   // absolute offset of the entry's bytes in the source
    let size: Int
    let crc32: UInt32
}

final class ZipArchive {
    let source: ByteSource
    let entries: [ZipEntry]          // central-directory order
    private let index: [String: Int]
    /// The folder every torch entry lives under, taken from the first entry's name.
    let top: String

    private static let eocdSig: UInt32 = 0x0605_4b50
    private static let eocd64Sig: UInt32 = 0x0606_4b50
    private static let locatorSig: UInt32 = 0x0706_4b50
    private static let centralSig: UInt32 = 0x0201_4b50
    private static let localSig: UInt32 = 0x0403_4b50

    init(_ src: ByteSource) throws {
        source = src
        let path = src.path
        let b = src.bytes
        func corrupt(_ m: String) -> SSASTError { SSASTError("\(path): corrupt zip archive: \(m)") }

        // End of central directory: 22 bytes + up to 65535 bytes of comment at the end of the file.
        guard b.count >= 22 else { throw corrupt("file too short (\(b.count) bytes) for a zip end record") }
        var eocd = -1
        var p = b.count - 22
        let lowest = max(0, b.count - 22 - 65535)
        while p >= lowest {
            if b[p] == 0x50, b.le(UInt32.self, at: p) == Self.eocdSig {
                // The comment length must reach exactly to the end, so random "PK\5\6" bytes in
                // data are not taken for the record.
                if p + 22 + Int(b.le(UInt16.self, at: p + 20)) == b.count { eocd = p; break }
            }
            p -= 1
        }
        guard eocd >= 0 else { throw corrupt("no end-of-central-directory record (truncated file?)") }

        var total = Int(b.le(UInt16.self, at: eocd + 10))
        var cdSize = Int(b.le(UInt32.self, at: eocd + 12))
        var cdOffset = Int(b.le(UInt32.self, at: eocd + 16))
        let diskNo = b.le(UInt16.self, at: eocd + 4)
        let needs64 = total == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF
        if eocd >= 20, b.le(UInt32.self, at: eocd - 20) == Self.locatorSig {
            let rec = try intFrom(b.le(UInt64.self, at: eocd - 20 + 8), corrupt("ZIP64 end record offset out of range"))
            try src.check(rec, 56, "ZIP64 end-of-central-directory record")
            guard b.le(UInt32.self, at: rec) == Self.eocd64Sig else { throw corrupt("bad ZIP64 end record signature") }
            let t = try intFrom(b.le(UInt64.self, at: rec + 32), corrupt("ZIP64 entry count out of range"))
            let s = try intFrom(b.le(UInt64.self, at: rec + 40), corrupt("ZIP64 central directory size out of range"))
            let o = try intFrom(b.le(UInt64.self, at: rec + 48), corrupt("ZIP64 central directory offset out of range"))
            total = t; cdSize = s; cdOffset = o
        } else if needs64 {
            throw corrupt("end record points to a ZIP64 record that is missing")
        } else if diskNo != 0 {
            throw corrupt("multi-disk archives are not supported")
        }
        try src.check(cdOffset, cdSize, "zip central directory")
        // Each central header is at least 46 bytes: bounds the entry count before any allocation.
        guard total <= cdSize / 46 else {
            throw corrupt("central directory claims \(total) entries but has only \(cdSize) bytes")
        }

        var list: [ZipEntry] = []
        list.reserveCapacity(total)
        var idx: [String: Int] = [:]
        var q = cdOffset
        let cdEnd = cdOffset + cdSize
        for i in 0..<total {
            guard q + 46 <= cdEnd else { throw corrupt("central directory entry \(i) runs past its end") }
            guard b.le(UInt32.self, at: q) == Self.centralSig else {
                throw corrupt("bad central directory signature for entry \(i) at offset \(q)")
            }
            let flags = b.le(UInt16.self, at: q + 8)
            let crc = b.le(UInt32.self, at: q + 16)
            let method = b.le(UInt16.self, at: q + 10)
            var csize = UInt64(b.le(UInt32.self, at: q + 20))
            var usize = UInt64(b.le(UInt32.self, at: q + 24))
            let nameLen = Int(b.le(UInt16.self, at: q + 28))
            let extraLen = Int(b.le(UInt16.self, at: q + 30))
            let commentLen = Int(b.le(UInt16.self, at: q + 32))
            var localOff = UInt64(b.le(UInt32.self, at: q + 42))
            let next = q + 46 + nameLen + extraLen + commentLen
            guard next <= cdEnd else { throw corrupt("central directory entry \(i) runs past its end") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: b[(q + 46)..<(q + 46 + nameLen)]), as: UTF8.self)

            // ZIP64 extended information: 64-bit values present only for fields saturated above.
            var e = q + 46 + nameLen
            let eEnd = e + extraLen
            while e + 4 <= eEnd {
                let id = b.le(UInt16.self, at: e)
                let len = Int(b.le(UInt16.self, at: e + 2))
                let body = e + 4
                guard body + len <= eEnd else { throw corrupt("extra field of '\(name)' runs past its end") }
                if id == 0x0001 {
                    var f = body
                    func next64() throws -> UInt64 {
                        guard f + 8 <= body + len else { throw corrupt("ZIP64 extra field of '\(name)' too short") }
                        defer { f += 8 }
                        return b.le(UInt64.self, at: f)
                    }
                    if usize == 0xFFFF_FFFF { usize = try next64() }
                    if csize == 0xFFFF_FFFF { csize = try next64() }
                    if localOff == 0xFFFF_FFFF { localOff = try next64() }
                }
                e = body + len
            }

            if flags & 1 != 0 { throw SSASTError("\(path): zip entry '\(name)' is encrypted") }
            guard method == 0 else {
                throw SSASTError("\(path): zip entry '\(name)' is compressed (method \(method)); torch checkpoints store entries uncompressed. Re-save the file with torch.save instead of re-zipping it")
            }
            guard csize == usize else { throw corrupt("stored entry '\(name)' has compressed size \(csize) != size \(usize)") }
            let size = try intFrom(usize, corrupt("size of '\(name)' out of range"))
            let lo = try intFrom(localOff, corrupt("local header offset of '\(name)' out of range"))

            // Data start comes from the LOCAL header's name/extra lengths (they differ from the
            // central ones: torch pads the local extra field to align data to 64 bytes).
            try src.check(lo, 30, "local header of '\(name)'")
            guard b.le(UInt32.self, at: lo) == Self.localSig else {
                throw corrupt("bad local header signature for '\(name)' at offset \(lo)")
            }
            let dataOff = lo + 30 + Int(b.le(UInt16.self, at: lo + 26)) + Int(b.le(UInt16.self, at: lo + 28))
            try src.check(dataOff, size, "data of zip entry '\(name)'")

            if idx[name] != nil { throw corrupt("duplicate entry '\(name)'") }
            idx[name] = list.count
            list.append(ZipEntry(name: name, dataOffset: dataOff, size: size, crc32: crc))
            q = next
        }
        guard let first = list.first else { throw corrupt("archive has no entries") }
        guard let slash = first.name.firstIndex(of: "/") else {
            throw corrupt("first entry '\(first.name)' is not inside a folder, as torch.save writes")
        }
        top = String(first.name[..<slash])
        entries = list
        index = idx
    }

    /// Entry `<top>/<relative>`, or nil.
    func entry(_ relative: String) -> ZipEntry? {
        index[top + "/" + relative].map { entries[$0] }
    }

    /// Compares every entry's CRC-32 with the directory: finds damage inside tensor data, which
    /// the structure checks cannot see. Reads the whole file.
    func verifyChecksums() throws {
        for e in entries {
            let c = CRC32.checksum(data(e))
            if c != e.crc32 {
                throw SSASTError("\(source.path): '\(e.name)' is damaged: its CRC-32 is \(String(c, radix: 16)), the archive says \(String(e.crc32, radix: 16))")
            }
        }
    }

    func data(_ e: ZipEntry) -> UnsafeRawBufferPointer {
        // Bounds were checked when the directory was read.
        UnsafeRawBufferPointer(rebasing: source.bytes[e.dataOffset..<(e.dataOffset + e.size)])
    }
}
