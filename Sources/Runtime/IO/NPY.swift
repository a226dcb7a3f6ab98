/// NumPy `.npy` (v1/v2/v3) reader for little-endian float32/float64/int64 arrays in C order: the
/// format of the reference fixtures and of `ssast bench` inputs.
public struct NPYArray {
    public var shape: [Int]
    public var data: [Float]
    public var count: Int { data.count }
}

public func readNPY(_ path: String) throws(SSASTError) -> NPYArray {
    let file = try MappedFile(path: path)
    let b = file.bytes
    guard b.count >= 10, b[0] == 0x93, b[1] == UInt8(ascii: "N"), b[2] == UInt8(ascii: "U") else {
        throw SSASTError("\(path): not a .npy file (bad magic)")
    }
    let major = b[6]
    let headerLen: Int, start: Int
    if major == 1 { headerLen = Int(b.le(UInt16.self, at: 8)); start = 10 }
    else { guard b.count >= 12 else { throw SSASTError("\(path): truncated .npy header") }
           headerLen = Int(b.le(UInt32.self, at: 8)); start = 12 }
    let header = String(decoding: try file.slice(start, headerLen, what: "npy header"), as: UTF8.self)
    func field(_ key: String) throws(SSASTError) -> Substring {
        guard let end = indexAfter("'\(key)':", in: header) else { throw SSASTError("\(path): npy header lacks '\(key)'") }
        return header[end...].drop(while: { $0 == " " })
    }
    let descrField = try field("descr")
    guard descrField.first == "'", let end = descrField.dropFirst().firstIndex(of: "'") else {
        throw SSASTError("\(path): bad npy descr")
    }
    let descr = String(descrField[descrField.index(after: descrField.startIndex)..<end])
    if try field("fortran_order").hasPrefix("True") { throw SSASTError("\(path): Fortran-order arrays are not supported") }
    let shapeField = try field("shape")
    guard shapeField.first == "(", let close = shapeField.firstIndex(of: ")") else { throw SSASTError("\(path): bad npy shape") }
    let shape = shapeField[shapeField.index(after: shapeField.startIndex)..<close]
        .split(separator: ",").compactMap { Int($0.trimmingCharacters(in: " ")) }
    let n = shape.reduce(1, *)
    let dataStart = start + headerLen
    var out = [Float](repeating: 0, count: n)
    switch descr {
    case "<f4":
        let raw = try file.slice(dataStart, n * 4, what: "npy data")
        for i in 0..<n { out[i] = Float(bitPattern: raw.le(UInt32.self, at: 4 * i)) }
    case "<f8":
        let raw = try file.slice(dataStart, n * 8, what: "npy data")
        for i in 0..<n { out[i] = Float(Double(bitPattern: raw.le(UInt64.self, at: 8 * i))) }
    case "<i8":
        let raw = try file.slice(dataStart, n * 8, what: "npy data")
        for i in 0..<n { out[i] = Float(raw.le(Int64.self, at: 8 * i)) }
    default:
        throw SSASTError("\(path): unsupported npy dtype \(descr) (want <f4, <f8 or <i8)")
    }
    return NPYArray(shape: shape, data: out)
}

/// The index just past the first occurrence of `needle` in `s` (plain byte search: String's
/// firstRange(of:) lives in _StringProcessing, which Embedded Swift does not have).
func indexAfter(_ needle: String, in s: String) -> String.Index? {
    let n = Array(needle.utf8), u = s.utf8
    var i = u.startIndex
    while i != u.endIndex {
        var j = i, k = 0
        while k < n.count, j != u.endIndex, u[j] == n[k] { j = u.index(after: j); k += 1 }
        if k == n.count { return j }
        i = u.index(after: i)
    }
    return nil
}

extension StringProtocol {
    /// Foundation-free trim of a set of characters given as a string.
    public func trimmingCharacters(in chars: String) -> String {
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
