/// CRC-32 (IEEE, as zip uses), slicing-by-8: checking a 1 GB checkpoint should not dominate conversion.
enum CRC32 {
    /// Eight 256-entry tables, flat: entry k*256 + byte.
    static let table: [UInt32] = {
        var t = [[UInt32]](repeating: [UInt32](repeating: 0, count: 256), count: 8)
        for i in 0..<256 {
            var c = UInt32(i)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[0][i] = c
        }
        for i in 0..<256 { for k in 1..<8 { t[k][i] = (t[k - 1][i] >> 8) ^ t[0][Int(t[k - 1][i] & 0xFF)] } }
        return t.flatMap { $0 }
    }()

    static func checksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        let n = data.count
        guard n > 0, let p = data.baseAddress else { return 0 }
        return table.withUnsafeBufferPointer { t in
            var i = 0
            while i + 8 <= n {
                let lo = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ c
                let hi = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                // Two halves: Swift 6.0 gives up type-checking the eight-term expression.
                let fromLo: UInt32 = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                let fromHi: UInt32 = t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                c = fromLo ^ fromHi
                i += 8
            }
            while i < n {
                c = t[Int((c ^ UInt32(p.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                i += 1
            }
            return ~c
        }
    }
}
