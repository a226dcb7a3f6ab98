import Runtime

/// What the user tells the converter (CLI flags). A fine-tuned checkpoint does not record its strides,
/// target length or normalisation; these fill the gap and are checked against the tensors.
public struct ConvertOptions {
    public var dtype: WeightType = .f32
    public var fstride: Int? = nil, tstride: Int? = nil, targetLength: Int? = nil
    public var mean: Float? = nil, std: Float? = nil
    public var labels: [String]? = nil
    public var pooling: ModelConfig.Pooling? = nil
    public var activation: ModelConfig.Activation = .softmax
    public var heads: Int? = nil
    public var threshold: Float? = nil
    /// int8 only: the activation width recorded for the runtime (8 or 12; nil: the runtime's default).
    public var int8Activations: Int? = nil
    public init() {}
}

/// A model as read from a checkpoint, in our names (PyTorch's without `module.`), as row-major
/// fp32 arrays, before packing. The trainer starts from this too.
public struct SSASTCheckpoint {
    public var config: ModelConfig
    public var tensors: [String: (shape: [Int], values: [Float])]
    /// Tensors read but not needed for inference (pretraining heads etc.), for `inspect`.
    public var dropped: [String]
    /// Human-readable notes on what the converter inferred or adapted.
    public var notes: [String]
    /// The features the model was trained on: SSAST's for a PyTorch checkpoint, the header's for one
    /// of our files; written back unchanged by re-encoding, training and export.
    public var fbank: FbankSettings
    public init(config: ModelConfig, tensors: [String: (shape: [Int], values: [Float])], dropped: [String] = [], notes: [String] = [],
                fbank: FbankSettings = .ssast) {
        self.config = config; self.tensors = tensors; self.dropped = dropped; self.notes = notes; self.fbank = fbank
    }
}

public enum SSASTConverter {
    /// SSAST pretraining normalisation (AudioSet statistics), the default for pretrained files.
    public static let audiosetMean: Float = -4.2677393, audiosetStd: Float = 4.5689974

    /// Tensors that exist only for pretraining or DeiT distillation, never used for inference.
    static func isPretrainingOnly(_ name: String) -> Bool {
        name.hasPrefix("cpredlayer.") || name.hasPrefix("gpredlayer.") || name == "mask_embed"
            || name.hasPrefix("v.head.") || name.hasPrefix("v.head_dist.") || name == "mask_correct"
            || name == "p_input_fdim" || name == "p_input_tdim" || name == "v.head" || name == "v.head_dist"
    }

    /// Reads a `.pth` / `.safetensors` / Hugging Face AST checkpoint (file or `save_pretrained` folder)
    /// and applies the SSAST semantics: infer the geometry, check it against the user's options and,
    /// for Hugging Face, its config.json; adapt pos_embed for pretrained files.
    public static func read(_ path: String, options o: ConvertOptions) throws -> SSASTCheckpoint {
        let weightsFile = try HuggingFaceConfig.weightsFile(path)
        let ckpt = try Checkpoint.load(weightsFile)
        // Structure checks cannot see damage inside tensor data; the zip's CRC-32s can.
        try ckpt.verifyIntegrity()
        let isHF = HuggingFaceAST.isHuggingFace(ckpt.tensors.map(\.name))
        let hf = isHF ? try HuggingFaceConfig.load(beside: weightsFile) : nil
        /// An option given both on the command line and in config.json must agree.
        func agree<T: Equatable>(_ option: String, _ given: T?, _ key: String, _ stored: T?) throws -> T? {
            if let g = given, let s = stored, g != s {
                throw SSASTError("\(path): \(option) \(g) contradicts \(key) \(s) in \(hf?.sources.first ?? "config.json")")
            }
            return given ?? stored
        }
        let optFstride = try agree("--fstride", o.fstride, "frequency_stride", hf?.fstride)
        let optTstride = try agree("--tstride", o.tstride, "time_stride", hf?.tstride)
        let optLength = try agree("--target-length", o.targetLength, "max_length", hf?.maxLength)
        let optHeads = try agree("--heads", o.heads, "num_attention_heads", hf?.heads)
        var raw: [String: TensorSource] = [:]
        var order: [String] = []
        for t in ckpt.tensors {
            var name = t.name
            while name.hasPrefix("module.") { name = String(name.dropFirst(7)) }
            if isHF, let mapped = HuggingFaceAST.ourName(name) { name = mapped }
            if raw[name] != nil { throw SSASTError("\(path): tensor \(name) appears twice (after removing 'module.')") }
            raw[name] = TensorSource(t); order.append(name)
        }
        if isHF { try HuggingFaceAST.fuseQKV(&raw, &order, path: path) }

        func need(_ name: String) throws -> TensorSource {
            guard let t = raw[name] else {
                throw SSASTError("\(path): missing tensor \(name) — is this an SSAST/AST checkpoint? It holds: \(order.prefix(8).joined(separator: ", "))\(order.count > 8 ? ", …" : "")")
            }
            return t
        }
        var notes: [String] = []

        // Geometry from shapes and key names.
        let patchW = try need("v.patch_embed.proj.weight")
        guard patchW.shape.count == 4, patchW.shape[1] == 1 else {
            throw SSASTError("\(path): v.patch_embed.proj.weight has shape \(patchW.shape), expected [dim, 1, fshape, tshape]")
        }
        let D = patchW.shape[0], fshape = patchW.shape[2], tshape = patchW.shape[3]
        var depth = 0
        while raw["v.blocks.\(depth).norm1.weight"] != nil { depth += 1 }
        guard depth > 0 else { throw SSASTError("\(path): no transformer blocks (v.blocks.0.*) found") }
        let fc1 = try need("v.blocks.0.mlp.fc1.weight")
        guard fc1.shape.count == 2, fc1.shape[1] == D else { throw SSASTError("\(path): v.blocks.0.mlp.fc1.weight has shape \(fc1.shape), expected [mlp, \(D)]") }
        let mlpDim = fc1.shape[0]
        if let h = hf?.hiddenSize, h != D { throw SSASTError("\(path): config.json says hidden_size \(h), the tensors have \(D)") }
        let heads = optHeads ?? max(1, D / 64)
        guard D % heads == 0 else { throw SSASTError("\(path): dim \(D) is not divisible by \(heads) heads; pass --heads") }
        let classTokens = raw["v.dist_token"] != nil ? 2 : 1
        let pos = try need("v.pos_embed")
        guard pos.shape.count == 3, pos.shape[0] == 1, pos.shape[2] == D, pos.shape[1] > classTokens else {
            throw SSASTError("\(path): v.pos_embed has shape \(pos.shape), expected [1, tokens, \(D)]")
        }
        let melBins = hf?.melBins ?? 128
        let fineTuned = raw["mlp_head.1.weight"] != nil
        var labelCount = 0
        if fineTuned {
            let hw = try need("mlp_head.1.weight")
            guard hw.shape.count == 2, hw.shape[1] == D else { throw SSASTError("\(path): mlp_head.1.weight has shape \(hw.shape), expected [labels, \(D)]") }
            labelCount = hw.shape[0]
        }

        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        func take(_ name: String, _ shape: [Int]) throws {
            let t = try need(name)
            guard t.shape == shape else { throw SSASTError("\(path): \(name) has shape \(t.shape), expected \(shape)") }
            let v = try t.floats()
            if let bad = v.firstIndex(where: { !$0.isFinite }) {
                throw SSASTError("\(path): \(name) holds a non-finite value (\(v[bad])) at element \(bad)")
            }
            tensors[name] = (shape, v)
        }

        let fstride: Int, tstride: Int, targetLength: Int
        if fineTuned || isHF {
            // The file holds an adapted pos_embed; strides and length come from the user and must fit it.
            guard let fs = optFstride, let ts = optTstride, let tl = optLength else {
                throw SSASTError("\(path): a fine-tuned checkpoint does not record its patch strides or target length; "
                    + "pass --fstride, --tstride and --target-length (pos_embed has \(pos.shape[1] - classTokens) patches"
                    + "\(suggestGeometry(patches: pos.shape[1] - classTokens, fshape: fshape, tshape: tshape, mel: melBins)))")
            }
            fstride = fs; tstride = ts; targetLength = tl
            let fDim = (melBins - fshape) / fs + 1, tDim = (tl - tshape) / ts + 1
            guard fs > 0, ts > 0, tl >= tshape, fDim * tDim + classTokens == pos.shape[1] else {
                throw SSASTError("\(path): --fstride \(fs) --tstride \(ts) --target-length \(tl) give \(fDim) x \(tDim) = \(fDim * tDim) patches "
                    + "+ \(classTokens) class tokens, but pos_embed holds \(pos.shape[1]) tokens"
                    + "\(suggestGeometry(patches: pos.shape[1] - classTokens, fshape: fshape, tshape: tshape, mel: melBins))")
            }
            try take("v.pos_embed", pos.shape)
        } else {
            // Pretrained: adapt pos_embed to the requested geometry as ASTModel(pretrain_stage=False) does.
            fstride = optFstride ?? fshape; tstride = optTstride ?? tshape
            targetLength = optLength ?? 1024
            let pf = try need("p_input_fdim").int64s(), pt = try need("p_input_tdim").int64s()
            guard pf.count == 1, pt.count == 1, pf[0] >= Int64(fshape), pt[0] >= Int64(tshape), pf[0] <= 4096, pt[0] <= 65536 else {
                throw SSASTError("\(path): p_input_fdim/p_input_tdim must be scalars covering one patch (got \(pf), \(pt))")
            }
            let pfDim = (Int(pf[0]) - fshape) / fshape + 1, ptDim = (Int(pt[0]) - tshape) / tshape + 1
            guard pfDim * ptDim + classTokens == pos.shape[1] else {
                throw SSASTError("\(path): pretraining grid \(pfDim) x \(ptDim) (+\(classTokens)) does not match pos_embed's \(pos.shape[1]) tokens")
            }
            guard fstride > 0, tstride > 0, targetLength >= tshape else {
                throw SSASTError("\(path): strides must be positive and --target-length at least the patch width \(tshape)")
            }
            let fDim = (melBins - fshape) / fstride + 1, tDim = (targetLength - tshape) / tstride + 1
            let pv = try pos.floats()
            if let bad = pv.firstIndex(where: { !$0.isFinite }) { throw SSASTError("\(path): v.pos_embed holds a non-finite value at element \(bad)") }
            let adapted = PosEmbed.adapt(pv, dim: D, classTokens: classTokens, pFDim: pfDim, pTDim: ptDim, fDim: fDim, tDim: tDim)
            tensors["v.pos_embed"] = ([1, classTokens + fDim * tDim, D], adapted)
            notes.append("pos_embed adapted from the pretraining grid \(pfDim)x\(ptDim) to \(fDim)x\(tDim) (fstride \(fstride), tstride \(tstride), target length \(targetLength))")
        }

        // Normalisation and labels.
        var mean = o.mean ?? hf?.mean, std = o.std ?? hf?.std
        if mean == nil || std == nil {
            if fineTuned && !isHF {
                throw SSASTError("\(path): a fine-tuned checkpoint does not record its dataset normalisation; pass --mean and --std "
                    + "(SSAST recipes: AudioSet -4.2677393/4.5689974, ESC-50 -6.6268077/5.358466, Speech Commands -6.845978/5.5654526, "
                    + "CIAB three-cough -8.2096/6.1568)")
            }
            mean = mean ?? audiosetMean; std = std ?? audiosetStd
            notes.append("normalisation: mean \(mean!), std \(std!) (AudioSet statistics, SSAST's pretraining default)")
        }
        var labels: [String] = []
        var headOrder: [Int]? = nil
        if fineTuned {
            labels = o.labels ?? hf?.labels ?? ModelConfig.placeholderLabels(labelCount)
            guard labels.count == labelCount else {
                throw SSASTError("\(path): the head has \(labelCount) outputs but \(labels.count) label names were given"
                    + (o.labels == nil ? " (id2label in config.json)" : ""))
            }
            if o.labels == nil && hf?.labels == nil { notes.append("no --labels given: outputs named class0...class\(labelCount - 1)") }
            // --labels against id2label: the same names in another order reorder the head's rows (below);
            // other names contradict the file and are refused, as other contradictions are. Placeholder
            // names (LABEL_0, ...) are simply replaced.
            if let given = o.labels, let named = hf?.labels, given != named, !ModelConfig.arePlaceholderLabels(named) {
                guard Set(given) == Set(named), Set(named).count == named.count else {
                    throw SSASTError("\(path): --labels \(given.joined(separator: ",")) contradicts id2label in config.json "
                        + "(\(named.joined(separator: ", "))); give the same names, in any order")
                }
                headOrder = given.map { named.firstIndex(of: $0)! }
                notes.append("--labels lists id2label's names in another order: the head's rows were reordered to it")
            }
        } else if o.labels != nil {
            throw SSASTError("\(path): a pretrained checkpoint has no classification head; --labels does not apply (it converts to an embedding model)")
        }

        // Hugging Face's ASTConfig uses one eps (default 1e-12) for every LayerNorm, the head's included.
        let hfEps = Float(hf?.layerNormEps ?? 1e-12)
        let blockEps: Float = isHF ? hfEps : 1e-6, headEps: Float = isHF ? hfEps : 1e-5
        if let h = hf {
            notes.append("read \(h.sources.joined(separator: " and ")): \(heads) heads, LayerNorm eps \(hfEps), stride \(fstride)x\(tstride), "
                + "target length \(targetLength), \(melBins) mel bins" + (h.labels != nil && o.labels == nil ? ", labels from id2label" : ""))
        } else if isHF {
            notes.append("no config.json beside \(weightsFile): assumed \(heads) heads (dim / 64) and LayerNorm eps 1e-12, Hugging Face's defaults")
        }
        let config = ModelConfig(dim: D, depth: depth, heads: heads, mlpDim: mlpDim, fshape: fshape, tshape: tshape,
                                 fstride: fstride, tstride: tstride, targetLength: targetLength, melBins: melBins,
                                 classTokens: classTokens, pooling: o.pooling ?? (isHF ? .cls : .avgtok),
                                 activation: o.activation, labels: labels, datasetMean: mean!, datasetStd: std!,
                                 blockEps: blockEps, headEps: headEps, threshold: o.threshold)
        do throws(SSASTError) { try config.validate() } catch { throw SSASTError("\(path): \(error.message)") }
        // Every other tensor of the schema, at the schema's shape.
        for t in ModelSchema.tensors(config) where t != .posEmbed { try take(t.name, t.shape(config)) }
        if let order = headOrder, let w = tensors["mlp_head.1.weight"], let b = tensors["mlp_head.1.bias"] {
            tensors["mlp_head.1.weight"] = (w.shape, reorderedRows(w.values, order: order, width: D))
            tensors["mlp_head.1.bias"] = (b.shape, reorderedRows(b.values, order: order, width: 1))
        }

        // Every tensor must be used, or known to be pretraining-only; anything else is a different model.
        let dropped = order.filter { tensors[$0] == nil && isPretrainingOnly($0) }
        let unexpected = order.filter { tensors[$0] == nil && !isPretrainingOnly($0) && $0 != "v.pos_embed" }
        if !unexpected.isEmpty {
            throw SSASTError("\(path): unexpected tensors (not part of an SSAST model): \(unexpected.joined(separator: ", "))")
        }

        var fbank = FbankSettings.ssast
        fbank.melBins = melBins
        return SSASTCheckpoint(config: config, tensors: tensors, dropped: dropped, notes: notes, fbank: fbank)
    }

    /// Lists stride/length combinations that give `patches`, to make the geometry error actionable.
    static func suggestGeometry(patches: Int, fshape: Int, tshape: Int, mel: Int) -> String {
        // Stride pairs in order of how common they are in SSAST recipes; overlapping 10x10 first.
        let pairs = [(10, 10), (fshape, tshape), (16, 16), (fshape, 1), (8, 8), (fshape, 2), (12, 12), (6, 6)]
        var options: [String] = []
        for (fs, ts) in pairs where fs > 0 && ts > 0 && fs <= fshape {
            let fDim = (mel - fshape) / fs + 1
            guard fDim > 0, patches % fDim == 0 else { continue }
            let lo = (patches / fDim - 1) * ts + tshape
            let s = "--fstride \(fs) --tstride \(ts) --target-length \(lo)\(ts > 1 ? "...\(lo + ts - 1)" : "")"
            if !options.contains(s) { options.append(s) }
            if options.count == 3 { break }
        }
        return options.isEmpty ? "" : "; geometries that fit: " + options.joined(separator: " | ")
    }

    /// Packs a model into weight-file tensors: matmul weights in panels of the requested dtype,
    /// everything else fp32. Returns the metadata and tensors the writer takes.
    public static func weightFileContents(_ m: SSASTCheckpoint, dtype: WeightType, source: String)
        throws -> (metadata: [(String, MetaValue)], tensors: [TensorBlob]) {
        let c = m.config
        var metadata = c.metadata
        for (k, v) in m.fbank.fields { metadata.append(("fbank." + k, .float(v))) }
        metadata.append(("convert.source", .string(source)))
        metadata.append(("convert.dtype", .string(dtype.description)))
        var blobs: [TensorBlob] = []
        for spec in ModelSchema.tensors(c) {
            let name = spec.name
            guard let t = m.tensors[name] else { throw SSASTError("internal: converter lost tensor \(name)") }
            // Values are row-major, so only their count must fit (a weight file's matmuls come as [n, k]).
            let shape = spec.shape(c)
            guard t.values.count == shape.reduce(1, *) else {
                throw SSASTError("internal: \(name) has \(t.values.count) values, the model needs \(shape)")
            }
            guard spec.role == .matmul else { blobs.append(TensorBlob(name: name, floats: t.values, shape: shape)); continue }
            let (n, k) = spec.matrix(c)
            switch dtype {
            case .f32:
                blobs.append(TensorBlob(name: name, type: .f32, layout: .packedPanels, shape: [n, k],
                                        bytes: Packing.packF32(t.values, n: n, k: k).withUnsafeBytes { Array($0) }))
            case .f16:
                let packed = Packing.packF16(t.values, n: n, k: k)
                blobs.append(TensorBlob(name: name, type: .f16, layout: .packedPanels, shape: [n, k],
                                        bytes: packed.withUnsafeBytes { Array($0) }))
                metadata += quantisationError(name, t.values, packed.withUnsafeBufferPointer { Packing.unpackF16($0.baseAddress!, n: n, k: k) })
            case .i8:
                let (q, scales) = Packing.packI8(t.values, n: n, k: k)
                blobs.append(TensorBlob(name: name, type: .i8, layout: .packedPanels, shape: [n, k],
                                        bytes: q.withUnsafeBytes { Array($0) }))
                blobs.append(TensorBlob(name: name + ".scale", floats: scales, shape: [scales.count]))
                let back = q.withUnsafeBufferPointer { qp in scales.withUnsafeBufferPointer { Packing.unpackI8(qp.baseAddress!, scales: $0.baseAddress!, n: n, k: k) } }
                metadata += quantisationError(name, t.values, back)
            }
        }
        return (metadata, blobs)
    }

    /// Per-tensor error of fp16/int8 storage, recorded in the header ("quant.<name>" = [max abs, relative RMS])
    /// so `ssast inspect` can report it without the original weights.
    static func quantisationError(_ name: String, _ w: [Float], _ back: [Float]) -> [(String, MetaValue)] {
        var maxAbs: Float = 0, err2 = 0.0, ref2 = 0.0
        for i in w.indices {
            let d = w[i] - back[i]
            maxAbs = max(maxAbs, abs(d)); err2 += Double(d * d); ref2 += Double(w[i] * w[i])
        }
        let rel = ref2 > 0 ? (err2 / ref2).squareRoot() : 0
        return [("quant.\(name)", .strings([String(maxAbs), String(rel)]))]
    }

    /// Reads, converts and writes atomically. Returns the checkpoint for reporting.
    @discardableResult
    public static func convert(input: String, output: String, options: ConvertOptions) throws -> SSASTCheckpoint {
        let m = try read(input, options: options)
        let source = input.split(separator: "/").last.map(String.init) ?? input   // a folder: its name
        var (meta, blobs) = try weightFileContents(m, dtype: options.dtype, source: source)
        if let b = options.int8Activations {
            guard options.dtype == .i8 else { throw SSASTError("--int8-activations applies to --dtype int8 only") }
            guard Engine.int8ActivationWidths.contains(b) else { throw SSASTError("--int8-activations must be 8 or 12 (got \(b))") }
            meta.append(("ssast.int8_activations", .int(Int64(b))))
        }
        try WeightFileWriter.write(path: output, metadata: meta, tensors: blobs)
        return m
    }
}

/// Rows of a row-major matrix `width` wide, in `order` (row i of the result is row order[i]): a
/// classification head's rows put into another label order.
public func reorderedRows(_ values: [Float], order: [Int], width: Int) -> [Float] {
    order.flatMap { values[($0 * width)..<(($0 + 1) * width)] }
}
