import Arguments
import Convert
import Glibc
import Runtime
import Support

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a .pth, .safetensors or SSAST weight file: tensors, shapes, dtypes, configuration, quantisation error.")

    @Argument(help: "The file to describe.") var file: String
    @Flag(help: "List every tensor (default: the first 40 and a summary).") var all = false

    func run() throws {
        try runReportingErrors {
            let m = try MappedFile(path: file)
            let isOurs = m.count >= 8 && Array(m.bytes[0..<8]) == WeightFileFormat.magic
            if isOurs { try describeWeightFile() } else { try describeCheckpoint() }
        }
    }

    func describeWeightFile() throws {
        let w = try WeightFile(path: file)
        let c = try SSASTModel(file: w).config   // the whole model, as classify would load it
        print("\(terminalSafe(file)): SSAST weight file, format version \(w.version), \(w.tensors.count) tensors, checksums OK")
        print("model: dim \(c.dim), depth \(c.depth), heads \(c.heads), mlp \(c.mlpDim), patch \(c.fshape)x\(c.tshape), stride \(c.fstride)x\(c.tstride)")
        print("input: \(c.targetLength) frames x \(c.melBins) mel bins, \(c.patches) patches + \(c.classTokens) class tokens; normalisation mean \(c.datasetMean) std \(c.datasetStd)")
        print(c.hasHead ? "head: \(c.pooling), \(c.activation), labels: \(c.labels.map(terminalSafe).joined(separator: ", "))" : "backbone only: outputs the pooled \(c.dim)-d embedding (\(c.pooling))")
        if let t = c.threshold { print("operating threshold: \(t)") }
        print("layer norm eps: blocks \(c.blockEps), head \(c.headEps)")
        let other = w.metadataOrder.filter { !$0.hasPrefix("ssast.") && !$0.hasPrefix("quant.") }
        for k in other {
            switch w.metadata[k]! {
            case .int(let v): print("  \(terminalSafe(k)) = \(v)")
            case .float(let v): print("  \(terminalSafe(k)) = \(v)")
            case .string(let s): print("  \(terminalSafe(k)) = \(terminalSafe(s))")
            case .strings(let l): print("  \(terminalSafe(k)) = \(l.map(terminalSafe).joined(separator: ", "))")
            }
        }
        print("tensors (name, dtype, layout, shape, bytes\(w.metadataOrder.contains { $0.hasPrefix("quant.") } ? ", max abs / relative RMS quantisation error" : "")):")
        var total = 0
        for (i, t) in w.tensors.enumerated() {
            total += t.byteCount
            guard all || i < 40 else { continue }
            var line = "  \(terminalSafe(t.name))  \(t.type)  \(t.layout == .packedPanels ? "panels" : "row-major")  \(t.shape)  \(t.byteCount)"
            if case .strings(let e)? = w.metadata["quant." + t.name], e.count == 2 { line += "  err \(terminalSafe(e[0])) / \(terminalSafe(e[1]))" }
            print(line)
        }
        if !all && w.tensors.count > 40 { print("  … \(w.tensors.count - 40) more (--all lists them)") }
        print("total tensor bytes: \(total)")
    }

    func describeCheckpoint() throws {
        let ck = try Checkpoint.load(file)
        try ck.verifyIntegrity()   // the zip CRC-32s, as convert checks them
        print("\(terminalSafe(file)): \(ck.format) checkpoint, \(ck.tensors.count) tensors")
        for (k, v) in ck.metadata.sorted(by: { $0.key < $1.key }) { print("  \(terminalSafe(k)) = \(terminalSafe(v))") }
        for (i, t) in ck.tensors.enumerated() where all || i < 40 { print("  \(terminalSafe(t.name))  \(t.dtype)  \(t.shape)") }
        if !all && ck.tensors.count > 40 { print("  … \(ck.tensors.count - 40) more (--all lists them)") }
        // What the converter would infer, or why it cannot without more options.
        do {
            let m = try SSASTConverter.read(file, options: ConvertOptions())
            let c = m.config
            print("inferred: dim \(c.dim), depth \(c.depth), heads \(c.heads), patch \(c.fshape)x\(c.tshape), \(c.hasHead ? "\(c.labels.count) labels" : "pretrained (no head)")")
            for n in m.notes { print("  note: \(terminalSafe(n))") }
        } catch let e as SSASTError {
            print("to convert: \(terminalSafe(e.message))")
        }
    }
}
