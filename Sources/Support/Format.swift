import Glibc

extension String {
    /// printf-style formatting through the C library (`%d`, `%5.3f`, `%.2e`, `%g`, `%02d`, `%%` …), so the
    /// text is exactly what printf prints. Strings go in by interpolation, not as arguments.
    public init(printf format: String, _ arguments: CVarArg...) {
        var buffer = [CChar](repeating: 0, count: 256)
        // A va_list is used up by one call, so a longer result takes a second list.
        let needed = Int(withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) })
        if needed >= buffer.count {
            buffer = [CChar](repeating: 0, count: needed + 1)
            _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
        }
        self = needed < 0 ? "" : String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The string without leading and trailing blanks (tab and the Unicode space separators, as
    /// Foundation's `.whitespaces`; line ends stay).
    public var trimmedOfBlanks: String {
        let isBlank: (Character) -> Bool = {
            $0 == "\t" || $0.unicodeScalars.allSatisfy { $0.properties.generalCategory == .spaceSeparator }
        }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[first...last])
    }

    /// Spaces appended up to `width` characters (a longer string is returned whole).
    public func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    /// Every occurrence of `target` replaced by `replacement` (compared as UTF-8 bytes).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        let t = Array(target.utf8), s = Array(utf8)
        guard !t.isEmpty, s.count >= t.count else { return self }
        var out: [UInt8] = [], i = 0
        out.reserveCapacity(s.count)
        while i < s.count {
            if i + t.count <= s.count, s[i] == t[0], Array(s[i..<(i + t.count)]) == t {
                out += replacement.utf8; i += t.count
            } else {
                out.append(s[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Substring {
    public var trimmedOfBlanks: String { String(self).trimmedOfBlanks }
}
