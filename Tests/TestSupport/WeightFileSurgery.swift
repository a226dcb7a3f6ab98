import Foundation
import Runtime

/// Edits a weight file's header and re-seals it with a valid checksum, to test what the reader does
/// with well-formed but hostile values. The tensor bytes are kept as they are.
public struct WeightFileSurgery {
    public var metadata: [(String, MetaValue)]
    public var tensors: [TensorInfo]
    public let original: (bytes: [UInt8], tensors: [TensorInfo])

    public init(path: String) throws {
        let f = try WeightFile(path: path)
        metadata = f.metadataOrder.map { ($0, f.metadata[$0]!) }
        tensors = f.tensors
        original = (Array(f.file.bytes), f.tensors)
    }

    public mutating func set(_ key: String, _ value: MetaValue) {
        if let i = metadata.firstIndex(where: { $0.0 == key }) { metadata[i].1 = value } else { metadata.append((key, value)) }
    }
    public func tensor(_ name: String) -> TensorInfo { tensors.first { $0.name == name }! }
    public mutating func edit(_ name: String, _ change: (inout TensorInfo) -> Void) {
        change(&tensors[tensors.firstIndex { $0.name == name }!])
    }

    /// The file with the new header. Table edits keep the header's size (the data stay at their
    /// offsets); metadata edits are laid out afresh by the writer, so keys may be added.
    public func write(to path: String) throws {
        if tensors == original.tensors {
            try WeightFileWriter.write(path: path, metadata: metadata, tensors: tensors.map { t in
                TensorBlob(name: t.name, type: t.type, layout: t.layout, shape: t.shape,
                           bytes: Array(original.bytes[t.offset..<(t.offset + t.byteCount)]))
            })
        } else {
            try Data(resealed).write(to: URL(fileURLWithPath: path))
        }
    }

    /// The original bytes under a re-encoded header (same length required for a consistent file).
    public var resealed: [UInt8] {
        let head = WeightFileFormat.header(metadata: metadata, tensors: tensors)
        return head + original.bytes[min(head.count, original.bytes.count)...]
    }
}
