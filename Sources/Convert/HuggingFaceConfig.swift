#if canImport(Glibc)
import Glibc
#endif
import Runtime
import Support

/// What a Hugging Face AST folder (as `save_pretrained` writes it) says beside its weights:
/// `config.json` (ASTConfig) and, when present, `preprocessor_config.json` (ASTFeatureExtractor).
/// The tensors do not record the head count, LayerNorm eps, strides, input length or label names.
struct HuggingFaceConfig {
    var heads: Int?, hiddenSize: Int?
    var layerNormEps: Double?
    var fstride: Int?, tstride: Int?, maxLength: Int?, melBins: Int?
    var labels: [String]?
    var mean: Float?, std: Float?
    /// Files read, for the converter's notes.
    var sources: [String] = []

    /// The weights file for `path`: the path itself, or inside a folder `model.safetensors`
    /// (else `pytorch_model.bin`, the older save_pretrained format).
    static func weightsFile(_ path: String) throws -> String {
        guard isDirectory(path) else { return path }
        for name in ["model.safetensors", "pytorch_model.bin"] where fileExists(path + "/" + name) { return path + "/" + name }
        throw SSASTError("\(path): a folder, but it holds no model.safetensors or pytorch_model.bin (the files save_pretrained writes)")
    }

    /// Reads the JSON files beside `weights`; nil when there is no config.json.
    static func load(beside weights: String) throws -> HuggingFaceConfig? {
        let folder = weights.contains("/") ? String(weights[..<weights.lastIndex(of: "/")!]) : "."
        let configPath = (folder.isEmpty ? "" : folder) + "/config.json"
        guard fileExists(configPath) else { return nil }
        var c = HuggingFaceConfig()
        let j = try json(configPath)
        func int(_ key: String) throws -> Int? {
            switch j[key] {
            case nil, .null?: return nil
            case .int(let v)?: guard v > 0, v < 1 << 20 else { break }; return Int(v)
            default: break
            }
            throw SSASTError("\(configPath): \(key) must be a positive integer")
        }
        c.heads = try int("num_attention_heads"); c.hiddenSize = try int("hidden_size")
        c.fstride = try int("frequency_stride"); c.tstride = try int("time_stride")
        c.maxLength = try int("max_length"); c.melBins = try int("num_mel_bins")
        switch j["layer_norm_eps"] {
        case .number(let v)?: c.layerNormEps = v
        case .int(let v)?: c.layerNormEps = Double(v)
        case nil, .null?: break
        default: throw SSASTError("\(configPath): layer_norm_eps must be a number")
        }
        if let eps = c.layerNormEps, !(eps > 0 && eps < 1) { throw SSASTError("\(configPath): layer_norm_eps \(eps) must be in (0, 1)") }
        if case .object(let pairs)? = j["id2label"] {
            var names = [String?](repeating: nil, count: pairs.count)
            for (k, v) in pairs {
                guard let i = Int(k), i >= 0, i < pairs.count, names[i] == nil, case .string(let name) = v else {
                    throw SSASTError("\(configPath): id2label must map 0...\(pairs.count - 1) to names (bad entry \"\(k)\")")
                }
                names[i] = name
            }
            c.labels = names.map { $0! }
        }
        c.sources.append(configPath)
        let pre = folder + "/preprocessor_config.json"
        if fileExists(pre) {
            let p = try json(pre)
            func float(_ key: String) throws -> Float? {
                switch p[key] {
                case .number(let v)?: return Float(v)
                case .int(let v)?: return Float(v)
                case nil, .null?: return nil
                default: throw SSASTError("\(pre): \(key) must be a number")
                }
            }
            c.mean = try float("mean"); c.std = try float("std")
            c.sources.append(pre)
        }
        return c
    }

    static func json(_ path: String) throws -> JSONValue {
        let f = try MappedFile(path: path)
        guard f.count <= 16 << 20 else { throw SSASTError("\(path): larger than 16 MiB, not a model config") }
        return try MiniJSONParser.parse(f.bytes, what: path)
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
