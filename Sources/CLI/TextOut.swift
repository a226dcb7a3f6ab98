/// Text meant for a person's terminal: labels, metadata and file names come from files we do not
/// control, so control characters, escape sequences and bidirectional overrides are shown as \u{...}
/// instead of acting on the terminal (`--jsonl` escapes through JSON instead).
func terminalSafe(_ s: String) -> String {
    var out = ""
    for u in s.unicodeScalars {
        let v = u.value
        let unsafe = v < 0x20 || (0x7F...0x9F).contains(v)                   // C0, DEL, C1 (ESC, CSI, ...)
            || v == 0x061C || v == 0x200E || v == 0x200F                        // bidi marks
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)   // bidi embeddings, overrides, isolates
        if unsafe {
            out += "\\u{" + String(v, radix: 16) + "}"
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return out
}

extension String {
    /// Whether `text` occurs in this string, compared as UTF-8 bytes. Not the standard library's
    /// `contains(_: StringProtocol)`: that lives in _StringProcessing, whose regex engine would add 1.3 MB
    /// to the binary for this one use.
    func includes(_ text: String) -> Bool {
        let h = Array(utf8), n = Array(text.utf8)
        guard let first = n.first else { return true }
        guard n.count <= h.count else { return false }
        for i in 0...(h.count - n.count) where h[i] == first && h[i..<(i + n.count)].elementsEqual(n) { return true }
        return false
    }
}
