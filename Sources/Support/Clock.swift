import Glibc

/// The local time now, formatted by strftime (e.g. "%Y-%m-%d %H:%M").
public func localTimeString(_ format: String) -> String {
    var now = time(nil), parts = tm()
    localtime_r(&now, &parts)
    var buf = [CChar](repeating: 0, count: 128)
    let n = strftime(&buf, buf.count, format, &parts)
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
