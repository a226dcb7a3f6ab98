import Runtime

/// JSON as the project reads and writes it (safetensors headers, SSAST datafiles, the training state,
/// helper programs' results): objects keep their key order, integers are exact (never through Double).
public enum JSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first(where: { $0.0 == key })?.1
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var isObject: Bool { if case .object = self { return true }; return false }
    /// An integer, also when written with a fraction of zero ("3.0").
    public var int: Int? {
        switch self {
        case .int(let i): return Int(exactly: i)
        case .number(let d): return Int(exactly: d)
        default: return nil
        }
    }
    /// Any number.
    public var double: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// Compact JSON text. Non-finite numbers (not JSON) are written as null.
    public var encoded: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return "\(i)"
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .string(let s): return JSONValue.quoted(s)
        case .array(let a): return "[" + a.map(\.encoded).joined(separator: ",") + "]"
        case .object(let pairs): return "{" + pairs.map { JSONValue.quoted($0.0) + ":" + $0.1.encoded }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

public struct MiniJSONParser {
    static let maxDepth = 64
    private let b: UnsafeRawBufferPointer
    private var p = 0
    private let what: String

    init(_ bytes: UnsafeRawBufferPointer, what: String) { b = bytes; self.what = what }

    public static func parse(_ bytes: [UInt8], what: String) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0, what: what) }
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer, what: String) throws -> JSONValue {
        var parser = MiniJSONParser(bytes, what: what)
        let v = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.p == bytes.count else { throw parser.fail("unexpected data after the JSON value") }
        return v
    }

    private func fail(_ m: String) -> SSASTError { SSASTError("\(what): bad JSON at byte \(p): \(m)") }

    private mutating func skipSpace() {
        // safetensors pads the header with spaces to an 8-byte multiple.
        while p < b.count, b[p] == 0x20 || b[p] == 0x0A || b[p] == 0x0D || b[p] == 0x09 { p += 1 }
    }

    private mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
        for c in word.utf8 {
            guard p < b.count, b[p] == c else { throw fail("expected '\(word)'") }
            p += 1
        }
        return v
    }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth)") }
        skipSpace()
        guard p < b.count else { throw fail("unexpected end") }
        switch b[p] {
        case UInt8(ascii: "{"):
            p += 1
            var pairs: [(String, JSONValue)] = []
            skipSpace()
            if p < b.count, b[p] == UInt8(ascii: "}") { p += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard p < b.count, b[p] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
                let k = try string()
                skipSpace()
                guard p < b.count, b[p] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                p += 1
                pairs.append((k, try value(depth: depth + 1)))
                skipSpace()
                guard p < b.count else { throw fail("unexpected end in object") }
                if b[p] == UInt8(ascii: ",") { p += 1; continue }
                if b[p] == UInt8(ascii: "}") { p += 1; return .object(pairs) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            p += 1
            var items: [JSONValue] = []
            skipSpace()
            if p < b.count, b[p] == UInt8(ascii: "]") { p += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard p < b.count else { throw fail("unexpected end in array") }
                if b[p] == UInt8(ascii: ",") { p += 1; continue }
                if b[p] == UInt8(ascii: "]") { p += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard b.count - p >= 4 else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[p]; p += 1
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("bad hex digit in \\u escape")
            }
            v = v << 4 | d
        }
        return v
    }

    private mutating func string() throws -> String {
        p += 1 // opening quote
        var out: [UInt8] = []
        while true {
            guard p < b.count else { throw fail("unterminated string") }
            let c = b[p]; p += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard p < b.count else { throw fail("unterminated escape") }
            let e = b[p]; p += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00, b.count - p >= 6, b[p] == 0x5C, b[p + 1] == UInt8(ascii: "u") {
                    p += 2
                    let lo = try hex4()
                    guard lo >= 0xDC00 && lo < 0xE000 else { throw fail("bad surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (lo - 0xDC00)
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw fail("bad escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func number() throws -> JSONValue {
        let start = p
        var isInt = true
        if p < b.count, b[p] == UInt8(ascii: "-") { p += 1 }
        while p < b.count {
            let c = b[p]
            if c >= 0x30 && c <= 0x39 { p += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                isInt = false; p += 1; continue
            }
            break
        }
        guard p > start, p - start <= 64 else { throw fail("bad number") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<p]), as: UTF8.self)
        if isInt, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw fail("bad number '\(text)'") }
        return .number(d)
    }
}
