import Foundation
import Runtime
import XCTest

/// Where the reference fixtures live: `../shared/fixtures` beside the project root, read in place.
public enum Fixtures {
    /// The package root, found from this file's location (Tests/TestSupport/Fixtures.swift).
    public static let projectRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    public static let root: String = {
        if let env = ProcessInfo.processInfo.environment["SSAST_FIXTURES"] { return env }
        return URL(fileURLWithPath: projectRoot).deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures").path
    }()
    public static func path(_ relative: String) -> String { root + "/" + relative }
    public static func model(_ name: String) -> String { root + "/models/" + name }
    public static func audio(_ name: String) -> String { root + "/audio/" + name }
    public static func npy(_ relative: String) throws -> NPYArray { try readNPY(path(relative)) }

    /// manifest.json, parsed (empty when the fixtures are absent: tests call `require()` first).
    public static let manifest: [String: Any] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: root + "/manifest.json")),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return obj
    }()

    /// Skips the calling test, saying why, when the reference fixtures are not there.
    public static func require() throws {
        guard FileManager.default.fileExists(atPath: root + "/manifest.json") else {
            throw XCTSkip("reference fixtures not found at \(root) (the shared/fixtures folder beside the project, or SSAST_FIXTURES)")
        }
    }

    /// A scratch folder for one test, removed by the caller when done.
    public static func temporaryDirectory(_ tag: String) -> String {
        let dir = NSTemporaryDirectory() + "ssast-test-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Bounds against the fixtures, one definition for every suite (measured values in README's faithfulness table).
public enum Bounds {
    /// fbank vs torchaudio. Resampled files: measured <= 1.24e-3; a float64 resampling kernel (see
    /// Resampler.swift) moves them by up to 0.015, so 3e-3 catches it.
    public static func fbank(rate: Int) -> Float { rate == 16000 ? 1e-3 : 3e-3 }
    /// Logits from audio files, resampled ones included (measured <= 1.4e-5).
    public static let logits: Float = 1e-3
    /// int8 weights (8- or 12-bit activations) against fp32, logits on the fixture inputs: ONNX Runtime's
    /// dynamic int8 is off by 0.39 on the anchors' model (tiny-patch-ciab-ft, ../shared/anchors).
    public static let int8Logits: Float = 0.39
}

/// max |a - b| over two equally long arrays (fails the test when the lengths differ).
public func maxAbsDiff(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) -> Float {
    XCTAssertEqual(a.count, b.count, "length mismatch", file: file, line: line)
    var m: Float = 0
    for i in 0..<min(a.count, b.count) {
        let d = abs(a[i] - b[i])
        if d.isNaN { return .infinity }
        m = max(m, d)
    }
    return m
}

/// Checks one int8 channel as `Packing.packI8` stores it: the scale lies within [0.5, 1]·max|w| / 127 and
/// rounds the channel to nearest with no more squared error than max|w| / 127 (`Packing.int8Scale`); each
/// weight is within one step, or its clipped excess beyond ±127 steps; the channel's summed error is at
/// most half a step (`Packing.int8Round`). Float rounding of w / scale and q · scale is allowed for.
/// Returns the failure, or nil.
public func int8ChannelProblem(original row: ArraySlice<Float>, back: ArraySlice<Float>, scale s: Float) -> String? {
    let rowMax = row.map(abs).max() ?? 0
    guard rowMax > 0 else { return nil }
    if s > rowMax / 127 * 1.0001 || s < rowMax / 127 * 0.4999 { return "scale \(s) outside [0.5, 1]·\(rowMax)/127" }
    func nearestError(_ step: Float) -> Double {
        row.reduce(0.0) { e, x in let d = Double(max(-127, min(127, (x / step).rounded(.toNearestOrEven))) * step - x); return e + d * d }
    }
    if nearestError(s) > nearestError(rowMax / 127) * 1.0001 { return "scale \(s) rounds worse than max|w|/127" }
    var sum = 0.0
    for (x, b) in zip(row, back) {
        let d = abs(b - x)
        if d > max(s, abs(x) - 127 * s) * 1.0001 + abs(x) * 0x1p-21 { return "|\(b) - \(x)| = \(d) with scale \(s)" }
        sum += Double(b - x)
    }
    if abs(sum) > Double(s) * (0.5 + Double(row.count) * 0x1p-20) { return "summed error \(sum), scale \(s)" }
    return nil
}
