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

    /// manifest.json, parsed.
    public static let manifest: [String: Any] = {
        let data = try! Data(contentsOf: URL(fileURLWithPath: root + "/manifest.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    /// A scratch folder for one test, removed by the caller when done.
    public static func temporaryDirectory(_ tag: String) -> String {
        let dir = NSTemporaryDirectory() + "ssast-test-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
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
