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
