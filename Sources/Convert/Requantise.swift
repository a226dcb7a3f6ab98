import Runtime

extension SSASTConverter {
    /// True when `path` starts with our weight file's magic (so `ssast convert` re-encodes it rather
    /// than parsing it as a PyTorch checkpoint).
    public static func isWeightFile(_ path: String) -> Bool {
        guard let f = try? MappedFile(path: path), f.bytes.count >= WeightFileFormat.magic.count else { return false }
        return Array(f.bytes[0..<WeightFileFormat.magic.count]) == WeightFileFormat.magic
    }

    /// Re-encodes one of our weight files (e.g. the fp32 file `ssast train` writes) with another matmul
    /// weight type. Geometry, labels, normalisation, threshold and fbank settings are kept from its header. Starting from a
    /// quantised file re-quantises its dequantised values (allowed, with a note: the error compounds).
    @discardableResult
    public static func requantise(input: String, output: String, dtype: WeightType) throws -> SSASTCheckpoint {
        let wf = try WeightFile(path: input)
        let config = try ModelConfig(weightFile: wf)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        for name in ModelSchema.names(config) {
            guard let info = wf.info(name) else { throw SSASTError("\(input): missing tensor \(name)") }
            tensors[name] = (info.shape, try wf.dequantised(name))
        }
        var notes: [String] = []
        if wf.tensors.contains(where: { $0.type != .f32 }) {
            notes.append("\(input) already holds quantised weights; they were dequantised and encoded again")
        }
        let ck = SSASTCheckpoint(config: config, tensors: tensors, dropped: [], notes: notes, fbank: try FbankSettings(weightFile: wf))
        let source = input.split(separator: "/").last.map(String.init) ?? input
        let (meta, blobs) = try weightFileContents(ck, dtype: dtype, source: source)
        try WeightFileWriter.write(path: output, metadata: meta, tensors: blobs)
        return ck
    }
}
