#if canImport(Glibc)
import Glibc
#elseif canImport(CLibc)
import CLibc  // Embedded Swift cross build (scripts/aarch64-tests.sh)
#endif
import CKernels
import CShim

/// Typed views into the mapped weight file (llama2.c's `Weights`): nothing is copied.
public struct BlockWeights {
    public let norm1W, norm1B: UnsafePointer<Float>   // [D]
    public let qkv: PackedLinear                       // [3D, D]
    public let proj: PackedLinear                      // [D, D]
    public let norm2W, norm2B: UnsafePointer<Float>   // [D]
    public let fc1: PackedLinear                       // [mlp, D]
    public let fc2: PackedLinear                       // [D, mlp]
}

public struct Weights {
    public let patch: PackedLinear                     // [D, fshape*tshape], conv kernel flattened (fi, ti)
    public let classTokens: [UnsafePointer<Float>]     // classTokens x [D]: cls, dist
    public let posEmbed: UnsafePointer<Float>          // [tokens, D]
    public let blocks: [BlockWeights]
    public let normW, normB: UnsafePointer<Float>     // [D] final LayerNorm
    public let headNormW, headNormB: UnsafePointer<Float>? // [D] mlp_head.0
    public let head: PackedLinear?                     // [labels, D] mlp_head.1
}

/// A loaded model: config + weights viewing the mmap. Load time is the header parse plus the
/// checksum pass; weights are never copied.
public final class SSASTModel {
    public let file: WeightFile
    public let config: ModelConfig
    public let weights: Weights
    /// Fbank settings the model was trained with ("fbank.*" header keys), for the front end.
    public let fbankSettings: [String: Double]
    /// The activation width the file asks int8 linears to use ("ssast.int8_activations": 8 or 12), if any.
    public let int8ActivationBits: Int?
    /// The int8 linears' column sums (PackedLinear.colsum), owned here.
    private let columnSums: [UnsafeMutablePointer<Int32>]

    public convenience init(path: String, verifyChecksums: Bool = true) throws(SSASTError) {
        try self.init(file: try WeightFile(path: path, verifyChecksums: verifyChecksums))
    }

    public init(file: WeightFile) throws(SSASTError) {
        self.file = file
        let c = try ModelConfig(weightFile: file)
        config = c
        var fb: [String: Double] = [:]
        for (k, v) in file.metadata where k.hasPrefix("fbank.") {
            switch v { case .float(let x): fb[k] = x; case .int(let i): fb[k] = Double(i); default: break }
        }
        fbankSettings = fb
        if file.metadata["ssast.int8_activations"] != nil {
            let bits = try file.int("ssast.int8_activations")
            guard Engine.int8ActivationWidths.contains(bits) else {
                throw SSASTError("\(file.file.path): header ssast.int8_activations = \(bits); this runtime offers \(Engine.int8ActivationWidths.map { "\($0)" }.joined(separator: " or ")) bits")
            }
            int8ActivationBits = bits
        } else {
            int8ActivationBits = nil
        }

        let path = file.file.path
        do throws(SSASTError) { _ = try FbankSettings(fields: fb) } catch { throw SSASTError("\(path): \(error.message)") }
        // Names: report everything missing or unexpected at once (whisper.cpp style).
        let schema = ModelSchema.tensors(c)
        let expected = Set(schema.map { $0.name })
        let present = Set(file.tensors.map { $0.name }.filter { !$0.hasSuffix(".scale") })
        let missing = expected.subtracting(present).sorted(), unexpected = present.subtracting(expected).sorted()
        if !missing.isEmpty || !unexpected.isEmpty {
            var msg = "\(path): tensor table does not match the header's model"
            if !missing.isEmpty { msg += "; missing: " + missing.joined(separator: ", ") }
            if !unexpected.isEmpty { msg += "; unexpected: " + unexpected.joined(separator: ", ") }
            throw SSASTError(msg)
        }
        // Shapes and roles come from the schema: matmul weights are packed panels, the rest fp32 views.
        func vec(_ t: ModelTensor) throws(SSASTError) -> UnsafePointer<Float> { try file.floats(t.name, shape: t.shape(c)) }
        var sums: [UnsafeMutablePointer<Int32>] = []
        func linear(_ t: ModelTensor) throws(SSASTError) -> PackedLinear {
            let name = t.name, (n, k) = t.matrix(c)
            guard let info = file.info(name) else { throw SSASTError("\(path): missing tensor \(name)") }
            guard info.layout == .packedPanels, info.shape == [n, k] else {
                throw SSASTError("\(path): tensor \(name) must be packed [\(n), \(k)], is \(info.layout) \(info.shape)")
            }
            var scales: UnsafePointer<Float>? = nil
            var colsum: UnsafeMutablePointer<Int32>? = nil
            let data = file.raw(info)
            if info.type == .i8 {
                scales = try file.floats(name + ".scale", shape: [Packing.paddedN(n)])
                let sum = UnsafeMutablePointer<Int32>.allocate(capacity: Packing.paddedN(n))
                sum.initialize(repeating: 0, count: Packing.paddedN(n))
                ssast_i8_colsums(data.assumingMemoryBound(to: Int8.self), n, Packing.kPadI8(k), 0, Packing.paddedN(n) / Packing.panel, sum)
                sums.append(sum)
                colsum = sum
            }
            guard let b = t.bias else { throw SSASTError("internal: \(name) has no bias in the schema") }
            return PackedLinear(n: n, k: k, type: info.type, data: data, scales: scales, bias: try vec(b), colsum: colsum)
        }
        let patch = try linear(.patchW)
        var cls = [try vec(.clsToken)]
        if c.classTokens == 2 { cls.append(try vec(.distToken)) }
        let pos = try vec(.posEmbed)
        var blocks: [BlockWeights] = []
        for i in 0..<c.depth {
            blocks.append(BlockWeights(
                norm1W: try vec(.block(i, .norm1W)), norm1B: try vec(.block(i, .norm1B)),
                qkv: try linear(.block(i, .qkvW)), proj: try linear(.block(i, .projW)),
                norm2W: try vec(.block(i, .norm2W)), norm2B: try vec(.block(i, .norm2B)),
                fc1: try linear(.block(i, .fc1W)), fc2: try linear(.block(i, .fc2W))))
        }
        var hw: UnsafePointer<Float>? = nil, hb: UnsafePointer<Float>? = nil, head: PackedLinear? = nil
        if c.hasHead {
            hw = try vec(.headNormW); hb = try vec(.headNormB)
            head = try linear(.headW)
        }
        weights = Weights(patch: patch, classTokens: cls, posEmbed: pos, blocks: blocks,
                          normW: try vec(.normW), normB: try vec(.normB),
                          headNormW: hw, headNormB: hb, head: head)
        columnSums = sums
    }
    deinit { for p in columnSums { p.deallocate() } }

    /// The dtype of the matmul weights ("fp32", "fp16", "int8").
    public var weightType: WeightType { weights.blocks.first?.qkv.type ?? weights.patch.type }
}

/// Every buffer one forward pass needs, allocated once (llama2.c's `RunState`). Buffers whose lives do
/// not overlap share memory: the im2col patches live in `hidden` (used only before the first block)
/// and the attention output in `xn` (the LayerNorm output is dead once qkv is computed).
public final class RunState {
    public let config: ModelConfig
    let x, xn, qkv, hidden: UnsafeMutablePointer<Float>
    /// im2col rows of the patch projection [patches, patchK]: an alias of `hidden`.
    var patches: UnsafeMutablePointer<Float> { hidden }
    /// Attention output [tokens, dim]: an alias of `xn`.
    var attn: UnsafeMutablePointer<Float> { xn }
    let pooled, pooledNorm: UnsafeMutablePointer<Float>
    public let logits: UnsafeMutablePointer<Float>
    private var allocations: [(UnsafeMutablePointer<Float>, Int)] = []

    public init(config c: ModelConfig) {
        var made: [(UnsafeMutablePointer<Float>, Int)] = []
        // Buffers that nearly fill a 2 MiB page (hidden, the MLP activations: 1.85 MB at CIAB geometry)
        // go on huge-page-advised zeroed pages (see ssast_alloc_buffer); smaller ones, and any mapping
        // failure, come from the heap: a mostly empty huge page is resident memory for nothing (qkv's
        // 1.39 MB on one cost `ssast classify` 0.6 MB, past the 30 MB target for an int8 Tiny).
        func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
            let bytes = max(n, 1) * 4
            if bytes >= 3 << 19, let raw = ssast_alloc_buffer(UInt64(bytes)) {
                let p = raw.bindMemory(to: Float.self, capacity: max(n, 1))
                made.append((p, bytes))
                return p
            }
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            made.append((p, 0))
            return p
        }
        config = c
        let T = c.tokens, D = c.dim
        x = alloc(T * D); xn = alloc(T * D); qkv = alloc(T * 3 * D)
        hidden = alloc(max(T * c.mlpDim, c.patches * c.patchK))
        pooled = alloc(D); pooledNorm = alloc(D); logits = alloc(max(c.labels.count, 1))
        allocations = made
    }
    deinit {
        for (p, bytes) in allocations {
            if bytes > 0 { ssast_free_buffer(p, UInt64(bytes)) } else { p.deallocate() }
        }
    }
}

/// Per-stage wall time of one forward pass, for `ssast bench`.
public struct StageTimes {
    // seconds; `attention` is the fused attention core alone, the linears around it are qkv and proj.
    /// Time stages with the calling thread's CPU clock instead of wall time (1-thread engines only).
    public var threadCPUClock = false
    // `fc1` includes its GELU, applied in the GEMM's epilogue.
    public var patch = 0.0, layerNorm = 0.0, qkv = 0.0, attention = 0.0, proj = 0.0, fc1 = 0.0, fc2 = 0.0, head = 0.0
    public init() {}
    public static func + (a: StageTimes, b: StageTimes) -> StageTimes {
        var s = a
        s.patch += b.patch; s.layerNorm += b.layerNorm; s.qkv += b.qkv; s.attention += b.attention; s.proj += b.proj
        s.fc1 += b.fc1; s.fc2 += b.fc2; s.head += b.head
        return s
    }
    /// (name, seconds) in pipeline order.
    public var named: [(String, Double)] {
        [("patch", patch), ("layernorm", layerNorm), ("qkv", qkv), ("attention", attention), ("proj", proj),
         ("fc1+gelu", fc1), ("fc2", fc2), ("head", head)]
    }
}


extension SSASTModel {
    /// Runs the transformer on one normalised input of [targetLength, melBins] (time-major, as SSAST's
    /// dataloader yields it). Returns the logits (head) or the pooled embedding (backbone-only file).
    /// `trace` receives named intermediate activations (patch_embed, tokens_in, block<i>, final_norm).
    /// `embeddingOnly` stops before mlp_head and returns the pooled embedding of a fine-tuned model.
    /// Throws if `input` is not targetLength x melBins values or `state` was built for another config
    /// (the buffers would be too small).
    @discardableResult
    public func forward(_ inputBuffer: UnsafeBufferPointer<Float>, state s: RunState, engine: Engine,
                        embeddingOnly: Bool = false,
                        times: UnsafeMutablePointer<StageTimes>? = nil,
                        trace: ((String, UnsafeBufferPointer<Float>) -> Void)? = nil) throws(SSASTError) -> UnsafeBufferPointer<Float> {
        let c = config, w = weights
        guard s.config == c else {
            throw SSASTError("forward: the RunState was built for another model configuration (\(s.config.tokens) tokens x \(s.config.dim), this model \(c.tokens) x \(c.dim))")
        }
        guard inputBuffer.count == c.targetLength * c.melBins, let input = inputBuffer.baseAddress else {
            throw SSASTError("forward: input has \(inputBuffer.count) values, the model takes \(c.targetLength) frames x \(c.melBins) mel bins = \(c.targetLength * c.melBins)")
        }
        let D = c.dim, T = c.tokens, P = c.patches, CT = c.classTokens
        let cpuClock = times?.pointee.threadCPUClock ?? false
        var t0 = times == nil ? 0 : cpuClock ? threadCPUTime() : monotonicTime()
        // A closure, not a key path: Embedded Swift has no key paths.
        func lap(_ add: (inout StageTimes, Double) -> Void) {
            guard let times else { return }
            let t1 = cpuClock ? threadCPUTime() : monotonicTime()
            add(&times.pointee, t1 - t0); t0 = t1
        }

        // Patch projection as a matmul: im2col rows are patches n = fi * tDim + ti, columns the kernel (i, j).
        // The input is (time, freq); the conv sees it transposed as (freq rows, time columns).
        let tDim = c.tDim, K = c.patchK, mel = c.melBins
        for fi in 0..<c.fDim {
            for ti in 0..<tDim {
                let row = s.patches + (fi * tDim + ti) * K
                let f0 = fi * c.fstride, t0 = ti * c.tstride
                for i in 0..<c.fshape {
                    for j in 0..<c.tshape { row[i * c.tshape + j] = input[(t0 + j) * mel + f0 + i] }
                }
            }
        }
        engine.linear(s.patches, m: P, w.patch, s.x + CT * D)
        trace?("patch_embed", UnsafeBufferPointer(start: s.x + CT * D, count: P * D))
        for (t, token) in w.classTokens.enumerated() { (s.x + t * D).update(from: token, count: D) }
        for i in 0..<(T * D) { s.x[i] += w.posEmbed[i] }
        trace?("tokens_in", UnsafeBufferPointer(start: s.x, count: T * D))
        lap { $0.patch += $1 }

        // int8 linears take the class-token rows at 12-bit activations (wideRows): with 8 bits their
        // rounding error reached the cls head's logits undiluted (docs/PERFORMANCE.md, int8 accuracy).
        for (bi, b) in w.blocks.enumerated() {
            engine.layerNorm(s.x, rows: T, dim: D, gamma: b.norm1W, beta: b.norm1B, eps: c.blockEps, s.xn)
            lap { $0.layerNorm += $1 }
            engine.linear(s.xn, m: T, b.qkv, s.qkv, wideRows: CT)
            lap { $0.qkv += $1 }
            // int8 models also take the attention products in integers: 8-bit with 8-bit activations where the
            // kernels multiply bytes, else int16 (Engine.attentionProductBits; error well below the linears').
            engine.attention(qkv: s.qkv, tokens: T, heads: c.heads, headDim: c.headDim, s.attn, quantized: b.qkv.type == .i8)
            lap { $0.attention += $1 }
            engine.linear(s.attn, m: T, b.proj, s.x, accumulate: true, wideRows: CT)   // x += proj(attn)
            lap { $0.proj += $1 }
            engine.layerNorm(s.x, rows: T, dim: D, gamma: b.norm2W, beta: b.norm2B, eps: c.blockEps, s.xn)
            lap { $0.layerNorm += $1 }
            engine.linear(s.xn, m: T, b.fc1, s.hidden, gelu: true, wideRows: CT)   // hidden = gelu(fc1(...))
            lap { $0.fc1 += $1 }
            engine.linear(s.hidden, m: T, b.fc2, s.x, accumulate: true, wideRows: CT)  // x += fc2(gelu(fc1(...)))
            lap { $0.fc2 += $1 }
            trace?("block\(bi)", UnsafeBufferPointer(start: s.x, count: T * D))
        }

        engine.layerNorm(s.x, rows: T, dim: D, gamma: w.normW, beta: w.normB, eps: c.blockEps, s.xn)
        trace?("final_norm", UnsafeBufferPointer(start: s.xn, count: T * D))
        for e in 0..<D { s.pooled[e] = 0 }
        switch c.pooling {
        case .avgtok: // mean of the patch tokens
            for t in CT..<T { for e in 0..<D { s.pooled[e] += s.xn[t * D + e] } }
            for e in 0..<D { s.pooled[e] /= Float(P) }
        case .cls:    // mean of the class tokens
            for t in 0..<CT { for e in 0..<D { s.pooled[e] += s.xn[t * D + e] } }
            for e in 0..<D { s.pooled[e] /= Float(CT) }
        }
        guard !embeddingOnly, let head = w.head, let hw = w.headNormW, let hb = w.headNormB else {
            lap { $0.head += $1 }
            return UnsafeBufferPointer(start: s.pooled, count: D)
        }
        engine.layerNorm(s.pooled, rows: 1, dim: D, gamma: hw, beta: hb, eps: c.headEps, s.pooledNorm)
        engine.linear(s.pooledNorm, m: 1, head, s.logits, wideRows: 1)
        lap { $0.head += $1 }
        return UnsafeBufferPointer(start: s.logits, count: head.n)
    }

    /// Output activation the model was trained with: softmax (CE) or sigmoid (BCE).
    public func probabilities(_ logits: [Float]) -> [Float] { config.activation.probabilities(logits) }

    /// Multiply-accumulate FLOPs of one forward pass (2 per MAC), for GFLOP/s figures.
    public var flopsPerInference: Double {
        let c = config
        let T = Double(c.tokens), D = Double(c.dim), M = Double(c.mlpDim)
        let perBlock = 2 * T * D * (3 * D) + 2 * T * T * D * 2 + 2 * T * D * D + 2 * 2 * T * D * M
        return 2 * Double(c.patches) * Double(c.patchK) * D + Double(c.depth) * perBlock + 2 * D * Double(c.labels.count)
    }

    /// Multiply-add FLOPs per forward pass of each matmul stage (keys as in `StageTimes.named`).
    public var stageFlops: [String: Double] {
        let c = config
        let T = Double(c.tokens), D = Double(c.dim), M = Double(c.mlpDim), L = Double(c.depth)
        return ["patch": 2 * Double(c.patches) * Double(c.patchK) * D, "qkv": L * 2 * T * D * 3 * D,
                "attention": L * 4 * T * T * D, "proj": L * 2 * T * D * D, "fc1+gelu": L * 2 * T * D * M, "fc2": L * 2 * T * M * D]
    }
}
