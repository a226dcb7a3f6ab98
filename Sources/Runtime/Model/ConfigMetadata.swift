/// ModelConfig <-> weight-file header. Keys are listed in docs/FORMAT.md.
extension ModelConfig {
    public var metadata: [(String, MetaValue)] {
        var m: [(String, MetaValue)] = [
            ("ssast.dim", .int(Int64(dim))), ("ssast.depth", .int(Int64(depth))), ("ssast.heads", .int(Int64(heads))),
            ("ssast.mlp_dim", .int(Int64(mlpDim))),
            ("ssast.fshape", .int(Int64(fshape))), ("ssast.tshape", .int(Int64(tshape))),
            ("ssast.fstride", .int(Int64(fstride))), ("ssast.tstride", .int(Int64(tstride))),
            ("ssast.target_length", .int(Int64(targetLength))), ("ssast.mel_bins", .int(Int64(melBins))),
            ("ssast.class_tokens", .int(Int64(classTokens))),
            ("ssast.pooling", .string(pooling.rawValue)), ("ssast.activation", .string(activation.rawValue)),
            ("ssast.labels", .strings(labels)),
            ("ssast.dataset_mean", .float(Double(datasetMean))), ("ssast.dataset_std", .float(Double(datasetStd))),
            ("ssast.block_eps", .float(Double(blockEps))), ("ssast.head_eps", .float(Double(headEps))),
        ]
        if let t = threshold { m.append(("ssast.threshold", .float(Double(t)))) }
        m.append(("ssast.packing_layout", .int(Int64(Packing.layoutID))))
        return m
    }

    public init(weightFile w: WeightFile) throws(SSASTError) {
        let pooling = try w.string("ssast.pooling"), activation = try w.string("ssast.activation")
        guard let p = Pooling(rawValue: pooling) else { throw SSASTError("\(w.file.path): unknown pooling '\(pooling)' (avgtok or cls)") }
        guard let a = Activation(rawValue: activation) else { throw SSASTError("\(w.file.path): unknown output activation '\(activation)' (softmax or sigmoid)") }
        var threshold: Float? = nil
        if w.metadata["ssast.threshold"] != nil { threshold = Float(try w.float("ssast.threshold")) }
        self.init(dim: try w.int("ssast.dim"), depth: try w.int("ssast.depth"), heads: try w.int("ssast.heads"),
                  mlpDim: try w.int("ssast.mlp_dim"), fshape: try w.int("ssast.fshape"), tshape: try w.int("ssast.tshape"),
                  fstride: try w.int("ssast.fstride"), tstride: try w.int("ssast.tstride"),
                  targetLength: try w.int("ssast.target_length"), melBins: try w.int("ssast.mel_bins"),
                  classTokens: try w.int("ssast.class_tokens"), pooling: p, activation: a,
                  labels: try w.strings("ssast.labels"),
                  datasetMean: Float(try w.float("ssast.dataset_mean")), datasetStd: Float(try w.float("ssast.dataset_std")),
                  blockEps: Float(try w.float("ssast.block_eps")), headEps: Float(try w.float("ssast.head_eps")),
                  threshold: threshold)
        do throws(SSASTError) { try validate() } catch { throw SSASTError("\(w.file.path): \(error.message)") }
    }
}

extension FbankSettings {
    /// The settings stored in a weight file's "fbank.*" header keys (SSAST's defaults for keys it lacks).
    public init(weightFile w: WeightFile) throws(SSASTError) {
        var fields: [String: Double] = [:]
        for (k, v) in w.metadata where k.hasPrefix("fbank.") {
            switch v {
            case .float(let x): fields[k] = x
            case .int(let i): fields[k] = Double(i)
            default: throw SSASTError("\(w.file.path): header key \(k) must be a number")
            }
        }
        do throws(SSASTError) { try self.init(fields: fields) } catch { throw SSASTError("\(w.file.path): \(error.message)") }
    }
}
