import Arguments
import Convert
import Glibc
import Runtime
import Support

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an SSAST checkpoint (.pth, .safetensors, Hugging Face AST) to an SSAST weight file.",
        discussion: """
            A fine-tuned checkpoint (with mlp_head.*) does not record its patch strides, target length or \
            normalisation: give them, and they are checked against pos_embed. A pretrained checkpoint converts \
            to a backbone-only file (its output is the pooled embedding) with pos_embed adapted to the requested \
            geometry exactly as SSAST's fine-tuning code does. No Python is involved; the pickle inside a .pth is \
            interpreted with an allowlist and never executed.

            Example (CIAB recipe): ssast convert ciab.pth -o ciab.ssast --fstride 10 --tstride 10 \
            --target-length 512 --mean -8.2096 --std 6.1568 --labels Negative,Positive
            """)

    @Argument(help: "Input checkpoint: .pth (PyTorch zip), .safetensors, or a Hugging Face AST model (the folder save_pretrained writes, or its model.safetensors; config.json beside it gives heads, eps, strides, length and labels).")
    var input: String

    @Option(name: .shortAndLong, help: "Output weight file.")
    var output: String

    @Option(help: "Matmul weight type (int8: per-output-channel scales). Other tensors stay fp32.")
    var dtype: DType = DType(.f32)

    @Option(help: "Patch stride along frequency.") var fstride: Int?
    @Option(help: "Patch stride along time.") var tstride: Int?
    @Option(help: "Input length in frames (10 ms each).") var targetLength: Int?
    @Option(parsing: .unconditional, help: "Dataset mean of the fbank (SSAST normalises (x - mean) / (2 std)); negative values work as --mean -8.2.") var mean: Float?
    @Option(help: "Dataset std of the fbank.") var std: Float?
    @Option(help: "Label names: a,b,c or a label CSV (index,mid,display_name).") var labels: String?
    @Option(help: "Pooling head: avgtok (SSAST default, mean of patch tokens) or cls (mean of the class tokens).") var head: ModelConfig.Pooling?
    @Option(help: "Output activation: softmax (CE-trained) or sigmoid (BCE-trained).") var activation: ModelConfig.Activation = .softmax
    @Option(help: "Attention heads (default: num_attention_heads from a Hugging Face config.json, else dim / 64, the DeiT convention of every released SSAST size).") var heads: Int?
    @Option(help: ArgumentHelp("int8 only: record the activation width the runtime should use (8 or 12; see `ssast classify --help`). Default: none recorded, the runtime picks by CPU.", valueName: "bits"))
    var int8Activations: Int8Width?

    func validate() throws {
        for (name, value, range) in [("--fstride", fstride, 1...1024), ("--tstride", tstride, 1...65536),
                                     ("--target-length", targetLength, 1...65536), ("--heads", heads, 1...1024)] {
            if let v = value, !range.contains(v) {
                throw ValidationError("\(name) must be in \(range.lowerBound)...\(range.upperBound) (got \(v))")
            }
        }
    }

    func run() throws {
        try runReportingErrors {
            var o = ConvertOptions()
            let t = dtype.type
            o.dtype = t
            // One of our own weight files (e.g. from `ssast train`): re-encode it; its header already says the rest.
            if SSASTConverter.isWeightFile(input) {
                guard fstride == nil, tstride == nil, targetLength == nil, mean == nil, std == nil, labels == nil, head == nil, heads == nil,
                      int8Activations == nil else {
                    throw SSASTError("\(input) is an ssast weight file: its geometry, labels and normalisation are fixed; only --dtype applies")
                }
                let m = try SSASTConverter.requantise(input: input, output: output, dtype: t)
                print("re-encoded \(input) -> \(output) (\(t)); \(m.config.labels.count) labels, target length \(m.config.targetLength)")
                for n in m.notes { print("  note: \(n)") }
                return
            }
            o.fstride = fstride; o.tstride = tstride; o.targetLength = targetLength
            o.mean = mean; o.std = std; o.heads = heads; o.int8Activations = int8Activations?.bits
            o.pooling = head
            o.activation = activation
            if let l = labels { o.labels = try LabelList.parse(l) }
            let start = monotonicTime()
            let m = try SSASTConverter.convert(input: input, output: output, options: o)
            let c = m.config
            print("converted \(input) -> \(output) (\(t), \(String(printf: "%.2f", (monotonicTime() - start))) s)")
            print("  dim \(c.dim), depth \(c.depth), heads \(c.heads), patch \(c.fshape)x\(c.tshape), stride \(c.fstride)x\(c.tstride), target length \(c.targetLength), \(c.patches) patches")
            print("  " + (c.hasHead ? "head \(c.pooling) -> \(c.labels.count) labels (\(c.labels.joined(separator: ", "))), \(c.activation)" : "backbone only: outputs the \(c.dim)-d pooled embedding (\(c.pooling))"))
            print("  normalisation mean \(c.datasetMean), std \(c.datasetStd)")
            if !m.dropped.isEmpty { print("  dropped (pretraining only): \(m.dropped.joined(separator: ", "))") }
            for n in m.notes { print("  note: \(n)") }
        }
    }
}

/// Label names from `a,b,c` or a SSAST label CSV (index,mid,display_name, with a header line).
enum LabelList {
    static func parse(_ arg: String) throws -> [String] {
        if arg.lowercased().hasSuffix(".csv") || FileSystem.exists(arg) {
            return try csv(arg).map(\.displayName)
        }
        let names = arg.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmedOfBlanks }
        guard !names.contains(where: \.isEmpty) else { throw SSASTError("--labels: empty label name in '\(arg)'") }
        return names
    }

    struct Row { var index: Int; var mid: String; var displayName: String }

    /// Rows ordered by index; the indices must be 0..<n with none missing or repeated.
    static func csv(_ path: String) throws -> [Row] {
        guard let text = try? FileSystem.readText(path) else {
            throw SSASTError("\(path): cannot read label CSV")
        }
        var rows: [Row] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = splitCSV(String(line))
            if i == 0 && fields.first?.lowercased() == "index" { continue }
            guard fields.count >= 3, let idx = Int(fields[0].trimmedOfBlanks) else {
                throw SSASTError("\(path): line \(i + 1) is not index,mid,display_name: \(line)")
            }
            rows.append(Row(index: idx, mid: fields[1], displayName: fields[2]))
        }
        rows.sort { $0.index < $1.index }
        guard !rows.isEmpty, rows.enumerated().allSatisfy({ $0.offset == $0.element.index }) else {
            throw SSASTError("\(path): label indices must be 0...n-1 without gaps or repeats")
        }
        return rows
    }

    /// CSV fields with double-quote quoting (AudioSet's display names contain commas).
    static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = [], cur = "", quoted = false
        var it = line.makeIterator()
        while let ch = it.next() {
            if quoted {
                if ch == "\"" { quoted = false } else { cur.append(ch) }
            } else if ch == "\"" { quoted = true }
            else if ch == "," { fields.append(cur); cur = "" }
            else { cur.append(ch) }
        }
        fields.append(cur)
        return fields
    }
}
